// Upgrades are forward-only: a data directory written by a newer Pier (a migration id this one does not know) is
// refused at start with a clear message, before any migration runs, so it is never half-migrated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '../../src/store/store.ts';
import { knownSchemaVersion, migrate, MIGRATIONS, SchemaTooNewError } from '../../src/store/migrations.ts';
import { openSqlite } from '../../src/store/db.ts';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';

const root = mkdtempSync(join(tmpdir(), 'pier-schema-test-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

/** A database as a newer Pier leaves it: every migration of ours but the last, plus one we do not know. */
async function newerDataDir(name: string): Promise<{ dir: string; rows: () => number[] }> {
  const dir = join(root, name);
  const store = await openStore({ dataDir: dir });
  await store.close();
  const last = knownSchemaVersion();
  const db = new Database(join(dir, 'pier.db'));
  db.prepare('DELETE FROM schema_migrations WHERE id = ?').run(last);
  db.prepare("INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, 'from the future', '2030-01-01T00:00:00Z')").run(last + 3);
  db.close();
  const rows = () => {
    const d = new Database(join(dir, 'pier.db'), { readonly: true });
    try { return (d.prepare('SELECT id FROM schema_migrations ORDER BY id').all() as { id: number }[]).map((r) => r.id); } finally { d.close(); }
  };
  return { dir, rows };
}

test('knownSchemaVersion is the highest migration id', () => {
  assert.equal(knownSchemaVersion(), Math.max(...MIGRATIONS.map((m) => m.id)));
});

test('openStore refuses a newer schema before applying anything', async () => {
  const { dir, rows } = await newerDataDir('store');
  const before = rows();
  const err = await openStore({ dataDir: dir }).then(() => undefined, (e) => e);
  assert.ok(err instanceof SchemaTooNewError, String(err));
  assert.equal(err.code, 'schema_too_new');
  assert.equal(err.found, knownSchemaVersion() + 3);
  assert.match(err.message, /newer than this Pier knows .*Nothing was changed/);
  // The migration this Pier has but the database lacks was not applied: nothing half-migrated.
  assert.deepEqual(rows(), before);
});

test('startPier refuses it too, with the same message, and leaves no server running', async () => {
  const { dir, rows } = await newerDataDir('pier');
  const before = rows();
  const config = loadConfig({ 'data-dir': dir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0' }, { HOME: root });
  await assert.rejects(startPier(config, { components: () => [], log: () => {} }), (e: Error) => e instanceof SchemaTooNewError && /schema version \d+, newer than this Pier knows/.test(e.message));
  assert.deepEqual(rows(), before);
});

test('a database at every earlier schema version migrates forward to the current one', async () => {
  for (const stop of MIGRATIONS.map((m) => m.id).filter((id) => id < knownSchemaVersion())) {
    const file = join(root, `at-${stop}.db`);
    // The database as the Pier that knew migrations 1..stop left it.
    const old = new Database(file);
    old.exec('CREATE TABLE schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of MIGRATIONS.filter((x) => x.id <= stop)) {
      old.exec(m.sql('INTEGER PRIMARY KEY'));
      old.prepare('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)').run(m.id, m.name, '2026-01-01T00:00:00Z');
    }
    old.close();
    const db = openSqlite(file);
    try {
      assert.deepEqual(await migrate(db), MIGRATIONS.filter((x) => x.id > stop).map((x) => x.id), `from schema ${stop}`);
      assert.deepEqual(await migrate(db), [], 'a second start applies nothing');
    } finally {
      await db.close();
    }
  }
});

import { test } from 'node:test';
import { forEachDialect } from '../../test/postgres/dialects.ts';
import { PgDb, toPgPlaceholders } from './pg.ts';
import { until } from '../../test/support/until.ts';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from './store.ts';
import { openSqlite } from './db.ts';
import { migrate, MIGRATIONS } from './migrations.ts';
import { insertOrganization, insertToken, findByToken, generateToken } from './organizations.ts';
import { insertApp, getApp, listApps, updateApp, findAppByName } from './apps.ts';
import { appendEvent, listEvents } from './events.ts';
import { appendLogLines, queryLogLines, type LogLine } from './logs.ts';
import { insertSecret, revealSecret, getSecret, secretValues } from './secrets.ts';
import { decryptSecret, encryptSecret } from './crypto.ts';
import type { App } from '../domain/types.ts';

function app(org: string, name: string, created: string): App {
  return {
    id: `id-${name}`, name, organization_id: org, created_at: created, updated_at: created, started_at: null,
    succeeded_at: null, paused_at: null, resumed_at: null, terminated_at: null, status: 'STARTING', messages: [],
    version: '1', domains: [], life_cycle: {},
  };
}

forEachDialect((dialect) => {
test('transactions roll back on throw and serialise concurrent bodies', async () => {
  const db = await dialect.openDb();
  await db.exec('CREATE TABLE t (n INTEGER)');
  await assert.rejects(db.transaction(async (tx) => {
    await tx.run('INSERT INTO t (n) VALUES (?)', [1]);
    throw new Error('boom');
  }), /boom/);
  assert.equal((await db.get<{ c: number }>('SELECT COUNT(*) AS c FROM t'))?.c, 0);
  // Two read-modify-write bodies that yield in between would lose an update without the mutex.
  const bump = () => db.transaction(async (tx) => {
    const row = await tx.get<{ c: number }>('SELECT COUNT(*) AS c FROM t');
    await new Promise((r) => setImmediate(r));
    await tx.run('INSERT INTO t (n) VALUES (?)', [Number(row?.c) + 1]);
  });
  await Promise.all([bump(), bump(), bump()]);
  const ns = (await db.all<{ n: number }>('SELECT n FROM t ORDER BY n')).map((r) => r.n);
  assert.deepEqual(ns, [1, 2, 3]);
  await db.close();
});

test('migrations are recorded and run once', async () => {
  const db = await dialect.openDb();
  assert.deepEqual(await migrate(db), MIGRATIONS.map((m) => m.id));
  assert.deepEqual(await migrate(db), []);
  await db.close();
});

test('store: tokens, apps, events, logs, secrets', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-store-'));
  try {
    const store = await openStore(await dialect.storeOptions(dir));
    assert.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600);
    const { db } = store;
    const org = await insertOrganization(db, 'acme');
    const token = generateToken();
    await insertToken(db, org.id, 'admin', token);
    assert.equal((await findByToken(db, token))?.organization_id, org.id);
    assert.equal(await findByToken(db, 'nope'), undefined);
    const stored = await db.get<{ token_hash: string }>('SELECT token_hash FROM api_tokens');
    assert.notEqual(stored?.token_hash, token);

    await insertApp(db, app(org.id, 'a', '2024-01-01T00:00:00.000Z'));
    await insertApp(db, app(org.id, 'b', '2024-01-02T00:00:00.000Z'));
    const listed = await listApps(db, { organizationId: org.id }, { limit: 1, offset: 0 });
    assert.deepEqual([listed.items.map((a) => a.name), listed.count], [['b'], 2]);
    const updated = await updateApp(db, 'id-a', { status: 'HEALTHY' });
    assert.equal(updated?.version, '2');
    assert.equal((await getApp(db, 'id-a'))?.status, 'HEALTHY');
    await updateApp(db, 'id-a', { status: 'DELETED' });
    assert.equal(await findAppByName(db, org.id, 'a'), undefined);
    await insertApp(db, { ...app(org.id, 'a', '2024-01-03T00:00:00.000Z'), id: 'id-a2' });

    await appendEvent(db, { kind: 'app', resourceId: 'id-a', organizationId: org.id, type: 'created', message: 'x' });
    await appendEvent(db, { kind: 'app', resourceId: 'id-a', organizationId: org.id, type: 'paused', message: 'y' });
    const ev = await listEvents(db, { kind: 'app', resourceIds: ['id-a'] }, { limit: 10, offset: 0 });
    assert.deepEqual(ev.items.map((e) => [e.type, e.app_id]), [['paused', 'id-a'], ['created', 'id-a']]);

    const seen: string[] = [];
    const off = store.logBus.subscribe((l) => seen.push(l.msg));
    const base = { organization_id: org.id, app_id: 'a', service_id: 's', deployment_id: 'd', regional_deployment_id: 'r', instance_id: 'i' };
    const lines: LogLine[] = [1, 2, 3].map((n) => ({ ...base, stream: 'stdout', msg: `line ${n}`, created_at: `2024-01-01T00:00:0${n}.000Z` }));
    await appendLogLines(db, lines, store.logBus);
    off();
    assert.deepEqual(seen, ['line 1', 'line 2', 'line 3']);
    const q = await queryLogLines(db, { organizationId: org.id, type: 'runtime', serviceId: 's' }, 'desc', 2);
    assert.deepEqual([q.lines.map((l) => l.msg), q.hasMore], [['line 3', 'line 2'], true]);
    const r = await queryLogLines(db, { organizationId: org.id, type: 'runtime', serviceId: 's', regex: /line [13]/ }, 'asc', 5);
    assert.deepEqual(r.lines.map((l) => l.msg), ['line 1', 'line 3']);

    const now = new Date().toISOString();
    await insertSecret(db, store.secretKey, { id: 'sec', name: 'db', organization_id: org.id, type: 'SIMPLE', created_at: now, updated_at: now, project_id: '' }, { value: 'hunter2' });
    const raw = await db.get<{ encrypted_value: string; data: string }>('SELECT encrypted_value, data FROM secrets');
    assert.ok(!raw?.encrypted_value.includes('hunter2') && !raw?.data.includes('hunter2'));
    assert.equal((await revealSecret(db, store.secretKey, 'sec'))?.value, 'hunter2');
    assert.equal((await getSecret(db, 'sec'))?.value, undefined);
    assert.deepEqual(await secretValues(db, store.secretKey, org.id), { db: 'hunter2' });
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('numbers, booleans, aggregates and NULLs read back the same way', async () => {
  const db = await dialect.openDb();
  await migrate(db);
  await db.exec('CREATE TABLE kinds (i INTEGER, b BIGINT, d DOUBLE PRECISION, t TEXT)');
  await db.run('INSERT INTO kinds (i, b, d, t) VALUES (?, ?, ?, ?)', [true, 2 ** 40, 1.5, "it's ? not a placeholder"]);
  await db.run('INSERT INTO kinds (i, b, d, t) VALUES (?, ?, ?, ?)', [false, 3n, 0, undefined]);
  const rows = await db.all<{ i: number; b: number; d: number; t: string | null }>("SELECT i, b, d, t FROM kinds WHERE t <> '?' OR t IS NULL ORDER BY b");
  assert.deepEqual(rows.map((r) => ({ ...r })), [{ i: 0, b: 3, d: 0, t: null }, { i: 1, b: 2 ** 40, d: 1.5, t: "it's ? not a placeholder" }]);
  const agg = await db.get<{ n: number; s: number; m: number | null }>('SELECT COUNT(*) AS n, SUM(b) AS s, MAX(i) AS m FROM kinds');
  assert.deepEqual({ ...agg }, { n: 2, s: 2 ** 40 + 3, m: 1 });
  assert.equal((await db.run('UPDATE kinds SET t = ? WHERE i = ?', ['x', 1])).changes, 1);
  await db.close();
});

test('a transaction of another process that conflicts is re-run, so no update is lost', async (t) => {
  const db = await dialect.openDb();
  const other = dialect.reopen();
  if (!other) { await db.close(); t.skip('one process per SQLite file'); return; }
  await db.exec('CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
  await db.run('INSERT INTO counter (id, n) VALUES (1, 0)');
  const bump = (h: typeof db) => h.transaction(async (tx) => {
    const row = await tx.get<{ n: number }>('SELECT n FROM counter WHERE id = 1');
    await new Promise((r) => setTimeout(r, 5));
    await tx.run('UPDATE counter SET n = ? WHERE id = 1', [Number(row?.n) + 1]);
  });
  await Promise.all([bump(db), bump(other), bump(db), bump(other)]);
  assert.equal((await db.get<{ n: number }>('SELECT n FROM counter WHERE id = 1'))?.n, 4);
  await other.close();
  await db.close();
});

test('control planes starting together apply the migrations once', async (t) => {
  if (dialect.name !== 'postgres') { t.skip('one process per SQLite file'); return; }
  const dir = mkdtempSync(join(tmpdir(), 'pier-store-'));
  try {
    const opts = await dialect.storeOptions(dir);
    const stores = await Promise.all([openStore(opts), openStore(opts), openStore(opts)]);
    const rows = await stores[0]!.db.all<{ id: number }>('SELECT id FROM schema_migrations ORDER BY id');
    assert.deepEqual(rows.map((r) => r.id), MIGRATIONS.map((m) => m.id));
    for (const s of stores) await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('API writes are announced to the other control planes, not echoed to the writer', async (t) => {
  const db = await dialect.openDb();
  const other = dialect.reopen();
  if (!(db instanceof PgDb) || !(other instanceof PgDb)) { await db.close(); t.skip('PostgreSQL only (NOTIFY)'); return; }
  const seen = { a: 0, b: 0 };
  const a = await db.shareWrites(() => { seen.a++; });
  const b = await other.shareWrites(() => { seen.b++; });
  assert.deepEqual(seen, { a: 1, b: 1 }, 'one look after connecting');
  b.notify();
  await until('a to hear b', async () => seen.a === 2, 5000, 10);
  a.notify();
  await until('b to hear a', async () => seen.b === 2, 5000, 10);
  b.notify();
  await until('a to hear b again', async () => seen.a >= 3, 5000, 10);
  // Notifications arrive in order: had a heard its own, it would be at 4 by now.
  assert.deepEqual(seen, { a: 3, b: 2 });
  await other.close();
  await db.close();
});
});

test('postgres placeholders: ? becomes $n outside literals, identifiers and comments', () => {
  assert.equal(toPgPlaceholders("SELECT ? , '?''?' AS \"a?\" -- ?\n FROM t WHERE x = ? /* ? */ AND y IN (?, ?)"),
    "SELECT $1 , '?''?' AS \"a?\" -- ?\n FROM t WHERE x = $2 /* ? */ AND y IN ($3, $4)");
});

test('secret crypto detects tampering', () => {
  const key = Buffer.alloc(32, 7);
  const sealed = encryptSecret(key, 'value');
  assert.equal(decryptSecret(key, sealed), 'value');
  const parts = sealed.split('.');
  parts[3] = Buffer.from('other').toString('base64');
  assert.throws(() => decryptSecret(key, parts.join('.')));
  assert.throws(() => decryptSecret(Buffer.alloc(32, 8), sealed));
});

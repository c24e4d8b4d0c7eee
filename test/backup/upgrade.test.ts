// Upgrades from every schema version (#24): each fixture under test/backup/fixtures/ is a database as a Pier at that
// schema left it (generate.ts: migrations 1..N plus representative rows). Opened by this Pier, it migrates forward,
// keeps every row, and serves the same app, service, both deployments, the secret's value (sealed with the fixture
// key), the token and the custom domain through the API. A schema with no fixture fails here until one is generated.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS, knownSchemaVersion } from '../../src/store/migrations.ts';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { apiClient } from '../support/api-client.ts';
import { FIXTURE_KEY_FILE, FIXTURE_SECRET_VALUE, FIXTURE_TOKEN, fixturePath } from './fixtures/generate.ts';

const root = mkdtempSync(join(tmpdir(), 'pier-upgrade-test-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

const versions = MIGRATIONS.map((m) => m.id);

test('every schema version has its fixture (after a new migration: node bin/run-ts.mjs test/backup/fixtures/generate.ts)', () => {
  const missing = versions.filter((v) => !existsSync(fixturePath(v)));
  assert.deepEqual(missing, [], `no fixture for schema ${missing.join(', ')}: run node bin/run-ts.mjs test/backup/fixtures/generate.ts and commit it`);
});

/** Row counts of every table but the migrations' own. */
function counts(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'").all() as { name: string }[]).map((t) => t.name);
    return Object.fromEntries(tables.map((t) => [t, Number((db.prepare(`SELECT COUNT(*) AS n FROM "${t}"`).get() as { n: number }).n)]));
  } finally {
    db.close();
  }
}

for (const version of versions) {
  test(`a data directory at schema ${version} opens with this Pier (schema ${knownSchemaVersion()}) and keeps its data`, async (t) => {
    if (!existsSync(fixturePath(version))) return t.skip('no fixture (the test above fails)');
    const dir = join(root, `v${version}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, 'pier.db');
    const db = new Database(file);
    db.exec(readFileSync(fixturePath(version), 'utf8'));
    const applied = (db.prepare('SELECT id FROM schema_migrations ORDER BY id').all() as { id: number }[]).map((r) => r.id);
    db.close();
    assert.deepEqual(applied, versions.filter((v) => v <= version), 'the fixture is at its schema');
    copyFileSync(FIXTURE_KEY_FILE, join(dir, 'master.key'));
    const before = counts(file);

    const pier = await startPier(loadConfig({ 'data-dir': dir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0' }, { HOME: root }), { components: () => [], log: () => {} });
    try {
      const api = apiClient(pier.apiUrl, FIXTURE_TOKEN);
      const apps = await api('GET', '/v1/apps');
      assert.equal(apps.status, 200, `the fixture's token still authenticates: ${JSON.stringify(apps.body)}`);
      assert.deepEqual(apps.body.apps.map((a: { name: string }) => a.name), ['shop']);
      const services = (await api('GET', `/v1/services?app_id=${apps.body.apps[0].id}`)).body.services;
      assert.deepEqual(services.map((s: { name: string }) => s.name), ['web']);
      const deployments = (await api('GET', `/v1/deployments?service_id=${services[0].id}`)).body.deployments;
      assert.deepEqual(deployments.map((d: { version: number }) => Number(d.version)).sort(), [1, 2]);
      const v2 = deployments.find((d: { version: number }) => Number(d.version) === 2);
      assert.ok(v2.definition.env.some((e: { key: string; value?: string }) => e.key === 'VERSION' && e.value === '2'), JSON.stringify(v2.definition.env));
      const secrets = (await api('GET', '/v1/secrets')).body.secrets;
      assert.deepEqual(secrets.map((s: { name: string }) => s.name), ['greeting']);
      const revealed = await api('POST', `/v1/secrets/${secrets[0].id}/reveal`);
      assert.equal(revealed.status, 200, JSON.stringify(revealed.body));
      assert.equal(revealed.body.value, FIXTURE_SECRET_VALUE);
      if (version >= 5) {
        const domains = (await api('GET', '/v1/domains')).body.domains;
        // The custom domain, beside the app's own generated one.
        assert.ok(domains.some((d: { name: string }) => d.name === 'shop.example.com'), JSON.stringify(domains.map((d: { name: string }) => d.name)));
      }
    } finally {
      await pier.close();
    }

    // Every row is still there (a migration may add rows to a table, never drop one), and the schema is current.
    const after = counts(file);
    for (const [table, n] of Object.entries(before)) assert.ok((after[table] ?? -1) >= n, `${table}: ${n} rows before, ${after[table]} after`);
    const check = new Database(file, { readonly: true });
    try {
      assert.deepEqual((check.prepare('SELECT id FROM schema_migrations ORDER BY id').all() as { id: number }[]).map((r) => r.id), versions);
      // Migration 7 derives `verified` from the wire object's verified_at written before it.
      if (version >= 5) assert.equal((check.prepare("SELECT verified FROM domains WHERE name = 'shop.example.com'").get() as { verified: number }).verified, 1);
    } finally {
      check.close();
    }
  });
}

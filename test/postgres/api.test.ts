// The API suites (test/api/*.test.ts) once more, on PostgreSQL: every startTestPier() gets a fresh database of a
// throwaway cluster (PIER_TEST_POSTGRES_ADMIN_URL, read by test/api/helpers.ts). Same tests, same assertions.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { postgresUnavailable, startPgCluster } from './cluster.ts';

const reason = postgresUnavailable();
if (reason) {
  test('API suites on PostgreSQL', { skip: reason }, () => {});
} else {
  const cluster = await startPgCluster();
  after(() => cluster.stop());
  process.env.PIER_TEST_POSTGRES_ADMIN_URL = cluster.url();
  const dir = new URL('../api/', import.meta.url);
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.test.ts')).sort()) await import(new URL(f, dir).href);
  // Registered last, so it runs last: the Piers above really kept their state in this cluster.
  test('the API suites above ran on PostgreSQL databases', async () => {
    const client = new pg.Client({ connectionString: cluster.url() });
    await client.connect();
    try {
      const { rows } = await client.query("SELECT COUNT(*)::int AS n FROM pg_database WHERE datname LIKE 'api\\_%'");
      assert.ok(rows[0].n >= 4, `only ${rows[0].n} API databases were created`);
    } finally {
      await client.end();
    }
  });
}

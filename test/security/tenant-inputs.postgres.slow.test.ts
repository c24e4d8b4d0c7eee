// The tenant-input attacks (tenant-inputs.test.ts) once more on PostgreSQL, where the single-use upload claim, the
// webhook secret's INSERT ... ON CONFLICT and the public-host check run in SERIALIZABLE transactions of a real
// cluster (PIER_TEST_POSTGRES_ADMIN_URL, read by tenants.ts). Same tests, same assertions.
import { after, test } from 'node:test';
import { postgresUnavailable, startPgCluster } from '../postgres/cluster.ts';

const reason = postgresUnavailable();
if (reason) {
  test('tenant inputs on PostgreSQL', { skip: reason }, () => {});
} else {
  const cluster = await startPgCluster();
  after(() => cluster.stop());
  process.env.PIER_TEST_POSTGRES_ADMIN_URL = cluster.url();
  await import('./tenant-inputs.test.ts');
}

// A connection PostgreSQL ends while Pier holds it (a transaction between statements, a migration's session lock):
// the server's "terminating connection" arrives with no query waiting, and node-postgres emits it as an 'error'
// event on a client the pool has handed out, which has no listener of the pool's then. Unhandled, that event kills
// the process (seen in CI: the restore drill's PostgreSQL stopped under a running Pier). The store must log it,
// fail that one operation as `unavailable` and go on with fresh connections.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openPostgres, type PgDb } from '../../src/store/pg.ts';
import { postgresUnavailable, startPgCluster, type PgCluster } from './cluster.ts';

const skip = postgresUnavailable();
let cluster: PgCluster | undefined;
let db: PgDb | undefined;
const lines: string[] = [];

before(async () => {
  if (skip) return;
  cluster = await startPgCluster();
  db = await openPostgres({ url: await cluster.createDatabase('lost'), log: (l) => lines.push(l) });
});

after(async () => {
  await db?.close().catch(() => undefined);
  await cluster?.stop();
});

/** Ends the server session `pid` from another connection, as an administrator (or a server shutdown) does. */
async function terminate(pid: number): Promise<void> {
  const admin = new pg.Client({ connectionString: cluster!.url() });
  await admin.connect();
  try {
    const r = await admin.query('SELECT pg_terminate_backend($1) AS ok', [pid]);
    assert.equal(r.rows[0].ok, true);
  } finally {
    await admin.end();
  }
}

const idle = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a transaction\'s connection ended between its statements: that transaction fails, the process lives, the next one works', { skip }, async () => {
  await assert.rejects(db!.transaction(async (tx) => {
    const { pid } = (await tx.get<{ pid: number }>('SELECT pg_backend_pid() AS pid'))!;
    await terminate(pid);
    await idle(300); // the termination arrives while no statement runs
    await tx.get('SELECT 1 AS one');
  }), { code: 'unavailable' }, 'the API would answer 503 with Retry-After');
  assert.ok(lines.some((l) => /postgres connection lost while in use: terminating connection/.test(l)), lines.join('\n'));
  assert.deepEqual(await db!.get('SELECT 1 AS one'), { one: 1 });
});

test('a session-locked connection (migrations) ended while its work runs: the work fails, the process lives', { skip }, async () => {
  await assert.rejects(db!.exclusive('connection-lost-test', async (s) => {
    const { pid } = (await s.get<{ pid: number }>('SELECT pg_backend_pid() AS pid'))!;
    await terminate(pid);
    await idle(300);
    await s.get('SELECT 1 AS one');
  }));
  assert.deepEqual(await db!.get('SELECT 1 AS one'), { one: 1 });
});

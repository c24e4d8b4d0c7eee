// Runs a block of store tests once per SQL dialect: SQLite (in memory / a temp data dir) and PostgreSQL (a throwaway
// cluster per test file, a fresh database per test). PostgreSQL is skipped, with the reason, when not installed.
import { after, before, describe } from 'node:test';
import { openSqlite, type Db } from '../../src/store/db.ts';
import { PgDb } from '../../src/store/pg.ts';
import type { StoreOptions } from '../../src/store/store.ts';
import { postgresUnavailable, startPgCluster, type PgCluster } from './cluster.ts';

/** How a test gets a database of one dialect. */
export interface Dialect {
  name: 'sqlite' | 'postgres';
  /** A fresh, empty database (not migrated). */
  openDb(): Promise<Db>;
  /** openStore options for a fresh database keeping its files in dataDir. */
  storeOptions(dataDir: string): Promise<StoreOptions>;
  /** A second handle on the database openDb() last returned (another "process"); sqlite: undefined. */
  reopen(): Db | undefined;
}

/** Registers `body`'s tests under describe('sqlite') and describe('postgres'). */
export function forEachDialect(body: (d: Dialect) => void): void {
  describe('sqlite', () => body({
    name: 'sqlite',
    openDb: async () => openSqlite(':memory:'),
    storeOptions: async (dataDir) => ({ dataDir }),
    reopen: () => undefined,
  }));
  const reason = postgresUnavailable();
  describe('postgres', { skip: reason }, () => {
    let cluster: PgCluster | undefined;
    let last = '';
    before(async () => { cluster = await startPgCluster(); });
    after(async () => { await cluster?.stop(); });
    body({
      name: 'postgres',
      openDb: async () => { last = await cluster!.createDatabase(); return new PgDb({ url: last }); },
      storeOptions: async (dataDir) => ({ dataDir, databaseUrl: await cluster!.createDatabase() }),
      reopen: () => new PgDb({ url: last }),
    });
  });
}

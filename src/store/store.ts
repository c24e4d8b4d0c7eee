// Opens Pier's store: the database (migrated), the secrets master key and the in-process log bus.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSqlite, type Db } from './db.ts';
import { LogBus } from './log-bus.ts';
import { loadMasterKey } from './crypto.ts';
import { migrate } from './migrations.ts';
import { openPostgres } from './pg.ts';

/** Everything the API, actions and reconcilers need to persist state. */
export interface Store {
  db: Db;
  /** The data directory: where files that do not belong in the database live (archives, git remotes). */
  dataDir: string;
  /** Live log lines, published by appendLogLines(store.db, lines, store.logBus). */
  logBus: LogBus;
  /** AES-256-GCM key for secret values. Never log it. */
  secretKey: Buffer;
  close(): Promise<void>;
}

/** Where the store lives: `<dataDir>/pier.db` unless `databaseUrl` names a PostgreSQL database. */
export interface StoreOptions {
  dataDir: string;
  masterKeyFile?: string;
  filename?: string;
  /** `postgres://...`: keep the database in PostgreSQL (shared by several control planes) instead of SQLite. */
  databaseUrl?: string;
  /** Where PostgreSQL connection errors are reported (default stderr). */
  log?: (line: string) => void;
}

/** Opens (creating if needed) the database, applies pending migrations and loads the master key. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const secretKey = loadMasterKey(opts.dataDir, opts.masterKeyFile);
  if (opts.databaseUrl) {
    const pg = await openPostgres({ url: opts.databaseUrl, log: opts.log });
    try {
      // Control planes starting together: one applies the migrations, the others wait and find them done.
      await pg.exclusive('pier.migrate', (session) => migrate(session));
    } catch (err) {
      await pg.close();
      throw err;
    }
    return { db: pg, dataDir: opts.dataDir, logBus: new LogBus(), secretKey, close: () => pg.close() };
  }
  const db = openSqlite(join(opts.dataDir, opts.filename ?? 'pier.db'));
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return { db, dataDir: opts.dataDir, logBus: new LogBus(), secretKey, close: () => db.close() };
}

// Opens Pier's store: the database (migrated), the secrets master key and the in-process log bus.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openSqlite, type Db } from './db.ts';
import { LogBus } from './log-bus.ts';
import { loadMasterKey } from './crypto.ts';
import { migrate } from './migrations.ts';

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

/** Where the store lives. */
export interface StoreOptions { dataDir: string; masterKeyFile?: string; filename?: string }

/** Opens (creating if needed) `<dataDir>/pier.db`, applies pending migrations and loads the master key. */
export async function openStore(opts: StoreOptions): Promise<Store> {
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const secretKey = loadMasterKey(opts.dataDir, opts.masterKeyFile);
  const db = openSqlite(join(opts.dataDir, opts.filename ?? 'pier.db'));
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return { db, dataDir: opts.dataDir, logBus: new LogBus(), secretKey, close: () => db.close() };
}

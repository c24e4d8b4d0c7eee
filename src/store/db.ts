// A small async query layer over SQL, so repositories are written once for SQLite and PostgreSQL (pg.ts).
// SQL uses `?` placeholders (a pg implementation rewrites them to $n); values are strings, numbers, null.
import Database from 'better-sqlite3';

/** A value bound to a `?` placeholder. Booleans become 1/0 and undefined becomes NULL. */
export type SqlValue = string | number | bigint | boolean | null | undefined;

/** The query interface every repository takes. */
export interface Db {
  /** Which SQL dialect runs behind this handle (migrations differ only in auto-increment columns). */
  readonly dialect: 'sqlite' | 'postgres';
  all<T = Record<string, unknown>>(sql: string, params?: SqlValue[]): Promise<T[]>;
  get<T = Record<string, unknown>>(sql: string, params?: SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: SqlValue[]): Promise<{ changes: number }>;
  exec(sql: string): Promise<void>;
  /**
   * Runs fn in one transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: SERIALIZABLE, the body re-run on a serialization
   * failure, see pg.ts), COMMIT, or ROLLBACK on throw. Nested calls join the outer one.
   */
  transaction<T>(fn: (db: Db) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A FIFO async mutex: better-sqlite3 is synchronous, but an async transaction body must not interleave with others. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => { release = r; });
    const previous = this.tail;
    this.tail = previous.then(() => next);
    await previous;
    return release;
  }
}

function bind(params: SqlValue[] | undefined): unknown[] {
  if (!params) return [];
  return params.map((v) => (v === undefined ? null : typeof v === 'boolean' ? (v ? 1 : 0) : v));
}

/** Direct access to one connection; used inside a held lock only. */
class SqliteConnection {
  private readonly statements = new Map<string, Database.Statement>();
  constructor(readonly raw: Database.Database) {}
  prepare(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.raw.prepare(sql);
      // Bounded cache: repositories use a fixed set of statements, ad-hoc filters add a few variants.
      if (this.statements.size > 500) this.statements.clear();
      this.statements.set(sql, st);
    }
    return st;
  }
  all<T>(sql: string, params?: SqlValue[]): T[] { return this.prepare(sql).all(...bind(params)) as T[]; }
  get<T>(sql: string, params?: SqlValue[]): T | undefined { return this.prepare(sql).get(...bind(params)) as T | undefined; }
  run(sql: string, params?: SqlValue[]): { changes: number } {
    return { changes: this.prepare(sql).run(...bind(params)).changes };
  }
}

/** The handle given to a transaction body: runs straight on the connection the transaction holds. */
class SqliteTx implements Db {
  readonly dialect = 'sqlite' as const;
  constructor(private readonly conn: SqliteConnection) {}
  async all<T>(sql: string, params?: SqlValue[]): Promise<T[]> { return this.conn.all<T>(sql, params); }
  async get<T>(sql: string, params?: SqlValue[]): Promise<T | undefined> { return this.conn.get<T>(sql, params); }
  async run(sql: string, params?: SqlValue[]): Promise<{ changes: number }> { return this.conn.run(sql, params); }
  async exec(sql: string): Promise<void> { this.conn.raw.exec(sql); }
  async transaction<T>(fn: (db: Db) => Promise<T>): Promise<T> { return fn(this); }
  async close(): Promise<void> { throw new Error('close() inside a transaction'); }
}

/** SQLite behind the Db interface: WAL, foreign keys on, busy timeout, one writer at a time through the mutex. */
export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const;
  private readonly conn: SqliteConnection;
  private readonly mutex = new Mutex();
  private closed = false;

  constructor(path: string) {
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
    raw.pragma('synchronous = NORMAL');
    this.conn = new SqliteConnection(raw);
  }

  private async locked<T>(fn: () => T): Promise<T> {
    const release = await this.mutex.lock();
    try {
      if (this.closed) throw new Error('database is closed');
      return fn();
    } finally {
      release();
    }
  }

  all<T>(sql: string, params?: SqlValue[]): Promise<T[]> { return this.locked(() => this.conn.all<T>(sql, params)); }
  get<T>(sql: string, params?: SqlValue[]): Promise<T | undefined> { return this.locked(() => this.conn.get<T>(sql, params)); }
  run(sql: string, params?: SqlValue[]): Promise<{ changes: number }> { return this.locked(() => this.conn.run(sql, params)); }
  exec(sql: string): Promise<void> { return this.locked(() => { this.conn.raw.exec(sql); }); }

  async transaction<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const release = await this.mutex.lock();
    try {
      if (this.closed) throw new Error('database is closed');
      this.conn.raw.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(new SqliteTx(this.conn));
        this.conn.raw.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.conn.raw.inTransaction) this.conn.raw.exec('ROLLBACK');
        throw err;
      }
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    const release = await this.mutex.lock();
    try {
      if (!this.closed) {
        this.closed = true;
        this.conn.raw.close();
      }
    } finally {
      release();
    }
  }
}

/** Opens (creating if needed) a SQLite database file; `:memory:` works for tests. */
export function openSqlite(path: string): Db {
  return new SqliteDb(path);
}

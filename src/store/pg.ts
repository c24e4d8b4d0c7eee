// PostgreSQL behind the Db interface (node-postgres pool), so several control-plane processes share one store.
// Repositories keep their portable SQL: `?` placeholders become $n here, int8/numeric come back as JS numbers (as
// SQLite returns them), booleans are bound as 1/0 (the schema stores flags in INTEGER columns).
import pg from 'pg';
import { PierError } from '../domain/errors.ts';
import { Mutex, type Db, type SqlValue } from './db.ts';

/** SQLSTATEs a transaction is re-run for: serialization_failure, deadlock_detected. */
const RETRYABLE = new Set(['40001', '40P01']);
/** How many times a transaction body runs before a serialization failure is surfaced. */
export const MAX_TX_ATTEMPTS = 10;

/** The NOTIFY channel API writes are announced on. */
const WRITES_CHANNEL = 'pier_writes';

const INT8 = 20;
const NUMERIC = 1700;

/** Rewrites `?` placeholders to `$1, $2...`, leaving string literals, quoted identifiers and comments alone. */
export function toPgPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const end = closingQuote(sql, i, c);
      out += sql.slice(i, end + 1);
      i = end;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? sql.length - 1 : end;
      out += sql.slice(i, stop + 1);
      i = stop;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end < 0 ? sql.length - 1 : end + 1;
      out += sql.slice(i, stop + 1);
      i = stop;
    } else if (c === '?') {
      out += `$${++n}`;
    } else {
      out += c;
    }
  }
  return out;
}

/** Index of the quote closing the one at `start` (a doubled quote is an escaped one). */
function closingQuote(sql: string, start: number, q: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === q) {
      if (sql[i + 1] === q) { i += 2; continue; }
      return i;
    }
    i++;
  }
  return sql.length - 1;
}

function bind(params: SqlValue[] | undefined): unknown[] {
  if (!params) return [];
  return params.map((v) => (v === undefined ? null : typeof v === 'boolean' ? (v ? 1 : 0) : typeof v === 'bigint' ? v.toString() : v));
}

/** `postgres://user:***@host/db`: the URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable DATABASE_URL>';
  }
}

type Queryable = pg.Pool | pg.PoolClient;

const translated = new Map<string, string>();
function translate(sql: string): string {
  let t = translated.get(sql);
  if (t === undefined) {
    t = toPgPlaceholders(sql);
    // Bounded cache: repositories use a fixed set of statements, ad-hoc filters add a few variants.
    if (translated.size > 1000) translated.clear();
    translated.set(sql, t);
  }
  return t;
}

async function query<T>(q: Queryable, sql: string, params?: SqlValue[]): Promise<pg.QueryResult<T & pg.QueryResultRow>> {
  return q.query<T & pg.QueryResultRow>(translate(sql), bind(params));
}

/** The handle a transaction body gets: every query on the one client that holds the transaction. */
class PgTx implements Db {
  readonly dialect = 'postgres' as const;
  constructor(private readonly client: pg.PoolClient) {}
  async all<T>(sql: string, params?: SqlValue[]): Promise<T[]> { return (await query<T>(this.client, sql, params)).rows; }
  async get<T>(sql: string, params?: SqlValue[]): Promise<T | undefined> { return (await query<T>(this.client, sql, params)).rows[0]; }
  async run(sql: string, params?: SqlValue[]): Promise<{ changes: number }> {
    return { changes: (await query(this.client, sql, params)).rowCount ?? 0 };
  }
  async exec(sql: string): Promise<void> { await this.client.query(sql); }
  async transaction<T>(fn: (db: Db) => Promise<T>): Promise<T> { return fn(this); }
  async close(): Promise<void> { throw new Error('close() inside a transaction'); }
}

/** SQLSTATE classes/codes meaning the server is gone or refuses connections (not a bad statement). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03']);

/** Whether an error means PostgreSQL is unreachable (down, restarting, connection lost), as opposed to a query error. */
export function isUnreachable(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code ?? '';
  if (UNREACHABLE_CODES.has(code) || code.startsWith('08')) return true;
  const message = (err as Error | undefined)?.message ?? '';
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED/.test(message);
}

/** Seconds an API client is told to wait (Retry-After) while the store is unreachable. */
export const STORE_RETRY_AFTER_SECONDS = 2;

/** Whether an error is a serialization failure or deadlock worth re-running the transaction for. */
export function isRetryable(err: unknown): boolean {
  return RETRYABLE.has((err as { code?: string } | undefined)?.code ?? '');
}

/**
 * Runs fn in one SERIALIZABLE transaction on `client`, re-running it (bounded) when PostgreSQL reports a
 * serialization failure or deadlock against another process; the last such error is surfaced as is.
 */
async function inTransaction<T>(client: pg.PoolClient, fn: (db: Db) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
    try {
      const result = await fn(new PgTx(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      if (!isRetryable(err) || attempt >= MAX_TX_ATTEMPTS) throw err;
      // Jittered backoff so two processes that collided do not collide again in lockstep.
      await new Promise((r) => setTimeout(r, Math.min(200, 2 ** attempt) + Math.random() * 10));
    }
  }
}

/** Options of a PostgreSQL store. */
export interface PgOptions {
  /** `postgres://user:password@host:port/database` (libpq URL; `?host=/socket/dir` works for Unix sockets). */
  url: string;
  /** Pool size (default 10). */
  max?: number;
  /** Where pool errors of idle connections are reported (default stderr). */
  log?: (line: string) => void;
}

/** PostgreSQL behind the Db interface: a pool for lone queries, one pooled client per transaction. */
export class PgDb implements Db {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;
  /** Transactions of one process run one at a time, as on SQLite; other processes' conflicts are retried. */
  private readonly mutex = new Mutex();
  private closed = false;
  private readonly url: string;
  private readonly log: (line: string) => void;
  private listener: pg.Client | undefined;
  private retry: NodeJS.Timeout | undefined;

  constructor(opts: PgOptions) {
    this.url = opts.url;
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.max ?? 10,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      types: {
        // COUNT(*), BIGINT columns and NUMERIC aggregates come back as JS numbers, as on SQLite.
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8 || oid === NUMERIC ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text')) as never,
      },
    });
    const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
    this.log = log;
    // An idle client losing its connection must not crash the process; the next query gets a fresh one.
    this.pool.on('error', (err) => log(`pier: postgres connection error: ${err.message}`));
  }

  /** Since when (epoch ms) PostgreSQL has been unreachable, or undefined while it answers. */
  private unreachableSince: number | undefined;

  /**
   * Runs one store operation; a lost or refused connection becomes PierError `unavailable` (the API's 503 with
   * Retry-After) and the outage is logged once when it starts and once when it ends, never per request.
   */
  private async guard<T>(op: () => Promise<T>): Promise<T> {
    try {
      const result = await op();
      if (this.unreachableSince !== undefined) {
        this.log(`pier: store reachable again after ${((Date.now() - this.unreachableSince) / 1000).toFixed(1)} s`);
        this.unreachableSince = undefined;
      }
      return result;
    } catch (err) {
      if (!isUnreachable(err) || this.closed) throw err;
      if (this.unreachableSince === undefined) {
        this.unreachableSince = Date.now();
        this.log(`pier: store unreachable since ${new Date(this.unreachableSince).toISOString()} (PostgreSQL at ${redactUrl(this.url)}: ${(err as Error).message})`);
      }
      const unavailable = new PierError('unavailable', `The store is unreachable (since ${new Date(this.unreachableSince).toISOString()}); retry in a few seconds`);
      (unavailable as PierError & { retryAfter: number }).retryAfter = STORE_RETRY_AFTER_SECONDS;
      throw unavailable;
    }
  }

  async all<T>(sql: string, params?: SqlValue[]): Promise<T[]> { return this.guard(async () => (await query<T>(this.pool, sql, params)).rows); }
  async get<T>(sql: string, params?: SqlValue[]): Promise<T | undefined> { return this.guard(async () => (await query<T>(this.pool, sql, params)).rows[0]); }
  async run(sql: string, params?: SqlValue[]): Promise<{ changes: number }> {
    return this.guard(async () => ({ changes: (await query(this.pool, sql, params)).rowCount ?? 0 }));
  }
  async exec(sql: string): Promise<void> { await this.guard(() => this.pool.query(sql)); }

  async transaction<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    return this.guard(() => this.transactionOnce(fn));
  }

  private async transactionOnce<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    const release = await this.mutex.lock();
    try {
      if (this.closed) throw new Error('database is closed');
      return await this.withClient((client) => inTransaction(client, fn));
    } finally {
      release();
    }
  }

  /**
   * Runs fn on a connection of the pool. While the pool has handed a client out it listens for nothing on it, and a
   * connection the server ends between two statements (an administrator, a shutdown) arrives as an 'error' event,
   * which unhandled would end the process: it is logged here, the statement after it fails (as `unavailable`), and
   * the client is destroyed instead of going back to the pool.
   */
  private async withClient<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let lost: Error | undefined;
    const onError = (err: Error): void => {
      lost ??= err;
      this.log(`pier: postgres connection lost while in use: ${err.message}`);
    };
    client.on('error', onError);
    try {
      return await fn(client);
    } finally {
      client.removeListener('error', onError);
      client.release(lost);
    }
  }

  /**
   * Runs fn on one dedicated connection holding a session advisory lock (e.g. migrations, so two control planes
   * starting together do not both apply them). Transactions fn opens on its handle are real, not joined.
   */
  async exclusive<T>(key: string, fn: (db: Db) => Promise<T>): Promise<T> {
    return this.withClient(async (client) => {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [key]);
      try {
        return await fn(new PgSession(client));
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [key]).catch(() => undefined);
      }
    });
  }

  /**
   * Tells the other control planes on this database that this one's API wrote something (NOTIFY), and calls
   * `onRemoteWrite` when another one did (LISTEN on a dedicated connection, re-established after a loss), so the
   * leader's reconcilers react to a follower's write at once instead of at their next resync. Bursts are coalesced.
   */
  async shareWrites(onRemoteWrite: () => void): Promise<{ notify(): void }> {
    const self = `${process.pid}:${Math.random().toString(36).slice(2)}`;
    const connect = async (): Promise<void> => {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 10_000 });
      const lost = () => {
        if (this.listener !== client) return;
        this.listener = undefined;
        client.end().catch(() => undefined);
        if (!this.closed) later();
      };
      client.on('notification', (n) => { if (n.payload !== self) onRemoteWrite(); });
      client.on('error', (err) => { this.log(`pier: postgres LISTEN connection lost: ${err.message}`); lost(); });
      client.on('end', lost);
      await client.connect();
      await client.query(`LISTEN ${WRITES_CHANNEL}`);
      if (this.closed) { await client.end(); return; }
      this.listener = client;
      onRemoteWrite(); // writes missed while (re)connecting: let the reconcilers look once
    };
    const later = () => {
      clearTimeout(this.retry);
      this.retry = setTimeout(() => { connect().catch(() => { if (!this.closed) later(); }); }, 1000);
      this.retry.unref();
    };
    await connect();
    let queued = false;
    return {
      notify: () => {
        if (queued || this.closed) return;
        queued = true;
        setTimeout(() => {
          queued = false;
          if (this.closed) return;
          this.run('SELECT pg_notify(?, ?)', [WRITES_CHANNEL, self])
            .catch((err) => this.log(`pier: postgres NOTIFY failed: ${(err as Error).message}`));
        }, 20).unref();
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retry);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    const release = await this.mutex.lock();
    try {
      await this.pool.end();
    } finally {
      release();
    }
  }
}

/** One connection outside any transaction: lone queries autocommit, transaction() opens a real one. */
class PgSession extends PgTx {
  constructor(private readonly conn: pg.PoolClient) { super(conn); }
  override async transaction<T>(fn: (db: Db) => Promise<T>): Promise<T> { return inTransaction(this.conn, fn); }
}

/** Opens a pool on a PostgreSQL URL and checks it answers (the message never shows the password). */
export async function openPostgres(opts: PgOptions): Promise<PgDb> {
  const db = new PgDb(opts);
  try {
    await db.get('SELECT 1 AS ok');
  } catch (err) {
    await db.close().catch(() => undefined);
    throw new Error(`cannot reach PostgreSQL at ${redactUrl(opts.url)}: ${(err as Error).message}`);
  }
  return db;
}

// Leader election for control planes sharing one database: a lease row updated by one compare-and-set statement.
// Every process serves the API; only the lease holder runs the singleton components (edge, certificates,
// reconcilers, metrics) because they drive workloads on the shared runtime. The holder renews every renewMs; if it
// cannot renew before its lease would expire it stops the reconcilers at once, and its fenced writes (fencedDb)
// fail from then on: each one checks, inside its transaction, that the lease row still names it with its term.
// An expired lease that nobody else took is still ours (same term) at the next renewal, and a lease that never
// expires (SQLite: one control plane) is lost only to another holder, never to a renewal stuck behind a long
// transaction. Serving components (the edge) outlive a lost lease with the table they have; only reconcilers stop.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Db, SqlValue } from '../store/db.ts';
import type { PierComponent } from '../component.ts';

/** The lease the control-plane leader holds. */
export const CONTROL_PLANE_LEASE = 'control-plane';

/** Thrown by fenced writes of a process that no longer holds the lease. */
export class LeaseLostError extends Error {
  readonly code = 'lease_lost';
  constructor(name: string) {
    super(`this control plane no longer holds the ${name} lease: write refused`);
    this.name = 'LeaseLostError';
  }
}

/** Lease tuning. */
export interface LeaseOptions {
  name?: string;
  /** Unique per process (default `<hostname>:<pid>:<random>`). */
  holder?: string;
  /** How long a renewal keeps the lease (default 5000 ms). */
  ttlMs?: number;
  /** How often the holder renews and others try to take over (default 1500 ms). */
  renewMs?: number;
  /**
   * On the first attempt only, take the lease even when another holder's has not expired. Right for SQLite, which
   * one process uses: a restarted Pier must not wait for the lease its killed predecessor left behind (and a second
   * process on the same file wins once, rather than both taking it in turns).
   */
  takeover?: boolean;
  /**
   * Whether the lease expires when not renewed (default true). SQLite has one control plane: its lease never expires,
   * so a busy machine cannot make it lose the lease to itself; another process still takes it over (takeover).
   */
  expires?: boolean;
  /** The monotonic clock in ms (default performance.now); tests inject stalls with it. */
  now?: () => number;
  /** This control plane's API URL, written beside the lease while held: followers point regional edges at it. */
  apiUrl?: string;
}

/** The ttl of a lease that never expires: far beyond any uptime, still a safe integer once added to epoch ms. */
const NEVER_EXPIRES_MS = 1000 * 365 * 86_400_000;

/** The longest delay setTimeout honours (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The database's clock in epoch milliseconds: every process compares expiry against the same clock. */
function dbNowMs(db: Db): string {
  return db.dialect === 'postgres'
    ? '(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT'
    : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";
}

/** One named lease as seen by this process. */
export class Lease {
  readonly name: string;
  readonly holder: string;
  readonly ttlMs: number;
  readonly renewMs: number;
  readonly expires: boolean;
  readonly apiUrl: string;
  private readonly now: () => number;
  private takeover: boolean;
  private heldTerm = 0;
  /** performance.now() after which this process must consider the lease lost. */
  private localDeadline = 0;

  constructor(private readonly db: Db, opts: LeaseOptions = {}) {
    this.name = opts.name ?? CONTROL_PLANE_LEASE;
    this.holder = opts.holder ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.expires = opts.expires ?? true;
    this.ttlMs = this.expires ? opts.ttlMs ?? 5000 : NEVER_EXPIRES_MS;
    this.renewMs = opts.renewMs ?? 1500;
    this.apiUrl = opts.apiUrl ?? '';
    this.takeover = opts.takeover ?? false;
    this.now = opts.now ?? (() => performance.now());
    if (!(this.renewMs > 0 && this.renewMs * 2 < this.ttlMs)) throw new Error('lease renewMs must be positive and under half of ttlMs');
  }

  /** The term while held (0 when not): bumped each time the lease changes holder. */
  get term(): number { return this.held ? this.heldTerm : 0; }

  /** Whether this process holds the lease right now by its own clock (conservative: renew time + ttl). */
  get held(): boolean { return this.heldTerm > 0 && this.now() < this.localDeadline; }

  /** Milliseconds until the lease is lost unless renewed (0 when not held). */
  remainingMs(): number { return this.held ? this.localDeadline - this.now() : 0; }

  /**
   * One compare-and-set: take the lease if it is free or expired (a new term), or extend it if the row still names
   * this process, expired or not (same term: nobody else held it meanwhile). Returns whether this process holds it.
   */
  async renew(): Promise<boolean> {
    const sentAt = this.now();
    const takeover = this.takeover;
    this.takeover = false;
    const now = dbNowMs(this.db);
    const row = await this.db.get<{ holder: string; term: number }>(
      `INSERT INTO leases (name, holder, term, expires_at, acquired_at, api_url) VALUES (?, ?, 1, ${now} + ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET
         term = CASE WHEN leases.holder = excluded.holder THEN leases.term ELSE leases.term + 1 END,
         acquired_at = CASE WHEN leases.holder = excluded.holder THEN leases.acquired_at ELSE excluded.acquired_at END,
         holder = excluded.holder, expires_at = excluded.expires_at, api_url = excluded.api_url
       WHERE leases.holder = excluded.holder OR leases.expires_at <= ${now} OR ? = 1
       RETURNING holder, term`,
      [this.name, this.holder, this.ttlMs, new Date().toISOString(), this.apiUrl, takeover ? 1 : 0] as SqlValue[],
    );
    if (row && row.holder === this.holder) {
      this.heldTerm = Number(row.term);
      // The row expires ttl after the statement ran, which is after sentAt: counting from sentAt is safe.
      this.localDeadline = sentAt + this.ttlMs - 100;
      return true;
    }
    this.heldTerm = 0;
    return false;
  }

  /** Forgets the lease locally at once (fenced writes fail from now on). */
  drop(): void { this.heldTerm = 0; }

  /** Gives the lease (of `term`, default the current one) up so another process takes over without waiting for expiry. */
  async release(term = this.heldTerm): Promise<void> {
    this.heldTerm = 0;
    if (term > 0) {
      await this.db.run('UPDATE leases SET expires_at = 0 WHERE name = ? AND holder = ? AND term = ?', [this.name, this.holder, term]);
    }
  }

  /** Throws LeaseLostError unless, inside this transaction, the lease row still names this holder and term. */
  async check(tx: Db): Promise<void> {
    const term = this.term;
    if (term === 0) throw new LeaseLostError(this.name);
    const row = await tx.get(
      `SELECT term FROM leases WHERE name = ? AND holder = ? AND term = ? AND expires_at > ${dbNowMs(tx)}`,
      [this.name, this.holder, term],
    );
    if (!row) throw new LeaseLostError(this.name);
  }

  /** Who holds the lease according to the database (for info pages and tests). */
  async current(): Promise<LeaseHolder | undefined> {
    return leaseHolder(this.db, this.name);
  }
}

/** A lease as the database has it. */
export interface LeaseHolder { holder: string; term: number; expiresInMs: number; apiUrl: string }

/** Who holds lease `name` according to the database (expired or not: check expiresInMs), and where its API is. */
export async function leaseHolder(db: Db, name = CONTROL_PLANE_LEASE): Promise<LeaseHolder | undefined> {
  const row = await db.get<{ holder: string; term: number; left: number; api_url: string }>(
    `SELECT holder, term, expires_at - ${dbNowMs(db)} AS left, api_url FROM leases WHERE name = ?`, [name],
  );
  return row ? { holder: row.holder, term: Number(row.term), expiresInMs: Number(row.left), apiUrl: row.api_url } : undefined;
}

/**
 * A Db whose writes only go through while the lease is held: run/exec/transaction first check the lease inside the
 * same transaction (so a write either commits before a takeover or fails). Reads pass straight through.
 */
export function fencedDb(db: Db, lease: Lease): Db {
  const fenced: Db = {
    dialect: db.dialect,
    all: (sql, params) => db.all(sql, params),
    get: (sql, params) => db.get(sql, params),
    run: (sql, params) => fenced.transaction((tx) => tx.run(sql, params)),
    exec: (sql) => fenced.transaction((tx) => tx.exec(sql)),
    transaction: (fn) => db.transaction(async (tx) => {
      await lease.check(tx);
      return fn(tx);
    }),
    close: () => db.close(),
  };
  return fenced;
}

/** What the leader component reports on each change. */
export interface LeadershipChange { leader: boolean; term: number; holder: string; reason: string }

/** Options of leaderComponent. */
export interface LeaderComponentOptions {
  lease: Lease;
  /**
   * Started in order the first time the lease is won, before `components`, and kept running through lost leases:
   * stopped (in reverse order, after `components`) only by stop(). The edge: a lease hiccup must not stop it serving
   * the routes it has.
   */
  serving?: PierComponent[];
  /** Started in order when the lease is won, stopped in reverse order when it is lost or on stop(). */
  components: PierComponent[];
  log?: (line: string) => void;
  onChange?: (change: LeadershipChange) => void;
}

/** A PierComponent that runs `components` only while this process holds the lease. */
export interface LeaderComponent extends PierComponent {
  isLeader(): boolean;
}

/**
 * Wraps singleton components in the lease: start() tries once (so a lone control plane is leader when startPier
 * returns) then keeps trying every renewMs; losing the lease (renewal failed until the local deadline, or another
 * holder's term found) stops the reconcilers at once; the serving components keep running until stop().
 */
export function leaderComponent(opts: LeaderComponentOptions): LeaderComponent {
  const { lease } = opts;
  const log = opts.log ?? (() => {});
  let active: PierComponent[] = [];
  let serving: PierComponent[] = [];
  let activeTerm = 0;
  let stopping = false;
  let tickTimer: NodeJS.Timeout | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let failing = false;

  function serial(step: () => Promise<void>): Promise<void> {
    const next = chain.then(step);
    chain = next.catch(() => undefined);
    return next;
  }

  /** Stops the singleton components; `drop` first forgets the lease so their in-flight writes are refused. */
  async function stepDown(reason: string, drop = true): Promise<void> {
    if (drop) lease.drop();
    clearTimeout(deadlineTimer);
    if (active.length === 0 && activeTerm === 0) return;
    const term = activeTerm;
    activeTerm = 0;
    const stopList = active.reverse();
    active = [];
    log(`pier: leadership lost (term ${term}): ${reason}; stopping ${stopList.map((c) => c.name).join(', ')}`);
    for (const c of stopList) {
      await Promise.resolve(c.stop()).catch((err) => log(`pier: stopping ${c.name}: ${(err as Error).message}`));
    }
    opts.onChange?.({ leader: false, term: 0, holder: lease.holder, reason });
  }

  /** Stops the serving components (only on stop() or a failed start, never on a lost lease). */
  async function stopServing(): Promise<void> {
    const stopList = serving.reverse();
    serving = [];
    for (const c of stopList) {
      await Promise.resolve(c.stop()).catch((err) => log(`pier: stopping ${c.name}: ${(err as Error).message}`));
    }
  }

  async function becomeLeader(): Promise<void> {
    const term = lease.term;
    if (term === 0) return;
    log(`pier: this control plane is the leader (term ${term}, holder ${lease.holder})`);
    activeTerm = term;
    for (const c of opts.serving ?? []) {
      if (serving.includes(c)) continue;
      if (!lease.held || activeTerm !== term) return;
      await c.start();
      serving.push(c);
    }
    for (const c of opts.components) {
      if (!lease.held || activeTerm !== term) return; // lost while starting: stepDown stops what started
      await c.start();
      active.push(c);
    }
    opts.onChange?.({ leader: true, term, holder: lease.holder, reason: 'lease acquired' });
  }

  function armDeadline(): void {
    clearTimeout(deadlineTimer);
    // A lease that expires is given up at the local deadline even if a renewal is still in flight: another control
    // plane may take it from then on. The next renewal takes it back with the same term if nobody did.
    deadlineTimer = setTimeout(() => {
      if (!lease.held) void serial(() => stepDown('lease not renewed before it expired'));
    }, Math.min(MAX_TIMER_MS, Math.max(0, lease.remainingMs()) + 1));
    deadlineTimer.unref();
  }

  /** One renewal attempt and whatever transition it implies. */
  async function tick(): Promise<void> {
    if (stopping) return;
    let held = false;
    try {
      held = await lease.renew();
      if (failing) log('pier: lease renewal works again');
      failing = false;
    } catch (err) {
      if (!failing) log(`pier: lease renewal failed: ${(err as Error).message}`);
      failing = true;
      held = lease.held; // keep leading until the local deadline; the deadline timer steps down
    }
    if (stopping) return;
    if (held && !lease.held) {
      // The answer came after the local deadline (a renewal stuck behind a long transaction): too late to count on.
      // Its term would read 0, which is no other holder's; the next renewal decides.
      if (activeTerm !== 0) await stepDown('lease not renewed before it expired');
      return;
    }
    if (held) {
      armDeadline();
      if (activeTerm !== 0 && activeTerm !== lease.term) await stepDown(`another holder had the lease (term ${activeTerm} → ${lease.term})`);
      if (activeTerm === 0) {
        try {
          await becomeLeader();
        } catch (err) {
          log(`pier: starting the leader's components failed: ${(err as Error).message}`);
          await stepDown('start failed');
          await lease.release().catch(() => undefined);
        }
      }
    } else if (activeTerm !== 0) {
      await stepDown('another control plane holds the lease');
    }
  }

  return {
    name: 'leader',
    isLeader: () => activeTerm !== 0 && lease.held,
    async start() {
      stopping = false;
      // The first attempt runs inline: a lone control plane has its edge and reconcilers up when start() returns,
      // and a failure to start them fails start-up as before.
      const held = await lease.renew().catch((err) => {
        log(`pier: lease renewal failed: ${(err as Error).message}`);
        return false;
      });
      if (held) {
        armDeadline();
        try {
          await serial(becomeLeader);
        } catch (err) {
          await serial(async () => { await stepDown('start failed'); await stopServing(); });
          await lease.release().catch(() => undefined);
          throw err;
        }
      } else {
        log('pier: another control plane holds the lease; serving the API and standing by');
        opts.onChange?.({ leader: false, term: 0, holder: lease.holder, reason: 'standing by' });
      }
      tickTimer = setInterval(() => { if (!stopping) void serial(tick); }, lease.renewMs);
      tickTimer.unref();
    },
    async stop() {
      stopping = true;
      clearInterval(tickTimer);
      await serial(async () => {
        // A graceful stop keeps the lease while the components finish (their last writes still count), then hands
        // it over at once rather than after the ttl: only a lease still ours (same term) is released.
        const term = lease.term;
        await stepDown('shutting down', false);
        clearTimeout(deadlineTimer);
        await stopServing();
        if (term) await lease.release(term).catch((err) => log(`pier: releasing the lease: ${(err as Error).message}`));
        lease.drop();
      });
    },
  };
}

// Live log lines for tails opened on a control plane that does not collect them. Lines are collected (and published
// on the LogBus) by the lease holder; with several control planes on one PostgreSQL database, a tail opened on a
// follower's API saw its backlog and then nothing. While this process does not collect and somebody tails here, the
// relay reads the lines appended since its cursor (log_lines.seq) every interval and publishes them on the local
// bus. A tail's backlog (read after it subscribed) and the relay's first lines for it can overlap: the tail drops
// the lines its backlog already sent (routes-logs-tail.ts).
import type { Db } from './db.ts';
import type { LogBus, LogLine } from './log-bus.ts';

/** Lines read per interval at most; a burst larger than this is caught up over the next intervals. */
const BATCH = 1000;
/**
 * Sequence numbers are taken at insert and transactions commit in any order, so a line can appear behind the
 * cursor: each read goes back this far and skips what it already published.
 */
const OVERLAP = 256;

export interface LogRelayOptions {
  db: Db;
  bus: LogBus;
  /** True while this process collects (and so publishes) the lines itself: the lease holder. */
  collecting: () => boolean;
  intervalMs?: number;
  onError?: (err: Error) => void;
}

/** One pass of the relay, exposed for tests: reads what is new since the cursor and publishes it. */
export class LogRelay {
  private cursor: number | undefined;
  /**
   * Lines at or below it are never published: they were there before a tail here subscribed (its backlog query,
   * made after it subscribed, has them). It only moves forward across a query no subscription happened during.
   */
  private floor = 0;
  private readonly published = new Set<number>();

  constructor(private readonly o: LogRelayOptions) {}

  /** The end of the table now, as cursor and floor (start() waits for it, before tails can be opened here). */
  async init(): Promise<void> {
    this.cursor = this.floor = await this.end();
    this.published.clear();
  }

  private async end(): Promise<number> {
    const row = await this.o.db.get<{ n: number | null }>('SELECT MAX(seq) AS n FROM log_lines');
    return Number(row?.n ?? 0);
  }

  async poll(): Promise<number> {
    if (this.o.collecting()) { this.cursor = undefined; return 0; }
    if (this.cursor === undefined) {
      // This process just stopped collecting (it lost the lease): relay from now on.
      await this.init();
      return 0;
    }
    if (this.o.bus.size === 0) {
      // Nobody tails here: keep the cursor near the end without reading lines, unless a tail subscribed while the
      // end was read (it may wait for a line below that end).
      const before = this.o.bus.subscriptions;
      const end = await this.end();
      if (this.o.bus.subscriptions === before && this.o.bus.size === 0) {
        this.cursor = this.floor = Math.max(this.cursor, end);
        this.published.clear();
        return 0;
      }
    }
    const rows = await this.o.db.all<LogLine & { seq: number }>(
      `SELECT seq, organization_id, app_id, service_id, deployment_id, regional_deployment_id, instance_id, region, type,
        stream, msg, created_at FROM log_lines WHERE seq > ? ORDER BY seq LIMIT ${BATCH + OVERLAP}`,
      [Math.max(this.floor, this.cursor - OVERLAP)],
    );
    let sent = 0;
    for (const r of rows) {
      const seq = Number(r.seq);
      if (seq <= this.floor || this.published.has(seq)) continue;
      const { seq: _seq, ...line } = r;
      this.published.add(seq);
      this.o.bus.publish(line);
      sent++;
      if (seq > this.cursor) this.cursor = seq;
    }
    // Remember only what the next overlap can return again.
    for (const s of this.published) if (s <= this.cursor - OVERLAP) this.published.delete(s);
    return sent;
  }
}

/** Runs a LogRelay every `intervalMs` (default 500 ms) until stopped. */
export async function startLogRelay(o: LogRelayOptions): Promise<{ stop(): Promise<void> }> {
  const relay = new LogRelay(o);
  await relay.init().catch((err: Error) => o.onError?.(err)); // polls init again if this failed
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  // A database away for a while fails every pass the same way: say so once, and again only when it changes.
  let lastError = '';
  const timer = setInterval(() => {
    running = running.then(() => (stopped ? 0 : relay.poll())).then(() => { lastError = ''; }, (err: Error) => {
      if (err.message !== lastError) o.onError?.(err);
      lastError = err.message;
    });
  }, o.intervalMs ?? 500);
  timer.unref?.();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running.catch(() => undefined);
    },
  };
}

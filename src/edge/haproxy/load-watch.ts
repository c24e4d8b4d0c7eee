// Load reports on the HAProxy data plane (issue #23; the Node edge's are in ../load-watch.ts). HAProxy cannot call
// out, so while some backend serves a service that autoscales on its requests, the edge reads those backends'
// counters every LOAD_POLL_MS (one `show stat <backend> 2 -1` each, batched) and reports a rise past the watch.
import { RATE_WINDOW_MS, RiseWatch } from '../load-watch.ts';
import type { LoadWatch } from '../types.ts';

/**
 * How often watched backends' counters are read (ms): the most a report lags the rise on this data plane (the
 * decider's windows fill as the load goes on, so a second step of a scale-up waits for the next report too).
 */
export const LOAD_POLL_MS = 50;
/**
 * A rate window closes at the first reading at least RATE_WINDOW_MS less this after its start: readings come every
 * LOAD_POLL_MS give or take the timer's and the socket's jitter, and one a hair short of the window (99.6 ms) must
 * not leave the window open for another whole poll (the bench saw reports 200 ms apart). The rate is taken over the
 * window's real length either way.
 */
const WINDOW_SLACK_MS = LOAD_POLL_MS / 2;
/** Backends per runtime API call (each command ~80 bytes; HAProxy's command line is bounded by its buffer). */
const PER_CALL = 100;

/** The runtime API calls that read the BACKEND rows of `names`. */
export function backendStatCommands(names: readonly string[]): string[] {
  const calls: string[] = [];
  for (let i = 0; i < names.length; i += PER_CALL) calls.push(names.slice(i, i + PER_CALL).map((n) => `show stat ${n} 2 -1`).join(';'));
  return calls;
}

/** One backend's counters: requests so far and sessions now (in flight). */
export interface BackendLoad { reqTot: number; scur: number }

/** The BACKEND rows of `show stat` output (one or several CSV blocks, each with its header). */
export function parseBackendRows(out: string): Map<string, BackendLoad> {
  const rows = new Map<string, BackendLoad>();
  let cols: Record<string, number> = {};
  for (const line of out.split('\n')) {
    if (line.startsWith('# ')) {
      cols = Object.fromEntries(line.slice(2).split(',').map((name, i) => [name, i]));
      continue;
    }
    const f = line.split(',');
    if (cols.pxname === undefined || f.length < 3 || f[cols.svname!] !== 'BACKEND') continue;
    rows.set(f[cols.pxname]!, { reqTot: Number(f[cols.req_tot!] || 0), scur: Number(f[cols.scur!] || 0) });
  }
  return rows;
}

/** Per-backend rise detection from cumulative counters, with the Node edge's rules (load-watch.ts RiseWatch). */
export class BackendLoadWatch {
  private readonly seen = new Map<string, RiseWatch>();

  /**
   * One reading of a backend that `serving` instances serve: true when its load is more than they take (requests per
   * second over a window of about RATE_WINDOW_MS, or sessions in flight) and it may grow (fewer than `watch.max`).
   * The first reading of a backend, or one after a reload reset its counters, is a baseline.
   */
  observe(name: string, load: BackendLoad, serving: number, watch: LoadWatch, nowMs: number): boolean {
    let rise = this.seen.get(name);
    if (!rise) this.seen.set(name, (rise = new RiseWatch(RATE_WINDOW_MS - WINDOW_SLACK_MS)));
    return rise.observe(watch, serving, load.reqTot, load.scur, nowMs);
  }

  /** Forgets backends no longer watched. */
  keep(names: ReadonlySet<string>): void {
    for (const k of this.seen.keys()) if (!names.has(k)) this.seen.delete(k);
  }
}

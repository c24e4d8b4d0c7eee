// Load reports (issue #23): a route whose service autoscales on its requests carries a LoadWatch (the in-flight
// requests and requests per second one instance should take at most, and the most instances it may run). The edge
// sees every request the moment it arrives; the control plane reads the edge's counters on a tick (1 s by default).
// When a route's load passes what its serving instances take, the edge says so at once (EdgeOptions.onLoad) and the
// control plane samples then: a scale-up is decided when the load rises, not up to a tick later. The decider still
// makes the call from its windows (a report is a reason to look, not a decision).
import type { LoadWatch } from './types.ts';

/** At most one report per route this often (ms): a sustained rise is reported every so often, not per request. */
export const LOAD_REPORT_GAP_MS = 50;
/** Requests per second are read over at least this long (ms), from at least MIN_RATE_REQUESTS arrivals after the first. */
export const RATE_WINDOW_MS = 100;
const MIN_RATE_REQUESTS = 2;

/** The rules both data planes report by (this meter, and haproxy/load-watch.ts from HAProxy's counters). */
export const loadRules = {
  /** More requests in flight than `serving` instances take. */
  inFlightOver: (watch: LoadWatch, serving: number, inFlight: number): boolean =>
    watch.inFlight !== undefined && inFlight > watch.inFlight * Math.max(serving, 1),
  /** `requests` arrivals over a closed window of `ms` are more per second than `serving` instances take. */
  rateOver: (watch: LoadWatch, serving: number, requests: number, ms: number): boolean =>
    watch.perSecond !== undefined && requests >= MIN_RATE_REQUESTS && (requests * 1000) / ms > watch.perSecond * Math.max(serving, 1),
  /** A rise may be reported: the route may still grow, and the last report is LOAD_REPORT_GAP_MS old. */
  reportDue: (watch: LoadWatch, serving: number, lastReportMs: number, nowMs: number): boolean =>
    serving < watch.max && nowMs - lastReportMs >= LOAD_REPORT_GAP_MS,
};

/**
 * Rise detection from a running total of one route's requests (the Node edge counts arrivals, HAProxy's data plane
 * reads its backend counters): a rate window starts at a baseline total and closes at the first observation at least
 * `closeAfterMs` later; whether that window was over the watch holds until the next one closes, so a rise goes on
 * being reported every LOAD_REPORT_GAP_MS, not only as each window closes (the decider's windows fill as the load
 * goes on, and a higher count may be due before the next window closes).
 */
export class RiseWatch {
  private base = 0;
  private since = -1;
  private lastReport = -Infinity;
  /** Whether the last window that closed was over the watch: until the next one closes, the rise goes on. */
  private risen = false;

  constructor(private readonly closeAfterMs = RATE_WINDOW_MS) {}

  /**
   * One observation at `nowMs` of a route that `serving` instances serve, with `total` requests so far and `inFlight`
   * in flight. True when the load is more than those instances take and the route may grow (fewer than
   * `watch.max`): the caller reports it. A total below the baseline (a reloaded HAProxy's fresh counters) starts a
   * new window, the rise unknown.
   */
  observe(watch: LoadWatch, serving: number, total: number, inFlight: number, nowMs: number): boolean {
    if (watch.perSecond !== undefined) {
      if (this.since < 0 || total < this.base) {
        this.base = total;
        this.since = nowMs;
        this.risen = false;
      } else if (nowMs - this.since >= this.closeAfterMs) {
        // The requests after the window's baseline, over the time they took.
        this.risen = loadRules.rateOver(watch, serving, total - this.base, nowMs - this.since);
        this.base = total;
        this.since = nowMs;
      }
    }
    const over = this.risen || loadRules.inFlightOver(watch, serving, inFlight);
    if (!over || !loadRules.reportDue(watch, serving, this.lastReport, nowMs)) return false;
    this.lastReport = nowMs;
    return true;
  }
}

/** Per-route arrival counting for LoadWatch; kept across route-table updates (the route's counters are). */
export class LoadMeter {
  private arrived = 0;
  private readonly rise = new RiseWatch();

  /**
   * Counts one request arriving at `nowMs` (performance.now()) on a route that `serving` instances serve with
   * `inFlight` requests in flight (this one included). True when the load is more than those instances take and
   * the route may grow (fewer than `watch.max`): the caller reports it.
   */
  arrive(watch: LoadWatch, serving: number, inFlight: number, nowMs: number): boolean {
    return this.rise.observe(watch, serving, ++this.arrived, inFlight, nowMs);
  }
}

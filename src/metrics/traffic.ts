// Pure: per-service traffic over one sampling interval, from two snapshots of the edge's cumulative counters.
import type { EdgeMetrics } from '../edge/types.ts';

/** Cumulative counters of one service, summed over its routes. */
export interface ServiceCounters {
  requests: number;
  bytes: number;
  /** Requests per latency bucket (upper bounds in `le`, last is +Inf). */
  counts: number[];
  le: number[];
}

/** What one interval of one service measured; latency fields are absent when no request finished. */
export interface ServiceTraffic {
  requestsPerSecond: number;
  bytesOutPerSecond: number;
  p50?: number;
  p90?: number;
  p99?: number;
  max?: number;
}

/** Sums the edge's route counters per service id. */
export function serviceCounters(m: EdgeMetrics): Map<string, ServiceCounters> {
  const out = new Map<string, ServiceCounters>();
  for (const r of Object.values(m.routes)) {
    let c = out.get(r.serviceId);
    if (!c) out.set(r.serviceId, (c = { requests: 0, bytes: 0, counts: r.buckets.le.map(() => 0), le: r.buckets.le.slice() }));
    c.requests += r.requests;
    c.bytes += r.bytes;
    r.buckets.counts.forEach((n, i) => { if (i < c!.counts.length) c!.counts[i]! += n; });
  }
  return out;
}

/**
 * Adds what regional edges counted per service (RemoteTraffic.services(): cumulative, only growing) to the
 * in-process edge's counters, in place; a service only they served gets its own entry.
 */
export function addRemoteCounters(counters: Map<string, ServiceCounters>, remote: Map<string, { requests: number; bytes: number; counts: number[] }>, le: number[]): void {
  for (const [serviceId, r] of remote) {
    let c = counters.get(serviceId);
    if (!c) counters.set(serviceId, (c = { requests: 0, bytes: 0, counts: le.map(() => 0), le: le.slice() }));
    c.requests += r.requests;
    c.bytes += r.bytes;
    // Both count in the edge's latency buckets (LATENCY_BUCKETS_MS); a local histogram of another shape keeps its own.
    if (c.counts.length === r.counts.length) r.counts.forEach((n, i) => { c!.counts[i]! += n; });
  }
}

/**
 * The traffic between two snapshots `elapsedMs` apart. A counter that went down means the edge restarted (or the
 * route was rebuilt): the current value is then everything since the reset.
 */
export function trafficBetween(prev: ServiceCounters | undefined, cur: ServiceCounters, elapsedMs: number): ServiceTraffic {
  const reset = !prev || cur.requests < prev.requests || cur.bytes < prev.bytes;
  const base = reset ? undefined : prev;
  const seconds = Math.max(elapsedMs, 1) / 1000;
  const requests = cur.requests - (base?.requests ?? 0);
  const bytes = cur.bytes - (base?.bytes ?? 0);
  const counts = cur.counts.map((n, i) => Math.max(0, n - (base?.counts[i] ?? 0)));
  const t: ServiceTraffic = { requestsPerSecond: round(requests / seconds), bytesOutPerSecond: round(bytes / seconds) };
  if (counts.some((n) => n > 0)) {
    t.p50 = quantile(counts, cur.le, 0.5);
    t.p90 = quantile(counts, cur.le, 0.9);
    t.p99 = quantile(counts, cur.le, 0.99);
    t.max = maxOf(counts, cur.le);
  }
  return t;
}

/** A quantile (0..1) of a histogram, interpolating linearly inside the bucket that holds it. */
export function quantile(counts: number[], le: number[], q: number): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n === 0) continue;
    if (seen + n >= rank) {
      const lo = i === 0 ? 0 : le[i - 1]!;
      const hi = le[i]!;
      // The +Inf bucket (null once it crossed JSON from an edge worker) has no upper bound to interpolate towards: report its lower bound.
      return !Number.isFinite(hi) ? lo : round(lo + ((hi - lo) * (rank - seen)) / n);
    }
    seen += n;
  }
  return 0;
}

/** The upper bound of the highest non-empty bucket (its lower bound for +Inf): the histogram's max, bounded. */
function maxOf(counts: number[], le: number[]): number {
  for (let i = counts.length - 1; i >= 0; i--) {
    if (counts[i]! > 0) return !Number.isFinite(le[i]) ? (i === 0 ? 0 : le[i - 1]!) : le[i]!;
  }
  return 0;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

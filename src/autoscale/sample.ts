// Turns cumulative per-instance request counters (what the edge keeps) into one region sample: requests per
// second and latency quantiles from the counter deltas, concurrency by Little's law (request time per wall time)
// or what is in flight right now, whichever is higher (so long requests count before they finish).
import type { MetricSample } from './types.ts';

/** The cumulative counters of one instance (a structural subset of the edge's TrafficMetrics). */
export interface Counters {
  inFlight: number;
  requests: number;
  sumMs: number;
  buckets: { le: number[]; counts: number[] };
}

/** Resource use of one instance, as percentages of its limits. */
export interface Usage { cpu: number; mem: number }

/** Everything one sample is computed from. */
export interface SampleInput {
  atMs: number;
  /** Milliseconds since the previous counters were read. */
  elapsedMs: number;
  /** Serving instance ids of the region. */
  instances: readonly string[];
  previous: ReadonlyMap<string, Counters> | Record<string, Counters | undefined>;
  current: Record<string, Counters | undefined>;
  usage?: Record<string, Usage | undefined>;
  /** Latency quantiles to report (e.g. [95]). */
  quantiles?: readonly number[];
}

/** The region sample, in the shape the decider reads. */
export function sampleRegion(i: SampleInput): MetricSample {
  const prevOf = (id: string): Counters | undefined => (i.previous instanceof Map ? i.previous.get(id) : (i.previous as Record<string, Counters | undefined>)[id]);
  let requests = 0;
  let busyMs = 0;
  let inFlight = 0;
  let counts: number[] | undefined;
  let le: number[] = [];
  const cpu: number[] = [];
  const mem: number[] = [];
  for (const id of i.instances) {
    const cur = i.current[id];
    const u = i.usage?.[id];
    if (u) { cpu.push(u.cpu); mem.push(u.mem); }
    if (!cur) continue;
    const prev = prevOf(id);
    // A counter that went backwards was reset (edge restarted): everything it holds is new.
    const base = prev && prev.requests <= cur.requests ? prev : undefined;
    requests += cur.requests - (base?.requests ?? 0);
    busyMs += Math.max(0, cur.sumMs - (base?.sumMs ?? 0));
    inFlight += cur.inFlight;
    le = cur.buckets.le;
    counts ??= cur.buckets.counts.map(() => 0);
    cur.buckets.counts.forEach((c, k) => { counts![k] += Math.max(0, c - (base?.buckets.counts[k] ?? 0)); });
  }
  const seconds = Math.max(i.elapsedMs, 1) / 1000;
  const sample: MetricSample = {
    atMs: i.atMs,
    spanMs: Math.max(i.elapsedMs, 1),
    instances: i.instances.length,
    concurrency: Math.max(inFlight, busyMs / (seconds * 1000)),
    rps: requests / seconds,
  };
  if (cpu.length) sample.cpu = cpu.reduce((a, b) => a + b, 0) / cpu.length;
  if (mem.length) sample.mem = mem.reduce((a, b) => a + b, 0) / mem.length;
  if (counts && requests > 0 && i.quantiles?.length) {
    sample.latency = {};
    for (const q of i.quantiles) sample.latency[q] = quantileOf(le, counts, q / 100);
  }
  return sample;
}

/** A quantile (0..1) of a bucketed histogram, interpolated inside its bucket; the +Inf bucket reports its floor. */
export function quantileOf(le: readonly number[], counts: readonly number[], q: number): number {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let k = 0; k < counts.length; k++) {
    if (counts[k] === 0) continue;
    if (seen + counts[k] >= rank) {
      const lo = k === 0 ? 0 : le[k - 1];
      const hi = le[k];
      return hi === Infinity ? lo : lo + ((hi - lo) * (rank - seen)) / counts[k];
    }
    seen += counts[k];
  }
  return le[le.length - 2] ?? 0;
}

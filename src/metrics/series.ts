// Pure: turns stored samples into GetMetricsReply series, one per (service, instance, region), bucketed by step.
import type { MetricSample } from '../store/metrics.ts';
import { parseShortDuration } from '../domain/durations.ts';
import { aggregationOf } from './names.ts';

/** One series of the reply, in Koyeb's GetMetricsReply.Metric shape. */
export interface MetricSeries {
  labels: Record<string, string>;
  samples: { timestamp: string; value: number }[];
}

/** Most buckets one reply may hold per series; a finer step over a longer window is refused. */
export const MAX_BUCKETS = 11_000;

/** Parses a step such as `5m` or `1h` (Koyeb) or `15s` (Pier extension) into milliseconds (domain/durations.ts). */
export const parseStep = parseShortDuration;

/** Groups samples into series and merges each series' samples per step (avg, or max for peak metrics). */
export function toSeries(samples: MetricSample[], startMs: number, stepMs: number): MetricSeries[] {
  const groups = new Map<string, MetricSample[]>();
  for (const s of samples) {
    const key = `${s.service_id}\u0000${s.instance_id}\u0000${s.region}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(s);
  }
  const out: MetricSeries[] = [];
  for (const g of groups.values()) {
    const first = g[0]!;
    const buckets = new Map<number, { sum: number; max: number; n: number }>();
    for (const s of g) {
      const i = Math.floor((Number(s.ts) - startMs) / stepMs);
      const v = Number(s.value);
      const b = buckets.get(i);
      if (b) { b.sum += v; b.max = Math.max(b.max, v); b.n++; } else buckets.set(i, { sum: v, max: v, n: 1 });
    }
    const agg = aggregationOf(first.name);
    const labels: Record<string, string> = { service_id: first.service_id };
    if (first.instance_id) labels.instance_id = first.instance_id;
    if (first.region) labels.region = first.region;
    out.push({
      labels,
      samples: [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([i, b]) => ({
        timestamp: new Date(startMs + i * stepMs).toISOString(),
        value: round(agg === 'max' ? b.max : b.sum / b.n),
      })),
    });
  }
  // Service-wide series first (the console reads the first series of a latency metric), then by instance.
  return out.sort((a, b) => (a.labels.instance_id ?? '').localeCompare(b.labels.instance_id ?? ''));
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

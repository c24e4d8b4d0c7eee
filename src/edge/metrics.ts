// Request counters kept on the hot path as plain numbers in preallocated arrays; snapshots, merging (for
// worker processes) and Prometheus rendering happen only when someone asks.
import type { EdgeMetrics, LatencySummary, RouteMetrics, TrafficMetrics } from './types.ts';

/** Latency histogram bucket upper bounds in ms; the last bucket is +Inf. */
export const LATENCY_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, Infinity];

/** Live counters for one route, instance or app. Mutated in place, never reallocated. */
export class Traffic {
  inFlight = 0;
  requests = 0;
  readonly byStatus = [0, 0, 0, 0, 0];
  bytes = 0;
  sumMs = 0;
  /** Connections refused or timed out (instances only). */
  connectErrors = 0;
  readonly counts: number[] = LATENCY_BUCKETS_MS.map(() => 0);
  /** Wall-clock ms of the last request start (0 = never). */
  lastRequestAt = 0;

  /** Record one finished request. */
  observe(status: number, ms: number, bytes: number): void {
    this.requests++;
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) this.byStatus[cls - 1]++;
    this.bytes += bytes;
    this.sumMs += ms;
    let i = 0;
    while (ms > LATENCY_BUCKETS_MS[i]) i++;
    this.counts[i]++;
  }

  /** A plain-data copy. */
  snapshot(): TrafficMetrics {
    return {
      inFlight: this.inFlight,
      requests: this.requests,
      byStatus: { '1xx': this.byStatus[0], '2xx': this.byStatus[1], '3xx': this.byStatus[2], '4xx': this.byStatus[3], '5xx': this.byStatus[4] },
      bytes: this.bytes,
      latencyMs: summarize(this.counts),
      buckets: { le: LATENCY_BUCKETS_MS.slice(), counts: this.counts.slice() },
      sumMs: this.sumMs,
      connectErrors: this.connectErrors,
      lastRequestAt: this.lastRequestAt ? new Date(this.lastRequestAt).toISOString() : null,
    };
  }
}

/** p50/p95/p99 from bucket counts, interpolating linearly inside the bucket that holds the quantile. */
export function summarize(counts: number[]): LatencySummary {
  return { p50: quantile(counts, 0.5), p95: quantile(counts, 0.95), p99: quantile(counts, 0.99) };
}

/** One quantile (0..1) from bucket counts; 0 when there is no data. */
export function quantile(counts: number[], q: number): number {
  let total = 0;
  for (const c of counts) total += c;
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue;
    if (seen + counts[i] >= rank) {
      const lo = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1];
      const hi = LATENCY_BUCKETS_MS[i];
      // The +Inf bucket has no upper bound to interpolate towards: report its lower bound.
      if (hi === Infinity) return lo;
      return round3(lo + ((hi - lo) * (rank - seen)) / counts[i]);
    }
    seen += counts[i];
  }
  return 0;
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/** Sum two traffic snapshots (used to merge what several worker processes report). */
export function mergeTraffic<T extends TrafficMetrics>(a: T, b: TrafficMetrics): T {
  const counts = a.buckets.counts.map((c, i) => c + (b.buckets.counts[i] ?? 0));
  const byStatus: Record<string, number> = { ...a.byStatus };
  for (const [k, v] of Object.entries(b.byStatus)) byStatus[k] = (byStatus[k] ?? 0) + v;
  const last = [a.lastRequestAt, b.lastRequestAt].filter((x): x is string => x !== null).sort().pop() ?? null;
  return {
    ...a,
    inFlight: a.inFlight + b.inFlight,
    requests: a.requests + b.requests,
    byStatus,
    bytes: a.bytes + b.bytes,
    sumMs: a.sumMs + b.sumMs,
    connectErrors: a.connectErrors + b.connectErrors,
    buckets: { le: a.buckets.le, counts },
    latencyMs: summarize(counts),
    lastRequestAt: last,
  };
}

/** Merge whole metric snapshots from several processes into one view. */
export function mergeMetrics(parts: EdgeMetrics[]): EdgeMetrics {
  const out: EdgeMetrics = { instances: {}, routes: {}, apps: {} };
  for (const p of parts) {
    for (const [k, v] of Object.entries(p.instances)) out.instances[k] = out.instances[k] ? mergeTraffic(out.instances[k], v) : v;
    for (const [k, v] of Object.entries(p.routes)) out.routes[k] = out.routes[k] ? mergeTraffic(out.routes[k], v) : v;
    for (const [k, v] of Object.entries(p.apps)) {
      const cur = out.apps[k];
      if (!cur) { out.apps[k] = { ...v }; continue; }
      cur.held += v.held;
      cur.requests += v.requests;
      if (v.lastRequestAt && (!cur.lastRequestAt || v.lastRequestAt > cur.lastRequestAt)) cur.lastRequestAt = v.lastRequestAt;
    }
    if (p.connectionsDropped) out.connectionsDropped = (out.connectionsDropped ?? 0) + p.connectionsDropped;
  }
  return out;
}

/** Render metrics in the Prometheus text exposition format (version 0.0.4). */
export function renderPrometheus(m: EdgeMetrics): string {
  const lines: string[] = [];
  const family = (name: string, type: string, help: string): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  const routes = Object.values(m.routes).map((r: RouteMetrics) => ({
    labels: `app="${esc(r.appId)}",app_name="${esc(r.appName ?? '')}",service="${esc(r.serviceId)}",service_name="${esc(r.serviceName ?? '')}",route="${esc(r.path)}"`,
    t: r as TrafficMetrics,
  }));
  const instances = Object.entries(m.instances).map(([id, t]) => ({ labels: `instance="${esc(id)}"`, t }));
  for (const [prefix, rows, what] of [['pier_edge_route', routes, 'route'], ['pier_edge_instance', instances, 'instance']] as const) {
    family(`${prefix}_requests_total`, 'counter', `Requests finished per ${what} by status class.`);
    for (const r of rows) for (const [cls, n] of Object.entries(r.t.byStatus)) lines.push(`${prefix}_requests_total{${r.labels},code="${cls}"} ${n}`);
    family(`${prefix}_in_flight_requests`, 'gauge', `Requests in flight per ${what}.`);
    for (const r of rows) lines.push(`${prefix}_in_flight_requests{${r.labels}} ${r.t.inFlight}`);
    family(`${prefix}_response_bytes_total`, 'counter', `Response body bytes per ${what}.`);
    for (const r of rows) lines.push(`${prefix}_response_bytes_total{${r.labels}} ${r.t.bytes}`);
    family(`${prefix}_request_duration_seconds`, 'histogram', `Request latency per ${what}.`);
    for (const r of rows) {
      let cum = 0;
      r.t.buckets.counts.forEach((c, i) => {
        cum += c;
        const le = r.t.buckets.le[i] === Infinity ? '+Inf' : String(r.t.buckets.le[i] / 1000);
        lines.push(`${prefix}_request_duration_seconds_bucket{${r.labels},le="${le}"} ${cum}`);
      });
      lines.push(`${prefix}_request_duration_seconds_sum{${r.labels}} ${r.t.sumMs / 1000}`);
      lines.push(`${prefix}_request_duration_seconds_count{${r.labels}} ${cum}`);
    }
  }
  family('pier_edge_instance_connect_errors_total', 'counter', 'Connections to an instance refused or timed out.');
  for (const r of instances) lines.push(`pier_edge_instance_connect_errors_total{${r.labels}} ${r.t.connectErrors}`);
  family('pier_edge_app_last_request_timestamp_seconds', 'gauge', 'Unix time of the last request per app (0 = never).');
  for (const [id, a] of Object.entries(m.apps)) {
    const ts = a.lastRequestAt ? Date.parse(a.lastRequestAt) / 1000 : 0;
    lines.push(`pier_edge_app_last_request_timestamp_seconds{app="${esc(id)}"} ${ts}`);
  }
  family('pier_edge_app_held_requests', 'gauge', 'Requests held while the app wakes.');
  for (const [id, a] of Object.entries(m.apps)) lines.push(`pier_edge_app_held_requests{app="${esc(id)}"} ${a.held}`);
  family('pier_edge_connections_dropped_total', 'counter', 'Client connections closed at once: an edge listener was at its connection cap (maxConnections).');
  lines.push(`pier_edge_connections_dropped_total ${m.connectionsDropped ?? 0}`);
  return lines.join('\n') + '\n';
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

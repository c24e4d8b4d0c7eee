// Traffic seen by remote edges (`pier edge`, one per region), for the control plane's autoscaler and idle rule.
// Each remote edge posts its cumulative per-instance counters every second (POST /v1/pier/edge/traffic); this keeps,
// per edge, the last report and, per instance, the sum of what every edge added since it was first heard from, so
// the counters handed to the autoscaler only grow (an edge that restarts comes back under a new id: its counters
// start again from zero without pulling the sums back). `merge` adds those sums to the in-process edge's own
// counters: the sampler (src/autoscale/sample.ts) takes the deltas as from one edge. Per service, the same sums of
// the edges' route counters feed the console's charts (`services()`, src/metrics/sampler.ts). In-flight requests, held ones
// and open TCP proxy connections count only from edges heard from in the last 10 s.
import { FieldErrors, isObject } from '../domain/fields.ts';
import type { FieldError } from '../domain/types.ts';
import { LATENCY_BUCKETS_MS } from './metrics.ts';
import type { EdgeMetrics, TrafficMetrics } from './types.ts';

/** One instance in a report: cumulative counters since the edge started. */
export interface InstanceReport { inFlight: number; requests: number; sumMs: number; counts: number[]; lastRequestAt: number | null }
/** One app in a report. */
export interface AppReport { held: number; requests: number; lastRequestAt: number | null }
/** One service in a report: its routes' cumulative counters at that edge (the console's charts are per service). */
export interface ServiceReport { requests: number; bytes: number; sumMs: number; counts: number[] }
/** What a remote edge posts: its region and id (new at each start), and its counters. */
export interface TrafficReport {
  region: string;
  edgeId: string;
  /** The route table the edge serves as it posts (its ETag); '' before its first. */
  etag: string;
  instances: Record<string, InstanceReport>;
  apps: Record<string, AppReport>;
  /** Absent from edges older than the field: those add nothing to the charts. */
  services: Record<string, ServiceReport>;
  tcp: Record<string, { open: number; lastAt: number }>;
}

/** How long an edge's in-flight, held and open counts are believed after its last report. */
export const FRESH_MS = 10_000;
/** An edge not heard from for this long is forgotten (its sums stay). */
const FORGET_EDGE_MS = 300_000;
/** Sums of an instance no edge reported for this long are dropped (the instance is long gone). */
const FORGET_INSTANCE_MS = 600_000;

interface Sum { requests: number; sumMs: number; counts: number[]; lastRequestAt: number; touchedAt: number }
/** What every remote edge added to one service's routes since each was first heard from (only grows). */
export interface ServiceSum { requests: number; bytes: number; counts: number[]; touchedAt: number }
interface Seen { at: number; report: TrafficReport }

export class RemoteTraffic {
  private readonly edges = new Map<string, Seen>();
  private readonly sums = new Map<string, Sum>();
  private readonly appSums = new Map<string, { requests: number; lastRequestAt: number; touchedAt: number }>();
  private readonly serviceSums = new Map<string, ServiceSum>();

  /** Takes an edge's report. Its first report (of this control plane's life) only sets the baseline. */
  report(r: TrafficReport, now = Date.now()): void {
    const key = `${r.region}/${r.edgeId}`;
    const prev = this.edges.get(key)?.report;
    for (const [id, cur] of Object.entries(r.instances)) {
      const sum = this.sums.get(id) ?? { requests: 0, sumMs: 0, counts: LATENCY_BUCKETS_MS.map(() => 0), lastRequestAt: 0, touchedAt: now };
      sum.touchedAt = now;
      if (cur.lastRequestAt !== null && cur.lastRequestAt > sum.lastRequestAt) sum.lastRequestAt = cur.lastRequestAt;
      const base = baseline(prev, prev?.instances[id], cur);
      sum.requests += cur.requests - (base?.requests ?? 0);
      sum.sumMs += Math.max(0, cur.sumMs - (base?.sumMs ?? 0));
      addGrowth(sum.counts, cur.counts, base?.counts);
      this.sums.set(id, sum);
    }
    for (const [id, cur] of Object.entries(r.apps)) {
      const sum = this.appSums.get(id) ?? { requests: 0, lastRequestAt: 0, touchedAt: now };
      sum.touchedAt = now;
      if (cur.lastRequestAt !== null && cur.lastRequestAt > sum.lastRequestAt) sum.lastRequestAt = cur.lastRequestAt;
      const base = baseline(prev, prev?.apps[id], cur);
      sum.requests += cur.requests - (base?.requests ?? 0);
      this.appSums.set(id, sum);
    }
    for (const [id, cur] of Object.entries(r.services)) {
      const sum = this.serviceSums.get(id) ?? { requests: 0, bytes: 0, counts: LATENCY_BUCKETS_MS.map(() => 0), touchedAt: now };
      sum.touchedAt = now;
      const p = prev?.services[id];
      const base = baseline(prev, p && p.bytes <= cur.bytes ? p : undefined, cur);
      sum.requests += cur.requests - (base?.requests ?? 0);
      sum.bytes += cur.bytes - (base?.bytes ?? 0);
      addGrowth(sum.counts, cur.counts, base?.counts);
      this.serviceSums.set(id, sum);
    }
    this.edges.set(key, { at: now, report: r });
    for (const [k, e] of this.edges) if (now - e.at > FORGET_EDGE_MS) this.edges.delete(k);
    for (const [id, s] of this.serviceSums) if (now - s.touchedAt > FORGET_INSTANCE_MS) this.serviceSums.delete(id);
    for (const [id, s] of this.sums) if (now - s.touchedAt > FORGET_INSTANCE_MS) this.sums.delete(id);
    for (const [id, s] of this.appSums) if (now - s.touchedAt > FORGET_INSTANCE_MS) this.appSums.delete(id);
  }

  /**
   * Per service, what the remote edges' routes counted (requests, bytes out, latency buckets in LATENCY_BUCKETS_MS),
   * summed over edges since each was first heard from: the metrics sampler adds it to the in-process edge's.
   */
  services(): Map<string, { requests: number; bytes: number; counts: number[] }> {
    return new Map([...this.serviceSums].map(([id, x]) => [id, { requests: x.requests, bytes: x.bytes, counts: x.counts.slice() }]));
  }

  /** Requests in flight on `instanceId` at the remote edges heard from in the last FRESH_MS. */
  inFlight(instanceId: string, now = Date.now()): number {
    let n = 0;
    for (const e of this.edges.values()) if (now - e.at <= FRESH_MS) n += e.report.instances[instanceId]?.inFlight ?? 0;
    return n;
  }

  /**
   * Resolves true once every fresh remote edge has reported from the current table (`etag()`; an edge posts as soon
   * as it takes a new one) and none reports a request in flight on `instanceId`; false after `ms`. A drain waits for
   * it once the table without the instance was sent: the remote edges' requests on it finish first.
   */
  async drained(instanceId: string, ms: number, etag: () => string | undefined): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 1_000_000; i++) {
      const now = Date.now();
      const current = etag();
      const behind = current !== undefined && [...this.edges.values()].some((e) => now - e.at <= FRESH_MS && e.report.etag !== current);
      if (!behind && this.inFlight(instanceId, now) === 0) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  /** The remote edges heard from, by region and id, with when (for operators and tests). */
  edgesSeen(): { region: string; edgeId: string; at: string }[] {
    return [...this.edges.values()].map((e) => ({ region: e.report.region, edgeId: e.report.edgeId, at: new Date(e.at).toISOString() }));
  }

  /** The in-process edge's counters (if any) plus every remote edge's; `local` itself is left as it was. */
  merge(local: EdgeMetrics | undefined, now = Date.now()): EdgeMetrics | undefined {
    if (this.sums.size === 0 && this.appSums.size === 0 && this.edges.size === 0) return local;
    const out: EdgeMetrics = {
      instances: { ...(local?.instances ?? {}) }, routes: local?.routes ?? {}, apps: { ...(local?.apps ?? {}) },
      ...(local?.tcp ? { tcp: { ...local.tcp } } : {}),
    };
    const fresh = [...this.edges.values()].filter((e) => now - e.at <= FRESH_MS).map((e) => e.report);
    for (const [id, sum] of this.sums) {
      const base = out.instances[id] ?? emptyTraffic();
      const inFlight = fresh.reduce((n, r) => n + (r.instances[id]?.inFlight ?? 0), 0);
      const last = Math.max(base.lastRequestAt ? Date.parse(base.lastRequestAt) : 0, sum.lastRequestAt);
      out.instances[id] = {
        ...base,
        inFlight: base.inFlight + inFlight,
        requests: base.requests + sum.requests,
        sumMs: base.sumMs + sum.sumMs,
        buckets: { le: base.buckets.le.length ? base.buckets.le : LATENCY_BUCKETS_MS, counts: sum.counts.map((c, k) => c + (base.buckets.counts[k] ?? 0)) },
        lastRequestAt: last > 0 ? new Date(last).toISOString() : null,
      };
    }
    for (const [id, sum] of this.appSums) {
      const base = out.apps[id] ?? { lastRequestAt: null, held: 0, requests: 0 };
      const held = fresh.reduce((n, r) => n + (r.apps[id]?.held ?? 0), 0);
      const last = Math.max(base.lastRequestAt ? Date.parse(base.lastRequestAt) : 0, sum.lastRequestAt);
      out.apps[id] = { held: base.held + held, requests: base.requests + sum.requests, lastRequestAt: last > 0 ? new Date(last).toISOString() : null };
    }
    for (const e of this.edges.values()) {
      const live = now - e.at <= FRESH_MS;
      for (const [id, t] of Object.entries(e.report.tcp)) {
        out.tcp ??= {};
        const base = out.tcp[id] ?? { open: 0, lastAt: 0 };
        // An edge gone quiet may have lost its connections with it: its open ones count no more, its last moment does.
        out.tcp[id] = { open: base.open + (live ? t.open : 0), lastAt: Math.max(base.lastAt, t.lastAt) };
      }
    }
    return out;
  }
}

/**
 * What to subtract from an edge's counter `cur` (its value in this report) to get what is new since the last report
 * of that edge (`prev`, `p` the same counter there). No earlier report of the edge: a baseline (nothing is new: it
 * counted that before this control plane heard from it). An earlier report without the counter, or with a larger
 * one (never on the same edge): all of it is new.
 */
function baseline<T extends { requests: number }>(prev: TrafficReport | undefined, p: T | undefined, cur: T): T | undefined {
  return p && p.requests <= cur.requests ? p : prev ? undefined : cur;
}

/** Adds each latency bucket's growth over `base` (none: all of `cur`) to `sum`, in place. */
function addGrowth(sum: number[], cur: number[], base: number[] | undefined): void {
  cur.forEach((c, k) => { sum[k] = (sum[k] ?? 0) + Math.max(0, c - (base?.[k] ?? 0)); });
}

function emptyTraffic(): TrafficMetrics {
  return {
    inFlight: 0, requests: 0, byStatus: {}, bytes: 0, latencyMs: { p50: 0, p95: 0, p99: 0 },
    buckets: { le: LATENCY_BUCKETS_MS, counts: LATENCY_BUCKETS_MS.map(() => 0) }, sumMs: 0, connectErrors: 0, lastRequestAt: null,
  };
}

/**
 * A remote edge's report from its own counters (what it posts). Instances and apps it never served are left out (a
 * thousand idle routes cost nothing per post); an instance left out of a report keeps its sums on the leader.
 */
export function trafficReport(region: string, edgeId: string, etag: string, m: EdgeMetrics, tcp: Record<string, { open: number; lastAt: number }>): TrafficReport {
  const instances: Record<string, InstanceReport> = {};
  for (const [id, t] of Object.entries(m.instances)) {
    if (t.requests === 0 && t.inFlight === 0) continue;
    instances[id] = { inFlight: t.inFlight, requests: t.requests, sumMs: t.sumMs, counts: t.buckets.counts, lastRequestAt: t.lastRequestAt ? Date.parse(t.lastRequestAt) : null };
  }
  const apps: Record<string, AppReport> = {};
  for (const [id, a] of Object.entries(m.apps)) {
    if (a.requests === 0 && a.held === 0) continue;
    apps[id] = { held: a.held, requests: a.requests, lastRequestAt: a.lastRequestAt ? Date.parse(a.lastRequestAt) : null };
  }
  const services: Record<string, ServiceReport> = {};
  for (const r of Object.values(m.routes)) {
    // An id the control plane would refuse (never one of Pier's own) is left out rather than spoil the report.
    if (r.requests === 0 || !EDGE_ID.test(r.serviceId)) continue;
    const x = services[r.serviceId] ??= { requests: 0, bytes: 0, sumMs: 0, counts: LATENCY_BUCKETS_MS.map(() => 0) };
    x.requests += r.requests;
    x.bytes += r.bytes;
    x.sumMs += r.sumMs;
    r.buckets.counts.forEach((c, k) => { if (k < x.counts.length) x.counts[k]! += c; });
  }
  return { region, edgeId, etag, instances, apps, services, tcp };
}

/** The report as JSON on the wire (snake_case, as Pier's other /v1/pier bodies), with the services whose load rose. */
export function trafficReportToWire(r: TrafficReport, load: readonly string[] = []): Record<string, unknown> {
  return {
    region: r.region, edge_id: r.edgeId, etag: r.etag,
    instances: Object.fromEntries(Object.entries(r.instances).map(([id, t]) => [id, { in_flight: t.inFlight, requests: t.requests, sum_ms: t.sumMs, counts: t.counts, last_request_at: t.lastRequestAt }])),
    apps: Object.fromEntries(Object.entries(r.apps).map(([id, a]) => [id, { held: a.held, requests: a.requests, last_request_at: a.lastRequestAt }])),
    services: Object.fromEntries(Object.entries(r.services).map(([id, x]) => [id, { requests: x.requests, bytes: x.bytes, sum_ms: x.sumMs, counts: x.counts }])),
    tcp: Object.fromEntries(Object.entries(r.tcp).map(([id, t]) => [id, { open: t.open, last_at: t.lastAt }])),
    ...(load.length ? { load } : {}),
  };
}

/** An instance, app, service or edge id as remote edges send them: 1-64 letters, digits and dashes. */
export const EDGE_ID = /^[A-Za-z0-9-]{1,64}$/;
/** A region id. */
export const REGION_ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
/** More ids than this in one report is not an edge's: refused. */
const MAX_IDS = 100_000;
/** More services than this in one load report: refused. */
const MAX_LOAD = 1000;

/**
 * Reads a report from the wire, every problem named by its field (`instances.<id>.requests`, at most 20): ids of
 * 1-64 letters, digits and dashes, counts finite and not negative, the histogram in the edge's buckets, times in
 * epoch ms or null; `load` the ids of the services whose load rose.
 */
export function parseTrafficReport(raw: unknown): { report?: TrafficReport; load: string[]; errors: FieldError[] } {
  const errors = new FieldErrors();
  const add = (field: string, description: string) => { if (errors.count < 20) errors.add(field, description); };
  const num = (v: unknown, path: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) { add(path, 'must be a finite number of 0 or more'); return 0; }
    return v;
  };
  const time = (v: unknown, path: string): number | null => (v === null || v === undefined ? null : num(v, path));
  const map = <T>(v: unknown, path: string, one: (x: Record<string, unknown>, p: string) => T): Record<string, T> => {
    const out: Record<string, T> = {};
    if (v === undefined || v === null) return out;
    if (!isObject(v)) { add(path, 'must be an object keyed by id'); return out; }
    const keys = Object.keys(v);
    if (keys.length > MAX_IDS) { add(path, `must hold at most ${MAX_IDS} ids`); return out; }
    for (const id of keys) {
      const p = `${path}.${id.slice(0, 64)}`;
      if (!EDGE_ID.test(id)) { add(p, 'an id of 1-64 letters, digits and dashes'); continue; }
      const x = v[id];
      if (!isObject(x)) { add(p, 'must be an object'); continue; }
      out[id] = one(x, p);
    }
    return out;
  };
  if (!isObject(raw)) return { load: [], errors: [{ field: 'body', description: 'must be a traffic report object' }] };
  const region = typeof raw.region === 'string' && REGION_ID.test(raw.region) ? raw.region : (add('region', 'a region id: lowercase letters, digits and dashes'), '');
  const edgeId = typeof raw.edge_id === 'string' && EDGE_ID.test(raw.edge_id) ? raw.edge_id : (add('edge_id', 'the edge\'s id: 1-64 letters, digits and dashes'), '');
  const etag = raw.etag === undefined || raw.etag === null ? '' : typeof raw.etag === 'string' && raw.etag.length <= 64 ? raw.etag : (add('etag', 'the ETag of the route table the edge serves (at most 64 characters)'), '');
  const buckets = (x: Record<string, unknown>, p: string): number[] => (Array.isArray(x.counts) && x.counts.length === LATENCY_BUCKETS_MS.length
    ? x.counts.map((c, k) => num(c, `${p}.counts[${k}]`))
    : (add(`${p}.counts`, `must be ${LATENCY_BUCKETS_MS.length} bucket counts (the edge's latency buckets)`), LATENCY_BUCKETS_MS.map(() => 0)));
  const instances = map(raw.instances, 'instances', (x, p) => {
    const counts = buckets(x, p);
    return { inFlight: num(x.in_flight, `${p}.in_flight`), requests: num(x.requests, `${p}.requests`), sumMs: num(x.sum_ms, `${p}.sum_ms`), counts, lastRequestAt: time(x.last_request_at, `${p}.last_request_at`) };
  });
  const services = map(raw.services, 'services', (x, p) => ({
    requests: num(x.requests, `${p}.requests`), bytes: num(x.bytes, `${p}.bytes`), sumMs: num(x.sum_ms, `${p}.sum_ms`), counts: buckets(x, p),
  }));
  const apps = map(raw.apps, 'apps', (x, p) => ({ held: num(x.held, `${p}.held`), requests: num(x.requests, `${p}.requests`), lastRequestAt: time(x.last_request_at, `${p}.last_request_at`) }));
  const tcp = map(raw.tcp, 'tcp', (x, p) => ({ open: num(x.open, `${p}.open`), lastAt: num(x.last_at, `${p}.last_at`) }));
  const rawLoad = raw.load ?? [];
  const load = Array.isArray(rawLoad) && rawLoad.length <= MAX_LOAD && rawLoad.every((x) => typeof x === 'string' && EDGE_ID.test(x)) ? rawLoad as string[] : [];
  if (load !== rawLoad) add('load', `the ids of the services whose load rose: at most ${MAX_LOAD.toLocaleString('en-US')} ids of 1-64 letters, digits and dashes`);
  return errors.count ? { load: [], errors: errors.list } : { report: { region, edgeId, etag, instances, apps, services, tcp }, load, errors: [] };
}

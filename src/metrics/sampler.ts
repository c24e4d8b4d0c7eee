// The metrics sampler: every interval it records per-instance CPU and memory (runtime.stats) and per-service
// traffic (the edge's counters, differenced between ticks) into metric_samples, and drops samples past retention.
// Ticks never overlap: a slow tick (docker stats can take a second per container) delays the next one.
import type { EdgeMetrics } from '../edge/types.ts';
import type { Instance } from '../domain/types.ts';
import type { InstanceStats } from '../runtime/contract.ts';
import type { Db } from '../store/db.ts';
import { appendMetricSamples, pruneMetricSamples, type MetricSample } from '../store/metrics.ts';
import { getService } from '../store/services.ts';
import { INSTANCE_COUNT } from './names.ts';
import { LATENCY_BUCKETS_MS } from '../edge/metrics.ts';
import { addRemoteCounters, serviceCounters, trafficBetween, type ServiceCounters } from './traffic.ts';

/** The parts of the edge the sampler reads. */
export interface EdgeCounters {
  metrics(): EdgeMetrics;
  refreshMetrics?(): Promise<void>;
}

/** What the composition root wires into the sampler. */
export interface SamplerOptions {
  db: Db;
  /** Resource usage of one workload by its runtime id (Runtime.stats). */
  stats: (runtimeId: string) => Promise<InstanceStats>;
  /** Instances running now; `allocation_id` is their runtime id. */
  instances: () => Promise<Instance[]>;
  /** The edge, once it runs (undefined before start and after stop). */
  edge: () => EdgeCounters | undefined;
  /** Per service, what regional edges (`pier edge`) counted (RemoteTraffic.services()): added to the edge's. */
  remoteServices?: () => Map<string, { requests: number; bytes: number; counts: number[] }>;
  /** Time between ticks (default 10 s). */
  intervalMs?: number;
  /** How long samples are kept (default 24 h). */
  retentionMs?: number;
  /** Epoch ms now (tests pass a fake clock). */
  now?: () => number;
  onError?: (err: unknown, context: string) => void;
}

/** A running sampler. */
export interface MetricsSampler {
  /** Takes a first sample now, then one per interval until stop(). */
  start(): void;
  /** Stops the timer and waits for a tick in progress. */
  stop(): Promise<void>;
  /** Records one tick; returns the number of samples written. */
  sampleOnce(): Promise<number>;
}

/** Default time between ticks. */
export const DEFAULT_INTERVAL_MS = 10_000;
/** Default retention. */
export const DEFAULT_RETENTION_MS = 24 * 3_600_000;
/** Parallel stats calls per tick: enough to keep a tick short, few enough not to swamp the engine. */
const STATS_CONCURRENCY = 4;
/** Old samples are deleted at most this often. */
const PRUNE_EVERY_MS = 60_000;

/** Builds a sampler; nothing runs until start() or sampleOnce(). */
export function createMetricsSampler(o: SamplerOptions): MetricsSampler {
  const intervalMs = o.intervalMs ?? DEFAULT_INTERVAL_MS;
  const retentionMs = o.retentionMs ?? DEFAULT_RETENTION_MS;
  const now = o.now ?? Date.now;
  const onError = o.onError ?? (() => {});
  const organizations = new Map<string, string>();
  let previous: { at: number; counters: Map<string, ServiceCounters> } | undefined;
  let lastPrune = 0;
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let current: Promise<unknown> = Promise.resolve();

  async function organizationOf(serviceId: string): Promise<string | undefined> {
    let org = organizations.get(serviceId);
    if (org === undefined) {
      org = (await getService(o.db, serviceId))?.organization_id;
      if (org !== undefined) {
        if (organizations.size > 10_000) organizations.clear();
        organizations.set(serviceId, org);
      }
    }
    return org;
  }

  async function instanceSamples(at: number, out: MetricSample[]): Promise<void> {
    const live = (await o.instances()).filter((i) => i.allocation_id);
    const perService = new Map<string, { org: string; n: number }>();
    for (const i of live) {
      organizations.set(i.service_id, i.organization_id);
      const s = perService.get(i.service_id);
      if (s) s.n++; else perService.set(i.service_id, { org: i.organization_id, n: 1 });
    }
    for (const [serviceId, s] of perService) {
      out.push({ organization_id: s.org, service_id: serviceId, instance_id: '', region: '', name: INSTANCE_COUNT, ts: at, value: s.n });
    }
    let next = 0;
    async function worker(): Promise<void> {
      while (next < live.length) {
        const i = live[next++]!;
        try {
          const st = await o.stats(i.allocation_id);
          const base = { organization_id: i.organization_id, service_id: i.service_id, instance_id: i.id, region: i.region, ts: at };
          out.push({ ...base, name: 'CPU_TOTAL_PERCENT', value: round(st.cpuPercent) });
          out.push({ ...base, name: 'MEM_RSS', value: Math.round(st.memoryBytes) });
        } catch (err) {
          // The instance may have stopped between listing and asking; its series just gets a gap.
          onError(err, `reading stats of instance ${i.id}`);
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(STATS_CONCURRENCY, live.length) }, worker));
  }

  async function trafficSamples(at: number, out: MetricSample[]): Promise<void> {
    const edge = o.edge();
    if (!edge) return;
    await edge.refreshMetrics?.();
    const counters = serviceCounters(edge.metrics());
    if (o.remoteServices) addRemoteCounters(counters, o.remoteServices(), LATENCY_BUCKETS_MS);
    const prev = previous;
    previous = { at, counters };
    // The first tick only sets the baseline: a rate needs two snapshots.
    if (!prev) return;
    for (const [serviceId, cur] of counters) {
      const org = await organizationOf(serviceId);
      if (!org) continue;
      const t = trafficBetween(prev.counters.get(serviceId), cur, at - prev.at);
      const base = { organization_id: org, service_id: serviceId, instance_id: '', region: '', ts: at };
      out.push({ ...base, name: 'HTTP_THROUGHPUT', value: t.requestsPerSecond });
      out.push({ ...base, name: 'PUBLIC_DATA_TRANSFER_OUT', value: t.bytesOutPerSecond });
      if (t.p50 !== undefined) {
        out.push({ ...base, name: 'HTTP_RESPONSE_TIME_50P', value: t.p50 });
        out.push({ ...base, name: 'HTTP_RESPONSE_TIME_90P', value: t.p90! });
        out.push({ ...base, name: 'HTTP_RESPONSE_TIME_99P', value: t.p99! });
        out.push({ ...base, name: 'HTTP_RESPONSE_TIME_MAX', value: t.max! });
      }
    }
  }

  async function tick(): Promise<number> {
    const at = now();
    const out: MetricSample[] = [];
    await instanceSamples(at, out).catch((err) => onError(err, 'sampling instances'));
    await trafficSamples(at, out).catch((err) => onError(err, 'sampling edge traffic'));
    await appendMetricSamples(o.db, out);
    if (at - lastPrune >= PRUNE_EVERY_MS) {
      lastPrune = at;
      await pruneMetricSamples(o.db, at - retentionMs);
    }
    return out.length;
  }

  function sampleOnce(): Promise<number> {
    const next = current.then(tick, tick);
    current = next.catch(() => {});
    return next;
  }

  async function loop(): Promise<void> {
    if (!running) return;
    await sampleOnce().catch((err) => onError(err, 'recording metrics'));
    if (running) timer = setTimeout(loop, intervalMs);
  }

  return {
    start() {
      if (running) return;
      running = true;
      void loop();
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await current;
    },
    sampleOnce,
  };
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}

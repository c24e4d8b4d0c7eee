// The sampler as a Pier component (wired in src/platform.ts after the controller), with the interval and retention
// config.ts reads (PIER_METRICS_INTERVAL, default 10s; PIER_METRICS_RETENTION, default 24h).
import type { Edge } from '../edge/types.ts';
import type { PierComponent } from '../component.ts';
import type { Runtime } from '../runtime/contract.ts';
import { listInstances } from '../store/instances.ts';
import type { Store } from '../store/store.ts';
import { createMetricsSampler, DEFAULT_INTERVAL_MS, DEFAULT_RETENTION_MS, type MetricsSampler } from './sampler.ts';

/** Statuses of instances that have a workload worth measuring. */
const RUNNING = ['STARTING', 'HEALTHY', 'UNHEALTHY', 'STOPPING'];

/** What the component needs from the rest of the platform. */
export interface MetricsComponentOptions {
  store: Store;
  runtime: Runtime;
  edge: () => Edge | undefined;
  /** Per service, what regional edges counted (the route feed's RemoteTraffic.services()). */
  remoteServices?: () => Map<string, { requests: number; bytes: number; counts: number[] }>;
  /** Whether the controller has a live binding for an instance (controller.endpoints(id) !== undefined). */
  isBound: (instanceId: string) => boolean;
  log: (line: string) => void;
  /** Sampling interval and retention (config.ts reads PIER_METRICS_*); the sampler's defaults otherwise. */
  settings?: { intervalMs?: number; retentionMs?: number };
}

/** A component that runs the metrics sampler between its start() and stop(). */
export function metricsComponent(o: MetricsComponentOptions): PierComponent {
  const settings = { intervalMs: o.settings?.intervalMs ?? DEFAULT_INTERVAL_MS, retentionMs: o.settings?.retentionMs ?? DEFAULT_RETENTION_MS };
  let sampler: MetricsSampler | undefined;
  let lastError = '';
  return {
    name: 'metrics',
    start() {
      sampler = createMetricsSampler({
        db: o.store.db,
        stats: (runtimeId) => o.runtime.stats(runtimeId),
        instances: async () => (await listInstances(o.store.db, { statuses: RUNNING })).items.filter((i) => o.isBound(i.id)),
        edge: o.edge,
        ...(o.remoteServices ? { remoteServices: o.remoteServices } : {}),
        ...settings,
        onError: (err, context) => {
          // A failing engine would repeat the same line every tick: log each distinct failure once in a row.
          const line = `pier: metrics: ${context}: ${(err as Error)?.message ?? String(err)}`;
          if (line !== lastError) o.log(line);
          lastError = line;
        },
      });
      sampler.start();
    },
    async stop() {
      await sampler?.stop();
      sampler = undefined;
    },
  };
}

// The sampler as a Pier component (wired in src/platform.ts after the controller), with its settings read from
// the environment: PIER_METRICS_INTERVAL (default 10s) and PIER_METRICS_RETENTION (default 24h), e.g. `5s`, `2h`.
import type { Edge } from '../edge/types.ts';
import type { PierComponent } from '../component.ts';
import type { Runtime } from '../runtime/contract.ts';
import { listInstances } from '../store/instances.ts';
import type { Store } from '../store/store.ts';
import { createMetricsSampler, DEFAULT_INTERVAL_MS, DEFAULT_RETENTION_MS, type MetricsSampler } from './sampler.ts';
import { parseStep } from './series.ts';

/** Statuses of instances that have a workload worth measuring. */
const RUNNING = ['STARTING', 'HEALTHY', 'UNHEALTHY', 'STOPPING'];

/** Interval and retention from the environment; throws on a malformed value so a typo is not silently ignored. */
export function samplerSettings(env: NodeJS.ProcessEnv = process.env): { intervalMs: number; retentionMs: number } {
  const read = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const ms = parseStep(raw);
    if (ms === undefined || ms < min) {
      throw new Error(`${name} must be a duration such as 10s, 5m or 24h (at least ${min / 1000}s), got ${JSON.stringify(raw)}`);
    }
    return ms;
  };
  return { intervalMs: read('PIER_METRICS_INTERVAL', DEFAULT_INTERVAL_MS, 1000), retentionMs: read('PIER_METRICS_RETENTION', DEFAULT_RETENTION_MS, 60_000) };
}

/** What the component needs from the rest of the platform. */
export interface MetricsComponentOptions {
  store: Store;
  runtime: Runtime;
  edge: () => Edge | undefined;
  /** Whether the controller has a live binding for an instance (controller.endpoints(id) !== undefined). */
  isBound: (instanceId: string) => boolean;
  log: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** A component that runs the metrics sampler between its start() and stop(). */
export function metricsComponent(o: MetricsComponentOptions): PierComponent {
  const settings = samplerSettings(o.env);
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

// The Node process's own metrics for GET /metrics: prom-client's default collectors (the names the usual Node.js
// dashboards expect): CPU, memory, heap and heap spaces, GC durations, event-loop delay, handles and active
// resources, open file descriptors, start time, version.
import { collectDefaultMetrics, type Registry } from 'prom-client';

/** Registers the default process collectors on `registry` (event-loop delay sampled at 10 ms resolution). */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
}

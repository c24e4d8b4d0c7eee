// The Node process's own metrics for GET /metrics: prom-client's default collectors (the names the usual Node.js
// dashboards expect): CPU, memory, heap and heap spaces, GC durations, event-loop delay, handles and active
// resources, open file descriptors, start time, version. One registry per process, made on first use: the
// collectors hold a GC observer and an event-loop histogram, which each API server need not repeat.
import { collectDefaultMetrics, Registry } from 'prom-client';

let registry: Registry | undefined;

/** The process-wide registry of the default collectors (event-loop delay sampled at 10 ms resolution). */
export function processRegistry(): Registry {
  if (!registry) {
    registry = new Registry();
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  }
  return registry;
}

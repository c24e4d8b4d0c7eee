// GET /metrics through prom-client (issue #21 item 10): the API's request counters and durations, the control
// plane's memory, extra gauges the platform adds, and the Node process metrics of prom-client's default collectors
// (process-metrics.ts, one registry per process). Each ApiMetrics has its own registry, so several control planes
// in one process (tests) never share counters. The edge's traffic counters stay hand-written (src/edge/metrics.ts): they are bumped on every
// proxied request, where prom-client's labelled counters and histogram measured 17-21 µs a request against the
// hand-written 36-66 ns (src/edge/README.md), and are rendered only at scrape time.
import { Counter, Gauge, Registry, Summary } from 'prom-client';
import { processRegistry } from './process-metrics.ts';

/** Counts requests by route (the matched path template, never raw ids) and status. */
export class ApiMetrics {
  private readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'pier_api_requests_total', help: 'API requests by route and status.',
    labelNames: ['method', 'route', 'status'] as const, registers: [this.registry],
  });
  // Sum and count only, as before: quantiles would keep a sliding window per route for no reader.
  private readonly durations = new Summary({
    name: 'pier_api_request_duration_seconds', help: 'API request durations.',
    labelNames: ['method', 'route'] as const, percentiles: [], registers: [this.registry],
  });
  private readonly drops = new Counter({
    name: 'pier_api_connections_dropped_total', help: 'Client connections closed at once: the API was at its connection cap (maxConnections).',
    registers: [this.registry],
  });
  /** Gauges the platform hands render() by name, made on first sight. */
  private readonly extras = new Map<string, Gauge>();
  private extraValues: Record<string, number> = {};

  constructor() {
    const mem = (name: string, help: string, read: () => number) => new Gauge({
      name, help, registers: [this.registry],
      collect() { this.set(read()); },
    });
    mem('pier_process_resident_memory_bytes', 'Resident memory of the control plane.', () => process.memoryUsage().rss);
    mem('pier_process_heap_used_bytes', 'V8 heap in use.', () => process.memoryUsage().heapUsed);
  }

  /** Records one finished request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    this.requests.inc({ method, route, status: String(status) });
    this.durations.observe({ method, route }, seconds);
  }

  /** Counts one connection the server closed at its cap (http.Server's 'drop'). */
  connectionDropped(): void {
    this.drops.inc();
  }

  /** The exposition text (Prometheus text format 0.0.4); `extra` are gauges by name, set to these values. */
  async render(extra: Record<string, number> = {}): Promise<string> {
    this.extraValues = extra;
    for (const name of [...this.extras.keys()]) {
      if (name in extra) continue;
      // A gauge the platform stopped handing in disappears instead of repeating its last value.
      this.registry.removeSingleMetric(name);
      this.extras.delete(name);
    }
    for (const name of Object.keys(extra)) {
      if (this.extras.has(name)) continue;
      const values = () => this.extraValues;
      this.extras.set(name, new Gauge({
        name, help: `${name} (platform gauge).`, registers: [this.registry],
        collect() { this.set(values()[name] ?? 0); },
      }));
    }
    // One family after another without blank lines, NaN spelled as Prometheus writes it (prom-client writes "Nan").
    return (await Registry.merge([this.registry, processRegistry()]).metrics()).replace(/\n{2,}/g, '\n').replace(/ Nan$/gm, ' NaN');
  }
}

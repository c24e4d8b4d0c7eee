// Request counters for GET /metrics (Prometheus text format) plus the Node process's metrics (process-metrics.ts).
import { renderProcessMetrics } from './process-metrics.ts';

/** Counts requests by route (the matched path template, never raw ids) and status. */
export class ApiMetrics {
  private readonly requests = new Map<string, number>();
  private readonly durations = new Map<string, { sum: number; count: number }>();

  /** Records one finished request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method}\u0000${route}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const dkey = `${method}\u0000${route}`;
    const d = this.durations.get(dkey) ?? { sum: 0, count: 0 };
    d.sum += seconds;
    d.count += 1;
    this.durations.set(dkey, d);
  }

  /** The exposition text. */
  render(extra: Record<string, number> = {}): string {
    const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    const out: string[] = [
      '# HELP pier_api_requests_total API requests by route and status.',
      '# TYPE pier_api_requests_total counter',
    ];
    for (const [key, n] of this.requests) {
      const [method, route, status] = key.split('\u0000');
      out.push(`pier_api_requests_total{method="${method}",route="${esc(route!)}",status="${status}"} ${n}`);
    }
    out.push('# HELP pier_api_request_duration_seconds API request durations.', '# TYPE pier_api_request_duration_seconds summary');
    for (const [key, d] of this.durations) {
      const [method, route] = key.split('\u0000');
      const labels = `method="${method}",route="${esc(route!)}"`;
      out.push(`pier_api_request_duration_seconds_sum{${labels}} ${d.sum}`, `pier_api_request_duration_seconds_count{${labels}} ${d.count}`);
    }
    const mem = process.memoryUsage();
    out.push(
      '# HELP pier_process_resident_memory_bytes Resident memory of the control plane.',
      '# TYPE pier_process_resident_memory_bytes gauge',
      `pier_process_resident_memory_bytes ${mem.rss}`,
      '# HELP pier_process_heap_used_bytes V8 heap in use.',
      '# TYPE pier_process_heap_used_bytes gauge',
      `pier_process_heap_used_bytes ${mem.heapUsed}`,
    );
    for (const [name, value] of Object.entries(extra)) out.push(`# TYPE ${name} gauge`, `${name} ${value}`);
    return out.join('\n') + '\n' + renderProcessMetrics();
  }
}

// The Node process's own metrics for GET /metrics, under the names prom-client's default collectors use (so the
// usual Node.js dashboards work): CPU, memory, heap, event-loop delay, active resources, start time, version.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

let loopDelay: IntervalHistogram | undefined;

/** Prometheus text for the current process. The event-loop histogram starts on the first call (10 ms resolution). */
export function renderProcessMetrics(): string {
  if (!loopDelay) {
    loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
  }
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  const gauge = (name: string, help: string, value: number, type = 'gauge'): string =>
    `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
  const ns = (v: number): number => (Number.isFinite(v) ? v / 1e9 : 0);
  return [
    gauge('process_cpu_user_seconds_total', 'User CPU time spent in seconds.', cpu.user / 1e6, 'counter'),
    gauge('process_cpu_system_seconds_total', 'System CPU time spent in seconds.', cpu.system / 1e6, 'counter'),
    gauge('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', startSeconds),
    gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', mem.rss),
    gauge('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', mem.heapTotal),
    gauge('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', mem.heapUsed),
    gauge('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', mem.external),
    gauge('nodejs_active_resources_total', 'Resources keeping the event loop alive (handles, requests, timers).', process.getActiveResourcesInfo().length),
    gauge('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.', ns(loopDelay.percentile(50))),
    gauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.', ns(loopDelay.percentile(99))),
    gauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.', ns(loopDelay.max)),
    `# HELP nodejs_version_info Node.js version info.\n# TYPE nodejs_version_info gauge\nnodejs_version_info{version="${process.version}"} 1\n`,
  ].join('');
}

// The metric names Pier records and serves: Koyeb's MetricName enum plus one Pier extension.

/** Koyeb's MetricName values (GET /v1/streams/metrics `name`), except UNKNOWN. */
export const KOYEB_METRIC_NAMES = [
  'CPU_TOTAL_PERCENT', 'MEM_RSS', 'HTTP_THROUGHPUT', 'HTTP_RESPONSE_TIME_50P', 'HTTP_RESPONSE_TIME_90P',
  'HTTP_RESPONSE_TIME_99P', 'HTTP_RESPONSE_TIME_MAX', 'PUBLIC_DATA_TRANSFER_IN', 'PUBLIC_DATA_TRANSFER_OUT',
] as const;

/** Pier extension: running instances of a service at each sample (Koyeb's console derives it; we record it). */
export const INSTANCE_COUNT = 'INSTANCE_COUNT';

/** Every name the API accepts. */
export const METRIC_NAMES: readonly string[] = [...KOYEB_METRIC_NAMES, INSTANCE_COUNT];

/** How samples of one name merge inside a step: peaks stay peaks, everything else is averaged. */
export function aggregationOf(name: string): 'avg' | 'max' {
  return name === 'HTTP_RESPONSE_TIME_MAX' || name === INSTANCE_COUNT ? 'max' : 'avg';
}

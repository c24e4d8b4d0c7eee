// The autoscaler's vocabulary: what is measured per region, what the definition asks for, how the decider is tuned,
// and what it remembers between decisions. Plain data, so decisions replay from recorded series.

/** The metrics a scaling target can name (Koyeb's `DeploymentScalingTarget` keys, sleep excluded). */
export type MetricName = 'concurrent_requests' | 'requests_per_second' | 'average_cpu' | 'average_mem' | 'requests_response_time';

/** One target: keep `metric` at `value` per instance (percent for CPU and memory, ms for response time). */
export interface MetricTarget { metric: MetricName; value: number; quantile?: number }

/** The scaling rule of one region, resolved from the definition. */
export interface ScalingPolicy {
  min: number;
  max: number;
  targets: MetricTarget[];
  /** Idle time before a min-0 region sleeps (the light sleep delay if set, else the deep one). */
  sleepAfterMs?: number;
  /** `light_sleep_value` in ms: idle time before the workload is frozen (light sleep), when set. */
  lightSleepAfterMs?: number;
  /** `deep_sleep_value` in ms: idle time (from the same last request) before the workload stops (deep sleep). */
  deepSleepAfterMs?: number;
}

/**
 * One observation of a region. Requests are totals over its instances; CPU, memory and response time are per
 * instance averages (absent when not measured, e.g. no request finished in the interval).
 */
export interface MetricSample {
  atMs: number;
  /**
   * The time the sample covers (ms since the previous one). Samples that all carry it are averaged by it: a sample
   * taken early, on the edge's word that load rose (not on the tick), weighs only the time it covers. Without it
   * (recorded series of one sample per tick) every sample weighs the same.
   */
  spanMs?: number;
  /** Instances serving when the sample was taken. */
  instances: number;
  concurrency: number;
  rps: number;
  cpu?: number;
  mem?: number;
  /** Response time at each requested quantile, keyed by quantile (95 → p95), in ms. */
  latency?: Record<number, number>;
}

/** Tuning of the decider (Knative KPA defaults). */
export interface DeciderConfig {
  /** Averaging window of normal decisions (default 60 s). */
  stableWindowMs: number;
  /** Short window that reacts to bursts (default 6 s). */
  panicWindowMs: number;
  /**
   * While panicking, the decider also follows the average of this last stretch (default 250 ms; 0: off, the panic
   * window alone as in Knative): a step from a quiet spell fills the panic window slowly, so its average
   * understates the load for a whole window, while the last quarter second says what arrives now.
   */
  burstWindowMs: number;
  /** Panic when the panic window wants this many times the serving instances (default 2). */
  panicThreshold: number;
  /** A scale-down waits until every recommendation in this window agrees (default 30 s). */
  scaleDownDelayMs: number;
  /** At most this factor of instances removed per decision (default 2: halve at most). */
  maxScaleDownRate: number;
}

/** The defaults of DeciderConfig. */
export const DEFAULT_DECIDER_CONFIG: DeciderConfig = {
  stableWindowMs: 60_000,
  panicWindowMs: 6_000,
  burstWindowMs: 250,
  panicThreshold: 2,
  scaleDownDelayMs: 30_000,
  maxScaleDownRate: 2,
};

/** What the decider carries from one decision to the next. */
export interface DeciderState {
  /** Set while panicking: when the last panic trigger was seen. */
  panicSinceMs?: number;
  /** Highest count wanted during the current panic (panic never scales down). */
  panicDesired?: number;
  /** Recent recommendations, for the scale-down delay. */
  recent: { atMs: number; desired: number }[];
}

/** The outcome of one decision. */
export interface Decision {
  desired: number;
  /** "3 -> 5: 212 concurrent requests over target 50"; empty when the count does not change. */
  reason: string;
  panic: boolean;
  state: DeciderState;
}

// From a definition's scaling rule to the decider's policy: targets in one list, sleep delay in milliseconds.
import type { DeploymentScalingTarget } from '../domain/types.ts';
import type { MetricName, MetricTarget, ScalingPolicy } from './types.ts';

const METRICS: MetricName[] = ['concurrent_requests', 'requests_per_second', 'average_cpu', 'average_mem', 'requests_response_time'];

/** Idle seconds before sleeping when a min-0 rule names none (Koyeb's default deep sleep delay). */
export const DEFAULT_SLEEP_SECONDS = 300;

/** The policy of one region's `{min, max, targets}`. */
export function policyOf(scaling: { min: number; max: number; targets?: DeploymentScalingTarget[] }): ScalingPolicy {
  const targets: MetricTarget[] = [];
  let sleep: number | undefined;
  let light: number | undefined;
  let deep: number | undefined;
  for (const t of scaling.targets ?? []) {
    for (const metric of METRICS) {
      const v = t[metric];
      if (v && v.value > 0) targets.push(metric === 'requests_response_time' ? { metric, value: v.value, quantile: t.requests_response_time?.quantile ?? 95 } : { metric, value: v.value });
    }
    const s = t.sleep_idle_delay;
    // Light sleep freezes the workload (sleep.ts), deep sleep stops it; the first sleep comes at the earlier delay.
    if (s) { light = s.light_sleep_value; deep = s.deep_sleep_value ?? s.value; sleep = light ?? deep; }
  }
  const policy: ScalingPolicy = { min: scaling.min, max: scaling.max, targets };
  if (scaling.min === 0) {
    policy.sleepAfterMs = (sleep ?? DEFAULT_SLEEP_SECONDS) * 1000;
    if (light !== undefined) policy.lightSleepAfterMs = light * 1000;
    if (deep !== undefined) policy.deepSleepAfterMs = deep * 1000;
  }
  return policy;
}

/** Whether the rule lets the autoscaler change anything (a range, or scale-to-zero). */
export function isAutoscaled(p: ScalingPolicy): boolean {
  return p.min < p.max || p.min === 0;
}

/** The quantiles the targets need measured (e.g. [95]). */
export function quantilesOf(p: ScalingPolicy): number[] {
  return [...new Set(p.targets.filter((t) => t.metric === 'requests_response_time').map((t) => t.quantile ?? 95))];
}

/**
 * What the edge watches for a deployment whose requests drive its autoscaling (issue #23): per serving instance, the
 * in-flight requests and the requests per second above which the decider would want more instances (the lowest
 * target of its autoscaled rules), and the most instances any rule allows. When the load passes them the edge tells
 * the control plane at once, which samples then instead of at its next tick. Undefined when no request target
 * scales it (CPU, memory and response time are read on the tick).
 */
export function loadWatchOf(scalings: readonly { min: number; max: number; targets?: DeploymentScalingTarget[] }[]): { max: number; inFlight?: number; perSecond?: number } | undefined {
  let max = 0;
  let inFlight: number | undefined;
  let perSecond: number | undefined;
  for (const s of scalings) {
    const p = policyOf(s);
    if (!isAutoscaled(p)) continue;
    for (const t of p.targets) {
      if (t.metric === 'concurrent_requests') inFlight = Math.min(inFlight ?? Infinity, t.value);
      if (t.metric === 'requests_per_second') perSecond = Math.min(perSecond ?? Infinity, t.value);
    }
    if (p.targets.some((t) => t.metric === 'concurrent_requests' || t.metric === 'requests_per_second')) max = Math.max(max, p.max);
  }
  if (max === 0) return undefined;
  return { max, ...(inFlight !== undefined ? { inFlight } : {}), ...(perSecond !== undefined ? { perSecond } : {}) };
}

// The KPA-style decider (after Knative's pkg/autoscaler): average each target's metric over a stable window and a
// short panic window, want ceil(observed / target) instances, follow the panic window only during a burst (and
// never down while panicking), hold scale-downs for a delay and halve at most per step, and clamp to [min, max].
// One departure from Knative: while panicking it also follows the last quarter second (the burst window), as the
// panic window's average of a step from a quiet spell understates the load until the window has filled.
// Pure: the caller records samples and carries DeciderState from one decision to the next.
import type { DeciderConfig, DeciderState, Decision, MetricSample, MetricTarget, ScalingPolicy } from './types.ts';

/** Everything one decision is made from. */
export interface DecideInput {
  nowMs: number;
  /** Samples of this region, any order; older than the stable window are ignored. */
  samples: readonly MetricSample[];
  /** The count the region runs now (what the last decision chose). */
  current: number;
  policy: ScalingPolicy;
  config: DeciderConfig;
  state: DeciderState;
}

/** What one target wants over one window, and the observation behind it. */
interface Want { desired: number; observed: number; target: MetricTarget }

/** Decides the count of an awake region: never below max(min, 1) (sleeping is the idle rule's call) nor above max. */
export function decide(input: DecideInput): Decision {
  const { nowMs, policy, config, current } = input;
  const floor = Math.max(policy.min, 1);
  const clamp = (n: number) => Math.min(policy.max, Math.max(floor, n));
  const stableSamples = input.samples.filter((s) => s.atMs > nowMs - config.stableWindowMs && s.atMs <= nowMs);
  const state: DeciderState = { ...input.state, recent: input.state.recent.filter((r) => r.atMs > nowMs - config.scaleDownDelayMs) };
  if (stableSamples.length === 0 || policy.targets.length === 0) {
    const desired = clamp(current);
    return { desired, reason: desired === current ? '' : `${current} -> ${desired}: ${bound(desired, policy)}`, panic: false, state };
  }
  const panicSamples = stableSamples.filter((s) => s.atMs > nowMs - config.panicWindowMs);
  const serving = Math.max(1, current);
  const stable = strongest(policy.targets.map((t) => want(t, stableSamples, serving)));
  const burst = panicSamples.length ? strongest(policy.targets.map((t) => want(t, panicSamples, serving))) : undefined;

  // Panic starts when the short window wants `panicThreshold` times what serves, and lasts a stable window.
  if (burst && burst.desired / serving >= config.panicThreshold) state.panicSinceMs = nowMs;
  if (state.panicSinceMs !== undefined && nowMs - state.panicSinceMs >= config.stableWindowMs) {
    state.panicSinceMs = undefined;
    state.panicDesired = undefined;
  }
  const panic = state.panicSinceMs !== undefined;
  let driver: Want = stable;
  let desired = stable.desired;
  let windowMs = config.panicWindowMs;
  if (panic) {
    const b = burst ?? stable;
    driver = b.desired >= stable.desired ? b : stable;
    // Panic is entered on the panic window alone (a burst has to be worth twice what serves over the whole window);
    // once in it, the last stretch may ask for more than the window's average says.
    const fromMs = nowMs - config.burstWindowMs;
    const latest = config.burstWindowMs > 0 ? panicSamples.filter((x) => x.atMs > fromMs) : [];
    const now = latest.length ? strongest(policy.targets.map((t) => want(t, latest, serving, fromMs))) : undefined;
    if (now && now.desired > driver.desired) { driver = now; windowMs = config.burstWindowMs; }
    desired = Math.max(driver.desired, state.panicDesired ?? current);
    state.panicDesired = desired;
  }
  // Halve at most per step, then wait until every recommendation of the delay window agrees before going down.
  desired = Math.max(desired, Math.ceil(current / config.maxScaleDownRate));
  state.recent.push({ atMs: nowMs, desired });
  if (desired < current) desired = Math.min(current, Math.max(...state.recent.map((r) => r.desired)));
  const final = clamp(desired);
  if (final === current) return { desired: final, reason: '', panic, state };
  let why = describe(driver, final > current);
  if (final !== desired) why += ` (${bound(final, policy)})`;
  if (panic && final > current) why += ` in the last ${windowMs < 1000 ? `${windowMs} ms` : `${fmt(windowMs / 1000)} s`} (panic)`;
  return { desired: final, reason: `${current} -> ${final}: ${why}`, panic, state };
}

/** The idle rule of a min-0 region: sleep once nothing arrived for the policy's delay. */
export function sleepDue(p: ScalingPolicy, nowMs: number, lastActivityMs: number): { due: boolean; reason: string } {
  if (p.min !== 0 || p.sleepAfterMs === undefined) return { due: false, reason: '' };
  const idleMs = nowMs - lastActivityMs;
  if (idleMs < p.sleepAfterMs) return { due: false, reason: '' };
  return { due: true, reason: `no request for ${fmt(idleMs / 1000)} s (sleep_idle_delay ${fmt(p.sleepAfterMs / 1000)} s): scaling to zero` };
}

/** Averages one target's metric over a window (from `fromMs` when given) and turns it into an instance count. */
function want(target: MetricTarget, samples: readonly MetricSample[], serving: number, fromMs?: number): Want {
  const observed = average(samples, (s) => valueOf(target, s), fromMs);
  // Requests are totals over the region; CPU, memory and latency are per-instance averages, so they scale the count.
  const needed = target.metric === 'concurrent_requests' || target.metric === 'requests_per_second'
    ? observed / target.value
    : (serving * observed) / target.value;
  // A hair of tolerance so exactly-at-target (212 / 53 = 4) does not round up through float noise.
  return { desired: Math.max(0, Math.ceil(needed - 1e-9)), observed, target };
}

/**
 * The average of a metric over samples (those that have it), each weighted by the time it covers when every one of
 * them says so, else equally: samples of one tick each weigh the same either way, and a short sample taken between
 * ticks (the edge reported a rise) counts for its few milliseconds, not for a whole tick. With `fromMs`, a timed
 * sample counts only for its part after that moment (a tick's sample that began before the window's start).
 */
export function average(samples: readonly MetricSample[], of: (s: MetricSample) => number | undefined, fromMs?: number): number {
  let sum = 0;
  let weight = 0;
  const timed = samples.every((s) => s.spanMs !== undefined && s.spanMs > 0);
  for (const s of samples) {
    const v = of(s);
    if (v === undefined) continue;
    const w = timed ? (fromMs === undefined ? s.spanMs! : Math.min(s.spanMs!, s.atMs - fromMs)) : 1;
    if (w <= 0) continue;
    sum += v * w;
    weight += w;
  }
  return weight > 0 ? sum / weight : 0;
}

function valueOf(t: MetricTarget, s: MetricSample): number | undefined {
  switch (t.metric) {
    case 'concurrent_requests': return s.concurrency;
    case 'requests_per_second': return s.rps;
    case 'average_cpu': return s.cpu;
    case 'average_mem': return s.mem;
    case 'requests_response_time': return s.latency?.[t.quantile ?? 95];
  }
}

/** The target that wants the most instances (the first on ties, in the definition's order). */
function strongest(wants: Want[]): Want {
  return wants.reduce((a, b) => (b.desired > a.desired ? b : a));
}

/** "212 concurrent requests over target 50", in the words of the target. */
function describe(w: Want, up: boolean): string {
  const dir = up ? 'over' : 'under';
  const v = w.target.value;
  switch (w.target.metric) {
    case 'concurrent_requests': return `${fmt(w.observed)} concurrent requests ${dir} target ${v}`;
    case 'requests_per_second': return `${fmt(w.observed)} requests per second ${dir} target ${v}`;
    case 'average_cpu': return `average CPU ${fmt(w.observed)}% ${dir} target ${v}%`;
    case 'average_mem': return `average memory ${fmt(w.observed)}% ${dir} target ${v}%`;
    case 'requests_response_time': return `p${w.target.quantile ?? 95} response time ${fmt(w.observed)} ms ${dir} target ${v} ms`;
  }
}

function bound(n: number, p: ScalingPolicy): string {
  return n >= p.max ? `capped at max ${p.max}` : `kept at min ${Math.max(p.min, 1)}`;
}

function fmt(n: number): string {
  return n >= 100 ? String(Math.round(n)) : String(Math.round(n * 10) / 10);
}

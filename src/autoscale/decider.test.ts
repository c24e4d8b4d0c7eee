import { test } from 'node:test';
import assert from 'node:assert/strict';
import { average, decide, sleepDue } from './decider.ts';
import { policyOf } from './targets.ts';
import { DEFAULT_DECIDER_CONFIG, type DeciderState, type MetricSample, type ScalingPolicy } from './types.ts';

/** Replays a recorded series one sample per second: each decision sees the samples so far; returns the counts. */
function replay(policy: ScalingPolicy, series: Partial<MetricSample>[], start: number, config = DEFAULT_DECIDER_CONFIG) {
  let state: DeciderState = { recent: [] };
  let current = start;
  const counts: number[] = [];
  const reasons: string[] = [];
  const samples: MetricSample[] = [];
  series.forEach((s, i) => {
    const atMs = (i + 1) * 1000;
    samples.push({ atMs, instances: current, concurrency: 0, rps: 0, ...s });
    const d = decide({ nowMs: atMs, samples, current, policy, config, state });
    state = d.state;
    if (d.reason) reasons.push(d.reason);
    current = d.desired;
    counts.push(current);
  });
  return { counts, reasons, final: current };
}

const conc = (value: number, min = 1, max = 10) => policyOf({ min, max, targets: [{ concurrent_requests: { value } }] });
const steady = (n: number, sample: Partial<MetricSample>) => Array.from({ length: n }, () => ({ ...sample }));

test('the reason names the metric, the observation and the target', () => {
  const samples: MetricSample[] = [{ atMs: 1000, instances: 3, concurrency: 212, rps: 0 }];
  const d = decide({ nowMs: 1000, samples, current: 3, policy: conc(50), config: DEFAULT_DECIDER_CONFIG, state: { recent: [] } });
  assert.equal(d.desired, 5);
  assert.equal(d.reason, '3 -> 5: 212 concurrent requests over target 50');
});

test('a steady load settles on ceil(load / target) and stays there', () => {
  const r = replay(conc(10), steady(120, { concurrency: 35 }), 1);
  assert.equal(r.final, 4);
  // Once reached, the count never moves again (no flapping).
  const first = r.counts.indexOf(4);
  assert.ok(first >= 0);
  assert.ok(r.counts.slice(first).every((c) => c === 4), r.counts.join(','));
});

test('never above max nor below max(min, 1)', () => {
  const up = replay(conc(10, 2, 5), steady(30, { concurrency: 1000 }), 2);
  assert.equal(Math.max(...up.counts), 5);
  assert.match(up.reasons[0], /capped at max 5/);
  const idle = replay(conc(10, 2, 5), steady(200, { concurrency: 0 }), 5);
  assert.equal(Math.min(...idle.counts), 2);
  assert.equal(idle.final, 2);
  const zeroMin = replay(conc(10, 0, 5), steady(200, { concurrency: 0 }), 3);
  assert.equal(zeroMin.final, 1, 'the decider leaves sleeping to the idle rule');
});

test('a burst panics within the panic window and does not scale down while panicking', () => {
  // 30 s at 10 concurrent (1 instance at target 10), then a burst of 80: the 60 s average lags, the 6 s one does not.
  const series = [...steady(30, { concurrency: 10 }), ...steady(10, { concurrency: 80 }), ...steady(20, { concurrency: 10 })];
  const burstStart = 30;
  // Knative's rule (no burst window): the panic window's average ramps up over the window.
  const knative = replay(conc(10), series, 1, { ...DEFAULT_DECIDER_CONFIG, burstWindowMs: 0 });
  const scaledBy = knative.counts.findIndex((c, i) => i >= burstStart && c >= 4);
  assert.ok(scaledBy >= burstStart && scaledBy <= burstStart + 3, `scaled at ${scaledBy}: ${knative.counts.join(',')}`);
  assert.ok(knative.counts[burstStart]! < 8, `the window's average understates the burst at first: ${knative.counts.join(',')}`);
  assert.match(knative.reasons.find((x) => x.includes('panic')) ?? '', /concurrent requests over target 10 in the last 6 s \(panic\)/);
  // With the burst window (the default), the first panic decision follows what arrives now: 80 / 10 = 8 at once.
  const r = replay(conc(10), series, 1);
  assert.equal(r.counts[burstStart], 8, r.counts.join(','));
  assert.match(r.reasons.find((x) => x.includes('panic')) ?? '', /^1 -> 8: 80 concurrent requests over target 10 in the last 250 ms \(panic\)$/);
  // During the panic (a stable window from the last trigger) the count never drops, with either rule.
  for (const run of [knative, r]) {
    const during = run.counts.slice(burstStart, burstStart + 30);
    for (let i = 1; i < during.length; i++) assert.ok(during[i] >= during[i - 1], during.join(','));
  }
});

test('a step from a quiet spell: panic is entered on the panic window, and then the last quarter second decides', () => {
  const config = { ...DEFAULT_DECIDER_CONFIG, stableWindowMs: 6000, panicWindowMs: 2000 };
  const policy = policyOf({ min: 1, max: 3, targets: [{ requests_per_second: { value: 5 } }] });
  // Two seconds idle in ticks of 250 ms, then 120 requests/s reported every 50 ms (the edge's load reports).
  const quiet = (): MetricSample[] => Array.from({ length: 8 }, (_, i) => ({ atMs: (i + 1) * 250, spanMs: 250, instances: 1, concurrency: 0, rps: 0 }));
  const run = (cfg: typeof config) => {
    const samples = quiet();
    let state: DeciderState = { recent: [] };
    let current = 1;
    const steps: { atMs: number; to: number; reason: string }[] = [];
    for (let at = 2050; at <= 2400; at += 50) {
      samples.push({ atMs: at, spanMs: 50, instances: current, concurrency: 0, rps: 120 });
      const d = decide({ nowMs: at, samples, current, policy, config: cfg, state });
      state = d.state;
      if (d.desired !== current) steps.push({ atMs: at - 2000, to: d.desired, reason: d.reason });
      current = d.desired;
    }
    return steps;
  };
  // Knative's rule: 1 -> 2 once the window holds over 5 per second, 2 -> 3 only once it holds over 10.
  const knative = run({ ...config, burstWindowMs: 0 });
  assert.deepEqual(knative.map((s) => [s.atMs, s.to]), [[100, 2], [200, 3]], JSON.stringify(knative));
  // With the burst window: the same moment of panic, straight to max, as 120 per second want 24 instances of target 5.
  const burst = run(config);
  assert.deepEqual(burst.map((s) => [s.atMs, s.to]), [[100, 3]], JSON.stringify(burst));
  // The last 250 ms: 100 ms of the step at 120 per second and 150 ms of the quiet tick before it.
  assert.equal(burst[0]!.reason, '1 -> 3: 48 requests per second over target 5 (capped at max 3) in the last 250 ms (panic)');
});

test('the burst window does not start a panic: one request after a quiet spell moves nothing', () => {
  const config = { ...DEFAULT_DECIDER_CONFIG, stableWindowMs: 6000, panicWindowMs: 2000 };
  const policy = policyOf({ min: 1, max: 3, targets: [{ requests_per_second: { value: 5 } }] });
  const samples: MetricSample[] = Array.from({ length: 8 }, (_, i) => ({ atMs: (i + 1) * 250, spanMs: 250, instances: 1, concurrency: 0, rps: 0 }));
  // One request in a 50 ms report reads as 20 per second (4 instances' worth) over the last quarter second.
  samples.push({ atMs: 2050, spanMs: 50, instances: 1, concurrency: 0, rps: 20 });
  const d = decide({ nowMs: 2050, samples, current: 1, policy, config, state: { recent: [] } });
  assert.equal(d.desired, 1, d.reason);
  assert.equal(d.panic, false);
});

test('the burst window counts a sample only for its part inside the window', () => {
  const rps = (s: MetricSample) => s.rps;
  // A 1 s tick at 0 ending 100 ms ago, then 100 ms at 100 per second: over the last 250 ms that is 150 ms at 0 and
  // 100 ms at 100, i.e. 40 per second; weighed by whole spans it would read 100 / 11 = 9.1.
  const samples: MetricSample[] = [
    { atMs: 900, spanMs: 1000, instances: 1, concurrency: 0, rps: 0 },
    { atMs: 1000, spanMs: 100, instances: 1, concurrency: 0, rps: 100 },
  ];
  assert.equal(average(samples, rps, 750), 40);
  assert.ok(Math.abs(average(samples, rps) - 100 / 11) < 1e-9);
  // A sample that ended before the window's start does not count at all.
  assert.equal(average([{ atMs: 700, spanMs: 100, instances: 1, concurrency: 0, rps: 50 }, samples[1]!], rps, 750), 100);
});

test('a short dip does not scale down: the scale-down delay holds the count', () => {
  const config = { ...DEFAULT_DECIDER_CONFIG, stableWindowMs: 10_000, panicWindowMs: 2_000, scaleDownDelayMs: 20_000 };
  const series = [...steady(20, { concurrency: 40 }), ...steady(8, { concurrency: 0 }), ...steady(20, { concurrency: 40 })];
  const r = replay(conc(10), series, 4, config);
  assert.ok(r.counts.every((c) => c === 4), r.counts.join(','));
});

test('after the load ends it scales down, at most halving per step, to min', () => {
  const config = { ...DEFAULT_DECIDER_CONFIG, stableWindowMs: 10_000, panicWindowMs: 2_000, scaleDownDelayMs: 5_000 };
  const r = replay(conc(10), [...steady(20, { concurrency: 80 }), ...steady(60, { concurrency: 0 })], 8, config);
  assert.equal(r.final, 1);
  const downs = r.reasons.filter((x) => /under target/.test(x));
  assert.ok(downs.length >= 3, downs.join('\n'));
  for (const d of downs) {
    const [, from, to] = /^(\d+) -> (\d+)/.exec(d)!;
    assert.ok(Number(to) >= Math.ceil(Number(from) / 2), d);
  }
  // Count changes only go one way once the load is gone (no flapping).
  const after = r.counts.slice(20);
  for (let i = 1; i < after.length; i++) assert.ok(after[i] <= after[i - 1], after.join(','));
});

test('an oscillating load does not make the count oscillate', () => {
  // 2 s at 60, 2 s at 0, repeated: the averages see ~30, the count settles and stays.
  const series = Array.from({ length: 120 }, (_, i) => ({ concurrency: Math.floor(i / 2) % 2 === 0 ? 60 : 0 }));
  const r = replay(conc(10), series, 3);
  const changes = r.counts.filter((c, i) => i > 0 && c !== r.counts[i - 1]).length;
  assert.ok(changes <= 3, `${changes} changes: ${r.counts.join(',')}`);
});

test('requests per second, CPU, memory and p95 targets each drive the count; the strongest wins', () => {
  const policy = policyOf({ min: 1, max: 20, targets: [
    { requests_per_second: { value: 100 } }, { average_cpu: { value: 50 } },
    { average_mem: { value: 80 } }, { requests_response_time: { value: 200, quantile: 95 } },
  ] });
  const at = (s: Partial<MetricSample>, current: number) =>
    decide({ nowMs: 1000, samples: [{ atMs: 1000, instances: current, concurrency: 0, rps: 0, ...s }], current, policy, config: DEFAULT_DECIDER_CONFIG, state: { recent: [] } }).reason.replace(/ in the last 6 s \(panic\)$/, '');
  assert.equal(at({ rps: 340 }, 2), '2 -> 4: 340 requests per second over target 100');
  assert.equal(at({ cpu: 90 }, 2), '2 -> 4: average CPU 90% over target 50%');
  assert.equal(at({ mem: 95 }, 4), '4 -> 5: average memory 95% over target 80%');
  assert.equal(at({ latency: { 95: 500 } }, 2), '2 -> 5: p95 response time 500 ms over target 200 ms');
  assert.match(at({ rps: 340, cpu: 95 }, 2), /^2 -> 4: /); // rps says 4, CPU says 4: the first wins the tie
  assert.match(at({ rps: 340, cpu: 200 }, 2), /^2 -> 8: average CPU/);
});

test('without samples the count stays (clamped into the range)', () => {
  const d = decide({ nowMs: 5000, samples: [], current: 3, policy: conc(10), config: DEFAULT_DECIDER_CONFIG, state: { recent: [] } });
  assert.deepEqual([d.desired, d.reason], [3, '']);
  const clamp = decide({ nowMs: 5000, samples: [], current: 12, policy: conc(10, 1, 4), config: DEFAULT_DECIDER_CONFIG, state: { recent: [] } });
  assert.deepEqual([clamp.desired, clamp.reason], [4, '12 -> 4: capped at max 4']);
});

test('sleep is due after the idle delay of a min-0 rule only', () => {
  const p = policyOf({ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 60 } }] });
  assert.equal(sleepDue(p, 59_000, 0).due, false);
  const due = sleepDue(p, 61_000, 0);
  assert.equal(due.due, true);
  assert.match(due.reason, /no request for 61 s \(sleep_idle_delay 60 s\)/);
  assert.equal(sleepDue(conc(10, 1, 3), 10 ** 9, 0).due, false);
  const light = policyOf({ min: 0, max: 2, targets: [{ sleep_idle_delay: { light_sleep_value: 5, deep_sleep_value: 3605 } }, { concurrent_requests: { value: 5 } }] });
  assert.equal(light.sleepAfterMs, 5000);
  assert.equal(policyOf({ min: 0, max: 1 }).sleepAfterMs, 300_000);
});

test('samples that say what time they cover are averaged by it: one taken between ticks weighs only its milliseconds', () => {
  const config = { ...DEFAULT_DECIDER_CONFIG, stableWindowMs: 6000, panicWindowMs: 2000 };
  const policy = policyOf({ min: 1, max: 3, targets: [{ requests_per_second: { value: 5 } }] });
  // Two seconds idle in ticks of 250 ms, then load at 160 requests/s seen 50 ms into the step (the edge's report).
  const samples: MetricSample[] = Array.from({ length: 8 }, (_, i) => ({ atMs: (i + 1) * 250, spanMs: 250, instances: 1, concurrency: 0, rps: 0 }));
  samples.push({ atMs: 2050, spanMs: 50, instances: 1, concurrency: 0, rps: 160 });
  const early = decide({ nowMs: 2050, samples, current: 1, policy, config, state: { recent: [] } });
  // 8 requests in the last two seconds are 4 per second: under the target, whatever the sample's own rate.
  assert.equal(early.desired, 1, early.reason);
  // Weighed equally (no spans), the same samples would read 160 / 9 = 17.8 requests per second and scale to max.
  const unweighted = samples.map(({ spanMs: _, ...s }) => s);
  assert.equal(decide({ nowMs: 2050, samples: unweighted, current: 1, policy, config, state: { recent: [] } }).desired, 3);
  // 150 ms later the window holds 32 requests (16 per second over 2 s): more than two instances' worth, in panic.
  samples.push({ atMs: 2200, spanMs: 150, instances: 1, concurrency: 0, rps: 160 });
  const later = decide({ nowMs: 2200, samples, current: 1, policy, config, state: early.state });
  assert.equal(later.desired, 3);
  assert.match(later.reason, /^1 -> 3: .* requests per second over target 5 .*\(panic\)$/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextSleepInMs, sleepStep } from './sleep.ts';
import { policyOf } from './targets.ts';

const both = policyOf({ min: 0, max: 2, targets: [{ sleep_idle_delay: { light_sleep_value: 5, deep_sleep_value: 60 } }] });
const deepOnly = policyOf({ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 30 } }] });

test('sleep state machine: awake, then light sleep (frozen) at light_sleep_value, then deep sleep at deep_sleep_value', () => {
  assert.deepEqual([both.lightSleepAfterMs, both.deepSleepAfterMs, both.sleepAfterMs], [5000, 60_000, 5000]);
  const at = (ms: number) => sleepStep(both, 1000, 1000 + ms, true).mode;
  assert.deepEqual([at(0), at(4999), at(5000), at(59_999), at(60_000), at(10 ** 7)], [undefined, undefined, 'light', 'light', 'deep', 'deep']);
  assert.match(sleepStep(both, 0, 6000, true).reason, /no request for 6 s \(light_sleep_value 5 s\): light sleep, the workload is frozen/);
  assert.match(sleepStep(both, 0, 61_000, true).reason, /no request for 61 s \(deep_sleep_value 60 s\): deep sleep, the workload stops/);
  // What the reconciler waits for next: deep sleep 55 s after light sleep began; nothing after deep.
  assert.equal(nextSleepInMs(both, 0, 5000, 'light'), 55_000);
  assert.equal(nextSleepInMs(both, 0, 1000, undefined), 4000);
  assert.equal(nextSleepInMs(both, 0, 70_000, 'deep'), undefined);
});

test('sleep state machine: a runtime that cannot freeze sleeps deeply at the light delay; no light delay means deep only', () => {
  assert.equal(sleepStep(both, 0, 5000, false).mode, 'deep');
  assert.match(sleepStep(both, 0, 5000, false).reason, /cannot freeze/);
  const withVolumes = sleepStep(both, 0, 5000, false, 'this service mounts volumes, which a frozen workload would keep mounted');
  assert.equal(withVolumes.mode, 'deep');
  assert.match(withVolumes.reason, /mounts volumes, which a frozen workload would keep mounted, so the workload stops/);
  assert.deepEqual([sleepStep(deepOnly, 0, 29_999, true).mode, sleepStep(deepOnly, 0, 30_000, true).mode], [undefined, 'deep']);
  assert.equal(deepOnly.lightSleepAfterMs, undefined);
  // min > 0 never sleeps.
  assert.equal(sleepStep(policyOf({ min: 1, max: 3 }), 0, 10 ** 9, true).mode, undefined);
});

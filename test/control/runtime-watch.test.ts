// A runtime that reports changes (WatchableRuntime: the swarm driver's node events) wakes the controller for a pass
// at once; without the report nothing happens until the resync, which here is an hour away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { WatchableRuntime } from '../../src/control/controller.ts';
import { until } from '../support/until.ts';
import { makeWorld, webDefinition } from './world.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a runtime change report wakes the controller: a lost host is replaced without waiting for the resync', async () => {
  const w = makeWorld({ intervals: { resyncMs: 3_600_000, health: { intervalMs: 3_600_000, graceMs: 0 } } });
  let listener: (() => void) | undefined;
  let watching = 0;
  (w.runtime as typeof w.runtime & WatchableRuntime).watch = (onChange) => {
    listener = onChange;
    watching++;
    return () => { listener = undefined; watching--; };
  };
  const { deployment } = await w.createService(webDefinition());
  await w.settle();
  const [inst] = w.instancesOf(deployment.id);
  assert.equal(inst.status, 'HEALTHY');
  await w.controller.start();
  try {
    assert.equal(watching, 1, 'the controller watches the runtime while it runs');
    const starts = () => w.runtime.calls.filter((c) => c.startsWith('start')).length;
    await sleep(300); // the passes start() runs are over; the next resync is an hour away
    const before = starts();
    w.runtime.loseHost(inst.id, 'node was-n2 (region was) is down');
    await sleep(300);
    assert.equal(starts(), before, 'no report, no pass: the loss waits for the resync');
    listener?.();
    await until('the instance replaced after the report', async () => starts() > before && w.state.instances.get(inst.id)!.status === 'HEALTHY', 5000, 20);
    assert.equal(w.instancesOf(deployment.id).length, 1, 'the same instance row, a new workload');
  } finally {
    await w.controller.stop();
  }
  assert.equal(watching, 0, 'stop() stops watching');
  assert.deepEqual(w.errors, []);
});

// The startup CPU boost (issue #23, the function cold start): an instance of a type smaller than the boost starts with
// InstanceSpec.startupCpu, and the control plane ends the boost at its first passing health check, once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeWorld, webDefinition } from './world.ts';

test('a nano instance starts boosted to 1 vCPU; its first passing health check ends the boost, once', async () => {
  // A long grace: the failing checks before the app is up neither restart it nor end the boost.
  const w = makeWorld({ controller: { startupCpuBoost: 1 }, intervals: { health: { intervalMs: 0, graceMs: 600_000 } } });
  w.runtime.script = () => ({ healthy: false });
  const { deployment } = await w.createService(webDefinition());
  await w.settle();
  const [inst] = w.instancesOf(deployment.id);
  assert.ok(inst, 'an instance was made');
  const workload = w.runtime.workloadOf(inst.id);
  assert.equal(workload?.spec.cpu, 0.25, 'the nano type keeps its own limit in the spec');
  assert.equal(workload?.spec.startupCpu, 1, 'and starts on the boost');
  assert.notEqual(inst.status, 'HEALTHY', 'not healthy yet');
  assert.deepEqual(w.runtime.boostEnded, [], 'the boost lasts while the instance has not passed a check');
  w.runtime.setHealthy(inst.id, true);
  await w.settle();
  assert.equal(w.instancesOf(deployment.id)[0]?.status, 'HEALTHY', 'the instance passed its check');
  assert.deepEqual(w.runtime.boostEnded, [inst.id], 'the first passing check ended the boost');
  for (let i = 0; i < 3; i++) { w.clock.advance(30_000); await w.settle(); }
  assert.deepEqual(w.runtime.boostEnded, [inst.id], 'later passing checks do not end it again');
  assert.deepEqual(w.errors, []);
});

test('no boost without PIER_STARTUP_CPU_BOOST, nor for a type at least as large as the boost', async () => {
  for (const [boost, type] of [[0, 'nano'], [1, 'small'], [1, 'medium']] as const) {
    const w = makeWorld({ controller: { startupCpuBoost: boost } });
    const { deployment } = await w.createService(webDefinition({ instance_types: [{ type }] }));
    await w.settle();
    const [inst] = w.instancesOf(deployment.id);
    assert.equal(w.runtime.workloadOf(inst!.id)?.spec.startupCpu, undefined, `boost ${boost}, ${type}: no startupCpu`);
  }
});

// Deep sleep over the fake world with a runtime that can start a stopped workload again (`resume`, as Docker's
// driver does, issue #23): the sleeping replica's workload is stopped but kept, the wake starts that same workload
// (no create) and its checks mark it HEALTHY at its new address; a resume that fails says why and a new instance
// replaces it; a new deployment or a deleted service removes the kept workload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { InstanceHandle } from '../../src/runtime/contract.ts';
import type { EdgeMetrics } from '../../src/edge/types.ts';
import { makeWorld, webDefinition } from '../control/world.ts';

const FAST = { stableWindowMs: 10_000, panicWindowMs: 2_000, scaleDownDelayMs: 3_000, tickMs: 1000 };
const DEEP = { scalings: [{ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 2 } }] } as never] };

async function setup(opts: { resumeFails?: string } = {}) {
  const metrics = (): EdgeMetrics => ({ instances: {}, routes: {}, apps: {} });
  const w = makeWorld({ controller: { metrics, autoscale: FAST } });
  const calls: string[] = [];
  // The fake runtime learns resume (optional): the workload runs again, at another port (a bridge may hand out
  // another address on a restart).
  Object.assign(w.runtime, {
    async resume(h: InstanceHandle): Promise<InstanceHandle> {
      calls.push(`resume ${h.runtimeId}`);
      if (opts.resumeFails) throw new Error(opts.resumeFails);
      const wl = w.runtime.workloads.get(h.runtimeId);
      if (!wl) throw new Error(`no workload ${h.runtimeId}`);
      wl.running = true;
      wl.exit = undefined;
      wl.endpoints = wl.endpoints.map((e) => ({ ...e, hostPort: e.hostPort + 1000 }));
      return { ...h, endpoints: wl.endpoints };
    },
  });
  const { service, deployment } = await w.createService(webDefinition(DEEP));
  await w.settle();
  const [first] = w.instancesOf(deployment.id).filter((i) => i.status === 'HEALTHY');
  assert.ok(first);
  return { w, service, deployment, first, calls };
}

type World = Awaited<ReturnType<typeof setup>>;
const tick = async (s: World, ms = 1000) => { s.w.clock.advance(ms); await s.w.settle(); };
const inst = (s: World, id: string) => s.w.state.instances.get(id)!;

/** Idle until the replica sleeps and its workload is stopped (kept or removed). */
async function untilStopped(s: World): Promise<void> {
  for (let i = 0; i < 10 && s.w.runtime.running().length > 0; i++) await tick(s);
  assert.equal(s.w.runtime.running().length, 0, 'deep sleep stops the workload');
  assert.equal(inst(s, s.first.id).status, 'SLEEPING');
  assert.match(inst(s, s.first.id).messages[0], /deep sleep/);
}

test('deep sleep keeps the stopped workload; the wake starts that same workload again and it serves at its new address', async () => {
  const s = await setup();
  const runtimeId = inst(s, s.first.id).allocation_id;
  await untilStopped(s);
  assert.ok(s.w.runtime.workloads.has(runtimeId), 'the stopped workload is kept');
  assert.ok(!s.w.runtime.calls.includes(`remove ${s.first.id}`));
  assert.deepEqual((await s.w.controller.routes())[0].routes[0].upstreams, [], 'nothing routes to a stopped workload');
  // Idle passes keep it asleep: nothing stopped twice, nothing resumed.
  await tick(s, 60_000);
  assert.equal(s.w.runtime.calls.filter((c) => c === `stop ${s.first.id}`).length, 1);

  s.w.controller.wake(s.w.app.id);
  assert.deepEqual(s.calls, [`resume ${runtimeId}`], 'the wake-up starts the kept workload itself, before any pass');
  await s.w.settle();
  assert.deepEqual(s.calls, [`resume ${runtimeId}`], 'started once');
  assert.equal(inst(s, s.first.id).status, 'HEALTHY', 'the same instance serves again');
  assert.equal(s.w.runtime.calls.filter((c) => c.startsWith('start')).length, 1, 'no new workload was created');
  const upstreams = (await s.w.controller.routes())[0].routes[0].upstreams;
  assert.equal(upstreams.length, 1);
  assert.equal(upstreams[0].instanceId, s.first.id);
  assert.equal(upstreams[0].port, s.w.runtime.workloads.get(runtimeId)!.endpoints[0].hostPort, 'routed at the address the resume answered');
  assert.equal(s.w.deployment(s.deployment.id).status, 'HEALTHY');
  assert.deepEqual(s.w.errors, []);

  // It can sleep and wake again, the same way.
  await untilStopped(s);
  s.w.controller.wake(s.w.app.id);
  await s.w.settle();
  assert.equal(inst(s, s.first.id).status, 'HEALTHY');
  assert.equal(s.calls.length, 2);
  assert.equal(s.w.runtime.calls.filter((c) => c.startsWith('start')).length, 1);
});

test('a kept workload that does not start again is removed, the instance says why and a new one replaces it', async () => {
  const s = await setup({ resumeFails: 'container is gone' });
  const runtimeId = inst(s, s.first.id).allocation_id;
  await untilStopped(s);
  s.w.controller.wake(s.w.app.id);
  await s.w.settle();
  assert.equal(inst(s, s.first.id).status, 'STOPPED');
  assert.match(inst(s, s.first.id).messages[0], /did not start again \(container is gone\); the wake-up started a new instance/);
  assert.ok(!s.w.runtime.workloads.has(runtimeId), 'the kept workload is removed');
  const woke = s.w.instancesOf(s.deployment.id).filter((i) => i.status === 'HEALTHY');
  assert.equal(woke.length, 1);
  assert.notEqual(woke[0].id, s.first.id);
  assert.ok(s.w.errors.some((e) => /starting the kept workload of instance .*container is gone/.test(e)), s.w.errors.join('\n'));
});

test('a new deployment of a deep-sleeping service removes the kept workload', async () => {
  const s = await setup();
  const runtimeId = inst(s, s.first.id).allocation_id;
  await untilStopped(s);
  const next = await s.w.deploy(s.service.id, webDefinition(DEEP));
  await s.w.settle();
  assert.equal(s.w.service(s.service.id).active_deployment_id, next.id);
  assert.equal(inst(s, s.first.id).status, 'STOPPED');
  assert.ok(!s.w.runtime.workloads.has(runtimeId), 'the kept workload went with its deployment');
  assert.deepEqual(s.calls, [], 'a retired sleeper is never resumed');
});

test('deleting a deep-sleeping service removes the kept workload', async () => {
  const s = await setup();
  const runtimeId = inst(s, s.first.id).allocation_id;
  await untilStopped(s);
  await s.w.remove(s.service.id);
  for (let i = 0; i < 5; i++) await tick(s);
  assert.ok(!s.w.runtime.workloads.has(runtimeId), 'no workload left behind');
  assert.equal(inst(s, s.first.id).status, 'STOPPED');
  assert.deepEqual(s.calls, []);
});

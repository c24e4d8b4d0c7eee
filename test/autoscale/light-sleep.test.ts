// Light sleep over the fake world (the state machine wired into the scaling step): a runtime with freeze/thaw
// freezes the sleeping replica instead of stopping it, a wake thaws the same workload and serves in one settle,
// the deep delay stops the frozen workload, and a freeze that fails falls back to deep sleep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EdgeMetrics, TrafficMetrics } from '../../src/edge/types.ts';
import { makeWorld, webDefinition } from '../control/world.ts';

const FAST = { stableWindowMs: 10_000, panicWindowMs: 2_000, scaleDownDelayMs: 3_000, tickMs: 1000 };

async function setup(opts: { freezeFails?: boolean; thawFails?: boolean; onRoutesChanged?: () => void } = {}) {
  const counters: Record<string, TrafficMetrics> = {};
  const metrics = (): EdgeMetrics => ({ instances: structuredClone(counters), routes: {}, apps: {} });
  const w = makeWorld({ controller: { metrics, autoscale: FAST, ...(opts.onRoutesChanged ? { onRoutesChanged: opts.onRoutesChanged } : {}) } });
  const frozen = new Set<string>();
  const calls: string[] = [];
  // The fake runtime learns freeze/thaw (optional in the contract): the controller looks for them at call time.
  Object.assign(w.runtime, {
    async freeze(id: string) { calls.push(`freeze ${id}`); if (opts.freezeFails) throw new Error('no freezer'); frozen.add(id); },
    async thaw(id: string) { calls.push(`thaw ${id}`); if (opts.thawFails) throw new Error('cgroup gone'); frozen.delete(id); },
  });
  const { service, deployment } = await w.createService(webDefinition({ scalings: [{ min: 0, max: 1, targets: [{ sleep_idle_delay: { light_sleep_value: 2, deep_sleep_value: 10 } }] } as never] }));
  return { w, service, deployment, frozen, calls };
}

type World = Awaited<ReturnType<typeof setup>>;
const tick = async (s: World, ms = 1000) => { s.w.clock.advance(ms); await s.w.settle(); };
const inst = (s: World, id: string) => s.w.state.instances.get(id)!;

test('light sleep freezes the replica, a wake thaws that same workload and serves at once; deep sleep stops it', async () => {
  const s = await setup();
  await s.w.settle();
  const [first] = s.w.instancesOf(s.deployment.id).filter((i) => i.status === 'HEALTHY');
  for (let i = 0; i < 5 && inst(s, first.id).status !== 'SLEEPING'; i++) await tick(s);
  assert.equal(inst(s, first.id).status, 'SLEEPING');
  assert.match(inst(s, first.id).messages[0], /^Instance is sleeping \(light sleep\): no request for \d+ s, its workload is frozen/);
  await tick(s, 500);
  const runtimeId = inst(s, first.id).allocation_id;
  assert.deepEqual(s.calls, [`freeze ${runtimeId}`]);
  assert.equal(s.w.runtime.running().length, 1, 'light sleep keeps the workload');
  const routes = await s.w.controller.routes();
  assert.deepEqual(routes[0].routes[0].upstreams, [], 'nothing routes to a frozen replica');

  // A request: thawed and HEALTHY within one settle, no new workload started.
  s.w.controller.wake(s.w.app.id);
  await s.w.settle();
  assert.deepEqual(s.calls.slice(1), [`thaw ${runtimeId}`]);
  assert.equal(inst(s, first.id).status, 'HEALTHY');
  assert.equal(s.w.runtime.calls.filter((c) => c.startsWith('start')).length, 1);
  assert.equal((await s.w.controller.routes())[0].routes[0].upstreams.length, 1);

  // Idle again: light sleep, then deep sleep at 10 s: the frozen workload is stopped and removed.
  for (let i = 0; i < 5 && !s.frozen.has(runtimeId); i++) await tick(s);
  assert.ok(s.frozen.has(runtimeId));
  for (let i = 0; i < 12 && s.w.runtime.running().length > 0; i++) await tick(s);
  assert.equal(s.w.runtime.running().length, 0, 'deep sleep stops the workload');
  assert.equal(inst(s, first.id).status, 'SLEEPING');
  assert.match(inst(s, first.id).messages[0], /deep sleep/);
  const events = s.w.state.events.filter((e) => e.type === 'autoscaled').map((e) => e.message);
  assert.ok(events.some((m) => /light sleep, the workload is frozen/.test(m)), events.join('\n'));
  assert.ok(events.some((m) => /deep sleep, the workload stops/.test(m)), events.join('\n'));
  // From deep sleep a wake starts a new instance.
  s.w.controller.wake(s.w.app.id);
  await s.w.settle();
  const woke = s.w.instancesOf(s.deployment.id).filter((i) => i.status === 'HEALTHY');
  assert.equal(woke.length, 1);
  assert.notEqual(woke[0].id, first.id);
  assert.deepEqual(s.w.errors, []);
});

test('a freeze that fails sleeps deeply instead (the workload stops), and the wake starts a new instance', async () => {
  const s = await setup({ freezeFails: true });
  await s.w.settle();
  const [first] = s.w.instancesOf(s.deployment.id).filter((i) => i.status === 'HEALTHY');
  for (let i = 0; i < 5 && inst(s, first.id).status !== 'SLEEPING'; i++) await tick(s);
  await tick(s, 500);
  assert.equal(s.calls.length, 1);
  assert.equal(s.w.runtime.running().length, 0);
  assert.ok(s.w.errors.some((e) => /freezing instance .* \(it sleeps deeply instead\)/.test(e)), s.w.errors.join('\n'));
  s.w.controller.wake(s.w.app.id);
  await s.w.settle();
  assert.equal(s.w.instancesOf(s.deployment.id).filter((i) => i.status === 'HEALTHY').length, 1);
});

test('a service with volumes sleeps deeply at the light delay: a frozen workload would keep its volumes mounted', async () => {
  const s = await setup();
  // The definition names a volume (as the API's create would have written it); the instance already runs.
  s.w.state.deployments.get(s.deployment.id)!.definition.volumes = [{ id: '11111111-1111-4111-8111-111111111111', path: '/data' }] as never;
  await s.w.settle();
  const [first] = s.w.instancesOf(s.deployment.id).filter((i) => i.status === 'HEALTHY');
  for (let i = 0; i < 5 && inst(s, first.id).status !== 'SLEEPING'; i++) await tick(s);
  assert.equal(inst(s, first.id).status, 'SLEEPING');
  await tick(s, 500);
  assert.deepEqual(s.calls, [], 'never frozen');
  assert.equal(s.w.runtime.running().length, 0, 'the workload stopped, so its volumes are unmounted');
  const events = s.w.state.events.filter((e) => e.type === 'autoscaled').map((e) => e.message);
  assert.ok(events.some((m) => /this service mounts volumes, which a frozen workload would keep mounted, so the workload stops/.test(m)), events.join('\n'));
});

/** Sleeps the only replica lightly and returns it once its workload is frozen. */
async function frozenReplica(s: World) {
  await s.w.settle();
  const [first] = s.w.instancesOf(s.deployment.id).filter((i) => i.status === 'HEALTHY');
  for (let i = 0; i < 5 && inst(s, first.id).status !== 'SLEEPING'; i++) await tick(s);
  await tick(s, 500);
  const runtimeId = inst(s, first.id).allocation_id!;
  assert.ok(s.frozen.has(runtimeId), 'frozen');
  return { id: first.id, runtimeId };
}

/** Lets pending promise callbacks and one loop turn run, with no pass (the world's controller is never started). */
const flush = () => new Promise<void>((r) => setImmediate(r));

test('a wake routes to the thawed instance before any pass runs; the pass then marks it HEALTHY', async () => {
  let routeChanges = 0;
  const s = await setup({ onRoutesChanged: () => { routeChanges++; } });
  const { id, runtimeId } = await frozenReplica(s);
  const before = routeChanges;
  s.w.controller.wake(s.w.app.id);
  await flush();
  // Served from the thaw on: the route table already has the replica, its row still says SLEEPING (no pass yet).
  assert.equal(inst(s, id).status, 'SLEEPING');
  assert.ok(!s.frozen.has(runtimeId), 'thawed');
  assert.ok(routeChanges > before, 'the routes were published without a pass');
  assert.deepEqual((await s.w.controller.routes())[0].routes[0].upstreams.map((u) => u.instanceId), [id]);
  await s.w.settle();
  assert.equal(inst(s, id).status, 'HEALTHY');
  assert.deepEqual((await s.w.controller.routes())[0].routes[0].upstreams.map((u) => u.instanceId), [id]);
  assert.deepEqual(s.calls, [`freeze ${runtimeId}`, `thaw ${runtimeId}`], 'thawed once');
  // Asleep again: nothing routes to it (the early route ended with the HEALTHY mark).
  for (let i = 0; i < 5 && !s.frozen.has(runtimeId); i++) await tick(s);
  assert.ok(s.frozen.has(runtimeId));
  assert.deepEqual((await s.w.controller.routes())[0].routes[0].upstreams, []);
  assert.deepEqual(s.w.errors, []);
});

test('a thaw that fails routes nothing early; the pass replaces the instance (a deep-sleep wake)', async () => {
  const s = await setup({ thawFails: true });
  const { id } = await frozenReplica(s);
  s.w.controller.wake(s.w.app.id);
  await flush();
  assert.deepEqual((await s.w.controller.routes())[0].routes[0].upstreams, [], 'never routed to a workload still frozen');
  await s.w.settle();
  const healthy = s.w.instancesOf(s.deployment.id).filter((i) => i.status === 'HEALTHY');
  assert.equal(healthy.length, 1);
  assert.notEqual(healthy[0].id, id);
  assert.deepEqual((await s.w.controller.routes())[0].routes[0].upstreams.map((u) => u.instanceId), [healthy[0].id]);
  assert.ok(s.w.errors.some((e) => /thawing instance .* \(a new instance replaces it\)/.test(e)), s.w.errors.join('\n'));
});

test('a wake that arrives during the pass that would deepen the sleep keeps the thawed workload serving', async () => {
  const s = await setup();
  const { id, runtimeId } = await frozenReplica(s);
  s.w.clock.advance(11_000); // past the deep delay (10 s)
  // The request arrives after this pass read the wake-ups: as the scaler reads the service's manual scaling.
  let woke = false;
  const scalings = s.w.state.scalings;
  const get = scalings.get.bind(scalings);
  scalings.get = (serviceId: string) => {
    if (!woke) { woke = true; s.w.controller.wake(s.w.app.id); }
    return get(serviceId);
  };
  await s.w.controller.reconcileOnce();
  assert.ok(woke);
  assert.equal(s.w.runtime.running().length, 1, 'the thawed workload was not stopped');
  assert.deepEqual((await s.w.controller.routes())[0].routes[0].upstreams.map((u) => u.instanceId), [id]);
  await s.w.settle();
  assert.equal(inst(s, id).status, 'HEALTHY');
  assert.equal(s.w.runtime.calls.filter((c) => c.startsWith('start')).length, 1, 'no new instance');
  assert.deepEqual(s.calls, [`freeze ${runtimeId}`, `thaw ${runtimeId}`]);
});

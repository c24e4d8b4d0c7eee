// The autoscaling step over the fake world: counts follow the edge's counters, every change is an event with its
// reason, manual scaling overrides, and a min-0 service sleeps after its idle delay and wakes on request.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeRoutes } from '../../src/control/routes.ts';
import type { EdgeMetrics, TrafficMetrics } from '../../src/edge/types.ts';
import { makeWorld, webDefinition } from '../control/world.ts';

/** Cumulative counters per instance, as the edge keeps them; tests bump them between passes. */
class FakeEdge {
  readonly instances: Record<string, TrafficMetrics> = {};
  /** The TCP proxy's connections per instance (open now, last opened or closed at). */
  readonly tcp: Record<string, { open: number; lastAt: number }> = {};
  held = 0;
  metrics = (): EdgeMetrics => ({ instances: structuredClone(this.instances), routes: {}, apps: {}, tcp: structuredClone(this.tcp) });
  /** `n` requests of `ms` each finished on `id` at `at`. */
  serve(id: string, n: number, ms: number, at: Date): void {
    const t = this.instances[id] ??= {
      inFlight: 0, requests: 0, byStatus: {}, bytes: 0, latencyMs: { p50: 0, p95: 0, p99: 0 },
      buckets: { le: [10, 100, Infinity], counts: [0, 0, 0] }, sumMs: 0, connectErrors: 0, lastRequestAt: null,
    };
    t.requests += n;
    t.sumMs += n * ms;
    t.buckets.counts[ms <= 10 ? 0 : ms <= 100 ? 1 : 2] += n;
    if (n > 0) t.lastRequestAt = at.toISOString();
  }
}

const FAST = { stableWindowMs: 10_000, panicWindowMs: 2_000, scaleDownDelayMs: 3_000, tickMs: 1000 };

async function setup(scaling: { min: number; max: number; targets?: object[] }, tuning: { burstWindowMs?: number } = {}) {
  const edge = new FakeEdge();
  const w = makeWorld({ controller: { metrics: edge.metrics, autoscale: { ...FAST, ...tuning } } });
  const { service, deployment } = await w.createService(webDefinition({ scalings: [scaling as never] }));
  return { w, edge, service, deployment };
}

const serving = (w: ReturnType<typeof makeWorld>, depId: string) => w.instancesOf(depId).filter((i) => i.status === 'HEALTHY');
const autoscaled = (w: ReturnType<typeof makeWorld>, svcId: string) =>
  w.state.events.filter((e) => e.resourceId === svcId && e.type === 'autoscaled').map((e) => e.message);

/** One second of load: every serving instance gets its share of `concurrency` (requests of 20 ms), then a pass. */
async function second(s: Awaited<ReturnType<typeof setup>>, concurrency: number): Promise<void> {
  const ids = serving(s.w, s.deployment.id).map((i) => i.id);
  s.w.clock.advance(1000);
  for (const id of ids) s.edge.serve(id, Math.round((concurrency / ids.length) * 50), 20, s.w.clock.now());
  await s.w.settle();
}

test('a load step scales up (panic), the end of the load scales back down to min, each change an event with its reason', async () => {
  const s = await setup({ min: 1, max: 4, targets: [{ concurrent_requests: { value: 10 } }] });
  await s.w.settle();
  assert.equal(serving(s.w, s.deployment.id).length, 1);
  for (let i = 0; i < 3; i++) await second(s, 35);
  assert.equal(serving(s.w, s.deployment.id).length, 4);
  const up = autoscaled(s.w, s.service.id);
  assert.match(up[0], /^1 -> 4: 35 concurrent requests over target 10 in the last 2 s \(panic\)$/);
  // Load gone: the stable window drains, then the count steps down (at most halving) to min and stays there.
  for (let i = 0; i < 30; i++) await second(s, 0);
  assert.equal(serving(s.w, s.deployment.id).length, 1);
  const downs = autoscaled(s.w, s.service.id).slice(1);
  assert.ok(downs.length >= 1 && downs.every((m) => /under target 10$/.test(m)), downs.join('\n'));
  const live = s.w.instancesOf(s.deployment.id).filter((i) => i.status !== 'STOPPED');
  assert.equal(live.length, 1);
  assert.deepEqual(s.w.errors, []);
});

for (const burstWindowMs of [0, 250]) {
test(`the edge reporting a rise makes the next pass sample between ticks, weighed by the time it covers (burst window ${burstWindowMs} ms)`, async () => {
  const s = await setup({ min: 1, max: 3, targets: [{ requests_per_second: { value: 5 } }] }, { burstWindowMs });
  await s.w.settle();
  for (let i = 0; i < 3; i++) await second(s, 0);
  const [only] = serving(s.w, s.deployment.id);
  // 300 ms into a tick, 60 requests (200 per second) have arrived: a pass now is not a sampling one.
  s.w.clock.advance(300);
  s.edge.serve(only!.id, 60, 5, s.w.clock.now());
  await s.w.settle();
  assert.equal(serving(s.w, s.deployment.id).length, 1);
  assert.deepEqual(autoscaled(s.w, s.service.id), []);
  // A report for a service the autoscaler does not scale changes nothing.
  s.w.controller.load('svc-unknown');
  await s.w.settle();
  assert.deepEqual(autoscaled(s.w, s.service.id), []);
  // The edge's report: the pass samples now. 60 requests in the last 2.3 s are 26 per second: 3 instances (max),
  // and a panic. With the burst window the reason gives its own rate: the last 250 ms of the 300 ms sample.
  s.w.controller.load(s.service.id);
  await s.w.settle();
  assert.equal(serving(s.w, s.deployment.id).length, 3);
  assert.match(autoscaled(s.w, s.service.id)[0]!, burstWindowMs === 0
    ? /^1 -> 3: 26\.1 requests per second over target 5 \(capped at max 3\) in the last 2 s \(panic\)$/
    : /^1 -> 3: 200 requests per second over target 5 \(capped at max 3\) in the last 250 ms \(panic\)$/);
  assert.deepEqual(s.w.errors, []);
});
}

test('a steady load inside the target changes nothing', async () => {
  const s = await setup({ min: 2, max: 5, targets: [{ requests_per_second: { value: 100 } }] });
  await s.w.settle();
  for (let i = 0; i < 15; i++) await second(s, 3); // 150 rps over 2 instances: exactly 2 at target 100
  assert.equal(serving(s.w, s.deployment.id).length, 2);
  assert.deepEqual(autoscaled(s.w, s.service.id), []);
});

test('manual scaling overrides the autoscaler until removed', async () => {
  const s = await setup({ min: 1, max: 4, targets: [{ concurrent_requests: { value: 10 } }] });
  await s.w.settle();
  s.w.state.scalings.set(s.service.id, [{ scopes: [], instances: 2 }]);
  for (let i = 0; i < 5; i++) await second(s, 100);
  assert.equal(serving(s.w, s.deployment.id).length, 2);
  assert.deepEqual(autoscaled(s.w, s.service.id), []);
  s.w.state.scalings.delete(s.service.id);
  for (let i = 0; i < 3; i++) await second(s, 100);
  assert.equal(serving(s.w, s.deployment.id).length, 4);
});

test('min 0: a new deployment serves first, sleeps after the idle delay, wakes on request', async () => {
  const s = await setup({ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 5 } }] });
  await s.w.settle();
  const [first] = serving(s.w, s.deployment.id);
  assert.ok(first, 'a min-0 deployment starts one instance so it can become active');
  assert.equal(s.w.service(s.service.id).active_deployment_id, s.deployment.id);
  // Health checks are not traffic: only the edge's counters count. A request at t+2 s pushes the sleep to t+7 s.
  await second(s, 0);
  s.w.clock.advance(1000);
  s.edge.serve(first.id, 1, 5, s.w.clock.now());
  await s.w.settle();
  for (let i = 0; i < 4; i++) await second(s, 0);
  assert.equal(s.w.state.instances.get(first.id)!.status, 'HEALTHY');
  for (let i = 0; i < 2; i++) await second(s, 0);
  assert.equal(s.w.state.instances.get(first.id)!.status, 'SLEEPING');
  assert.equal(s.w.deployment(s.deployment.id).status, 'SLEEPING');
  assert.match(autoscaled(s.w, s.service.id).at(-1)!, /^1 -> 0: no request for 5 s \(sleep_idle_delay 5 s\): scaling to zero$/);
  // The workload stops a moment later (after the edge stopped routing to it); the row stays SLEEPING.
  s.w.clock.advance(500);
  await s.w.settle();
  assert.equal([...s.w.runtime.workloads.values()].filter((x) => x.running).length, 0);
  assert.equal(s.w.state.instances.get(first.id)!.status, 'SLEEPING');
  const routes = await s.w.controller.routes();
  assert.equal(routes[0].sleeping, true);
  assert.deepEqual(routes[0].routes[0].upstreams, []);
  // Idle passes keep it asleep and write nothing.
  s.w.clock.advance(60_000);
  assert.equal(await s.w.settle(), 1);
  // A request arrives: the edge asks to wake the app.
  s.w.controller.wake(s.w.app.id);
  await s.w.settle();
  const woke = serving(s.w, s.deployment.id);
  assert.equal(woke.length, 1);
  assert.notEqual(woke[0].id, first.id);
  assert.equal(s.w.state.instances.get(first.id)!.status, 'STOPPED');
  assert.equal(s.w.deployment(s.deployment.id).status, 'HEALTHY');
  const after = await s.w.controller.routes();
  assert.equal(after[0].sleeping, undefined);
  assert.equal(after[0].routes[0].upstreams.length, 1);
  assert.match(autoscaled(s.w, s.service.id).at(-1)!, /^0 -> 1: a request arrived while the service slept$/);
  assert.deepEqual(s.w.errors, []);
});

test('min 0: an open TCP proxy connection keeps the service awake; the idle delay counts from its close', async () => {
  const s = await setup({ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 5 } }] });
  await s.w.settle();
  const [first] = serving(s.w, s.deployment.id);
  assert.ok(first);
  // A client connects through the TCP proxy at t+1 s and stays connected for 10 s, sending no HTTP request.
  await second(s, 0);
  s.edge.tcp[first.id] = { open: 1, lastAt: s.w.clock.now().getTime() };
  for (let i = 0; i < 10; i++) await second(s, 0);
  assert.equal(s.w.state.instances.get(first.id)!.status, 'HEALTHY', 'not asleep under an open connection');
  // It closes: 4 s later still awake, 6 s later asleep, the reason naming the delay.
  s.edge.tcp[first.id] = { open: 0, lastAt: s.w.clock.now().getTime() };
  for (let i = 0; i < 4; i++) await second(s, 0);
  assert.equal(s.w.state.instances.get(first.id)!.status, 'HEALTHY');
  for (let i = 0; i < 2; i++) await second(s, 0);
  assert.equal(s.w.state.instances.get(first.id)!.status, 'SLEEPING');
  assert.match(autoscaled(s.w, s.service.id).at(-1)!, /^1 -> 0: no request for 5 s \(sleep_idle_delay 5 s\): scaling to zero$/);
  assert.deepEqual(s.w.errors, []);
});

test('a wake-up right after the sleep decision resumes the same workload', async () => {
  const s = await setup({ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 2 } }] });
  await s.w.settle();
  const [first] = serving(s.w, s.deployment.id);
  for (let i = 0; i < 5 && s.w.state.instances.get(first.id)!.status !== 'SLEEPING'; i++) await second(s, 0);
  assert.equal(s.w.state.instances.get(first.id)!.status, 'SLEEPING');
  s.w.controller.wake(s.w.app.id);
  await s.w.settle();
  assert.equal(s.w.state.instances.get(first.id)!.status, 'HEALTHY');
  assert.equal(s.w.runtime.calls.filter((c) => c.startsWith('start')).length, 1);
});

test('the route table marks an app sleeping while its active deployment sleeps or wakes', () => {
  const base = { domain: 'pier.test', organizations: new Map(), instances: new Map(), endpoints: () => undefined };
  const app = { id: 'a', name: 'shop', organization_id: 'o', status: 'HEALTHY', domains: [] } as never;
  const svc = { id: 's', app_id: 'a', type: 'WEB', status: 'HEALTHY', name: 'api' } as never;
  const dep = (status: string) => new Map([['s', { id: 'd', status, definition: webDefinition() } as never]]);
  for (const [status, sleeping] of [['SLEEPING', true], ['STARTING', true], ['HEALTHY', undefined]] as const) {
    const [r] = computeRoutes({ ...base, apps: [app], services: [svc], active: dep(status) });
    assert.equal(r.sleeping, sleeping, status);
  }
  // The scaler marks the instance SLEEPING before the deployment's status is rolled up: already sleeping then.
  const instances = (status: string) => new Map([['d', [{ id: 'i', status, xyz_deployment_id: 'd', region: 'fra' } as never]]]);
  for (const [status, sleeping] of [['SLEEPING', true], ['HEALTHY', undefined], ['STOPPED', undefined]] as const) {
    const [r] = computeRoutes({ ...base, instances: instances(status), apps: [app], services: [svc], active: dep('HEALTHY') });
    assert.equal(r.sleeping, sleeping, `instance ${status}`);
  }
});

/** Runs passes second by second until the service's deployment sleeps (bounded). */
async function untilAsleep(s: Awaited<ReturnType<typeof setup>>, depId: string): Promise<void> {
  for (let i = 0; i < 20 && s.w.deployment(depId).status !== 'SLEEPING'; i++) await second(s, 0);
  assert.equal(s.w.deployment(depId).status, 'SLEEPING');
  s.w.clock.advance(500);
  await s.w.settle();
}

test('a restarted control plane keeps a sleeping service asleep and still wakes it', async () => {
  const s = await setup({ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 2 } }] });
  await s.w.settle();
  await untilAsleep(s, s.deployment.id);
  s.w.restartController();
  s.w.clock.advance(10_000);
  await s.w.settle();
  assert.equal(s.w.deployment(s.deployment.id).status, 'SLEEPING');
  assert.equal(serving(s.w, s.deployment.id).length, 0);
  s.w.controller.wake(s.w.app.id);
  await s.w.settle();
  assert.equal(serving(s.w, s.deployment.id).length, 1);
  assert.equal(s.w.deployment(s.deployment.id).status, 'HEALTHY');
});

test('a new deployment of a sleeping service starts one instance, is promoted, and retires the sleeper', async () => {
  const s = await setup({ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 2 } }] });
  await s.w.settle();
  const [sleeper] = serving(s.w, s.deployment.id);
  await untilAsleep(s, s.deployment.id);
  const next = await s.w.deploy(s.service.id, webDefinition({ scalings: [{ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 2 } }] }] }));
  await s.w.settle();
  assert.equal(s.w.service(s.service.id).active_deployment_id, next.id);
  assert.equal(serving(s.w, next.id).length, 1);
  assert.equal(s.w.deployment(s.deployment.id).status, 'STOPPED');
  assert.equal(s.w.state.instances.get(sleeper.id)!.status, 'STOPPED');
});

test('without the edge counters nothing is idle: a min-0 service never sleeps', async () => {
  const w = makeWorld({ controller: { autoscale: FAST } });
  const { deployment } = await w.createService(webDefinition({ scalings: [{ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 1 } }] }] }));
  await w.settle();
  for (let i = 0; i < 5; i++) { w.clock.advance(1000); await w.settle(); }
  assert.equal(serving(w, deployment.id).length, 1);
  assert.equal(w.deployment(deployment.id).status, 'HEALTHY');
});

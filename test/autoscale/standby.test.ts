// Standbys over the fake world (issue #23): an autoscaled region below its max keeps instances started, checked
// and frozen (two by default, fewer where its max leaves less room); a scale-up thaws it (HEALTHY and routed in the same step, no start) before starting new instances; the
// region keeps none at its max, stops it when it sleeps or stops being autoscaled, and a failure never loops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EdgeMetrics, TrafficMetrics } from '../../src/edge/types.ts';
import { makeWorld, webDefinition } from '../control/world.ts';
import { DockerRuntime } from '../../src/runtime/docker/driver.ts';
import { GvisorRuntime } from '../../src/runtime/docker/gvisor.ts';
import { ProcessRuntime } from '../../src/runtime/process/driver.ts';

const FAST = { stableWindowMs: 10_000, panicWindowMs: 2_000, scaleDownDelayMs: 3_000, tickMs: 1000 };

async function setup(opts: { standby?: number; freezeFails?: boolean; thawFails?: boolean; scaling?: object; keeps?: boolean } = {}) {
  const counters: Record<string, TrafficMetrics> = {};
  const metrics = (): EdgeMetrics => ({ instances: structuredClone(counters), routes: {}, apps: {} });
  const w = makeWorld({ controller: { metrics, autoscale: { ...FAST, ...(opts.standby !== undefined ? { standby: opts.standby } : {}) } } });
  const frozen = new Set<string>();
  const calls: string[] = [];
  // The fake runtime learns freeze/thaw and says it keeps standbys (Docker's and the process runtime's drivers do).
  Object.assign(w.runtime, {
    keepsStandbys: opts.keeps ?? true,
    async freeze(id: string) { calls.push(`freeze ${id}`); if (opts.freezeFails) throw new Error('no freezer'); frozen.add(id); },
    async thaw(id: string) { calls.push(`thaw ${id}`); if (opts.thawFails) throw new Error('cgroup gone'); frozen.delete(id); },
  });
  const scaling = opts.scaling ?? { min: 1, max: 3, targets: [{ requests_per_second: { value: 5 } }] };
  const { service, deployment } = await w.createService(webDefinition({ scalings: [scaling as never] }));
  /** `n` requests of 20 ms finished on each HEALTHY instance now. */
  const serve = (n: number) => {
    for (const i of w.instancesOf(deployment.id).filter((x) => x.status === 'HEALTHY')) {
      const t = counters[i.id] ??= {
        inFlight: 0, requests: 0, byStatus: {}, bytes: 0, latencyMs: { p50: 0, p95: 0, p99: 0 },
        buckets: { le: [10, 100, Infinity], counts: [0, 0, 0] }, sumMs: 0, connectErrors: 0, lastRequestAt: null,
      };
      t.requests += n; t.sumMs += 20 * n; t.buckets.counts[1] += n; if (n > 0) t.lastRequestAt = w.clock.now().toISOString();
    }
  };
  return { w, service, deployment, frozen, calls, serve };
}

type World = Awaited<ReturnType<typeof setup>>;
const tick = async (s: World, ms = 1000) => { s.w.clock.advance(ms); await s.w.settle(); };
const rows = (s: World) => s.w.instancesOf(s.deployment.id);
const withStatus = (s: World, status: string) => rows(s).filter((i) => i.status === status);
/** Every message an instance's events carried, oldest first. */
const said = (s: World, id: string) => s.w.state.events.filter((e) => e.resourceId === id).map((e) => e.message).join('\n');
const autoscaled = (s: World) => s.w.state.events.filter((e) => e.resourceId === s.service.id && e.type === 'autoscaled').map((e) => e.message);

/** Settles the first deployment, then waits (fake time) for `n` standbys to be frozen; returns the first's row. */
async function frozenStandby(s: World, n = 1) {
  await s.w.settle();
  for (let i = 0; i < 3 * n + 2 && withStatus(s, 'SLEEPING').length < n; i++) await tick(s);
  const sbs = withStatus(s, 'SLEEPING').sort((a, b) => a.replica_index - b.replica_index);
  assert.equal(sbs.length, n, `standbys: ${rows(s).map((i) => `${i.replica_index} ${i.status}`).join(', ')}`);
  return sbs[0];
}

test('a region below its max keeps two frozen standbys (one made at a time), not routed; its app does not look asleep', async () => {
  const s = await setup();
  await frozenStandby(s, 2);
  const sbs = withStatus(s, 'SLEEPING').sort((a, b) => a.replica_index - b.replica_index);
  // One at a time: the second is made after the first is frozen.
  const at = (id: string, type: string) => s.w.state.events.findIndex((e) => e.resourceId === id && e.type === type);
  assert.ok(at(sbs[0].id, 'instance_standby') >= 0 && at(sbs[0].id, 'instance_standby') < at(sbs[1].id, 'instance_created'), s.w.state.events.map((e) => e.type).join(' '));
  assert.equal(withStatus(s, 'HEALTHY').length, 1);
  assert.deepEqual(sbs.map((i) => i.replica_index).sort(), [1, 2], 'the next replica indexes');
  for (const sb of sbs) {
    assert.match(sb.messages[0], /^Standby instance is sleeping: it passed its health checks and its workload is frozen/);
    assert.ok(s.w.state.events.some((e) => e.resourceId === sb.id && e.type === 'instance_created' && /^Standby instance created/.test(e.message)));
  }
  assert.deepEqual(s.calls.sort(), sbs.map((i) => `freeze ${i.allocation_id}`).sort());
  assert.equal(s.w.runtime.running().length, 3, 'standbys keep their workloads');
  const routes = await s.w.controller.routes();
  assert.equal(routes[0].routes[0].upstreams.length, 1, 'only the HEALTHY instance is routed');
  assert.notEqual(routes[0].sleeping, true, 'a standby is not a sleeping replica');
  // Settled: max 3 leaves room for two, nothing more starts.
  for (let i = 0; i < 3; i++) await tick(s);
  assert.equal(withStatus(s, 'SLEEPING').length, 2);
  assert.equal(s.w.runtime.calls.filter((c) => c.startsWith('start')).length, 3);
  assert.equal(s.w.deployment(s.deployment.id).status, 'HEALTHY');
  assert.deepEqual(s.w.errors, []);
});

test('a scale-up by two thaws both standbys: HEALTHY and routed in the step that decided, no start', async () => {
  const s = await setup();
  await frozenStandby(s, 2);
  const starts = s.w.runtime.calls.filter((c) => c.startsWith('start')).length;
  s.w.clock.advance(1000);
  s.serve(100);
  await s.w.controller.reconcileOnce();
  assert.equal(withStatus(s, 'HEALTHY').length, 3);
  assert.equal((await s.w.controller.routes())[0].routes[0].upstreams.length, 3);
  assert.match(autoscaled(s).at(-1)!, /^1 -> 3: .*\(panic\); 2 standby instances thawed$/);
  await s.w.settle();
  assert.equal(s.w.runtime.calls.filter((c) => c.startsWith('start')).length, starts, 'no new start');
  assert.equal(withStatus(s, 'SLEEPING').length, 0, 'none kept at max');
  assert.deepEqual(s.w.errors, []);
});

test('with one standby, a scale-up thaws it first: HEALTHY and routed in that step; the rest start; none kept at max', async () => {
  const s = await setup({ standby: 1 });
  const sb = await frozenStandby(s);
  const startsBefore = s.w.runtime.calls.filter((c) => c.startsWith('start')).length;
  // A load step: 100 requests in a second on one instance, target 5 per second: panic, up to max 3.
  s.w.clock.advance(1000);
  s.serve(100);
  await s.w.controller.reconcileOnce(); // one pass: the scaling step thaws, the routes carry it
  assert.equal(s.w.state.instances.get(sb.id)!.status, 'HEALTHY', 'the thawed standby is HEALTHY in the pass that decided');
  assert.deepEqual(s.calls.slice(1), [`thaw ${sb.allocation_id}`]);
  const upstreams = (await s.w.controller.routes())[0].routes[0].upstreams.map((u) => u.instanceId);
  assert.ok(upstreams.includes(sb.id), 'routed at once');
  assert.match(autoscaled(s).at(-1)!, /^1 -> 3: .*\(panic\); 1 standby instance thawed$/);
  await s.w.settle();
  assert.equal(withStatus(s, 'HEALTHY').length, 3);
  assert.equal(s.w.runtime.calls.filter((c) => c.startsWith('start')).length, startsBefore + 1, 'one new start, not two');
  // At its max the region keeps no standby.
  for (let i = 0; i < 3; i++) { s.w.clock.advance(1000); s.serve(100); await s.w.settle(); }
  assert.equal(withStatus(s, 'SLEEPING').length, 0);
  assert.equal(new Set(rows(s).filter((i) => i.status !== 'STOPPED').map((i) => i.replica_index)).size, rows(s).filter((i) => i.status !== 'STOPPED').length, 'replica indexes are unique');
  // Load gone: back down to 1, and a standby again once settled.
  for (let i = 0; i < 30 && withStatus(s, 'HEALTHY').length > 1; i++) await tick(s);
  assert.equal(withStatus(s, 'HEALTHY').length, 1);
  for (let i = 0; i < 5 && withStatus(s, 'SLEEPING').length === 0; i++) await tick(s);
  assert.equal(withStatus(s, 'SLEEPING').length, 1);
  assert.deepEqual(s.w.errors, []);
});

test('PIER_AUTOSCALE_STANDBY=0 keeps none; a fixed count (min = max) keeps none; a runtime that freezes but keeps no standbys (gVisor) keeps none', async () => {
  for (const opts of [{ standby: 0 }, { scaling: { min: 2, max: 2 } }, { keeps: false }]) {
    const s = await setup(opts);
    await s.w.settle();
    for (let i = 0; i < 4; i++) await tick(s);
    assert.equal(withStatus(s, 'SLEEPING').length, 0, JSON.stringify(opts));
    assert.deepEqual(s.calls, []);
  }
});

test('a region that sleeps stops its standby; a manual scaling stops it', async () => {
  const s = await setup({ standby: 1, scaling: { min: 0, max: 3, targets: [{ sleep_idle_delay: { light_sleep_value: 4, deep_sleep_value: 60 } }] } });
  const sb = await frozenStandby(s);
  for (let i = 0; i < 8 && s.w.state.instances.get(sb.id)!.status !== 'STOPPED'; i++) await tick(s);
  assert.equal(s.w.state.instances.get(sb.id)!.status, 'STOPPED');
  assert.match(said(s, sb.id), /Instance is stopping: the service scaled to zero\./);
  assert.equal(withStatus(s, 'SLEEPING').length, 1, 'the light sleeper only');
  assert.ok(s.w.runtime.calls.some((c) => c === `stop ${sb.id}`), s.w.runtime.calls.join('\n'));

  const m = await setup({ standby: 1 });
  const sb2 = await frozenStandby(m);
  m.w.state.scalings.set(m.service.id, [{ scopes: [], instances: 2 }]);
  for (let i = 0; i < 3; i++) await tick(m);
  assert.equal(m.w.state.instances.get(sb2.id)!.status, 'STOPPED');
  assert.match(said(m, sb2.id), /Instance is stopping: the region is no longer autoscaled\./);
  assert.deepEqual([...s.w.errors, ...m.w.errors], []);
});

test('a freeze that fails stops the standby; the next comes 5 s later, then 10 s (doubling); a thaw that fails is replaced by a new start', async () => {
  const s = await setup({ standby: 1, freezeFails: true });
  await s.w.settle();
  for (let i = 0; i < 3 && s.calls.length === 0; i++) await tick(s);
  assert.equal(s.calls.length, 1, 'a standby was made and its freeze failed');
  const stopped = rows(s).filter((i) => i.status === 'STOPPED');
  assert.equal(stopped.length, 1);
  assert.match(said(s, stopped[0].id), /^Standby instance stopped: its workload could not be frozen \(no freezer\)\. No other standby is made for 5 s\.$/m);
  for (let i = 0; i < 4; i++) await tick(s);
  assert.equal(s.calls.length, 1, 'not retried within the pause');
  for (let i = 0; i < 2; i++) await tick(s);
  assert.equal(s.calls.length, 2, 'retried once the pause ended');
  const second = rows(s).filter((i) => i.status === 'STOPPED' && i.id !== stopped[0].id);
  assert.match(said(s, second[0]!.id), /No other standby is made for 10 s\.$/m);
  for (let i = 0; i < 8; i++) await tick(s);
  assert.equal(s.calls.length, 2, 'not within the doubled pause');
  assert.equal(withStatus(s, 'HEALTHY').length, 1);
  assert.equal(s.w.deployment(s.deployment.id).status, 'HEALTHY', 'a failed standby does not degrade the deployment');

  const t = await setup({ standby: 1, thawFails: true });
  const sb = await frozenStandby(t);
  t.w.clock.advance(1000);
  t.serve(100);
  await t.w.settle();
  assert.equal(t.w.state.instances.get(sb.id)!.status, 'STOPPED');
  assert.equal(withStatus(t, 'HEALTHY').length, 3, 'new instances replace it');
  assert.ok(t.w.errors.some((e) => /thawing standby instance/.test(e)), t.w.errors.join('\n'));
});

test('a control-plane restart: a frozen standby of the last life is stopped (recover removed its workload), new ones are made', async () => {
  const s = await setup({ standby: 1 });
  const sb = await frozenStandby(s);
  s.w.restartController();
  await s.w.settle();
  assert.equal(s.w.state.instances.get(sb.id)!.status, 'STOPPED');
  assert.match(s.w.state.instances.get(sb.id)!.messages[0], /^Standby instance stopped: the control plane restarted, its workload is gone\.$/);
  assert.ok(!s.w.runtime.running().some((w) => w.spec.instanceId === sb.id), 'its workload is gone');
  const fresh = await frozenStandby(s);
  assert.notEqual(fresh.id, sb.id);
  assert.equal(withStatus(s, 'HEALTHY').length, 1);
  assert.equal(s.w.deployment(s.deployment.id).status, 'HEALTHY');
});

test('which runtimes keep standbys: Docker with runc and the process runtime; not gVisor (its freeze is untested)', () => {
  assert.equal(new DockerRuntime({ firewall: false, log: () => {} }).keepsStandbys, true);
  assert.equal(new GvisorRuntime({ firewall: false, log: () => {} }).keepsStandbys, false);
  assert.equal(new ProcessRuntime({ stateDir: '/nonexistent/pier-test' }).keepsStandbys, true);
});

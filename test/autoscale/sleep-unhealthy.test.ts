// Issue #16 (reliability): a min-0 service whose only instance was UNHEALTHY when it scaled to zero must sleep like
// any other (the edge holds the next request and asks for a wake-up), not stay UNHEALTHY with no instance, which
// the edge answers 503 forever because nothing ever wakes it.
// Cause (fixed): the status tables (src/domain/status.ts) refused UNHEALTHY -> SLEEPING for regional deployments
// and deployments, so the roll-up's SLEEPING ("Scaled to zero") was dropped, the route table never marked the app
// sleeping, the edge never held a request nor called onWake, and the autoscaler's region stayed at 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EdgeMetrics } from '../../src/edge/types.ts';
import { makeWorld, webDefinition } from '../control/world.ts';

const FAST = { stableWindowMs: 10_000, panicWindowMs: 2_000, scaleDownDelayMs: 3_000, tickMs: 1000 };

test('scaled to zero while its only instance was unhealthy: the app sleeps, and the next request wakes it', async () => {
  const metrics = (): EdgeMetrics => ({ instances: {}, routes: {}, apps: {} });
  const w = makeWorld({ controller: { metrics, autoscale: FAST } });
  const { service, deployment } = await w.createService(webDefinition({ scalings: [{ min: 0, max: 1, targets: [{ sleep_idle_delay: { deep_sleep_value: 5 } }] }] }));
  await w.settle();
  const [first] = w.instancesOf(deployment.id).filter((i) => i.status === 'HEALTHY');
  assert.ok(first);
  // The app breaks: every check fails, restarts included.
  w.runtime.script = () => ({ healthy: false });
  w.runtime.setHealthy(first.id, false);
  for (let i = 0; i < 20 && w.deployment(deployment.id).status !== 'SLEEPING'; i++) {
    w.clock.advance(1000);
    await w.settle();
  }
  const live = w.instancesOf(deployment.id).filter((i) => !['STOPPED', 'ERROR'].includes(i.status));
  assert.ok(live.every((i) => i.status === 'SLEEPING'), `no instance serves or fails: ${live.map((i) => i.status).join(', ')}`);
  assert.equal(w.deployment(deployment.id).status, 'SLEEPING');
  const routes = await w.controller.routes();
  assert.equal(routes[0]!.sleeping, true, 'the edge holds requests and asks for a wake-up instead of answering 503');
  assert.deepEqual(routes[0]!.routes[0]!.upstreams, []);

  // The fix is deployed; a request arrives: the edge asks to wake the app.
  w.runtime.script = () => ({});
  w.controller.wake(w.app.id);
  for (let i = 0; i < 5 && w.deployment(deployment.id).status !== 'HEALTHY'; i++) {
    w.clock.advance(1000);
    await w.settle();
  }
  assert.equal(w.deployment(deployment.id).status, 'HEALTHY');
  assert.equal(w.instancesOf(deployment.id).filter((i) => i.status === 'HEALTHY').length, 1);
  const after = await w.controller.routes();
  assert.equal(after[0]!.sleeping, undefined);
  assert.equal(after[0]!.routes[0]!.upstreams.length, 1);
  assert.equal(w.service(service.id).status, 'HEALTHY');
});

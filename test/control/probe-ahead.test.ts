// A started instance is probed, marked HEALTHY and routed while another instance of the same pass is still starting
// (issue #23: the first extra instance of a scale-up waited for the slowest start of its pass).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeWorld, webDefinition } from './world.ts';

const until = async (what: string, ok: () => boolean, ms = 5_000): Promise<void> => {
  for (const end = Date.now() + ms; !ok();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('an instance whose start finished is HEALTHY and routed while its sibling still starts', async () => {
  const w = makeWorld({ intervals: { resyncMs: 60_000, health: { intervalMs: 30_000, graceMs: 60_000 } } });
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let starts = 0;
  w.runtime.script = () => (++starts === 1 ? { startGate: gate } : {});
  const { deployment } = await w.createService(webDefinition({ scalings: [{ min: 2, max: 2 }] }));
  const started = w.controller.start(); // its first pass waits for the gated start
  const keepAlive = setInterval(() => {}, 50);
  try {
    await until('both starts asked', () => starts === 2);
    await until('the fast instance HEALTHY', () => w.instancesOf(deployment.id).some((i) => i.status === 'HEALTHY'));
    const [slow] = w.instancesOf(deployment.id).filter((i) => i.status !== 'HEALTHY');
    assert.equal(slow?.status, 'ALLOCATING', 'the gated start has not answered');
    const routedBefore = w.routeChanges;
    assert.ok(routedBefore > 0, 'the routes were published for the healthy one before the pass ended');
    release();
    await started;
    await until('both HEALTHY', () => w.instancesOf(deployment.id).every((i) => i.status === 'HEALTHY'));
  } finally {
    release();
    clearInterval(keepAlive);
    await started;
    await w.controller.stop();
  }
  assert.deepEqual(w.errors, []);
});

test('an instance that passes its probe while the pass still starts another is routed at once, not after that start', async () => {
  const w = makeWorld({ intervals: { resyncMs: 60_000, health: { intervalMs: 30_000, graceMs: 60_000 } } });
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let starts = 0;
  w.runtime.script = () => (++starts === 2 ? { startGate: gate } : { healthy: false });
  const { service, deployment } = await w.createService(webDefinition({ scalings: [{ min: 1, max: 1 }] }));
  await w.settle();
  const [first] = w.instancesOf(deployment.id);
  assert.equal(first?.status, 'STARTING', 'started, its probe not passing yet');
  // One pass both sees the first instance pass and starts a second one (whose start takes long).
  w.runtime.setHealthy(first!.id, true);
  w.state.scalings.set(service.id, [{ scopes: [], instances: 2 }]);
  w.clock.advance(1000);
  const before = w.routeChanges;
  const pass = w.controller.reconcileOnce();
  try {
    await until('the first instance HEALTHY', () => w.state.instances.get(first!.id)?.status === 'HEALTHY');
    await until('its routes published', () => w.routeChanges > before);
    assert.equal(starts, 2, 'the second start was asked');
    assert.ok(w.instancesOf(deployment.id).some((i) => i.status === 'ALLOCATING'), 'and has not answered');
  } finally {
    release();
    await pass;
  }
  assert.deepEqual(w.errors, []);
});

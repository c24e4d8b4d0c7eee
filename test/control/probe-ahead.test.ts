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

// A starting instance's output brings its next health probe forward (issue #23: a function's wrapper prints that it
// serves; the startup ramp's next step could be up to 250 ms away). The clock is the world's hand-moved one, so the
// ramp alone never makes a probe due here: only the printed line can.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeWorld, webDefinition } from './world.ts';
import type { Prober } from '../../src/control/health.ts';

const until = async (what: string, ok: () => boolean, ms = 5_000): Promise<void> => {
  for (const end = Date.now() + ms; !ok();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('a line printed by a starting instance probes it at once (10 ms after the last probe at the soonest); no line, no early probe', async () => {
  let probes = 0;
  let prober: Prober = async () => ({ ok: false, detail: 'unset' });
  const w = makeWorld({ intervals: { resyncMs: 60_000, health: { intervalMs: 30_000, graceMs: 60_000 } }, controller: { prober: (c, t) => { probes++; return prober(c, t); } } });
  prober = w.runtime.prober;
  w.runtime.script = () => ({ healthy: false });
  const { deployment } = await w.createService(webDefinition());
  await w.controller.start();
  try {
    await until('the first probe', () => probes === 1);
    const [inst] = w.instancesOf(deployment.id);
    assert.equal(inst!.status, 'STARTING');
    w.clock.advance(10); // the ramp's first step: probe 2, then the next one is 20 ms (fake) away
    await until('the second probe', () => probes === 2);
    w.clock.advance(10);
    w.runtime.setHealthy(inst!.id, true);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(probes, 2, 'not due on the ramp (10 ms of 20 passed on the clock)');
    assert.equal(w.state.instances.get(inst!.id)!.status, 'STARTING');
    w.runtime.print(inst!.id, '{"level":"info","msg":"function ready"}', 'stderr');
    await until('HEALTHY after the line', () => w.state.instances.get(inst!.id)!.status === 'HEALTHY');
    assert.equal(probes, 3);
    // Once it passed, output is only output: no probe before the interval.
    w.runtime.print(inst!.id, 'serving');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(probes, 3);
  } finally {
    await w.controller.stop();
  }
  assert.deepEqual(w.errors, []);
});

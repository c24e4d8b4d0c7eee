// One instance's slow step holds back no other instance (issue found in session 25): a pass used to wait for the
// slowest of its instances, so an app that accepts connections and never answers its HTTP check held every other
// tenant's starts, checks and stops back for the probe's timeout, on every pass; an app that ignores SIGTERM, for its
// stop's grace. Now a loop pass waits for its instances' steps at most PASS_STEP_BUDGET_MS; the slow one goes on
// alone, later passes leave that instance to it, and its end asks for a pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeWorld, webDefinition } from './world.ts';

const until = async (what: string, ok: () => boolean, ms: number): Promise<void> => {
  for (const end = Date.now() + ms; !ok();) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

test("an instance whose health probe hangs holds back no other service's start and check", { timeout: 20_000 }, async () => {
  const w = makeWorld({ intervals: { resyncMs: 60_000, health: { intervalMs: 0, graceMs: 0 } } });
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let starts = 0;
  w.runtime.script = () => (++starts === 1 ? { probeGate: gate } : {});
  const hostile = await w.createService(webDefinition({ name: 'hostile' }));
  const started = w.controller.start();
  try {
    await started;
    await until('the hostile probe in flight', () => w.runtime.probesWaiting > 0, 5_000);
    const other = await w.createService(webDefinition({ name: 'other', routes: [{ port: 8000, path: '/other' }] }));
    w.controller.kick();
    const t0 = Date.now();
    await until("the other service's instance HEALTHY", () => w.instancesOf(other.deployment.id).some((i) => i.status === 'HEALTHY'), 3_000);
    assert.ok(Date.now() - t0 < 3_000);
    assert.equal(w.runtime.probesWaiting, 1, 'the hostile probe still waits');
    assert.ok(w.instancesOf(hostile.deployment.id).every((i) => i.status === 'STARTING'), 'the hostile instance is not taken for healthy');
    // Its probe ends (a timeout): it is checked again by a later pass as usual.
    release();
    await until('the hostile instance HEALTHY once its probe answers', () => w.instancesOf(hostile.deployment.id).some((i) => i.status === 'HEALTHY'), 5_000);
  } finally {
    release();
    await w.controller.stop();
  }
  assert.deepEqual(w.errors, []);
});

test("an instance whose stop waits out its grace holds back no other service's start", { timeout: 30_000 }, async () => {
  const w = makeWorld({ intervals: { resyncMs: 60_000, stopGraceMs: 4_000, health: { intervalMs: 0, graceMs: 0 } } });
  let starts = 0;
  // The first service's instance ignores SIGTERM: its stop takes the whole grace.
  w.runtime.script = () => (++starts === 1 ? { onStop: { ignore: true } } : {});
  const stubborn = await w.createService(webDefinition({ name: 'stubborn' }));
  await w.controller.start();
  try {
    await until('the stubborn instance HEALTHY', () => w.instancesOf(stubborn.deployment.id).some((i) => i.status === 'HEALTHY'), 5_000);
    await w.pause(stubborn.service.id);
    w.controller.kick();
    await until('its stop under way', () => w.runtime.calls.some((c) => c.startsWith('stop ')), 5_000);
    const stopAt = Date.now();
    const other = await w.createService(webDefinition({ name: 'other', routes: [{ port: 8000, path: '/other' }] }));
    w.controller.kick();
    await until("the other service's instance HEALTHY", () => w.instancesOf(other.deployment.id).some((i) => i.status === 'HEALTHY'), 2_500);
    assert.ok(Date.now() - stopAt < 4_000, 'before the stubborn stop ended');
    assert.ok(w.instancesOf(stubborn.deployment.id).some((i) => i.status === 'STOPPING'), 'the stubborn instance still stopping');
    await until('the stubborn instance STOPPED after its grace', () => w.instancesOf(stubborn.deployment.id).every((i) => i.status === 'STOPPED'), 8_000);
  } finally {
    await w.controller.stop();
  }
  assert.deepEqual(w.errors, []);
});

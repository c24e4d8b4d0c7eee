// The controller's loop does not hold a pass on a runtime start (issue #23): a row created while another start is in
// flight starts then, not after it; a row whose start is in flight is left alone by the passes meanwhile (never
// started twice, never stopped under its start), and a stop asked meanwhile is carried out once the start ended.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeWorld, webDefinition, type World } from './world.ts';

const until = async (what: string, ok: () => boolean, ms = 5_000): Promise<void> => {
  for (const end = Date.now() + ms; !ok();) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** A world whose service runs one HEALTHY instance, the controller's loop running; `gated` holds the next start. */
async function running(): Promise<{ w: World; serviceId: string; deploymentId: string; starts: () => number; gated: () => void; release: () => void }> {
  const w = makeWorld({ intervals: { resyncMs: 60_000, health: { intervalMs: 30_000, graceMs: 60_000 } } });
  let gate: Promise<void> | undefined;
  let release = () => {};
  let starts = 0;
  w.runtime.script = () => { starts++; return gate ? { startGate: gate } : {}; };
  const { service, deployment } = await w.createService(webDefinition({ scalings: [{ min: 1, max: 1 }] }));
  await w.controller.start();
  await until('the first instance HEALTHY', () => w.instancesOf(deployment.id).some((i) => i.status === 'HEALTHY'));
  return {
    w, serviceId: service.id, deploymentId: deployment.id, starts: () => starts,
    gated: () => { gate = new Promise<void>((r) => { release = r; }); },
    release: () => { gate = undefined; release(); },
  };
}

function scaleTo(w: World, serviceId: string, n: number): void {
  w.state.scalings.set(serviceId, [{ scopes: [], instances: n }]);
  w.clock.advance(1000);
  w.controller.kick();
}

test('a row created while another start is in flight starts at once, not after that start', async () => {
  const r = await running();
  const keepAlive = setInterval(() => {}, 50);
  try {
    r.gated();
    scaleTo(r.w, r.serviceId, 2);
    await until('the second start asked', () => r.starts() === 2);
    const second = r.w.instancesOf(r.deploymentId).find((i) => i.status === 'ALLOCATING');
    assert.ok(second, 'the second instance is ALLOCATING, its start held');
    // The next step of the scale-up, decided while the second start is held: its start is asked now.
    scaleTo(r.w, r.serviceId, 3);
    await until('the third start asked while the second is still in flight', () => r.starts() === 3, 2_000);
    assert.equal(r.w.state.instances.get(second.id)?.status, 'ALLOCATING', 'the second start has not answered');
    // Passes ran meanwhile (the loop kicked, probes of the first): none started the held row again.
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(r.starts(), 3, 'a row whose start is in flight is not started twice');
    r.release();
    await until('all three HEALTHY', () => r.w.instancesOf(r.deploymentId).filter((i) => i.status === 'HEALTHY').length === 3);
  } finally {
    r.release();
    clearInterval(keepAlive);
    await r.w.controller.stop();
  }
  assert.deepEqual(r.w.errors, []);
});

test('a stop asked while a start is in flight waits for it, then stops and removes the workload (nothing orphaned)', async () => {
  const r = await running();
  const keepAlive = setInterval(() => {}, 50);
  try {
    r.gated();
    scaleTo(r.w, r.serviceId, 2);
    await until('the second start asked', () => r.starts() === 2);
    const second = r.w.instancesOf(r.deploymentId).find((i) => i.status === 'ALLOCATING')!;
    scaleTo(r.w, r.serviceId, 1);
    await until('the held instance asked to stop', () => r.w.state.instances.get(second.id)?.status === 'STOPPING');
    // Passes go on meanwhile; none may finish the stop while the start still runs (its workload would be orphaned).
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(r.w.state.instances.get(second.id)?.status, 'STOPPING', 'not STOPPED under its start');
    r.release();
    await until('the held instance STOPPED', () => r.w.state.instances.get(second.id)?.status === 'STOPPED');
    assert.equal(r.w.runtime.workloadOf(second.id), undefined, 'its workload was removed');
    assert.equal(r.w.instancesOf(r.deploymentId).filter((i) => i.status === 'HEALTHY').length, 1);
  } finally {
    r.release();
    clearInterval(keepAlive);
    await r.w.controller.stop();
  }
  assert.deepEqual(r.w.errors, []);
});

test('stop() waits for a start the loop left in flight', async () => {
  const r = await running();
  r.gated();
  scaleTo(r.w, r.serviceId, 2);
  await until('the second start asked', () => r.starts() === 2);
  const second = r.w.instancesOf(r.deploymentId).find((i) => i.status === 'ALLOCATING')!;
  let stopped = false;
  const stopping = r.w.controller.stop().then(() => { stopped = true; });
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(stopped, false, 'stop() returned while a start was in flight');
  r.release();
  await stopping;
  // The start's end was recorded: a later control-plane life adopts the workload rather than starting it twice.
  assert.equal(r.w.state.instances.get(second.id)?.status, 'STARTING');
  assert.deepEqual(r.w.errors, []);
});

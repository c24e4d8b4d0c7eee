// Light sleep through the container's cgroup (freezer.ts) with a real engine: what the engine and runc see of a frozen
// container, a control-plane restart in between, and a container the engine itself paused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { RuntimeError } from '../errors.ts';
import type { InstanceSpec } from '../contract.ts';
import { ensureTestImage, TEST_IMAGE } from '../testing/images.ts';
import { until } from '../../../test/support/until.ts';
import { DockerRuntime } from './driver.ts';
import { DockerEngine } from './engine.ts';
import { containerFreezer } from './freezer.ts';

const engine = new DockerEngine();
const engineUp = await engine.ping().then(() => true, () => false);
const opts = { skip: engineUp ? false : 'Docker engine not reachable', timeout: 90_000 };

interface State { Id: string; State: { Status: string; Running: boolean; Paused: boolean; Pid: number; ExitCode: number } }
const inspect = (id: string) => engine.json<State>('GET', `/containers/${id}/json`);
const cgroupFrozen = async (id: string) => { const c = await inspect(id); return containerFreezer(c.Id, c.State.Pid)?.frozen() ?? false; };

function spec(): InstanceSpec {
  return { instanceId: randomUUID(), labels: {}, image: TEST_IMAGE, command: ['serve'], ports: [8000], cpu: 1, memoryBytes: 128 * 1024 * 1024, env: { PORT: '8000', GREETING: 'cold' } };
}

async function get(url: string, timeoutMs = 2000): Promise<string | undefined> {
  try { return await (await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })).text(); } catch { return undefined; }
}

test('docker freeze writes the container cgroup: the engine reads it running, runc refuses exec and pause, a thawed container pauses again through the engine', opts, async () => {
  await ensureTestImage();
  const rt = new DockerRuntime();
  const h = await rt.start(spec());
  try {
    const c0 = await inspect(h.runtimeId);
    if (!containerFreezer(c0.Id, c0.State.Pid)) return; // no reachable freezer here: the engine's pause is used (conformance covers it)
    const url = `http://${h.endpoints[0].host}:${h.endpoints[0].hostPort}/`;
    await until('serving', async () => (await get(url))?.includes('hello from pier cold'), 30_000, 50);
    await rt.freeze(h.runtimeId);
    assert.equal(await cgroupFrozen(h.runtimeId), true, 'the kernel holds it frozen');
    const frozen = await inspect(h.runtimeId);
    assert.deepEqual([frozen.State.Running, frozen.State.Paused], [true, false], 'the engine was not involved');
    await assert.rejects(rt.exec(h.runtimeId, { command: ['true'], tty: false }), (e: unknown) => e instanceof RuntimeError && e.code === 'conflict');
    // Straight to the engine: runc reads the same freezer, so the engine cannot stack a pause on it.
    await assert.rejects(engine.json('POST', `/containers/${h.runtimeId}/pause`));
    assert.equal(await get(url, 300), undefined, 'a frozen container answers nothing');
    await rt.thaw(h.runtimeId);
    assert.equal(await cgroupFrozen(h.runtimeId), false);
    assert.match((await get(url)) ?? '', /hello from pier cold/);
    // Nothing left behind for the engine: its own pause and unpause still work on the thawed container.
    await engine.json('POST', `/containers/${h.runtimeId}/pause`);
    assert.equal((await inspect(h.runtimeId)).State.Paused, true);
    await engine.json('POST', `/containers/${h.runtimeId}/unpause`);
    assert.equal((await inspect(h.runtimeId)).State.Paused, false);
  } finally {
    await rt.remove(h.runtimeId).catch(() => undefined);
  }
});

test('docker freeze after a control-plane restart: a new driver thaws what the old one froze, and stops a frozen container gracefully', opts, async () => {
  await ensureTestImage();
  const before = new DockerRuntime();
  const h = await before.start(spec());
  try {
    const url = `http://${h.endpoints[0].host}:${h.endpoints[0].hostPort}/`;
    await until('serving', async () => (await get(url))?.includes('hello from pier cold'), 30_000, 50);
    await before.freeze(h.runtimeId);
    const after = new DockerRuntime(); // the restarted control plane's driver: it knows nothing of the freeze
    await after.thaw(h.runtimeId);
    assert.equal(await cgroupFrozen(h.runtimeId), false);
    assert.match((await get(url)) ?? '', /hello from pier cold/);
    await before.freeze(h.runtimeId);
    // The stop signal reaches the app (it exits 0 on SIGTERM) instead of waiting out the grace for a kill (137).
    const t0 = Date.now();
    await new DockerRuntime().stop(h.runtimeId, 20_000);
    const stopped = await inspect(h.runtimeId);
    assert.equal(stopped.State.Running, false);
    assert.equal(stopped.State.ExitCode, 0, 'stopped by its SIGTERM handler, not killed');
    assert.ok(Date.now() - t0 < 15_000, 'the stop did not wait for the grace period');
  } finally {
    await before.remove(h.runtimeId).catch(() => undefined);
  }
});

test('docker thaw unpauses a container the engine paused (an operator, an earlier Pier); a frozen container is removed', opts, async () => {
  await ensureTestImage();
  const rt = new DockerRuntime();
  const h = await rt.start(spec());
  try {
    await engine.json('POST', `/containers/${h.runtimeId}/pause`);
    await rt.freeze(h.runtimeId); // already paused: nothing to do
    assert.equal((await inspect(h.runtimeId)).State.Paused, true);
    await rt.thaw(h.runtimeId);
    assert.equal((await inspect(h.runtimeId)).State.Paused, false, 'unpaused through the engine, so its state agrees');
    await rt.freeze(h.runtimeId);
    await rt.remove(h.runtimeId);
    assert.equal(await engine.jsonOrNull('GET', `/containers/${h.runtimeId}/json`), null);
  } finally {
    await rt.remove(h.runtimeId).catch(() => undefined);
  }
});

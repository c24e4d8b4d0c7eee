// Followers of real process-runtime instances (issue #26): they share one watch per instance, see new output through
// it, and still end when the supervisor is killed outright (no exit.json: only the shared safety poll can tell).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogLine } from '../contract.ts';
import { prepareTestAppDir } from '../testing/images.ts';
import { InstanceCgroup, detectCgroupLayout } from './cgroups.ts';
import { ProcessRuntime } from './driver.ts';
import { readRecord } from './state.ts';
import { instanceWatches } from './watch.ts';

const stateDir = mkdtempSync(join(tmpdir(), 'pier-follow-test-'));
const cgroupParent = `pier-follow-test-${process.pid}`;
const app = prepareTestAppDir();
const rt = new ProcessRuntime({ stateDir, cgroupParent, network: 'host' });

after(async () => {
  for (const h of await rt.recover()) await rt.remove(h.runtimeId).catch(() => undefined);
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(app.dir, { recursive: true, force: true });
  const layout = detectCgroupLayout();
  if (layout) try { new InstanceCgroup(layout, '', cgroupParent).destroy(); } catch { /* best effort */ }
});

async function start(args: string[]): Promise<string> {
  const h = await rt.start({ instanceId: randomUUID(), labels: {}, appDir: app.dir, entrypoint: app.entrypoint, command: args, env: {}, ports: [], cpu: 0.5, memoryBytes: 64 << 20 });
  return h.runtimeId;
}

async function collect(it: AsyncIterable<LogLine>): Promise<string[]> {
  const out: string[] = [];
  for await (const l of it) out.push(l.line);
  return out;
}

test('two followers of one instance share one watch, both get every line, and the watch goes with them', async () => {
  const id = await start(['logs', '3', '0.3']);
  const before = instanceWatches.size;
  const a = collect(rt.logs(id, { follow: true, signal: AbortSignal.timeout(20_000) }));
  const b = collect(rt.logs(id, { follow: true, signal: AbortSignal.timeout(20_000) }));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(instanceWatches.size, before + 1, 'one watch for the instance, however many follow it');
  const expected = ['out 1', 'err 1', 'out 2', 'err 2', 'out 3', 'err 3'].sort();
  assert.deepEqual((await a).sort(), expected);
  assert.deepEqual((await b).sort(), expected);
  assert.equal(instanceWatches.size, before, 'followers that ended leave no watch behind');
  assert.equal((await rt.wait(id, AbortSignal.timeout(10_000))).exitCode, 0);
  await rt.remove(id);
});

test('a supervisor killed outright (no exit.json) still ends its followers and waiters, through the safety poll', async () => {
  const id = await start(['sleep']);
  const rec = readRecord(stateDir, id)!;
  const bound = AbortSignal.timeout(20_000);
  const follower = collect(rt.logs(id, { follow: true, signal: bound }));
  const waiter = rt.wait(id, AbortSignal.timeout(20_000));
  await new Promise((r) => setTimeout(r, 200));
  process.kill(rec.supervisorPid, 'SIGKILL');
  assert.deepEqual(await follower, ['sleeping']);
  assert.equal(bound.aborted, false, 'the follower ended on its own, before its 20 s bound');
  const exit = await waiter;
  assert.equal(exit.exitCode, null);
  assert.match(exit.error ?? '', /supervisor disappeared/);
  await rt.remove(id);
});

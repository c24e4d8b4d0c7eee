// Persistent volumes on the Swarm runtime (issue #20), on the real 3-node, 3-region lab (test/swarm/lab.ts): a volume
// is made on one node of its region by the helper container, an instance is pinned to that node and writes to it, a
// replacement instance reads the data back on the same node, writes past the size fail with ENOSPC, the record
// survives a new driver object (a Pier restart) and a lost mount (a node reboot), and delete removes it. Then node
// loss: a volume whose node is down is never mounted elsewhere; mount() says which node it waits for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { InstanceSpec } from '../../src/runtime/contract.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { RuntimeError } from '../../src/runtime/errors.ts';
import { SwarmRuntime } from '../../src/runtime/swarm/driver.ts';
import { SwarmVolumeDriver } from '../../src/runtime/swarm/volumes.ts';
import { isMountPoint } from '../../src/runtime/volumes/local.ts';
import { startSwarmLab, type SwarmLab } from './lab.ts';

const MiB = 1024 * 1024;
const canRun = process.getuid?.() === 0 && existsSync('/usr/bin/docker-registry') && existsSync('/usr/sbin/mke2fs')
  && await new DockerEngine().ping(3000).then(() => true, () => false);
const skip = canRun ? false : 'needs root, docker-registry, e2fsprogs and a Docker engine for the test image (scripts/setup-host.sh --tests)';

let lab: SwarmLab;
const scope = `swarm-vol-${randomUUID().slice(0, 8)}`;

before(async () => { if (!skip) lab = await startSwarmLab(); }, { timeout: 120_000 });
after(async () => { await lab?.close(); }, { timeout: 60_000 });

const sockets = () => Object.fromEntries(lab.nodes.map((n) => [n.addr, n.socket]));
const volumes = () => new SwarmVolumeDriver({ socketPath: lab.managerSocket, registry: lab.registry, nodeSockets: sockets(), scope });
const runtime = () => new SwarmRuntime({ socketPath: lab.managerSocket, scope, registry: lab.registry, stopGraceMs: 1000, nodeSockets: sockets() });

function spec(script: string, region: string, vol: { volumeId: string; hostPath: string }): InstanceSpec {
  return {
    instanceId: randomUUID(), image: lab.testImage, entrypoint: ['sh', '-c', script], ports: [], cpu: 0.5, memoryBytes: 64 * MiB,
    labels: { region }, env: {}, volumes: [{ volumeId: vol.volumeId, hostPath: vol.hostPath, path: '/data' }],
  };
}

/** The lab node a service's task runs on. */
async function nodeOf(serviceId: string): Promise<string> {
  const m = new DockerEngine(lab.managerSocket);
  const tasks = await m.json<Array<{ NodeID: string }>>('GET', '/tasks', { query: { filters: JSON.stringify({ service: [serviceId] }) } });
  const n = await m.json<{ Spec: { Labels: Record<string, string> } }>('GET', `/nodes/${tasks[0]!.NodeID}`);
  return lab.nodes.find((x) => x.region === n.Spec.Labels['dev.pier.region'])!.name;
}

/** The instance's log lines once `done` matches one (bounded: 60 polls). */
async function logsUntil(rt: SwarmRuntime, id: string, done: RegExp): Promise<string> {
  let text = '';
  for (let i = 0; i < 60; i++) {
    const lines: string[] = [];
    for await (const l of rt.logs(id, { follow: false })) lines.push(l.line);
    text = lines.join('\n');
    if (done.test(text)) return text;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`instance ${id} never logged ${done}: ${text}`);
}

test('a volume lives on one node of its region; instances are placed there, keep its data, hit ENOSPC at its size', { skip, timeout: 240_000 }, async () => {
  const d = volumes();
  assert.equal(await d.unavailable(), null);
  const id = randomUUID();
  const t0 = Date.now();
  const info = await d.create(id, 32 * MiB, { region: 'was' });
  const createMs = Date.now() - t0;
  const was = lab.nodes.find((n) => n.region === 'was')!;
  assert.ok(info.hostPath.startsWith(`${was.dir}/`), `the volume is on the was node's disk: ${info.hostPath}`);
  assert.ok(info.node, 'the node is reported');
  assert.ok(isMountPoint(info.hostPath), 'loop-mounted where the node resolves bind sources');
  assert.equal(info.sizeBytes, 32 * MiB);
  assert.deepEqual((await d.create(id, 32 * MiB, { region: 'was' })).hostPath, info.hostPath, 'a repeated create is the same volume');
  await assert.rejects(d.create(id, 64 * MiB, { region: 'was' }), (e) => e instanceof RuntimeError && e.code === 'conflict');
  await assert.rejects(d.create(randomUUID(), 32 * MiB, { region: 'nowhere' }), (e) => e instanceof RuntimeError && e.code === 'unavailable' && /region nowhere/.test(e.message));
  assert.ok((await d.list()).volumes.includes(id));

  const rt = runtime();
  const first = await rt.start(spec('echo written-by-first > /data/greeting && sync && echo wrote && sleep 3600', 'was', info));
  assert.equal(await nodeOf(first.runtimeId), was.name, 'the instance runs on the volume\'s node');
  await logsUntil(rt, first.runtimeId, /wrote/);
  assert.equal(readFileSync(`${info.hostPath}/greeting`, 'utf8'), 'written-by-first\n', 'the write landed in the volume');
  await rt.stop(first.runtimeId, 1000);
  await rt.remove(first.runtimeId);

  // A restart of Pier (a new driver object) and a reboot of the node (its mount gone) lose nothing.
  execFileSync('umount', [info.hostPath]);
  const again = await volumes().mount(id);
  assert.equal(again.hostPath, info.hostPath);
  assert.equal(again.node, info.node);
  assert.ok(isMountPoint(info.hostPath), 'mount() mounted it again');

  const second = await rt.start(spec('cat /data/greeting; dd if=/dev/zero of=/data/big bs=1M count=64; echo "dd-exit=$?"; sleep 3600', 'was', again));
  assert.equal(await nodeOf(second.runtimeId), was.name);
  const out = await logsUntil(rt, second.runtimeId, /dd-exit=\d+/);
  assert.match(out, /written-by-first/, 'the replacement reads the first instance\'s data');
  assert.match(out, /No space left on device/);
  assert.match(out, /dd-exit=1/);
  await rt.stop(second.runtimeId, 1000);
  await rt.remove(second.runtimeId);
  const full = await volumes().mount(id);
  assert.ok(full.usedBytes > 28 * MiB, `the volume reads as (nearly) full: ${full.usedBytes}`);

  const t1 = Date.now();
  await d.remove(id);
  const removeMs = Date.now() - t1;
  await d.remove(id); // idempotent
  assert.equal(await d.inspect(id), null);
  assert.ok(!isMountPoint(info.hostPath) && !existsSync(info.hostPath.replace(`/mnt/${id}`, `/${id}.ext4`)), 'image and mount are gone');
  console.log(`swarm volume: create (first, helper image pushed and pulled) ${createMs} ms, remove ${removeMs} ms`);
});

test('node loss: a volume whose node is down waits for it (mount refuses naming it) and no instance runs elsewhere', { skip, timeout: 120_000 }, async () => {
  const d = volumes();
  const id = randomUUID();
  const info = await d.create(id, 16 * MiB, { region: 'sin' });
  const sin = lab.nodes.find((n) => n.region === 'sin')!;
  await lab.killNode(sin.name);
  let err: unknown;
  for (let i = 0; i < 120; i++) {
    err = await d.mount(id).then(() => undefined, (e: unknown) => e);
    if (err instanceof RuntimeError && /which is down/.test(err.message)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(err instanceof RuntimeError && err.code === 'unavailable', String(err));
  assert.match(err.message, new RegExp(`volume ${id} lives on node sin-${sin.name} \\(region sin\\), which is down.*never recreated on another node`));
  const info2 = await volumes().inspect(id);
  assert.equal(info2?.node, info.node, 'the record still names the lost node');
  await assert.rejects(runtime().start(spec('sleep 3600', 'sin', info)), (e) => e instanceof RuntimeError && e.code === 'unavailable', 'the instance cannot be placed anywhere else');
});

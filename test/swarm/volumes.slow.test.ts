// Persistent volumes on the Swarm runtime (issue #20), on the real 3-node, 3-region lab (test/swarm/lab.ts): a volume
// is made on one node of its region by the helper container, an instance is pinned to that node and writes to it, a
// replacement instance reads the data back on the same node, writes past the size fail with ENOSPC, the record
// survives a new driver object (a Pier restart) and a lost mount (a node reboot), and delete removes it. A whole Pier
// on the lab keeps a service's volume across a redeploy and, once the volume's node is lost, starts no workload for
// it anywhere else. Node loss at the driver: mount() refuses naming the node it waits for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { apiClient } from '../support/api-client.ts';
import { until } from '../support/until.ts';
import { edgeGet } from '../support/edge-get.ts';
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

test('a volume lives on one node of its region; instances are placed there, keep its data, hit ENOSPC at its size; snapshot and restore', { skip, timeout: 240_000 }, async () => {
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
  // A snapshot while the instance mounts the volume: frozen for the copy, kept on the same node.
  const sid = randomUUID();
  const snap = await d.snapshot(id, sid, { attached: true });
  assert.equal(snap.consistency, 'frozen');
  assert.equal(snap.sizeBytes, 32 * MiB);
  // dd wrote zeros, which the sparse copy stores as holes: the snapshot costs the metadata and the greeting.
  assert.ok(snap.storedBytes > 0 && snap.storedBytes <= 33 * MiB, `stored ${snap.storedBytes}`);
  assert.deepEqual(await volumes().inspectSnapshot(sid), snap, 'the record survives a new driver');
  assert.ok((await d.list()).snapshots.includes(sid));
  await rt.stop(second.runtimeId, 1000);
  await rt.remove(second.runtimeId);
  const full = await volumes().mount(id);
  assert.ok(full.usedBytes > 28 * MiB, `the volume reads as (nearly) full: ${full.usedBytes}`);

  // A restore, larger than its source, on the snapshot's node; it outlives its source and the snapshot.
  const copyId = randomUUID();
  await assert.rejects(d.create(randomUUID(), 16 * MiB, { region: 'was', fromSnapshotId: sid }), (e) => e instanceof RuntimeError && e.code === 'invalid_spec');
  await assert.rejects(d.create(randomUUID(), 32 * MiB, { region: 'sin', fromSnapshotId: sid }), (e) => e instanceof RuntimeError && e.code === 'invalid_spec');
  const copy = await d.create(copyId, 64 * MiB, { region: 'was', fromSnapshotId: sid });
  assert.equal(copy.node, info.node);
  assert.ok(copy.usedBytes < 48 * MiB, `the restored filesystem was grown to 64 MiB: ${copy.usedBytes} used`);

  const t1 = Date.now();
  await d.remove(id);
  const removeMs = Date.now() - t1;
  await d.remove(id); // idempotent
  assert.equal(await d.inspect(id), null);
  assert.ok(!isMountPoint(info.hostPath) && !existsSync(info.hostPath.replace(`/mnt/${id}`, `/${id}.ext4`)), 'image and mount are gone');
  await d.removeSnapshot(sid);
  await d.removeSnapshot(sid);
  assert.equal(await d.inspectSnapshot(sid), null);
  assert.equal(readFileSync(`${copy.hostPath}/greeting`, 'utf8'), 'written-by-first\n', 'the restored volume keeps the data after its source and snapshot are gone');
  await d.remove(copyId);
  assert.deepEqual((await d.list()).snapshots.filter((x) => x === sid), []);
  console.log(`swarm volume: create (first, helper image pushed and pulled) ${createMs} ms, remove ${removeMs} ms`);
});

test('pier on swarm: a service keeps its volume across a redeploy; after its node is lost nothing starts elsewhere', { skip, timeout: 240_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-swarm-vol-'));
  const token = `tok-${randomUUID()}`;
  const env = {
    ...process.env, PIER_TOKEN: token, PIER_SWARM_HOST: `unix://${lab.managerSocket}`, PIER_SWARM_REGISTRY: lab.registry, PIER_SWARM_STOP_GRACE_MS: '1000',
    PIER_SWARM_NODE_SOCKETS: lab.nodes.map((n) => `${n.addr}=${n.socket}`).join(','),
  };
  const config = loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', runtime: 'swarm' }, env);
  const pier = await startPier(config, { log: () => {} });
  try {
    const api = apiClient(pier.apiUrl, token);
    const edgeUrl = (await api('GET', '/v1/pier/info')).body.edge_url as string;
    const host = `vols-${config.orgName}.${config.domain}`;
    const volume = async (id: string) => (await api('GET', `/v1/volumes/${id}`)).body.volume;
    const created = await api('POST', '/v1/volumes', { name: 'data', region: 'sin', max_size: 1, volume_type: 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const volumeId = created.body.volume.id as string;
    await until('the volume made', async () => /^Ready/.test((await volume(volumeId)).messages[0] ?? ''), 60_000, 250);
    const sin = lab.nodes.find((n) => n.region === 'sin')!;
    const made = await volumes().inspect(volumeId);
    assert.ok(made?.hostPath.startsWith(`${sin.dir}/`), `made on the sin node: ${made?.hostPath}`);

    const app = (await api('POST', '/v1/apps', { name: 'vols' })).body.app;
    const definition = (greeting: string) => ({
      name: 'db', type: 'WEB', docker: { image: lab.testImage, entrypoint: ['/bin/sh', '-c'], command: 'echo "boot $GREETING" >> /data/boots && exec busybox httpd -f -p "$PORT" -h /data' },
      env: [{ key: 'GREETING', value: greeting }], ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }],
      regions: ['sin'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }], volumes: [{ id: volumeId, path: '/data' }],
    });
    const svc = await api('POST', '/v1/services', { app_id: app.id, definition: definition('v1') });
    assert.equal(svc.status, 200, JSON.stringify(svc.body));
    const serviceId = svc.body.service.id as string;
    const healthy = (notIds: string[] = []) => until('the latest deployment HEALTHY', async () => {
      const s = (await api('GET', `/v1/services/${serviceId}`)).body.service;
      const d = (await api('GET', `/v1/deployments/${s.latest_deployment_id}`)).body.deployment;
      if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}`);
      return !notIds.includes(d.id) && d.status === 'HEALTHY' && s.active_deployment_id === d.id ? d : undefined;
    }, 90_000, 250);
    const boots = (n: number) => until(`${n} boots served`, async () => {
      const r = await edgeGet(edgeUrl, host, '/boots');
      const b = r.status === 200 ? r.body.trim().split('\n') : [];
      return b.length === n ? b : undefined;
    }, 30_000, 250);
    const first = await healthy();
    assert.deepEqual(await boots(1), ['boot v1']);
    assert.equal((await api('PUT', `/v1/services/${serviceId}`, { definition: definition('v2') })).status, 200);
    await healthy([first.id]);
    assert.deepEqual(await boots(2), ['boot v1', 'boot v2'], 'the redeployed instance found the first one\'s data on the same node');

    // Node loss: the instance is lost (as any instance on a lost node), and no replacement workload starts anywhere
    // while the node is down: each pass, mounting its volume is refused naming the node (the driver's test below).
    const before = (await api('GET', `/v1/instances?service_id=${serviceId}&statuses=HEALTHY`)).body.instances as Array<{ id: string; allocation_id: string }>;
    assert.equal(before.length, 1);
    await lab.killNode(sin.name);
    const lost = await until('the instance reported lost', async () => {
      const i = (await api('GET', `/v1/instances/${before[0]!.id}`)).body.instance as { status: string; allocation_id: string; messages: string[] };
      return /Instance lost/.test(i.messages.join(' ')) ? i : undefined;
    }, 60_000, 250);
    assert.match(lost.messages.join(' '), new RegExp(`Instance lost: node sin-${sin.name} \\(region sin\\) is (unreachable|down|unknown|disconnected)`));
    await new Promise((r) => setTimeout(r, 5000));
    const all = (await api('GET', `/v1/instances?service_id=${serviceId}&limit=20`)).body.instances as Array<{ id: string; status: string; allocation_id: string }>;
    assert.ok(all.every((i) => i.status !== 'HEALTHY' && i.status !== 'STARTING'), JSON.stringify(all));
    assert.equal(all.find((i) => i.id === before[0]!.id)?.allocation_id, before[0]!.allocation_id, 'no new workload was started for it');
    await assert.rejects(volumes().mount(volumeId), new RegExp(`volume ${volumeId} lives on node sin-${sin.name} \\(region sin\\), which is (down|unreachable)`));
  } finally {
    await pier.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('node loss: a volume whose node is down waits for it (mount refuses naming it) and no instance runs elsewhere', { skip, timeout: 120_000 }, async () => {
  const d = volumes();
  const id = randomUUID();
  const info = await d.create(id, 16 * MiB, { region: 'was' });
  const was = lab.nodes.find((n) => n.region === 'was')!;
  await lab.killNode(was.name);
  let err: unknown;
  for (let i = 0; i < 120; i++) {
    err = await d.mount(id).then(() => undefined, (e: unknown) => e);
    if (err instanceof RuntimeError && /which is down/.test(err.message)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.ok(err instanceof RuntimeError && err.code === 'unavailable', String(err));
  assert.match(err.message, new RegExp(`volume ${id} lives on node was-${was.name} \\(region was\\), which is down.*never recreated on another node`));
  const info2 = await volumes().inspect(id);
  assert.equal(info2?.node, info.node, 'the record still names the lost node');
  await assert.rejects(runtime().start(spec('sleep 3600', 'was', info)), (e) => e instanceof RuntimeError && e.code === 'unavailable', 'the instance cannot be placed anywhere else');
});

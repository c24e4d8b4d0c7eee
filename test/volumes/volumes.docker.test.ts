// Persistent volumes end to end (issue #20) on a whole Pier with the Docker runtime and the real volume driver: an
// app appends one line to its volume at every start and serves the volume over HTTP. Its data survives a redeploy,
// a rollback, a failed rollout (the old instance stops first and comes back), pause/resume, kill -9 of the instance
// and a restart of Pier; a full volume gives ENOSPC inside the instance and the volume says it is full; deleting an
// attached volume is 409 naming the service; a snapshot restored into a new volume has the data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startPier, type PierHandle } from '../../src/main.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';
import { ensureTestImage } from '../../src/runtime/testing/images.ts';
import { LocalVolumeDriver } from '../../src/runtime/volumes/index.ts';
import { apiClient } from '../support/api-client.ts';
import { edgeGet } from '../support/edge-get.ts';
import { until } from '../support/until.ts';
import { dockerPierConfig } from './harness.ts';

const engine = new DockerEngine();
const skip = process.getuid?.() !== 0 ? 'needs root (loop devices)'
  : await engine.ping(3000).then(() => undefined, (err: Error) => `no Docker engine: ${err.message}`);

/** Appends "boot <GREETING>" to /data/boots, then serves /data on $PORT. */
const SERVE = 'echo "boot $GREETING" >> /data/boots && exec busybox httpd -f -p "$PORT" -h /data';

test('a volume keeps its data through redeploy, rollback, failed rollout, pause, kill -9 and a Pier restart', { skip, timeout: 240_000 }, async (t) => {
  const image = await ensureTestImage();
  const token = 'volumes-test-token-0123456789abcdef';
  const { dataDir, config } = dockerPierConfig('pier-volumes-', token);
  let pier: PierHandle = await startPier(config, { log: () => undefined });
  let api = apiClient(pier.apiUrl, token);
  let edgeUrl = (await api('GET', '/v1/pier/info')).body.edge_url as string;
  const host = `vols-${config.orgName}.${config.domain}`;
  const boots = async () => {
    const r = await edgeGet(edgeUrl, host, '/boots');
    return r.status === 200 ? r.body.trim().split('\n') : undefined;
  };
  const volume = async (id: string) => (await api('GET', `/v1/volumes/${id}`)).body.volume;
  try {
    // A volume: created DETACHED, made on the host, then "Ready".
    const created = await api('POST', '/v1/volumes', { name: 'data', region: 'was', max_size: 1, volume_type: 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const volumeId = created.body.volume.id as string;
    assert.equal(created.body.volume.status, 'PERSISTENT_VOLUME_STATUS_DETACHED');
    await until('the volume made', async () => /^Ready/.test((await volume(volumeId)).messages[0] ?? ''), 30_000);

    const app = (await api('POST', '/v1/apps', { name: 'vols' })).body.app;
    const definition = (greeting: string, command = SERVE) => ({
      name: 'db', type: 'WEB', docker: { image, entrypoint: ['/bin/sh', '-c'], command },
      env: [{ key: 'GREETING', value: greeting }], ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }],
      regions: ['was'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }], volumes: [{ id: volumeId, path: '/data' }],
    });
    // Two instances for one volume is refused, naming the field and the fix.
    const tooMany = await api('POST', '/v1/services', { app_id: app.id, definition: { ...definition('x'), scalings: [{ min: 1, max: 2 }] } });
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.fields[0].field, 'definition.scalings');
    assert.match(tooMany.body.fields[0].description, /set max to 1/);

    const svc = await api('POST', '/v1/services', { app_id: app.id, definition: definition('v1') });
    assert.equal(svc.status, 200, JSON.stringify(svc.body));
    const serviceId = svc.body.service.id as string;
    const healthy = (notIds: string[] = []) => until('the latest deployment HEALTHY and serving', async () => {
      const s = (await api('GET', `/v1/services/${serviceId}`)).body.service;
      const d = (await api('GET', `/v1/deployments/${s.latest_deployment_id}`)).body.deployment;
      if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}`);
      return !notIds.includes(d.id) && d.status === 'HEALTHY' && s.active_deployment_id === d.id && s.status === 'HEALTHY' ? d : undefined;
    }, 90_000, 250);
    const servedBoots = (n: number) => until(`${n} boots served`, async () => { const b = await boots(); return b && b.length === n ? b : undefined; }, 30_000, 250);
    const first = await healthy();
    assert.deepEqual(await servedBoots(1), ['boot v1']);
    const attached = await until('the volume ATTACHED', async () => { const v = await volume(volumeId); return v.status === 'PERSISTENT_VOLUME_STATUS_ATTACHED' ? v : undefined; }, 15_000);
    assert.equal(attached.service_id, serviceId);
    assert.match(attached.messages[0], /^Mounted at \/data by instance /);

    // Deleting it while the service names it: 409 naming the service.
    const refused = await api('DELETE', `/v1/volumes/${volumeId}`);
    assert.equal(refused.status, 409);
    assert.match(refused.body.message, /attached to service db/);

    // Redeploy: the old instance stops before the new one mounts the volume, and the deployment says so.
    assert.equal((await api('PUT', `/v1/services/${serviceId}`, { definition: definition('v2') })).status, 200);
    const second = await healthy([first.id]);
    assert.deepEqual(await servedBoots(2), ['boot v1', 'boot v2']);
    // Reported, never asserted: how long the service had no instance during the handover.
    const all = (await api('GET', `/v1/instances?service_id=${serviceId}&limit=20`)).body.instances as { xyz_deployment_id: string; started_at: string; succeeded_at: string; terminated_at: string; created_at: string }[];
    const oldI = all.find((i) => i.xyz_deployment_id === first.id)!;
    const newI = all.find((i) => i.xyz_deployment_id === second.id)!;
    const ms = (a: string, b: string) => Date.parse(b) - Date.parse(a);
    t.diagnostic(`rollout handover: old instance stopped ${oldI.terminated_at}, new started ${ms(oldI.terminated_at, newI.started_at)} ms later, healthy ${ms(oldI.terminated_at, newI.succeeded_at)} ms after the old one stopped`);
    const events = (await api('GET', `/v1/deployment_events?deployment_id=${second.id}&limit=100`)).body.events as { type: string; message: string }[];
    assert.ok(events.some((e) => e.type === 'deployment_waiting_volumes' && /Stopping the previous deployment .* first/.test(e.message)), JSON.stringify(events.map((e) => e.type)));

    // Rollback to the first deployment's definition.
    assert.equal((await api('POST', `/v1/services/${serviceId}/redeploy`, { deployment_id: first.id })).status, 200);
    const third = await healthy([first.id, second.id]);
    assert.deepEqual(await servedBoots(3), ['boot v1', 'boot v2', 'boot v1']);

    // Pause and resume.
    assert.equal((await api('POST', `/v1/services/${serviceId}/pause`)).status, 200);
    await until('PAUSED', async () => (await api('GET', `/v1/services/${serviceId}`)).body.service.status === 'PAUSED', 60_000, 250);
    await until('the volume DETACHED', async () => (await volume(volumeId)).status === 'PERSISTENT_VOLUME_STATUS_DETACHED', 15_000);
    assert.equal((await api('POST', `/v1/services/${serviceId}/resume`)).status, 200);
    const resumed = await healthy([first.id, second.id, third.id]);
    assert.deepEqual(await servedBoots(4), ['boot v1', 'boot v2', 'boot v1', 'boot v1']);

    // A rollout that cannot start: the old instance stopped for it, and starts again on the same volume.
    assert.equal((await api('PUT', `/v1/services/${serviceId}`, { definition: { ...definition('bad'), docker: { image, entrypoint: ['/no/such/binary'] } } })).status, 200);
    await until('the broken deployment in ERROR', async () => {
      const s = (await api('GET', `/v1/services/${serviceId}`)).body.service;
      return s.latest_deployment_id !== resumed.id && (await api('GET', `/v1/deployments/${s.latest_deployment_id}`)).body.deployment.status === 'ERROR';
    }, 60_000, 250);
    assert.deepEqual(await servedBoots(5), ['boot v1', 'boot v2', 'boot v1', 'boot v1', 'boot v1'], 'the previous deployment came back');
    assert.equal((await api('GET', `/v1/services/${serviceId}`)).body.service.active_deployment_id, resumed.id);
    const back = (await api('GET', `/v1/deployment_events?deployment_id=${resumed.id}&limit=100`)).body.events as { type: string; message: string }[];
    assert.ok(back.some((e) => e.type === 'deployment_restarting_after_failed_rollout' && /failed, so this deployment starts again on its volumes/.test(e.message)), JSON.stringify(back.map((e) => e.type)));

    // kill -9 of the instance: it restarts on the same data.
    const running = async () => ((await api('GET', `/v1/instances?service_id=${serviceId}&statuses=HEALTHY`)).body.instances ?? [])[0];
    const inst = await until('a HEALTHY instance', running, 30_000);
    execFileSync('docker', ['kill', '--signal', 'KILL', inst.allocation_id]);
    assert.deepEqual((await servedBoots(6)).slice(0, 5), ['boot v1', 'boot v2', 'boot v1', 'boot v1', 'boot v1']);

    // Pier restarts (its instances keep running): the data and the volume's state are there.
    await pier.close();
    pier = await startPier(config, { log: () => undefined });
    api = apiClient(pier.apiUrl, token);
    edgeUrl = (await api('GET', '/v1/pier/info')).body.edge_url as string;
    assert.equal((await servedBoots(6)).length, 6);
    await until('ATTACHED after the restart', async () => (await volume(volumeId)).status === 'PERSISTENT_VOLUME_STATUS_ATTACHED', 15_000);

    // Filling it: ENOSPC inside the instance, and the volume says it is full (also on /metrics).
    const holder = await until('a HEALTHY instance', running, 30_000);
    // Asynchronously: Pier runs in this process and must go on reconciling while dd writes.
    const fill = await new Promise<string>((resolve) => {
      execFile('docker', ['exec', holder.allocation_id, 'dd', 'if=/dev/zero', 'of=/data/fill', 'bs=1M'], (err, _out, stderr) => resolve(err ? String(stderr) : 'no error'));
    });
    assert.match(fill, /No space left on device/);
    const full = await until('the volume says full', async () => {
      const v = await volume(volumeId);
      if (!/^Volume is full/.test(v.messages[0] ?? '')) throw new Error(`${v.status} ${v.used_bytes}/${v.total_bytes}: ${v.messages[0]}`);
      return v;
    }, 15_000);
    assert.ok(full.used_bytes > 0.9 * full.total_bytes, JSON.stringify(full));
    const metrics = await (await fetch(`${pier.apiUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    assert.match(metrics, new RegExp(`pier_volume_full\\{volume_id="${volumeId}".*\\} 1`));
    execFileSync('docker', ['exec', holder.allocation_id, 'rm', '/data/fill']);
    await until('no longer full', async () => /^Mounted at/.test((await volume(volumeId)).messages[0] ?? ''), 15_000);

    // A snapshot (taken frozen: an instance mounts the volume), restored into a new volume with the data.
    const snap = await api('POST', '/v1/snapshots', { name: 'nightly', parent_volume_id: volumeId });
    assert.equal(snap.status, 200, JSON.stringify(snap.body));
    const available = await until('the snapshot AVAILABLE', async () => {
      const s = (await api('GET', `/v1/snapshots/${snap.body.snapshot.id}`)).body.snapshot;
      return s.status === 'SNAPSHOT_STATUS_AVAILABLE' ? s : undefined;
    }, 60_000, 250);
    assert.match(available.messages[0], /frozen filesystem/);
    const copy = await api('POST', '/v1/volumes', { name: 'copy', region: 'was', snapshot_id: available.id });
    assert.equal(copy.status, 200, JSON.stringify(copy.body));
    assert.equal(copy.body.volume.max_size, 1);
    await until('the copy made', async () => /^Ready/.test((await volume(copy.body.volume.id)).messages[0] ?? ''), 30_000);
    const copyInfo = await new LocalVolumeDriver({ dataDir }).inspect(copy.body.volume.id);
    assert.ok(copyInfo);
    assert.deepEqual(readFileSync(join(copyInfo.hostPath, 'boots'), 'utf8').trim().split('\n').length, 6);
    const volEvents = (await api('GET', `/v1/volume_events?persistent_volume_id=${volumeId}&limit=100`)).body.events as { type: string; persistent_volume_id: string }[];
    assert.ok(volEvents.some((e) => e.type === 'volume_full') && volEvents.every((e) => e.persistent_volume_id === volumeId), JSON.stringify(volEvents.map((e) => e.type)));

    // Delete the service, then the volumes: DELETED, and their filesystems are gone from the host.
    assert.equal((await api('DELETE', `/v1/services/${serviceId}`)).status, 200);
    await until('the service DELETED', async () => (await api('GET', `/v1/services/${serviceId}`)).body.service.status === 'DELETED', 60_000, 250);
    for (const id of [volumeId, copy.body.volume.id as string]) {
      const del = await api('DELETE', `/v1/volumes/${id}`);
      assert.equal(del.status, 200, JSON.stringify(del.body));
    }
    await until('both volumes gone', async () => (await api('GET', '/v1/volumes')).body.volumes.length === 0, 30_000, 250);
    assert.equal(await new LocalVolumeDriver({ dataDir }).inspect(volumeId), null);
    assert.equal((await api('DELETE', `/v1/snapshots/${available.id}`)).status, 200);
    await until('the snapshot gone', async () => (await api('GET', '/v1/snapshots')).body.snapshots.length === 0, 30_000, 250);
  } finally {
    await pier.close().catch(() => undefined);
    await removeInstallationWorkloads(dataDir).catch(() => undefined);
    await new LocalVolumeDriver({ dataDir }).unmountAll().catch(() => undefined);
    if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
  }
});

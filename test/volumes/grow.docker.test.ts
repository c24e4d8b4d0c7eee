// Growing a volume end to end (issue #20) on a whole Pier with the Docker runtime and the real volume driver: a
// service mounts a 1 GB volume and records `df` of it at every start; POST /v1/volumes/{id} {max_size: 2} grows it.
// With CAP_SYS_RESOURCE the filesystem grows online while the instance runs; without it (this development machine's
// container) the volume says why it cannot grow while mounted and grows as soon as the instance stops (a pause).
// Either way the data is kept and the instance then sees 2 GB.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startPier } from '../../src/main.ts';
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

/** Appends a boot line and the volume's size in KiB (df) to /data, then serves /data on $PORT. */
const SERVE = 'echo boot >> /data/boots && df -k /data | tail -n 1 | awk \'{print $2}\' >> /data/sizes && exec busybox httpd -f -p "$PORT" -h /data';

/** CAP_SYS_RESOURCE in this process: what an online ext4 resize needs. */
function canGrowOnline(): boolean {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return (BigInt(`0x${hex}`) & (1n << 24n)) !== 0n;
}

test('a volume grows through the API: data kept, the instance sees the new size', { skip, timeout: 180_000 }, async (t) => {
  const image = await ensureTestImage();
  const token = 'volume-grow-test-token-0123456789abcdef';
  const { dataDir, config } = dockerPierConfig('pier-volume-grow-', token);
  const pier = await startPier(config, { log: () => undefined });
  const api = apiClient(pier.apiUrl, token);
  const edgeUrl = (await api('GET', '/v1/pier/info')).body.edge_url as string;
  const host = `grow-${config.orgName}.${config.domain}`;
  const served = async (file: string) => {
    const r = await edgeGet(edgeUrl, host, `/${file}`);
    return r.status === 200 ? r.body.trim().split('\n') : undefined;
  };
  const volume = async (id: string) => (await api('GET', `/v1/volumes/${id}`)).body.volume;
  try {
    const created = await api('POST', '/v1/volumes', { name: 'data', region: 'was', max_size: 1, volume_type: 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK' });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const volumeId = created.body.volume.id as string;
    await until('the volume made', async () => /^Ready/.test((await volume(volumeId)).messages[0] ?? ''), 30_000, 250);
    const app = (await api('POST', '/v1/apps', { name: 'grow' })).body.app;
    const svc = await api('POST', '/v1/services', { app_id: app.id, definition: {
      name: 'db', type: 'WEB', docker: { image, entrypoint: ['/bin/sh', '-c'], command: SERVE },
      ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }],
      regions: ['was'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }], volumes: [{ id: volumeId, path: '/data' }],
    } });
    assert.equal(svc.status, 200, JSON.stringify(svc.body));
    const serviceId = svc.body.service.id as string;
    const sizes = (n: number) => until(`${n} sizes served`, async () => { const s = await served('sizes'); return s && s.length === n ? s.map(Number) : undefined; }, 90_000, 250);
    const [before] = await sizes(1);
    assert.ok(before! > 0.8e6 && before! < 1e6, `df in the instance: ${before} KiB for 1 GB`);
    await until('ATTACHED', async () => (await volume(volumeId)).status === 'PERSISTENT_VOLUME_STATUS_ATTACHED', 15_000, 250);

    const grown = await api('POST', `/v1/volumes/${volumeId}`, { max_size: 2 });
    assert.equal(grown.status, 200, JSON.stringify(grown.body));
    assert.equal(grown.body.volume.max_size, 2);
    const shrink = await api('POST', `/v1/volumes/${volumeId}`, { max_size: 1 });
    assert.equal(shrink.status, 400, 'shrinking is refused by the API');
    const started = Date.now();
    if (canGrowOnline()) {
      await until('grown online', async () => (await volume(volumeId)).total_bytes === 2e9, 30_000, 250);
      t.diagnostic(`grown online in ${Date.now() - started} ms while the instance ran`);
    } else {
      const refused = await until('the volume says why it cannot grow while mounted', async () => {
        const v = await volume(volumeId);
        return /Cannot grow it to 2 GB: .*while an instance mounts it.*CAP_SYS_RESOURCE/.test(v.messages[0] ?? '') ? v : undefined;
      }, 30_000, 250);
      assert.equal(refused.status, 'PERSISTENT_VOLUME_STATUS_ATTACHED');
      assert.equal(refused.total_bytes, 1e9, 'it keeps its size meanwhile');
      assert.equal((await api('POST', `/v1/services/${serviceId}/pause`)).status, 200);
      await until('grown once no instance mounts it', async () => (await volume(volumeId)).total_bytes === 2e9, 60_000, 250);
      t.diagnostic(`no CAP_SYS_RESOURCE: grown ${Date.now() - started} ms after the request, once the pause stopped the instance`);
      assert.equal((await api('POST', `/v1/services/${serviceId}/resume`)).status, 200);
    }
    const events = (await api('GET', `/v1/volume_events?persistent_volume_id=${volumeId}&limit=100`)).body;
    const list = (events.events ?? events.volume_events ?? []) as { type: string; message: string }[];
    assert.ok(list.some((e) => e.type === 'volume_resized' && /grown from 1 GB to 2 GB/.test(e.message)), JSON.stringify(list.map((e) => e.type)));
    const v = await volume(volumeId);
    assert.ok(!/Cannot grow|Growing/.test(v.messages.join(' ')), v.messages.join(' '));
    assert.equal((await new LocalVolumeDriver({ dataDir }).inspect(volumeId))?.sizeBytes, 2e9);

    // The instance (the same one online, a restarted one after the pause) sees the new size; earlier data is kept.
    const after = canGrowOnline() ? undefined : await sizes(2);
    if (after) {
      assert.ok(after[1]! > 1.8e6 && after[1]! < 2e6, `df in the instance after the grow: ${after[1]} KiB for 2 GB`);
      assert.deepEqual(await served('boots'), ['boot', 'boot'], 'the first boot line is kept');
    }
  } finally {
    await pier.close().catch(() => undefined);
    await removeInstallationWorkloads(dataDir).catch(() => undefined);
    await new LocalVolumeDriver({ dataDir }).unmountAll().catch(() => undefined);
    if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APP_ID, CREATED, DEP2_ID, SVC_ID, deployment, lookupRoutes, run, service, startFakeApi } from './harness.ts';

const VOL_ID = '55555555-eeee-4eee-8eee-000000000005';
const SNAP_ID = '66666666-ffff-4fff-8fff-000000000006';
const VOLUME = {
  id: VOL_ID, name: 'data', region: 'was', status: 'PERSISTENT_VOLUME_STATUS_DETACHED', max_size: 1, cur_size: 0, used_bytes: 0,
  total_bytes: 1e9, service_id: '', snapshot_id: '', messages: ['Ready: 1 GB, no instance mounts it.'], created_at: CREATED,
};
const SNAPSHOT = { id: SNAP_ID, name: 'nightly', region: 'was', status: 'SNAPSHOT_STATUS_AVAILABLE', size: 1, parent_volume_id: VOL_ID, created_at: CREATED };

test('volumes create/list/get/update/delete and snapshots create/delete send koyeb\'s bodies, names resolved to ids', async () => {
  const api = await startFakeApi({
    'GET /v1/volumes': { body: { volumes: [VOLUME], limit: 100, offset: 0, count: 1 } },
    'POST /v1/volumes': { body: { volume: VOLUME } },
    [`GET /v1/volumes/${VOL_ID}`]: { body: { volume: VOLUME } },
    [`POST /v1/volumes/${VOL_ID}`]: { body: { volume: { ...VOLUME, max_size: 2 } } },
    [`DELETE /v1/volumes/${VOL_ID}`]: { body: { volume: { ...VOLUME, status: 'PERSISTENT_VOLUME_STATUS_DELETING' } } },
    'GET /v1/snapshots': { body: { snapshots: [SNAPSHOT], limit: 100, offset: 0, count: 1 } },
    'POST /v1/snapshots': { body: { snapshot: SNAPSHOT } },
    [`DELETE /v1/snapshots/${SNAP_ID}`]: { body: { snapshot: SNAPSHOT } },
  });
  try {
    const created = await run(api, ['volumes', 'create', 'data', '--region', 'was', '--size', '1']);
    assert.equal(created.code, 0, created.stderr);
    assert.deepEqual(api.requests[0]!.body, { name: 'data', region: 'was', volume_type: 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK', max_size: 1 });
    assert.match(created.stdout, /data\s+was\s+DETACHED\s+1 GB/);
    const restored = await run(api, ['vol', 'create', 'copy', '--snapshot', 'nightly']);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(api.requests.at(-1)!.body, { name: 'copy', region: 'was', volume_type: 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK', snapshot_id: SNAP_ID });
    assert.equal((await run(api, ['volumes', 'list'])).code, 0);
    const got = await run(api, ['volumes', 'get', 'data']);
    assert.match(got.stdout, /Messages:\s+Ready: 1 GB/);
    assert.equal((await run(api, ['volumes', 'update', 'data', '--size', '2'])).code, 0);
    assert.deepEqual(api.requests.at(-1)!.body, { max_size: 2 });
    assert.equal((await run(api, ['snapshots', 'create', 'nightly', 'data'])).code, 0);
    assert.deepEqual(api.requests.at(-1)!.body, { name: 'nightly', parent_volume_id: VOL_ID });
    assert.equal((await run(api, ['snapshots', 'delete', 'nightly'])).code, 0);
    assert.equal(api.lines().at(-1), `DELETE /v1/snapshots/${SNAP_ID}`);
    const deleted = await run(api, ['volumes', 'delete', 'data']);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal(api.lines().at(-1), `DELETE /v1/volumes/${VOL_ID}`);
  } finally {
    await api.close();
  }
});

test('services update --volumes NAME:/path mounts the volume by id; \'!NAME\' removes it; a bad value sends nothing', async () => {
  const withVolume = deployment();
  (withVolume as { definition: Record<string, unknown> }).definition.volumes = [{ id: VOL_ID, path: '/old' }];
  const api = await startFakeApi({
    ...lookupRoutes(),
    'GET /v1/volumes': { body: { volumes: [VOLUME], limit: 100, offset: 0, count: 1 } },
    'GET /v1/deployments': { body: { deployments: [withVolume], limit: 1, offset: 0, count: 1 } },
    [`PUT /v1/services/${SVC_ID}`]: { body: { service: service({ latest_deployment_id: DEP2_ID }) } },
    [`GET /v1/apps/${APP_ID}`]: { body: { app: { id: APP_ID, name: 'shop', domains: [] } } },
  });
  try {
    const r = await run(api, ['services', 'update', 'shop/web', '--volumes', 'data:/data']);
    assert.equal(r.code, 0, r.stderr);
    const puts = () => api.requests.filter((q) => q.method === 'PUT').map((q) => (q.body as { definition: { volumes: unknown[] } }).definition.volumes);
    assert.deepEqual(puts()[0], [{ id: VOL_ID, path: '/data' }], 'upserted by volume id');
    const removed = await run(api, ['services', 'update', 'shop/web', '--volumes', '!data']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(puts()[1], []);
    const bad = await run(api, ['services', 'update', 'shop/web', '--volumes', 'data']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /--volumes takes VOLUME:PATH/);
    assert.equal(puts().length, 2, 'the bad value sent nothing');
  } finally {
    await api.close();
  }
});

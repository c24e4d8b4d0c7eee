// The volume and snapshot API without a runtime (issue #20): Koyeb's bodies and envelopes, field-named errors, names
// unique per organization, another organization's volume a 404, the rules between a definition and its volumes, a 409
// naming the service for a volume in use, and manual scaling capped by the replica indexes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { insertSnapshot } from '../../src/store/volumes.ts';
import { startTestPier, createApp, createService, webDefinition, type TestPier } from './helpers.ts';

let t: TestPier;
before(async () => { t = await startTestPier(); });
after(async () => { await t.close(); });

test('volumes: create, list with filters, get, rename, grow only; errors name the field', async () => {
  const created = await t.req('POST', '/v1/volumes', { name: 'data', region: 'fra', max_size: 2 });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const v = created.body.volume;
  assert.deepEqual([v.status, v.backing_store, v.max_size, v.region, v.read_only, v.service_id, v.deleted_at],
    ['PERSISTENT_VOLUME_STATUS_DETACHED', 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK', 2, 'fra', false, '', null]);
  assert.deepEqual(v.messages, ['Creating the 2 GB filesystem.']);
  const list = await t.req('GET', '/v1/volumes?region=fra&limit=10');
  assert.deepEqual([list.body.volumes.length, list.body.count, list.body.limit, list.body.offset, list.body.has_next], [1, 1, 10, 0, false]);
  assert.equal((await t.req('GET', '/v1/volumes?region=was')).body.volumes.length, 0);
  assert.equal((await t.req('GET', '/v1/volumes?name=data')).body.volumes[0].id, v.id);
  const ro = await t.req('POST', '/v1/volumes', { name: 'frozen', region: 'fra', max_size: 1, read_only: true });
  assert.equal(ro.status, 200, JSON.stringify(ro.body));
  assert.equal(ro.body.volume.read_only, true);
  assert.equal((await t.req('GET', `/v1/volumes/${ro.body.volume.id}`)).body.volume.read_only, true);
  assert.equal((await t.req('DELETE', `/v1/volumes/${ro.body.volume.id}`)).status, 200);
  const dup = await t.req('POST', '/v1/volumes', { name: 'data', region: 'fra', max_size: 1 });
  assert.equal(dup.status, 409);
  const bad = await t.req('POST', '/v1/volumes', { name: 'Bad Name', region: 'mars', max_size: 0 });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.fields.map((f: { field: string }) => f.field), ['name', 'region', 'max_size']);
  assert.equal((await t.req('POST', `/v1/volumes/${v.id}`, { name: 'data2', max_size: 3 })).body.volume.name, 'data2');
  const shrink = await t.req('POST', `/v1/volumes/${v.id}`, { max_size: 1 });
  assert.equal(shrink.status, 400);
  assert.match(shrink.body.fields[0].description, /can only grow/);
  const events = await t.req('GET', `/v1/volume_events?persistent_volume_id=${v.id}`);
  assert.deepEqual(events.body.events.map((e: { type: string }) => e.type), ['volume_updated', 'volume_created']);
  assert.equal(events.body.events[0].persistent_volume_id, v.id);
  const other = await t.otherOrgToken();
  assert.equal((await t.req('GET', `/v1/volumes/${v.id}`, undefined, other)).status, 404);
  assert.equal((await t.req('GET', '/v1/volumes', undefined, other)).body.volumes.length, 0);
  assert.equal((await t.req('DELETE', `/v1/volumes/${v.id}`, undefined, other)).status, 404);
});

test('a definition naming volumes: region, existence, one service, max instances; delete in use is 409; scale capped', async () => {
  const vol = (await t.req('POST', '/v1/volumes', { name: 'db-data', region: 'fra', max_size: 1 })).body.volume;
  const far = (await t.req('POST', '/v1/volumes', { name: 'far', region: 'was', max_size: 1 })).body.volume;
  const appId = await createApp(t, 'volapp');
  const def = (over: Record<string, unknown> = {}) => webDefinition({ routes: [{ port: 8080, path: '/db' }], volumes: [{ id: vol.id, path: '/data' }], ...over });
  const refused = await t.req('POST', '/v1/services', { app_id: appId, name: 'db', definition: def({
    volumes: [{ id: vol.id, path: '/data' }, { id: far.id, path: '/far' }, { id: '00000000-0000-4000-8000-000000000000', path: '/nope' }],
    scalings: [{ min: 1, max: 2 }],
  }) });
  assert.equal(refused.status, 400);
  assert.deepEqual(refused.body.fields.map((f: { field: string }) => f.field),
    ['definition.volumes[1].scopes', 'definition.volumes[1].id', 'definition.volumes[2].id', 'definition.scalings']);
  const svc = await createService(t, appId, 'db', def());
  const second = await t.req('POST', '/v1/services', { app_id: appId, name: 'db2', definition: def({ routes: [{ port: 8080, path: '/db2' }] }) });
  assert.equal(second.status, 400);
  assert.match(second.body.fields[0].description, /attached to service db: remove it from that service first/);
  const inUse = await t.req('DELETE', `/v1/volumes/${vol.id}`);
  assert.equal(inUse.status, 409);
  assert.match(inUse.body.message, /attached to service db \(/);
  const scale = await t.req('PUT', `/v1/services/${svc.id}/scale`, { scalings: [{ instances: 2 }] });
  assert.equal(scale.status, 400);
  assert.match(scale.body.fields[0].description, /mounts volumes for 1 replica index .* scale to at most 1/);
  assert.equal((await t.req('PUT', `/v1/services/${svc.id}/scale`, { scalings: [{ instances: 1 }] })).status, 200);
  // Removing the volume from the service frees it.
  assert.equal((await t.req('PUT', `/v1/services/${svc.id}`, { definition: def({ volumes: [] }) })).status, 200);
  const freed = await t.req('DELETE', `/v1/volumes/${vol.id}`);
  assert.equal(freed.status, 200, JSON.stringify(freed.body));
  assert.equal(freed.body.volume.status, 'PERSISTENT_VOLUME_STATUS_DELETING');
});

test('snapshots: create from a volume, restore only when AVAILABLE and in its region, rename, delete', async () => {
  const vol = (await t.req('POST', '/v1/volumes', { name: 'src', region: 'fra', max_size: 3 })).body.volume;
  const snap = await t.req('POST', '/v1/snapshots', { name: 'nightly', parent_volume_id: vol.id });
  assert.equal(snap.status, 200, JSON.stringify(snap.body));
  const s = snap.body.snapshot;
  assert.deepEqual([s.status, s.type, s.size, s.region, s.parent_volume_id], ['SNAPSHOT_STATUS_CREATING', 'SNAPSHOT_TYPE_LOCAL', 3, 'fra', vol.id]);
  const early = await t.req('POST', '/v1/volumes', { name: 'copy', region: 'fra', snapshot_id: s.id });
  assert.equal(early.status, 400);
  assert.match(early.body.fields[0].description, /wait until it is SNAPSHOT_STATUS_AVAILABLE/);
  // As the reconciler would leave it once copied.
  await insertSnapshot(t.pier.store.db, { ...s, id: '7b0f2f1e-8c1d-4e6a-9a55-0c3e1d2f4a10', name: 'ready', status: 'SNAPSHOT_STATUS_AVAILABLE' });
  const wrongRegion = await t.req('POST', '/v1/volumes', { name: 'copy', region: 'was', snapshot_id: '7b0f2f1e-8c1d-4e6a-9a55-0c3e1d2f4a10' });
  assert.match(wrongRegion.body.fields[0].description, /must be in fra too/);
  const small = await t.req('POST', '/v1/volumes', { name: 'copy', region: 'fra', max_size: 1, snapshot_id: '7b0f2f1e-8c1d-4e6a-9a55-0c3e1d2f4a10' });
  assert.match(small.body.fields[0].description, /at least the snapshot's size \(3 GB\)/);
  const copy = await t.req('POST', '/v1/volumes', { name: 'copy', region: 'fra', snapshot_id: '7b0f2f1e-8c1d-4e6a-9a55-0c3e1d2f4a10' });
  assert.equal(copy.status, 200, JSON.stringify(copy.body));
  assert.deepEqual([copy.body.volume.max_size, copy.body.volume.snapshot_id], [3, '7b0f2f1e-8c1d-4e6a-9a55-0c3e1d2f4a10']);
  assert.equal((await t.req('POST', `/v1/snapshots/${s.id}`, { name: 'renamed' })).body.snapshot.name, 'renamed');
  assert.equal((await t.req('GET', '/v1/snapshots?statuses=SNAPSHOT_STATUS_AVAILABLE')).body.snapshots.length, 1);
  assert.equal((await t.req('DELETE', `/v1/snapshots/${s.id}`)).body.snapshot.status, 'SNAPSHOT_STATUS_DELETING');
  const ro = await t.otherOrgToken();
  assert.equal((await t.req('GET', `/v1/snapshots/${s.id}`, undefined, ro)).status, 404);
});

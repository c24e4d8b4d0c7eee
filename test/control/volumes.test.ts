// The volume reconciler as a table of situations over in-memory ports and a scripted driver (issue #20): every step
// writes a status with its message and event, a settled world writes nothing, nothing is removed while an instance
// mounts it, and an instance waits while another holds its volume.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VolumeReconciler, type VolumeUsage } from '../../src/control/reconcile-volumes.ts';
import type { PersistentVolume, Snapshot } from '../../src/domain/volumes.ts';
import { MemoryState } from './memory-state.ts';
import { FakeVolumeDriver, MemoryVolumeState } from './memory-volume-state.ts';

const NOW = '2025-01-01T00:00:00.000Z';
const VOL = '11111111-1111-4111-8111-111111111111';
const ORG = 'org-1';

function volumeRow(over: Partial<PersistentVolume> = {}): PersistentVolume {
  return {
    id: VOL, name: 'data', snapshot_id: '', created_at: NOW, updated_at: NOW, deleted_at: null, organization_id: ORG,
    service_id: '', region: 'fra', read_only: false, max_size: 1, cur_size: 0, status: 'PERSISTENT_VOLUME_STATUS_DETACHED',
    backing_store: 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK', messages: ['Creating the 1 GB filesystem.'], used_bytes: 0, total_bytes: 1e9, ...over,
  };
}

function setup() {
  const control = new MemoryState();
  const state = new MemoryVolumeState();
  const driver = new FakeVolumeDriver();
  const errors: string[] = [];
  let usage: VolumeUsage[] = [];
  const rec = new VolumeReconciler(driver, state, { now: () => new Date(NOW) }, (err, ctx) => errors.push(`${ctx}: ${(err as Error).message}`), (u) => { usage = u; });
  state.volumes.set(VOL, volumeRow());
  /** Passes until nothing is in flight (bounded). */
  const settle = async () => {
    for (let i = 0; i < 20; i++) {
      const busy = await rec.pass(control);
      await new Promise((r) => setImmediate(r));
      if (!busy) return;
    }
    throw new Error('the reconciler never settled');
  };
  /** A service whose deployment mounts the volume at /data, and its instance in `status`. */
  const instance = (id: string, status: string, replica = 0) => {
    const def = { volumes: [{ id: VOL, path: '/data' }] };
    control.putService({ id: 'svc-1', name: 'db', organization_id: ORG, status: 'HEALTHY', latest_deployment_id: 'dep-1', active_deployment_id: 'dep-1', created_at: NOW } as never);
    control.putDeployment({ id: 'dep-1', service_id: 'svc-1', definition: { ...def, regions: ['fra'] }, status: 'HEALTHY', created_at: NOW } as never);
    control.putRegional({ id: 'rd-1', deployment_id: 'dep-1', region: 'fra', definition: def, created_at: NOW } as never);
    control.putInstance({ id, regional_deployment_id: 'rd-1', replica_index: replica, status, organization_id: ORG, created_at: NOW } as never);
  };
  return { control, state, driver, rec, settle, instance, errors, usage: () => usage };
}

test('a new volume is made on the host, says Ready, and a settled world writes nothing', async () => {
  const w = setup();
  await w.settle();
  const v = w.state.volumes.get(VOL)!;
  assert.equal(v.status, 'PERSISTENT_VOLUME_STATUS_DETACHED');
  assert.deepEqual(v.messages, ['Ready: 1 GB, no instance mounts it.']);
  assert.equal(w.state.host.get(VOL), 1e9);
  assert.deepEqual(w.state.events.map((e) => e.type), ['volume_ready']);
  const writes = w.state.writes;
  await w.settle();
  await w.settle();
  assert.equal(w.state.writes, writes, 'a second pass over a settled world writes nothing');
  assert.deepEqual(w.driver.calls, ['create']);
  assert.deepEqual(w.errors, []);
});

test('a failed create says why (once) and is retried; an unavailable driver says why without trying', async () => {
  const w = setup();
  w.driver.fail.set('create', 'mkfs.ext4 failed: no space');
  await w.settle();
  assert.match(w.state.volumes.get(VOL)!.messages[0]!, /^Cannot create the volume's filesystem: mkfs.ext4 failed: no space/);
  await w.settle();
  assert.deepEqual(w.state.events.map((e) => e.type), ['volume_create_failed', 'volume_ready']);
  const u = setup();
  u.driver.unavailableReason = 'Pier must run as root to mount volumes';
  await u.settle();
  await u.settle();
  assert.match(u.state.volumes.get(VOL)!.messages[0]!, /must run as root/);
  assert.deepEqual(u.driver.calls, []);
  assert.deepEqual(u.state.events.map((e) => e.type), ['volume_unavailable']);
});

test('ATTACHED while an instance mounts it (service bound), full said with the fix, DETACHED once it stops', async () => {
  const w = setup();
  await w.settle();
  w.instance('inst-1', 'HEALTHY');
  await w.settle();
  let v = w.state.volumes.get(VOL)!;
  assert.equal(v.status, 'PERSISTENT_VOLUME_STATUS_ATTACHED');
  assert.deepEqual(v.messages, ['Mounted at /data by instance inst-1.']);
  assert.equal(v.service_id, 'svc-1');
  // New bytes written: the usage is recorded as a measurement alone (no status, no message, no event).
  const events = w.state.events.length;
  w.driver.used(VOL, 5_000_000);
  await w.settle();
  assert.deepEqual(w.state.patches.at(-1), { service_id: 'svc-1', used_bytes: 5_000_000, total_bytes: 1e9, cur_size: 0 });
  assert.equal(w.state.events.length, events);
  w.driver.used(VOL, 1e9 - 4096);
  await w.settle();
  v = w.state.volumes.get(VOL)!;
  assert.match(v.messages[0]!, /^Volume is full: 1 GB of 1 GB used; writes fail with ENOSPC .* grow it/);
  assert.equal(v.used_bytes, 1e9 - 4096);
  assert.equal(w.usage()[0]!.full, true);
  w.driver.used(VOL, 1000);
  w.control.instances.get('inst-1')!.status = 'STOPPED';
  await w.settle();
  v = w.state.volumes.get(VOL)!;
  assert.equal(v.status, 'PERSISTENT_VOLUME_STATUS_DETACHED');
  assert.deepEqual(w.state.events.map((e) => e.type), ['volume_ready', 'volume_attached', 'volume_full', 'volume_detached']);
});

test('deleting waits while an instance mounts the volume, then removes it; a snapshot taken while attached is frozen', async () => {
  const w = setup();
  await w.settle();
  w.instance('inst-1', 'HEALTHY');
  const snap: Snapshot = {
    id: 'snap-1', name: 'nightly', size: 1, created_at: NOW, updated_at: NOW, deleted_at: null, organization_id: ORG,
    parent_volume_id: VOL, region: 'fra', status: 'SNAPSHOT_STATUS_CREATING', type: 'SNAPSHOT_TYPE_LOCAL', messages: [],
  };
  w.state.snapshots.set(snap.id, snap);
  await w.settle();
  assert.equal(w.state.snapshots.get('snap-1')!.status, 'SNAPSHOT_STATUS_AVAILABLE');
  assert.match(w.state.snapshots.get('snap-1')!.messages[0]!, /frozen filesystem/);
  w.state.volumes.set(VOL, { ...w.state.volumes.get(VOL)!, status: 'PERSISTENT_VOLUME_STATUS_DELETING' });
  await w.settle();
  assert.match(w.state.volumes.get(VOL)!.messages[0]!, /^Deleting once instance inst-1 stops/);
  assert.ok(!w.driver.calls.includes('remove'), 'never removed while mounted');
  w.control.instances.get('inst-1')!.status = 'STOPPED';
  await w.settle();
  assert.equal(w.state.volumes.get(VOL)!.status, 'PERSISTENT_VOLUME_STATUS_DELETED');
  assert.equal(w.driver.volumes.has(VOL), false);
  assert.ok(w.driver.snapshots.has('snap-1'), 'the snapshot outlives its volume');
});

test('a row the API moved mid-pass is left alone: a delete is never overwritten by a stale status', async () => {
  const w = setup();
  await w.settle();
  const stale = await w.state.listVolumes();
  w.instance('inst-1', 'HEALTHY');
  w.state.volumes.set(VOL, { ...w.state.volumes.get(VOL)!, status: 'PERSISTENT_VOLUME_STATUS_DELETING' });
  const list = w.state.listVolumes.bind(w.state);
  w.state.listVolumes = async () => { w.state.listVolumes = list; return stale; }; // this pass read before the API's delete
  await w.rec.pass(w.control);
  assert.equal(w.state.volumes.get(VOL)!.status, 'PERSISTENT_VOLUME_STATUS_DELETING');
  assert.ok(!w.state.events.some((e) => e.type === 'volume_attached'));
});

test('mountsFor: an instance waits while another holds its volume, mounts it once free, fails when it is deleted', async () => {
  const w = setup();
  const def = { volumes: [{ id: VOL, path: '/data' }] } as never;
  const next = { id: 'inst-2', replica_index: 0, regional_deployment_id: 'rd-2', status: 'ALLOCATING' } as never;
  assert.deepEqual(await w.rec.mountsFor(w.control, next, def), { ok: false, wait: 'Waiting for volume data to be created.' });
  await w.settle();
  w.instance('inst-1', 'STOPPING');
  const waiting = await w.rec.mountsFor(w.control, next, def);
  assert.equal(waiting.ok, false);
  assert.match((waiting as { wait: string }).wait, /Waiting for instance inst-1 to stop: it still mounts volume data/);
  w.control.instances.get('inst-1')!.status = 'STOPPED';
  assert.deepEqual(await w.rec.mountsFor(w.control, next, def), { ok: true, volumes: [{ volumeId: VOL, hostPath: `/fake/${VOL}`, path: '/data' }] });
  assert.deepEqual(await w.rec.mountsFor(w.control, { ...(next as object), replica_index: 1 } as never, def), { ok: true, volumes: [] }, 'replica 1 mounts nothing');
  w.state.volumes.set(VOL, { ...w.state.volumes.get(VOL)!, read_only: true });
  assert.deepEqual(await w.rec.mountsFor(w.control, next, def), { ok: true, volumes: [{ volumeId: VOL, hostPath: `/fake/${VOL}`, path: '/data', readOnly: true }] },
    'a read-only volume is mounted read-only');
  w.state.volumes.set(VOL, { ...w.state.volumes.get(VOL)!, status: 'PERSISTENT_VOLUME_STATUS_DELETING' });
  assert.equal((await w.rec.mountsFor(w.control, next, def)).ok, false);
});

test('mountsFor: a SLEEPING instance holds its volume while its workload is still there (the stop after the sleep), not after', async () => {
  const w = setup();
  const def = { volumes: [{ id: VOL, path: '/data' }] } as never;
  const next = { id: 'inst-2', replica_index: 0, regional_deployment_id: 'rd-2', status: 'ALLOCATING' } as never;
  await w.settle();
  w.instance('inst-1', 'SLEEPING');
  const bound = new Set(['inst-1']);
  const hasWorkload = (id: string) => bound.has(id);
  const waiting = await w.rec.mountsFor(w.control, next, def, hasWorkload);
  assert.equal(waiting.ok, false, 'a sleeper whose workload is not stopped yet still mounts the volume');
  assert.match((waiting as { wait: string }).wait, /Waiting for instance inst-1 to stop: it still mounts volume data/);
  bound.delete('inst-1'); // its workload was stopped and removed (deep sleep)
  assert.deepEqual(await w.rec.mountsFor(w.control, next, def, hasWorkload), { ok: true, volumes: [{ volumeId: VOL, hostPath: `/fake/${VOL}`, path: '/data' }] });
});

test('a larger max_size grows the volume online (attached, once), says so, and a failed grow says why and waits', async () => {
  const w = setup();
  await w.settle();
  w.instance('inst-1', 'HEALTHY');
  await w.settle();
  w.state.volumes.set(VOL, { ...w.state.volumes.get(VOL)!, max_size: 2 }); // what POST /v1/volumes/{id} {max_size: 2} writes
  const first = await w.rec.pass(w.control);
  assert.equal(first, true, 'a grow in flight asks for another pass');
  assert.match(w.state.volumes.get(VOL)!.messages[0]!, /^Mounted at \/data by instance inst-1\. Growing the filesystem from 1 GB to 2 GB online/);
  await w.settle();
  let v = w.state.volumes.get(VOL)!;
  assert.equal(v.status, 'PERSISTENT_VOLUME_STATUS_ATTACHED', 'it stays attached: the instance is never stopped');
  assert.deepEqual(v.messages, ['Mounted at /data by instance inst-1.']);
  assert.equal(v.total_bytes, 2e9);
  assert.equal(w.state.host.get(VOL), 2e9);
  assert.equal(w.driver.volumes.get(VOL)!.sizeBytes, 2e9);
  const resized = w.state.events.find((e) => e.type === 'volume_resized');
  assert.match(resized?.message ?? '', /grown from 1 GB to 2 GB online: its data kept, instance inst-1 writing meanwhile/);
  assert.deepEqual(w.state.events.map((e) => e.type), ['volume_ready', 'volume_attached', 'volume_growing', 'volume_resized']);
  const writes = w.state.writes;
  await w.settle();
  assert.equal(w.state.writes, writes, 'grown and settled: nothing more to write');
  assert.equal(w.driver.calls.filter((c) => c === 'grow').length, 1);

  // The host cannot hold it: the reason is shown once, the size kept, and no retry within the minute.
  w.driver.fail.set('grow', 'not enough disk on this host for growing volume x by 2.79 GiB');
  w.state.volumes.set(VOL, { ...w.state.volumes.get(VOL)!, max_size: 5 });
  await w.settle();
  await w.settle();
  v = w.state.volumes.get(VOL)!;
  assert.match(v.messages[0]!, /^Mounted at \/data by instance inst-1\. Cannot grow it to 5 GB: not enough disk on this host .* It keeps 2 GB; Pier tries again in a minute, or once no instance mounts it\.$/);
  assert.equal(v.total_bytes, 2e9);
  assert.equal(w.state.events.filter((e) => e.type === 'volume_grow_failed').length, 1);
  assert.equal(w.driver.calls.filter((c) => c === 'grow').length, 2, 'not retried before the minute is up');
  // A new size is tried at once.
  w.state.volumes.set(VOL, { ...w.state.volumes.get(VOL)!, max_size: 3 });
  await w.settle();
  v = w.state.volumes.get(VOL)!;
  assert.deepEqual(v.messages, ['Mounted at /data by instance inst-1.']);
  assert.equal(v.total_bytes, 3e9);
  // A host that cannot resize a mounted filesystem: refused while attached, grown as soon as the instance stops.
  w.driver.fail.set('grow', 'cannot grow volume x while an instance mounts it');
  w.state.volumes.set(VOL, { ...w.state.volumes.get(VOL)!, max_size: 4 });
  await w.settle();
  assert.match(w.state.volumes.get(VOL)!.messages[0]!, /Cannot grow it to 4 GB: cannot grow volume x while an instance mounts it/);
  w.control.instances.get('inst-1')!.status = 'STOPPED';
  await w.settle();
  v = w.state.volumes.get(VOL)!;
  assert.deepEqual(v.messages, ['Ready: 4 GB, no instance mounts it.']);
  assert.equal(v.total_bytes, 4e9);
  assert.deepEqual(w.errors, []);
});

test('a detached volume grows too, and its Ready message names the new size', async () => {
  const w = setup();
  await w.settle();
  w.state.volumes.set(VOL, { ...w.state.volumes.get(VOL)!, max_size: 4 });
  await w.settle();
  const v = w.state.volumes.get(VOL)!;
  assert.equal(v.status, 'PERSISTENT_VOLUME_STATUS_DETACHED');
  assert.deepEqual(v.messages, ['Ready: 4 GB, no instance mounts it.']);
  assert.equal(v.total_bytes, 4e9);
  assert.match(w.state.events.at(-1)!.message, /grown from 1 GB to 4 GB online: its data kept\.$/);
});

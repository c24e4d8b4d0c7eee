// The volume reconciler's port (VolumeState), run by the store-backed one (SQLite and PostgreSQL) and by the
// in-memory double the fast reconciler tests use: the same answers from both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeVolumeState } from '../../src/control/store-state.ts';
import type { VolumeState } from '../../src/control/reconcile-volumes.ts';
import type { PersistentVolume, Snapshot } from '../../src/domain/volumes.ts';
import { listEvents } from '../../src/store/events.ts';
import { openStore } from '../../src/store/store.ts';
import { insertSnapshot, insertVolume } from '../../src/store/volumes.ts';
import { MemoryVolumeState } from './memory-volume-state.ts';
import { forEachDialect } from '../postgres/dialects.ts';

const T = '2025-01-01T00:00:00.000Z';
const vol = (id: string, name: string, status: PersistentVolume['status']): PersistentVolume => ({
  id, name, snapshot_id: '', created_at: T, updated_at: T, deleted_at: null, organization_id: 'o', service_id: '', region: 'was',
  read_only: false, max_size: 1, cur_size: 0, status, backing_store: 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK', messages: [], used_bytes: 0, total_bytes: 1e9,
});
const snap = (id: string, status: Snapshot['status']): Snapshot => ({
  id, name: id, size: 1, created_at: T, updated_at: T, deleted_at: null, organization_id: 'o', parent_volume_id: 'a', region: 'was', status, type: 'SNAPSHOT_TYPE_LOCAL', messages: [],
});

function contract(label: string, make: () => Promise<{ state: VolumeState; seed: (v: PersistentVolume[], s: Snapshot[]) => Promise<void>; events: () => Promise<string[]>; close: () => Promise<void> }>) {
  test(`${label}: lists leave out DELETED rows, patches merge, host bytes and events persist`, async () => {
    const w = await make();
    try {
      await w.seed([vol('a', 'one', 'PERSISTENT_VOLUME_STATUS_DETACHED'), vol('b', 'two', 'PERSISTENT_VOLUME_STATUS_DELETED')],
        [snap('s1', 'SNAPSHOT_STATUS_CREATING'), snap('s2', 'SNAPSHOT_STATUS_DELETED')]);
      assert.deepEqual((await w.state.listVolumes()).map((v) => v.id), ['a']);
      assert.deepEqual((await w.state.listSnapshots()).map((s) => s.id), ['s1']);
      assert.equal(await w.state.hostBytes('a'), 0);
      await w.state.setHostBytes('a', 123);
      assert.equal(await w.state.hostBytes('a'), 123);
      await w.state.updateVolume('a', { status: 'PERSISTENT_VOLUME_STATUS_ATTACHED', messages: ['m'], used_bytes: 5 });
      const a = (await w.state.getVolume('a'))!;
      assert.deepEqual([a.status, a.messages, a.used_bytes, a.name], ['PERSISTENT_VOLUME_STATUS_ATTACHED', ['m'], 5, 'one']);
      await w.state.updateSnapshot('s1', { status: 'SNAPSHOT_STATUS_AVAILABLE' });
      assert.equal((await w.state.listSnapshots())[0]!.status, 'SNAPSHOT_STATUS_AVAILABLE');
      await w.state.appendVolumeEvent({ volumeId: 'a', organizationId: 'o', type: 'volume_ready', message: 'x', metadata: {}, when: T });
      assert.deepEqual(await w.events(), ['volume_ready']);
      const ev = { volumeId: 'a', organizationId: 'o', type: 'volume_detached', message: 'y', metadata: {}, when: T };
      assert.equal(await w.state.transitionVolume('a', 'PERSISTENT_VOLUME_STATUS_DETACHED', { status: 'PERSISTENT_VOLUME_STATUS_DETACHED' }, ev), false, 'the row moved: nothing written');
      assert.equal(await w.state.transitionVolume('a', 'PERSISTENT_VOLUME_STATUS_ATTACHED', { status: 'PERSISTENT_VOLUME_STATUS_DETACHED', messages: ['d'] }, ev), true);
      assert.equal((await w.state.getVolume('a'))!.status, 'PERSISTENT_VOLUME_STATUS_DETACHED');
      assert.deepEqual((await w.events()).sort(), ['volume_detached', 'volume_ready']);
      assert.equal(await w.state.transitionSnapshot('s1', 'SNAPSHOT_STATUS_CREATING', { status: 'SNAPSHOT_STATUS_DELETING' }, ev), false);
      assert.equal(await w.state.transitionSnapshot('s1', 'SNAPSHOT_STATUS_AVAILABLE', { status: 'SNAPSHOT_STATUS_DELETING' }, ev), true);
      assert.equal(await w.state.getVolume('zzz'), undefined);
    } finally {
      await w.close();
    }
  });
}

forEachDialect((d) => contract(`store volume state (${d.name})`, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-volume-state-'));
  const store = await openStore(await d.storeOptions(dir));
  return {
    state: storeVolumeState(store),
    seed: async (v, s) => { for (const x of v) await insertVolume(store.db, x); for (const x of s) await insertSnapshot(store.db, x); },
    events: async () => (await listEvents(store.db, { kind: 'persistent_volume', resourceIds: ['a'] }, { limit: 10, offset: 0 })).items.map((e) => e.type),
    close: async () => { await store.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}));

contract('MemoryVolumeState', async () => {
  const state = new MemoryVolumeState();
  return {
    state,
    seed: async (v, s) => { for (const x of v) state.volumes.set(x.id, x); for (const x of s) state.snapshots.set(x.id, x); },
    events: async () => state.events.map((e) => e.type),
    close: async () => undefined,
  };
});

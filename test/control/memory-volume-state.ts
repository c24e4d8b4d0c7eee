// An in-memory VolumeState (the volume reconciler's port) for fast table tests, and a scripted VolumeDriver that
// keeps volumes and snapshots as records (no filesystem): tests set usage and inject failures.
import type { PersistentVolume, Snapshot, SnapshotStatus, VolumeStatus } from '../../src/domain/volumes.ts';
import type { SnapshotPatch, VolumeEvent, VolumePatch, VolumeState } from '../../src/control/reconcile-volumes.ts';
import type { SnapshotInfo, VolumeDriver, VolumeInfo } from '../../src/runtime/volumes/contract.ts';

const copy = <T>(v: T): T => structuredClone(v);

/** Volume and snapshot rows in maps, events in a list. */
export class MemoryVolumeState implements VolumeState {
  readonly volumes = new Map<string, PersistentVolume>();
  readonly snapshots = new Map<string, Snapshot>();
  readonly host = new Map<string, number>();
  readonly events: { volumeId: string; type: string; message: string }[] = [];
  /** Every volume patch, in order. */
  readonly patches: VolumePatch[] = [];
  writes = 0;

  async listVolumes() { return [...this.volumes.values()].filter((v) => v.status !== 'PERSISTENT_VOLUME_STATUS_DELETED').map(copy); }
  async getVolume(id: string) { return copy(this.volumes.get(id)); }
  async updateVolume(id: string, patch: VolumePatch) { this.volumes.set(id, { ...this.volumes.get(id)!, ...patch }); this.patches.push(copy(patch)); this.writes++; }
  async hostBytes(id: string) { return this.host.get(id) ?? 0; }
  async setHostBytes(id: string, bytes: number) { this.host.set(id, bytes); this.writes++; }
  async listSnapshots() { return [...this.snapshots.values()].filter((s) => s.status !== 'SNAPSHOT_STATUS_DELETED').map(copy); }
  async updateSnapshot(id: string, patch: SnapshotPatch) { this.snapshots.set(id, { ...this.snapshots.get(id)!, ...patch }); this.writes++; }
  async appendVolumeEvent(e: { volumeId: string; type: string; message: string }) { this.events.push({ volumeId: e.volumeId, type: e.type, message: e.message }); this.writes++; }
  async transitionVolume(id: string, from: VolumeStatus, patch: VolumePatch, e: VolumeEvent) {
    if (this.volumes.get(id)?.status !== from) return false;
    await this.updateVolume(id, patch);
    await this.appendVolumeEvent(e);
    return true;
  }
  async transitionSnapshot(id: string, from: SnapshotStatus, patch: SnapshotPatch, e: VolumeEvent) {
    if (this.snapshots.get(id)?.status !== from) return false;
    await this.updateSnapshot(id, patch);
    await this.appendVolumeEvent(e);
    return true;
  }
}

/** A VolumeDriver over records: `used` sets a volume's usage, `fail` makes the next call of a method throw. */
export class FakeVolumeDriver implements VolumeDriver {
  readonly name = 'fake';
  readonly volumes = new Map<string, VolumeInfo>();
  readonly snapshots = new Map<string, SnapshotInfo>();
  readonly calls: string[] = [];
  readonly fail = new Map<string, string>();
  unavailableReason: string | null = null;

  private check(method: string): void {
    this.calls.push(method);
    const why = this.fail.get(method);
    if (why) { this.fail.delete(method); throw new Error(why); }
  }
  async unavailable() { return this.unavailableReason; }
  async create(volumeId: string, sizeBytes: number, opts: { fromSnapshotId?: string } = {}) {
    this.check('create');
    const from = opts.fromSnapshotId ? this.snapshots.get(opts.fromSnapshotId) : undefined;
    if (opts.fromSnapshotId && !from) throw new Error(`no snapshot ${opts.fromSnapshotId}`);
    const info = { volumeId, sizeBytes, usedBytes: 0, hostPath: `/fake/${volumeId}` };
    this.volumes.set(volumeId, info);
    return { ...info };
  }
  async mount(volumeId: string) {
    this.check('mount');
    const v = this.volumes.get(volumeId);
    if (!v) throw new Error(`no volume ${volumeId}`);
    return { ...v };
  }
  async grow(volumeId: string, sizeBytes: number) {
    this.check('grow');
    const v = this.volumes.get(volumeId);
    if (!v) throw new Error(`no volume ${volumeId}`);
    if (sizeBytes < v.sizeBytes) throw new Error(`volume ${volumeId} cannot shrink`);
    v.sizeBytes = sizeBytes;
    return { ...v };
  }
  async inspect(volumeId: string) { const v = this.volumes.get(volumeId); return v ? { ...v } : null; }
  async remove(volumeId: string) { this.check('remove'); this.volumes.delete(volumeId); }
  async snapshot(volumeId: string, snapshotId: string, opts: { attached: boolean }) {
    this.check('snapshot');
    const v = this.volumes.get(volumeId)!;
    const info: SnapshotInfo = { snapshotId, volumeId, storedBytes: v.usedBytes, sizeBytes: v.sizeBytes, consistency: opts.attached ? 'frozen' : 'stopped' };
    this.snapshots.set(snapshotId, info);
    return { ...info };
  }
  async inspectSnapshot(id: string) { const s = this.snapshots.get(id); return s ? { ...s } : null; }
  async removeSnapshot(id: string) { this.check('removeSnapshot'); this.snapshots.delete(id); }
  async list() { return { volumes: [...this.volumes.keys()], snapshots: [...this.snapshots.keys()] }; }
  /** Sets a volume's usage. */
  used(volumeId: string, bytes: number): void { this.volumes.get(volumeId)!.usedBytes = bytes; }
}

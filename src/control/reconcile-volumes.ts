// The volume reconciler (issue #20): level-triggered over the volume and snapshot rows the API writes. Each pass reads
// what is (rows, the driver's view, which live instance mounts which volume) and takes the next step of each row:
//   volume  DETACHED (not made) ──driver.create──► DETACHED "Ready" ⇄ ATTACHED (an instance mounts it)
//           a larger max_size ──driver.grow (online, either status)──► the same status, the new size
//           DELETING ──(no instance mounts it, no snapshot being taken)──driver.remove──► DELETED
//   snapshot CREATING ──driver.snapshot (frozen when attached)──► AVAILABLE;  DELETING ──removeSnapshot──► DELETED
// Driver calls that take time (mkfs, copies) run in the background; the next pass records their outcome, so one
// 1 GiB copy never holds up instance health. It also answers the instance reconciler's question "what does this
// instance mount, may it mount it now?" (mountsFor), and the deployment reconciler's "must this rollout stop the
// old instance before the new one starts?" (volumeRolloutGate).
import { GB, canSnapshotTransition, canVolumeTransition, isFull, volumeMessage, type PersistentVolume, type Snapshot, type SnapshotStatus, type VolumeStatus } from '../domain/volumes.ts';
import type { Deployment, Instance, RegionalDeploymentDefinition, Service } from '../domain/types.ts';
import type { InstanceSpec } from '../runtime/contract.ts';
import type { VolumeDriver } from '../runtime/volumes/contract.ts';
import type { Clock, ControlState } from './ports.ts';

/** Fields of a volume the reconciler may change. */
export type VolumePatch = Partial<Pick<PersistentVolume, 'status' | 'messages' | 'service_id' | 'cur_size' | 'used_bytes' | 'total_bytes' | 'deleted_at'>>;
/** Fields of a snapshot the reconciler may change. */
export type SnapshotPatch = Partial<Pick<Snapshot, 'status' | 'messages' | 'deleted_at'>>;

/** What the volume reconciler reads and writes (store-state.ts storeVolumeState; test/control/memory-volume-state.ts). */
export interface VolumeState {
  /** Volumes that are not DELETED, oldest first. */
  listVolumes(): Promise<PersistentVolume[]>;
  getVolume(id: string): Promise<PersistentVolume | undefined>;
  updateVolume(id: string, patch: VolumePatch): Promise<void>;
  /** The size the driver made the volume; 0 = not made yet. */
  hostBytes(id: string): Promise<number>;
  setHostBytes(id: string, bytes: number): Promise<void>;
  /** Snapshots that are not DELETED, oldest first. */
  listSnapshots(): Promise<Snapshot[]>;
  updateSnapshot(id: string, patch: SnapshotPatch): Promise<void>;
  /** Appends a PersistentVolumeEvent. */
  appendVolumeEvent(e: VolumeEvent): Promise<void>;
  /**
   * Writes a status change and its event at once, only if the row is still in `from` (the API may have moved it since
   * the pass read it: a delete is never overwritten). Returns whether it wrote.
   */
  transitionVolume(id: string, from: VolumeStatus, patch: VolumePatch, event: VolumeEvent): Promise<boolean>;
  /** The same for a snapshot (its event goes on its volume). */
  transitionSnapshot(id: string, from: SnapshotStatus, patch: SnapshotPatch, event: VolumeEvent): Promise<boolean>;
}

/** One PersistentVolumeEvent to append. */
export interface VolumeEvent { volumeId: string; organizationId: string; type: string; message: string; metadata: Record<string, unknown>; when: string }

/** How long a failed grow waits before it is tried again with the same size. */
export const GROW_RETRY_MS = 60_000;

/** Bytes as whole-ish GB for messages (sizes are whole GB; a fraction only if the driver rounded). */
const gb = (bytes: number) => +(bytes / GB).toFixed(2);

/** Instance statuses in which a workload may hold the volume mounted. */
const HOLDING = ['STARTING', 'HEALTHY', 'UNHEALTHY', 'STOPPING'];

/**
 * Whether an instance's workload still exists on the runtime (the controller's bindings). A SLEEPING instance
 * keeps its workload for a moment after it is marked (until it is drained and stopped), so it still holds its
 * volumes then; once its workload is gone it holds nothing.
 */
export type HasWorkload = (instanceId: string) => boolean;

/** One mount of a volume by an instance. */
interface Mount { volumeId: string; path: string; instance: Instance }

/** The answer to "may this instance start with its volumes now?". */
export type MountAnswer =
  | { ok: true; volumes: NonNullable<InstanceSpec['volumes']> }
  | { ok: false; wait: string }
  | { ok: false; error: string };

/** Volumes of a regional definition that the instance of `replica` mounts. */
export function volumesOfReplica(def: Pick<RegionalDeploymentDefinition, 'volumes'>, replica: number): { id: string; path: string }[] {
  return (def.volumes ?? []).filter((v) => (v.replica_index ?? 0) === replica).map((v) => ({ id: v.id, path: v.path }));
}

/** One volume's usage as last measured (for /metrics). */
export interface VolumeUsage { id: string; name: string; organization_id: string; region: string; status: string; used_bytes: number; total_bytes: number; full: boolean }

/** The volume reconciler with its in-flight driver calls. */
export class VolumeReconciler {
  /** Driver calls running in the background, by volume or snapshot id. */
  private readonly inflight = new Map<string, { done: boolean; error?: string; result?: unknown }>();
  /** The last failed grow of each volume: the size it asked, why, and when to try again. */
  private readonly growFailures = new Map<string, { bytes: number; holder: string; error: string; retryAt: number }>();

  constructor(readonly driver: VolumeDriver, readonly state: VolumeState, private readonly clock: Clock,
    private readonly onError: (err: unknown, context: string) => void,
    private readonly onUsage?: (usage: VolumeUsage[]) => void) {}

  /** Which live instance holds which volume now (from the instances' regional definitions). */
  async mounts(control: ControlState, hasWorkload?: HasWorkload): Promise<Map<string, Mount>> {
    const out = new Map<string, Mount>();
    const defs = new Map<string, RegionalDeploymentDefinition | undefined>();
    for (const inst of await control.listLiveInstances()) {
      const sleepingWithWorkload = inst.status === 'SLEEPING' && hasWorkload?.(inst.id) === true;
      if (!HOLDING.includes(inst.status) && !sleepingWithWorkload) continue;
      if (!defs.has(inst.regional_deployment_id)) defs.set(inst.regional_deployment_id, (await control.getRegionalDeployment(inst.regional_deployment_id))?.definition);
      const def = defs.get(inst.regional_deployment_id);
      if (!def) continue;
      for (const v of volumesOfReplica(def, inst.replica_index)) if (!out.has(v.id)) out.set(v.id, { volumeId: v.id, path: v.path, instance: inst });
    }
    return out;
  }

  /** The live service whose latest or active deployment names each volume. */
  private async holders(control: ControlState): Promise<Map<string, Service>> {
    const out = new Map<string, Service>();
    for (const s of await control.listServices()) {
      if (s.status === 'DELETED') continue;
      for (const id of new Set([s.latest_deployment_id, s.active_deployment_id])) {
        const d = id ? await control.getDeployment(id) : undefined;
        for (const v of d?.definition.volumes ?? []) if (!out.has(v.id)) out.set(v.id, s);
      }
    }
    return out;
  }

  /** One pass over every volume and snapshot. Returns true when it wants another pass soon (work in flight). */
  async pass(control: ControlState, hasWorkload?: HasWorkload): Promise<boolean> {
    const mounts = await this.mounts(control, hasWorkload);
    const holders = await this.holders(control);
    const snapshots = await this.state.listSnapshots();
    let busy = false;
    const usage: VolumeUsage[] = [];
    for (const v of await this.state.listVolumes()) {
      try {
        busy = (await this.volume(v, mounts.get(v.id), holders.get(v.id), snapshots)) || busy;
      } catch (err) {
        this.onError(err, `reconciling volume ${v.id}`);
      }
    }
    for (const v of await this.state.listVolumes()) {
      usage.push({ id: v.id, name: v.name, organization_id: v.organization_id, region: v.region, status: v.status, used_bytes: v.used_bytes, total_bytes: v.total_bytes, full: isFull(v.used_bytes, v.total_bytes) });
    }
    this.onUsage?.(usage);
    for (const s of snapshots) {
      try {
        busy = (await this.snapshot(s, mounts.get(s.parent_volume_id))) || busy;
      } catch (err) {
        this.onError(err, `reconciling snapshot ${s.id}`);
      }
    }
    return busy;
  }

  /** Runs a driver call in the background under `key`; answers its outcome once settled (then forgets it). */
  private background<T>(key: string, work: () => Promise<T>): { done: false } | { done: true; error?: string; result?: T } {
    const cur = this.inflight.get(key);
    if (!cur) {
      const entry: { done: boolean; error?: string; result?: unknown } = { done: false };
      this.inflight.set(key, entry);
      work().then((r) => { entry.result = r; }, (err) => { entry.error = err instanceof Error ? err.message : String(err); })
        .finally(() => { entry.done = true; });
      return { done: false };
    }
    if (!cur.done) return { done: false };
    this.inflight.delete(key);
    return { done: true, error: cur.error, result: cur.result as T };
  }

  private async markVolume(v: PersistentVolume, to: VolumeStatus, message: string, type: string, extra: VolumePatch = {}, eventMessage = message): Promise<PersistentVolume> {
    const messages = message ? [message] : [];
    const changed = v.status !== to || v.messages.join('\n') !== messages.join('\n');
    const extraChanged = Object.entries(extra).some(([k, val]) => JSON.stringify((v as unknown as Record<string, unknown>)[k]) !== JSON.stringify(val));
    if (!changed && !extraChanged) return v;
    if (!canVolumeTransition(v.status, to)) throw new Error(`volume ${v.id}: ${v.status} → ${to} is not allowed`);
    // Usage alone (bytes written since the last pass) is a measurement, not a step: written without status/messages,
    // so the controller does not count it as progress and run passes back to back while an app writes.
    if (!changed) {
      await this.state.updateVolume(v.id, extra);
      return { ...v, ...extra };
    }
    const wrote = await this.state.transitionVolume(v.id, v.status, { ...extra, status: to, messages }, {
      volumeId: v.id, organizationId: v.organization_id, type, message: eventMessage, metadata: { from: v.status, to }, when: this.clock.now().toISOString(),
    });
    return wrote ? { ...v, ...extra, status: to, messages } : v;
  }

  private async markSnapshot(s: Snapshot, to: SnapshotStatus, message: string, type: string, extra: SnapshotPatch = {}): Promise<void> {
    if (s.status === to && s.messages[0] === message) return;
    if (!canSnapshotTransition(s.status, to)) throw new Error(`snapshot ${s.id}: ${s.status} → ${to} is not allowed`);
    await this.state.transitionSnapshot(s.id, s.status, { ...extra, status: to, messages: message ? [message] : [] }, {
      volumeId: s.parent_volume_id, organizationId: s.organization_id, type, message: `Snapshot ${s.name}: ${message}`,
      metadata: { snapshot_id: s.id, from: s.status, to }, when: this.clock.now().toISOString(),
    });
  }

  private async volume(v: PersistentVolume, mount: Mount | undefined, holder: Service | undefined, snapshots: Snapshot[]): Promise<boolean> {
    const made = await this.state.hostBytes(v.id);
    if (v.status === 'PERSISTENT_VOLUME_STATUS_DELETING') {
      if (mount) { await this.markVolume(v, v.status, `Deleting once instance ${mount.instance.id} stops (it still mounts the volume).`, 'volume_deleting'); return false; }
      if (snapshots.some((s) => s.parent_volume_id === v.id && s.status === 'SNAPSHOT_STATUS_CREATING')) return true;
      const op = this.background(`remove:${v.id}`, () => this.driver.remove(v.id));
      if (!op.done) return true;
      if (op.error) { await this.markVolume(v, v.status, `Deleting failed, retrying: ${op.error}`, 'volume_delete_failed'); return false; }
      await this.state.setHostBytes(v.id, 0);
      await this.markVolume(v, 'PERSISTENT_VOLUME_STATUS_DELETED', volumeMessage.deleted(), 'volume_deleted', { deleted_at: this.clock.now().toISOString(), service_id: '' });
      return false;
    }
    const serviceId = holder?.id ?? '';
    if (made === 0) {
      const why = await this.driver.unavailable();
      if (why) { await this.markVolume(v, 'PERSISTENT_VOLUME_STATUS_DETACHED', volumeMessage.failed(why), 'volume_unavailable', { service_id: serviceId }); return false; }
      const op = this.background(`create:${v.id}`, () => this.driver.create(v.id, v.max_size * GB, { region: v.region, ...(v.snapshot_id ? { fromSnapshotId: v.snapshot_id } : {}) }));
      if (!op.done) return true;
      if (op.error) { await this.markVolume(v, 'PERSISTENT_VOLUME_STATUS_DETACHED', volumeMessage.failed(op.error), 'volume_create_failed', { service_id: serviceId }); return false; }
      const info = op.result as { sizeBytes: number } | undefined;
      await this.state.setHostBytes(v.id, info?.sizeBytes || v.max_size * GB);
      await this.markVolume(v, 'PERSISTENT_VOLUME_STATUS_DETACHED', volumeMessage.ready(v.max_size), 'volume_ready', { service_id: serviceId });
      return true;
    }
    const to: VolumeStatus = mount ? 'PERSISTENT_VOLUME_STATUS_ATTACHED' : 'PERSISTENT_VOLUME_STATUS_DETACHED';
    // A larger max_size (POST /v1/volumes/{id}) grows the filesystem online, in the background: an instance that
    // mounts the volume keeps running and writing. A failed grow says why and is retried after GROW_RETRY_MS, or at
    // once when the size asked or the instance mounting it changes (a host that cannot resize a mounted filesystem
    // grows it as soon as the instance stops), so a host short of disk does not write an event every pass.
    const want = v.max_size * GB;
    let grown: { from: number; to: number } | undefined;
    if (want > made) {
      const failed = this.growFailures.get(v.id);
      if (!failed || failed.bytes !== want || failed.holder !== (mount?.instance.id ?? '') || this.clock.now().getTime() >= failed.retryAt) {
        const op = this.background(`grow:${v.id}`, () => this.driver.grow(v.id, want));
        if (!op.done) {
          const base = mount ? volumeMessage.attached(mount.instance.id, mount.path) : `Ready: ${gb(made)} GB, no instance mounts it.`;
          await this.markVolume(v, to, `${base} Growing the filesystem from ${gb(made)} GB to ${v.max_size} GB online (the data stays; writes go on).`, 'volume_growing', { service_id: serviceId });
          return true;
        }
        if (op.error) this.growFailures.set(v.id, { bytes: want, holder: mount?.instance.id ?? '', error: op.error, retryAt: this.clock.now().getTime() + GROW_RETRY_MS });
        else {
          this.growFailures.delete(v.id);
          const size = (op.result as { sizeBytes?: number } | undefined)?.sizeBytes || want;
          await this.state.setHostBytes(v.id, size);
          grown = { from: made, to: size };
        }
      }
    } else this.growFailures.delete(v.id);
    const info = await this.driver.inspect(v.id);
    const used = info?.usedBytes ?? v.used_bytes;
    const total = info?.sizeBytes ?? (grown?.to ?? made);
    const usage: VolumePatch = { service_id: serviceId, used_bytes: used, total_bytes: total, cur_size: Math.round(used / GB) };
    let message = mount ? volumeMessage.attached(mount.instance.id, mount.path) : volumeMessage.ready(v.max_size);
    let type = mount ? 'volume_attached' : 'volume_detached';
    let eventMessage: string | undefined;
    if (!info) { message = 'The volume\'s filesystem is missing on this host: its data cannot be found (see pier doctor); delete the volume or restore a snapshot into a new one.'; type = 'volume_missing'; }
    else if (isFull(used, total)) { message = volumeMessage.full(used, total); type = 'volume_full'; }
    const failure = this.growFailures.get(v.id);
    if (info && failure) {
      if (!isFull(used, total)) message = mount ? message : `Ready: ${gb(total)} GB, no instance mounts it.`;
      message = `${message} Cannot grow it to ${v.max_size} GB: ${failure.error}. It keeps ${gb(total)} GB; Pier tries again in a minute, or once no instance mounts it.`;
      type = 'volume_grow_failed';
    } else if (info && grown) {
      type = 'volume_resized';
      eventMessage = `Volume ${v.name} grown from ${gb(grown.from)} GB to ${gb(grown.to)} GB online: its data kept${mount ? `, instance ${mount.instance.id} writing meanwhile` : ''}.`;
    }
    await this.markVolume(v, to, message, type, usage, eventMessage);
    return false;
  }

  private async snapshot(s: Snapshot, mount: Mount | undefined): Promise<boolean> {
    if (s.status === 'SNAPSHOT_STATUS_DELETING') {
      if (this.inflight.has(`snap:${s.id}`)) { this.background(`snap:${s.id}`, async () => undefined); return true; }
      const op = this.background(`rmsnap:${s.id}`, () => this.driver.removeSnapshot(s.id));
      if (!op.done) return true;
      if (op.error) { await this.markSnapshot(s, s.status, `Deleting failed, retrying: ${op.error}`, 'snapshot_delete_failed'); return false; }
      await this.markSnapshot(s, 'SNAPSHOT_STATUS_DELETED', 'deleted.', 'snapshot_deleted', { deleted_at: this.clock.now().toISOString() });
      return false;
    }
    if (s.status !== 'SNAPSHOT_STATUS_CREATING') return false;
    if ((await this.state.hostBytes(s.parent_volume_id)) === 0) {
      const parent = await this.state.getVolume(s.parent_volume_id);
      if (!parent || parent.status === 'PERSISTENT_VOLUME_STATUS_DELETED') {
        await this.markSnapshot(s, 'SNAPSHOT_STATUS_DELETING', 'failed: its volume was deleted before the copy.', 'snapshot_failed');
      }
      return false; // the volume is still being made
    }
    const attached = mount !== undefined;
    const op = this.background(`snap:${s.id}`, () => this.driver.snapshot(s.parent_volume_id, s.id, { attached }));
    if (!op.done) {
      await this.markSnapshot(s, s.status, attached ? `Copying the volume, frozen while instance ${mount!.instance.id} mounts it.` : 'Copying the volume (no instance mounts it).', 'snapshot_copying');
      return true;
    }
    if (op.error) { await this.markSnapshot(s, 'SNAPSHOT_STATUS_DELETING', `failed: ${op.error}`, 'snapshot_failed'); return true; }
    const info = op.result as { consistency: string; storedBytes: number };
    const how = info.consistency === 'frozen' ? 'taken from a frozen filesystem while an instance mounted it' : 'taken while no instance mounted the volume';
    await this.markSnapshot(s, 'SNAPSHOT_STATUS_AVAILABLE', `available: ${how}; ${Math.round(info.storedBytes / 1e6)} MB stored.`, 'snapshot_available');
    return false;
  }

  /**
   * What `inst` mounts and whether it may now: every volume of its replica must be made and not mounted by another
   * live instance (the old instance of a rollout, a crashed one being stopped). A wait leaves it ALLOCATING.
   */
  async mountsFor(control: ControlState, inst: Instance, def: RegionalDeploymentDefinition, hasWorkload?: HasWorkload): Promise<MountAnswer> {
    const wanted = volumesOfReplica(def, inst.replica_index);
    if (wanted.length === 0) return { ok: true, volumes: [] };
    const held = await this.mounts(control, hasWorkload);
    const out: NonNullable<InstanceSpec['volumes']> = [];
    for (const w of wanted) {
      const v = await this.state.getVolume(w.id);
      if (!v || v.status === 'PERSISTENT_VOLUME_STATUS_DELETED' || v.status === 'PERSISTENT_VOLUME_STATUS_DELETING') {
        return { ok: false, error: `volume ${v?.name ?? w.id} is deleted or being deleted: deploy without it` };
      }
      if ((await this.state.hostBytes(w.id)) === 0) return { ok: false, wait: `Waiting for volume ${v.name} to be created.` };
      const other = held.get(w.id);
      if (other && other.instance.id !== inst.id) {
        return { ok: false, wait: `Waiting for instance ${other.instance.id} to stop: it still mounts volume ${v.name} (a volume is mounted by one instance at a time).` };
      }
      const info = await this.driver.mount(w.id);
      out.push({ volumeId: w.id, hostPath: info.hostPath, path: w.path, ...(v.read_only ? { readOnly: true } : {}) });
    }
    return { ok: true, volumes: out };
  }
}

/** True when the deployment's definition names a volume in any region. */
export function hasVolumes(d: Deployment | undefined): boolean {
  return (d?.definition.volumes ?? []).length > 0;
}

// Persistent volumes and snapshots (issue #20): the wire objects exactly as Koyeb's spec has them (PersistentVolume,
// Snapshot, PersistentVolumeEvent and their request bodies), their status machines, and validation with field-named
// errors. Pure: the API actions read the store and call these; the volume reconciler moves the statuses.
import { normalizeScopes } from './definition-scaling.ts';
import { FieldErrors, absent, isObject, quote, readBool, readInt, readString, rejectUnknown } from './fields.ts';
import { appliesIn, regionScope } from './scopes.ts';
import type { DeploymentDefinition, DeploymentVolume, FieldError } from './types.ts';

/** PersistentVolumeStatus, in the spec's order. */
export const VOLUME_STATUSES = [
  'PERSISTENT_VOLUME_STATUS_INVALID', 'PERSISTENT_VOLUME_STATUS_ATTACHED', 'PERSISTENT_VOLUME_STATUS_DETACHED',
  'PERSISTENT_VOLUME_STATUS_DELETING', 'PERSISTENT_VOLUME_STATUS_DELETED', 'PERSISTENT_VOLUME_STATUS_ARCHIVING',
] as const;
export type VolumeStatus = typeof VOLUME_STATUSES[number];

/** PersistentVolumeBackingStore: Pier's volumes are loop-mounted filesystems on the region's host, a local block store. */
export const BACKING_STORE = 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK';
export type BackingStore = 'PERSISTENT_VOLUME_BACKING_STORE_INVALID' | typeof BACKING_STORE;

/** SnapshotStatus, in the spec's order. */
export const SNAPSHOT_STATUSES = [
  'SNAPSHOT_STATUS_INVALID', 'SNAPSHOT_STATUS_CREATING', 'SNAPSHOT_STATUS_AVAILABLE', 'SNAPSHOT_STATUS_MIGRATING',
  'SNAPSHOT_STATUS_DELETING', 'SNAPSHOT_STATUS_DELETED',
] as const;
export type SnapshotStatus = typeof SNAPSHOT_STATUSES[number];

/** SnapshotType: Pier's snapshots are copies on the volume's host. */
export type SnapshotType = 'SNAPSHOT_TYPE_INVALID' | 'SNAPSHOT_TYPE_LOCAL' | 'SNAPSHOT_TYPE_REMOTE';

/** Bytes in one unit of `max_size` (Koyeb's "Gigabyte / GB": decimal). */
export const GB = 1_000_000_000;
/** The largest volume Pier accepts (GB); the host's free space is the real bound, checked when it is created. */
export const MAX_VOLUME_GB = 1000;

/**
 * PersistentVolume as the API returns it. `messages`, `used_bytes` and `total_bytes` are Pier's additions (the spec has
 * no place to say why a volume is in its state, nor a byte-exact usage; `cur_size` is in whole GB): see docs/compat.md.
 */
export interface PersistentVolume {
  id: string;
  name: string;
  snapshot_id: string;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  organization_id: string;
  /** The service whose deployments name the volume ('' when none). */
  service_id: string;
  region: string;
  read_only: boolean;
  max_size: number;
  cur_size: number;
  status: VolumeStatus;
  backing_store: BackingStore;
  messages: string[];
  used_bytes: number;
  total_bytes: number;
}

/** Snapshot as the API returns it (`messages` is Pier's addition, as on volumes). */
export interface Snapshot {
  id: string;
  name: string;
  /** The source volume's size (GB). */
  size: number;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  organization_id: string;
  parent_volume_id: string;
  region: string;
  status: SnapshotStatus;
  type: SnapshotType;
  messages: string[];
}

/** PersistentVolumeEvent: the events table's `persistent_volume` kind. */
export interface PersistentVolumeEvent {
  id: string;
  when: string;
  organization_id: string;
  persistent_volume_id: string;
  type: string;
  message: string;
  metadata: Record<string, unknown>;
}

type Table<S extends string> = Readonly<Record<S, readonly S[]>>;

/**
 * Volume status machine. DETACHED is a volume no instance mounts (also while its filesystem is being made: the
 * messages say so); ATTACHED while an instance mounts it; DELETING once asked, DELETED when its data is gone.
 * ARCHIVING (remote snapshots) is never entered: Pier's snapshots stay on the host.
 */
export const VOLUME_TRANSITIONS: Table<VolumeStatus> = {
  PERSISTENT_VOLUME_STATUS_INVALID: ['PERSISTENT_VOLUME_STATUS_DETACHED'],
  PERSISTENT_VOLUME_STATUS_DETACHED: ['PERSISTENT_VOLUME_STATUS_ATTACHED', 'PERSISTENT_VOLUME_STATUS_DELETING'],
  PERSISTENT_VOLUME_STATUS_ATTACHED: ['PERSISTENT_VOLUME_STATUS_DETACHED'],
  PERSISTENT_VOLUME_STATUS_DELETING: ['PERSISTENT_VOLUME_STATUS_DELETED'],
  PERSISTENT_VOLUME_STATUS_DELETED: [],
  PERSISTENT_VOLUME_STATUS_ARCHIVING: ['PERSISTENT_VOLUME_STATUS_DETACHED', 'PERSISTENT_VOLUME_STATUS_DELETING'],
};

/** Snapshot status machine: CREATING → AVAILABLE → DELETING → DELETED; a copy that fails is DELETING with why. */
export const SNAPSHOT_TRANSITIONS: Table<SnapshotStatus> = {
  SNAPSHOT_STATUS_INVALID: ['SNAPSHOT_STATUS_CREATING'],
  SNAPSHOT_STATUS_CREATING: ['SNAPSHOT_STATUS_AVAILABLE', 'SNAPSHOT_STATUS_DELETING'],
  SNAPSHOT_STATUS_AVAILABLE: ['SNAPSHOT_STATUS_DELETING'],
  SNAPSHOT_STATUS_MIGRATING: ['SNAPSHOT_STATUS_AVAILABLE', 'SNAPSHOT_STATUS_DELETING'],
  SNAPSHOT_STATUS_DELETING: ['SNAPSHOT_STATUS_DELETED'],
  SNAPSHOT_STATUS_DELETED: [],
};

/** Whether a volume may move from one status to another (same status: nothing to write, allowed). */
export function canVolumeTransition(from: VolumeStatus, to: VolumeStatus): boolean {
  return from === to || VOLUME_TRANSITIONS[from].includes(to);
}

/** Whether a snapshot may move from one status to another. */
export function canSnapshotTransition(from: SnapshotStatus, to: SnapshotStatus): boolean {
  return from === to || SNAPSHOT_TRANSITIONS[from].includes(to);
}

/** Human messages of volume and snapshot statuses (one wording, used by actions and the reconciler). */
export const volumeMessage = {
  creating: (gb: number, from?: string) => `Creating the ${gb} GB filesystem${from ? ` from snapshot ${from}` : ''}.`,
  ready: (gb: number) => `Ready: ${gb} GB, no instance mounts it.`,
  attached: (instanceId: string, path: string) => `Mounted at ${path} by instance ${instanceId}.`,
  full: (used: number, total: number) =>
    `Volume is full: ${formatBytes(used)} of ${formatBytes(total)} used; writes fail with ENOSPC (no space left on device). ` +
    'Delete files, or grow it: POST /v1/volumes/{id} {"max_size": <larger GB>} (pier volumes update NAME --size GB).',
  deleting: () => 'Deleting: its data is being removed.',
  deleted: () => 'Deleted: its data is gone.',
  failed: (why: string) => `Cannot create the volume's filesystem: ${why}`,
};

/** 1.5 MB, 0.95 GB, 2 GB: decimal units, as max_size is (GB from 0.1 GB, so a full 1 GB volume reads "1 GB of 1 GB"). */
export function formatBytes(n: number): string {
  if (n >= GB / 10) return `${+(n / GB).toFixed(3)} GB`;
  if (n >= 1_000_000) return `${+(n / 1_000_000).toFixed(1)} MB`;
  if (n >= 1000) return `${+(n / 1000).toFixed(1)} kB`;
  return `${n} B`;
}

/**
 * Whether a volume counts as full: less than 1 % (at most 8 MiB) of it is left. ext4 keeps a little for its metadata,
 * so a filesystem that answers ENOSPC shows a few kilobytes free, never zero.
 */
export function isFull(usedBytes: number, totalBytes: number): boolean {
  if (totalBytes <= 0) return false;
  return totalBytes - usedBytes <= Math.min(totalBytes * 0.01, 8 * 1024 * 1024);
}

/** Why a volume or snapshot name is invalid, or null: 2 to 64 characters, lowercase letters, digits and dashes. */
export function validateVolumeName(name: unknown, kind = 'volume'): string | null {
  const rule = 'must be 2 to 64 characters: lowercase letters, digits and dashes, starting with a letter or digit';
  if (typeof name !== 'string' || name === '') return `${kind} name is required and ${rule}`;
  if (name.length < 2 || name.length > 64 || !/^[a-z0-9][a-z0-9-]*$/.test(name)) return `${kind} name ${quote(name)} ${rule}`;
  return null;
}

/** A validated CreatePersistentVolumeRequest. */
export interface VolumeCreateInput { name: string; region: string; max_size: number; read_only: boolean; snapshot_id?: string }

/** Validates a CreatePersistentVolumeRequest against the regions that take volumes; reports every problem at once. */
export function parseVolumeCreate(
  body: unknown, volumeRegions: readonly string[], allRegions: readonly string[],
): { input?: VolumeCreateInput; errors: FieldError[] } {
  const errors = new FieldErrors();
  const raw = isObject(body) ? body : {};
  if (!isObject(body)) errors.add('body', 'must be a JSON object such as {"name": "data", "region": "was", "max_size": 10}');
  rejectUnknown(errors, raw, ['volume_type', 'name', 'region', 'read_only', 'max_size', 'snapshot_id', 'project_id'], 'volume');
  const nameProblem = validateVolumeName(raw.name);
  if (nameProblem) errors.add('name', nameProblem);
  const type = readString(errors, raw.volume_type, 'volume_type');
  if (type && type !== BACKING_STORE && type !== 'PERSISTENT_VOLUME_BACKING_STORE_INVALID') {
    errors.add('volume_type', `must be ${BACKING_STORE} (the only backing store), got ${quote(type)}`);
  }
  const region = readString(errors, raw.region, 'region');
  if (!region) errors.add('region', `is required: one of ${volumeRegions.join(', ')}`);
  else if (!allRegions.includes(region)) errors.add('region', `unknown region ${quote(region)}: use one of ${volumeRegions.join(', ')}`);
  else if (!volumeRegions.includes(region)) errors.add('region', `region ${region} does not take volumes on this Pier: use one of ${volumeRegions.join(', ') || '(none: volumes are unavailable, see pier doctor)'}`);
  const snapshot = readString(errors, raw.snapshot_id, 'snapshot_id') || undefined;
  let maxSize = readInt(errors, raw.max_size, 'max_size', 1, MAX_VOLUME_GB, 'GB');
  if (maxSize === undefined && absent(raw.max_size) && !snapshot) errors.add('max_size', `is required: the size in GB (1 to ${MAX_VOLUME_GB})`);
  if (maxSize === undefined) maxSize = 0; // from a snapshot: its size (the action fills it in)
  // read_only: instances mount the volume read-only (writes fail with EROFS inside); usually a volume restored from a
  // snapshot whose data must not change. Fixed at creation, as in Koyeb's API (UpdatePersistentVolume has no such field).
  const readOnly = readBool(errors, raw.read_only, 'read_only') ?? false;
  if (errors.count) return { errors: errors.list };
  return { input: { name: raw.name as string, region: region!, max_size: maxSize, read_only: readOnly, ...(snapshot ? { snapshot_id: snapshot } : {}) }, errors: [] };
}

/** Validates an update body ({name?, max_size?}): the size only grows. */
export function parseVolumeUpdate(body: unknown, current: Pick<PersistentVolume, 'name' | 'max_size'>): { patch: { name?: string; max_size?: number }; errors: FieldError[] } {
  const errors = new FieldErrors();
  const raw = isObject(body) ? body : {};
  if (!isObject(body)) errors.add('body', 'must be a JSON object such as {"name": "data2"} or {"max_size": 20}');
  rejectUnknown(errors, raw, ['name', 'max_size'], 'volume');
  const patch: { name?: string; max_size?: number } = {};
  if (!absent(raw.name) && raw.name !== '' && raw.name !== current.name) {
    const problem = validateVolumeName(raw.name);
    if (problem) errors.add('name', problem); else patch.name = raw.name as string;
  }
  if (!absent(raw.max_size) && raw.max_size !== 0 && raw.max_size !== '0') {
    const size = readInt(errors, raw.max_size, 'max_size', 1, MAX_VOLUME_GB, 'GB');
    if (size !== undefined && size < current.max_size) {
      errors.add('max_size', `can only grow: the volume has ${current.max_size} GB, got ${size}; copy the data to a new, smaller volume instead`);
    } else if (size !== undefined && size !== current.max_size) patch.max_size = size;
  }
  return { patch, errors: errors.list };
}

/** Validates a CreateSnapshotRequest. */
export function parseSnapshotCreate(body: unknown): { input?: { name: string; parent_volume_id: string }; errors: FieldError[] } {
  const errors = new FieldErrors();
  const raw = isObject(body) ? body : {};
  if (!isObject(body)) errors.add('body', 'must be a JSON object such as {"name": "nightly", "parent_volume_id": "<volume id>"}');
  rejectUnknown(errors, raw, ['name', 'parent_volume_id', 'project_id'], 'snapshot');
  const problem = validateVolumeName(raw.name, 'snapshot');
  if (problem) errors.add('name', problem);
  const parent = readString(errors, raw.parent_volume_id, 'parent_volume_id');
  if (!parent) errors.add('parent_volume_id', 'is required: the id of the volume to copy');
  if (errors.count) return { errors: errors.list };
  return { input: { name: raw.name as string, parent_volume_id: parent! }, errors: [] };
}

const FORBIDDEN_ROOTS = ['/proc', '/sys', '/dev'];

/**
 * Validates `definition.volumes` (replaces the old refusal): items {id, path, replica_index?, scopes?}. Paths are
 * absolute, not `/`, not under /proc, /sys or /dev, normalised; one volume per path and a volume listed once per
 * region; replica_index a whole number >= 0.
 */
export function normalizeVolumes(errors: FieldErrors, raw: unknown[], path: string, regions: readonly string[]): DeploymentVolume[] {
  const out: DeploymentVolume[] = [];
  raw.forEach((item, i) => {
    const p = `${path}[${i}]`;
    if (!isObject(item)) { errors.add(p, 'must be an object such as {id: "<volume id>", path: "/data"}'); return; }
    rejectUnknown(errors, item, ['id', 'path', 'replica_index', 'scopes'], p);
    const id = readString(errors, item.id, `${p}.id`);
    if (!id) errors.add(`${p}.id`, 'is required: the id of a volume (POST /v1/volumes, or pier volumes create)');
    const mount = readString(errors, item.path, `${p}.path`);
    let clean: string | undefined;
    if (!mount) errors.add(`${p}.path`, 'is required: an absolute path inside the instance, e.g. /data');
    else {
      clean = mountPathProblem(mount, errors, `${p}.path`);
    }
    const replica = readInt(errors, item.replica_index, `${p}.replica_index`, 0, 1000);
    const scopes = normalizeScopes(errors, item.scopes, `${p}.scopes`, regions);
    if (!id || !clean) return;
    const v: DeploymentVolume = { id, path: clean };
    if (replica !== undefined) v.replica_index = replica;
    if (scopes?.length) v.scopes = scopes;
    out.push(v);
  });
  // Per region: one volume per path, one mount per volume, replica indexes 0..n-1.
  for (const region of regions) {
    const here = out.map((v, i) => ({ v, i })).filter(({ v }) => appliesIn(v.scopes, region));
    const paths = new Map<string, number>();
    const ids = new Map<string, number>();
    for (const { v, i } of here) {
      const replica = v.replica_index ?? 0;
      const pathKey = `${replica}:${v.path}`;
      if (paths.has(pathKey)) errors.add(`${path}[${i}].path`, `${v.path} is already the mount path of ${path}[${paths.get(pathKey)}] in ${region}: one volume per path`);
      else paths.set(pathKey, i);
      for (const [other, j] of paths) {
        const [r, otherPath] = [Number(other.split(':')[0]), other.slice(other.indexOf(':') + 1)];
        if (j !== i && r === replica && (v.path.startsWith(`${otherPath}/`) || otherPath.startsWith(`${v.path}/`))) {
          errors.add(`${path}[${i}].path`, `${v.path} and ${otherPath} (${path}[${j}]) are nested: mount volumes at separate paths`);
        }
      }
      if (ids.has(v.id)) errors.add(`${path}[${i}].id`, `volume ${v.id} is already mounted by ${path}[${ids.get(v.id)}] in ${region}: a volume is mounted by one instance at one path`);
      else ids.set(v.id, i);
    }
    const replicas = [...new Set(here.map(({ v }) => v.replica_index ?? 0))].sort((a, b) => a - b);
    const gap = replicas.findIndex((r, k) => r !== k);
    if (gap >= 0) {
      const i = here.find(({ v }) => (v.replica_index ?? 0) === replicas[gap])!.i;
      errors.add(`${path}[${i}].replica_index`, `replica indexes in ${region} must be 0, 1, 2... without gaps (got ${replicas.join(', ')}): instance N mounts the volumes of replica_index N`);
    }
  }
  return out;
}

/** Checks one mount path and returns it normalised (no trailing or doubled slashes), or undefined. */
function mountPathProblem(mount: string, errors: FieldErrors, field: string): string | undefined {
  if (!mount.startsWith('/')) { errors.add(field, `must be an absolute path such as /data, got ${quote(mount)}`); return undefined; }
  if (mount.includes('\0')) { errors.add(field, 'must not contain a NUL character'); return undefined; }
  const parts = mount.split('/').filter(Boolean);
  if (parts.some((s) => s === '.' || s === '..')) { errors.add(field, `must not contain . or .. segments, got ${quote(mount)}`); return undefined; }
  const clean = `/${parts.join('/')}`;
  if (clean === '/') { errors.add(field, 'cannot be / (the instance\'s root): mount the volume at a directory such as /data'); return undefined; }
  const root = FORBIDDEN_ROOTS.find((r) => clean === r || clean.startsWith(`${r}/`));
  if (root) { errors.add(field, `cannot be under ${root} (the kernel's own filesystem): mount the volume at a directory such as /data`); return undefined; }
  return clean;
}

/** The replica indexes a definition's volumes declare in a region (0..n-1 once validated). */
export function volumeReplicasIn(def: DeploymentDefinition, region: string): number {
  const here = (def.volumes ?? []).filter((v) => appliesIn(v.scopes, region));
  return new Set(here.map((v) => v.replica_index ?? 0)).size;
}

/** What the cross-object check needs to know of one volume the definition names. */
export interface VolumeFacts { id: string; name: string; region: string; status: VolumeStatus; service_id: string; serviceName?: string }

/**
 * The rules between a definition and the volumes it names (the action reads the rows, this decides): each volume
 * exists in the organization and is not deleted, lives in every region where the item applies, is not bound to
 * another live service; and in each region the service runs at most one instance per replica index it declares.
 * `volumes` holds the organization's rows for the ids named (missing = unknown). `serviceId` is absent at create.
 */
export function volumeDefinitionErrors(
  def: DeploymentDefinition, volumes: ReadonlyMap<string, VolumeFacts>, serviceId: string | undefined,
  maxInstances: (region: string) => number, path = 'definition',
): FieldError[] {
  const out: FieldError[] = [];
  const regions = def.regions ?? [];
  (def.volumes ?? []).forEach((v, i) => {
    const p = `${path}.volumes[${i}]`;
    const facts = volumes.get(v.id);
    if (!facts) { out.push({ field: `${p}.id`, description: `volume ${v.id} does not exist: create it first (pier volumes create NAME --region R --size GB) and use its id` }); return; }
    if (facts.status === 'PERSISTENT_VOLUME_STATUS_DELETING' || facts.status === 'PERSISTENT_VOLUME_STATUS_DELETED') {
      out.push({ field: `${p}.id`, description: `volume ${facts.name} is being deleted: create another volume` });
      return;
    }
    const wrong = regions.filter((r) => appliesIn(v.scopes, r) && r !== facts.region);
    if (wrong.length) {
      out.push({ field: `${p}.scopes`, description: `volume ${facts.name} lives in ${facts.region} but this item applies in ${wrong.join(', ')}: set scopes to [${quote(regionScope(facts.region))}] (a volume stays in its region)` });
    }
    if (!regions.includes(facts.region)) {
      out.push({ field: `${p}.id`, description: `volume ${facts.name} lives in ${facts.region}, where the service does not run: add ${facts.region} to regions or use a volume of ${regions.join(', ')}` });
    }
    if (facts.service_id && facts.service_id !== serviceId) {
      out.push({ field: `${p}.id`, description: `volume ${facts.name} is attached to service ${facts.serviceName ?? facts.service_id}: remove it from that service first, or use another volume` });
    }
  });
  for (const region of regions) {
    const declared = volumeReplicasIn(def, region);
    if (declared === 0) continue;
    const max = maxInstances(region);
    if (max > declared) {
      out.push({ field: `${path}.scalings`, description: `in ${region} the service may run ${max} instances but declares volumes for ${declared} replica index${declared === 1 ? '' : 'es'} (each instance mounts its own): set max to ${declared} or add volumes with replica_index up to ${max - 1}` });
    }
  }
  return out;
}

// Persistent volume and snapshot actions (issue #20): validate, write the desired row (a volume to make, a snapshot to
// take, a volume or snapshot to delete) with its event, and kick the reconcilers; src/control/reconcile-volumes.ts
// does the work on the host through the VolumeDriver. Also the cross-object check of a definition's volumes.
import { REGION_IDS, VOLUME_REGION_IDS } from '../domain/catalog.ts';
import { PierError, invalidState, notFound, validationError } from '../domain/errors.ts';
import { scalingFor } from '../domain/regional.ts';
import type { DeploymentDefinition, FieldError, Service } from '../domain/types.ts';
import {
  BACKING_STORE, GB, parseSnapshotCreate, validateVolumeName, parseVolumeCreate, parseVolumeUpdate, volumeDefinitionErrors, volumeMessage,
  type PersistentVolume, type Snapshot, type VolumeFacts,
} from '../domain/volumes.ts';
import type { Db } from '../store/db.ts';
import { getDeployment } from '../store/deployments.ts';
import { appendEvent } from '../store/events.ts';
import { newId, nowIso } from '../store/rows.ts';
import { listServices } from '../store/services.ts';
import {
  findSnapshotByName, findVolumeByName, getSnapshot, getVolume, insertSnapshot, insertVolume, updateSnapshot as storeSnapshot,
  updateVolume as storeVolume,
} from '../store/volumes.ts';
import { objectBody, type ActionContext } from './common.ts';

const DELETED_VOLUME = ['PERSISTENT_VOLUME_STATUS_DELETING', 'PERSISTENT_VOLUME_STATUS_DELETED'];
const DELETED_SNAPSHOT = ['SNAPSHOT_STATUS_DELETING', 'SNAPSHOT_STATUS_DELETED'];

/** Records one event on a volume (snapshot events go on their source volume: Koyeb has no snapshot event stream). */
export async function volumeEvent(db: Db, v: Pick<PersistentVolume, 'id' | 'organization_id'>, type: string, message: string, metadata: Record<string, unknown> = {}): Promise<void> {
  await appendEvent(db, { kind: 'persistent_volume', resourceId: v.id, organizationId: v.organization_id, type, message, metadata });
}

async function ownVolume(db: Db, org: string, id: string): Promise<PersistentVolume> {
  const v = await getVolume(db, id);
  if (!v || v.organization_id !== org || v.status === 'PERSISTENT_VOLUME_STATUS_DELETED') throw notFound('volume', id);
  return v;
}

async function ownSnapshot(db: Db, org: string, id: string): Promise<Snapshot> {
  const s = await getSnapshot(db, id);
  if (!s || s.organization_id !== org || s.status === 'SNAPSHOT_STATUS_DELETED') throw notFound('snapshot', id);
  return s;
}

function nameTaken(kind: string, name: string): PierError {
  return new PierError('already_exists', `A ${kind} named ${name} already exists`, [{ field: 'name', description: `a ${kind} named "${name}" already exists: pick another name` }]);
}

/**
 * The live services of the organization whose latest or active deployment names a volume, by volume id: who holds
 * a volume is read from the definitions themselves, so there is no second record to drift.
 */
export async function volumeHolders(db: Db, org: string): Promise<Map<string, Service>> {
  const out = new Map<string, Service>();
  const { items } = await listServices(db, { organizationId: org, excludeDeleted: true });
  for (const s of items) {
    for (const id of new Set([s.latest_deployment_id, s.active_deployment_id])) {
      if (!id) continue;
      const d = await getDeployment(db, id);
      for (const v of d?.definition.volumes ?? []) if (!out.has(v.id)) out.set(v.id, s);
    }
  }
  return out;
}

/**
 * Field errors of a definition's volumes against the organization's rows (exists, its region, not another service's,
 * max instances per region <= replica indexes). Run it in the transaction that writes the deployment.
 */
export async function volumeReferenceErrors(
  ctx: ActionContext, db: Db, def: DeploymentDefinition, serviceId: string | undefined, path = 'definition',
): Promise<FieldError[]> {
  const named = def.volumes ?? [];
  if (named.length === 0) return [];
  const holders = await volumeHolders(db, ctx.organizationId);
  const facts = new Map<string, VolumeFacts>();
  for (const { id } of named) {
    const v = await getVolume(db, id);
    if (!v || v.organization_id !== ctx.organizationId || v.status === 'PERSISTENT_VOLUME_STATUS_DELETED') continue;
    const holder = holders.get(id);
    const other = holder && holder.id !== serviceId ? holder : undefined;
    facts.set(id, { id, name: v.name, region: v.region, status: v.status, service_id: other?.id ?? '', serviceName: other?.name });
  }
  return volumeDefinitionErrors(def, facts, serviceId, (region) => scalingFor(def, region).max, path);
}

/** POST /v1/volumes: a DETACHED row the reconciler makes on the host (empty, or a copy of `snapshot_id`). */
export async function createVolume(ctx: ActionContext, body: unknown): Promise<PersistentVolume> {
  const { input, errors } = parseVolumeCreate(objectBody(body), VOLUME_REGION_IDS, REGION_IDS);
  if (!input) throw validationError(errors);
  const now = nowIso();
  const volume = await ctx.store.db.transaction(async (tx) => {
    let size = input.max_size;
    if (input.snapshot_id) {
      const snap = await ownSnapshot(tx, ctx.organizationId, input.snapshot_id);
      const problems: FieldError[] = [];
      if (snap.status !== 'SNAPSHOT_STATUS_AVAILABLE') problems.push({ field: 'snapshot_id', description: `snapshot ${snap.name} is ${snap.status}: wait until it is SNAPSHOT_STATUS_AVAILABLE` });
      if (snap.region !== input.region) problems.push({ field: 'region', description: `snapshot ${snap.name} is in ${snap.region}: a volume restored from it must be in ${snap.region} too` });
      if (size && size < snap.size) problems.push({ field: 'max_size', description: `must be at least the snapshot's size (${snap.size} GB), got ${size}` });
      if (problems.length) throw validationError(problems);
      size = Math.max(size, snap.size);
    }
    if (await findVolumeByName(tx, ctx.organizationId, input.name)) throw nameTaken('volume', input.name);
    const v: PersistentVolume = {
      id: newId(), name: input.name, snapshot_id: input.snapshot_id ?? '', created_at: now, updated_at: now,
      deleted_at: null, organization_id: ctx.organizationId, service_id: '', region: input.region, read_only: input.read_only,
      max_size: size, cur_size: 0, status: 'PERSISTENT_VOLUME_STATUS_DETACHED', backing_store: BACKING_STORE,
      messages: [volumeMessage.creating(size, input.snapshot_id)], used_bytes: 0, total_bytes: size * GB,
    };
    await insertVolume(tx, v);
    await volumeEvent(tx, v, 'volume_created', `Volume ${v.name} requested: ${size} GB in ${v.region}${v.snapshot_id ? ` from snapshot ${v.snapshot_id}` : ''}.`, { max_size: size, snapshot_id: v.snapshot_id });
    return v;
  });
  ctx.onWrite?.();
  return volume;
}

/** GET /v1/volumes/{id}. */
export function getVolumeView(ctx: ActionContext, id: string): Promise<PersistentVolume> {
  return ownVolume(ctx.store.db, ctx.organizationId, id);
}

/** POST /v1/volumes/{id}: a new name and/or a larger max_size (the reconciler grows the filesystem). */
export async function updateVolume(ctx: ActionContext, id: string, body: unknown): Promise<PersistentVolume> {
  const input = objectBody(body);
  const out = await ctx.store.db.transaction(async (tx) => {
    const current = await ownVolume(tx, ctx.organizationId, id);
    if (DELETED_VOLUME.includes(current.status)) throw invalidState(`Cannot update volume ${current.name}: its status is ${current.status}`);
    const { patch, errors } = parseVolumeUpdate(input, current);
    if (errors.length) throw validationError(errors);
    if (patch.name && await findVolumeByName(tx, ctx.organizationId, patch.name)) throw nameTaken('volume', patch.name);
    if (patch.name === undefined && patch.max_size === undefined) return current;
    const next = await storeVolume(tx, id, { ...patch, ...(patch.max_size ? { total_bytes: patch.max_size * GB } : {}) });
    const what = [patch.name && `renamed to ${patch.name}`, patch.max_size && `grows to ${patch.max_size} GB`].filter(Boolean).join(', ');
    await volumeEvent(tx, current, 'volume_updated', `Volume ${current.name} ${what}.`, patch);
    return next!;
  });
  ctx.onWrite?.();
  return out;
}

/** DELETE /v1/volumes/{id}: 409 naming the service while one names it; otherwise DELETING (the reconciler removes it). */
export async function deleteVolume(ctx: ActionContext, id: string): Promise<PersistentVolume> {
  const out = await ctx.store.db.transaction(async (tx) => {
    const v = await ownVolume(tx, ctx.organizationId, id);
    if (DELETED_VOLUME.includes(v.status)) return v;
    const holder = (await volumeHolders(tx, ctx.organizationId)).get(id);
    if (holder) {
      throw invalidState(`Cannot delete volume ${v.name}: it is attached to service ${holder.name} (${holder.id}). ` +
        'Remove it from that service (pier service update ... --volumes \'!' + v.name + '\') or delete the service first.');
    }
    if (v.status === 'PERSISTENT_VOLUME_STATUS_ATTACHED') {
      throw invalidState(`Cannot delete volume ${v.name}: an instance still mounts it; retry once it is PERSISTENT_VOLUME_STATUS_DETACHED`);
    }
    const next = await storeVolume(tx, id, { status: 'PERSISTENT_VOLUME_STATUS_DELETING', messages: [volumeMessage.deleting()] });
    await volumeEvent(tx, v, 'volume_deleting', `Volume ${v.name} is being deleted.`);
    return next!;
  });
  ctx.onWrite?.();
  return out;
}

/** POST /v1/snapshots: a CREATING row; the reconciler copies the volume (frozen if an instance mounts it). */
export async function createSnapshot(ctx: ActionContext, body: unknown): Promise<Snapshot> {
  const { input, errors } = parseSnapshotCreate(objectBody(body));
  if (!input) throw validationError(errors);
  const out = await ctx.store.db.transaction(async (tx) => {
    const v = await getVolume(tx, input.parent_volume_id);
    if (!v || v.organization_id !== ctx.organizationId || v.status === 'PERSISTENT_VOLUME_STATUS_DELETED') throw notFound('volume', input.parent_volume_id);
    if (DELETED_VOLUME.includes(v.status)) throw invalidState(`Cannot snapshot volume ${v.name}: it is being deleted`);
    if (await findSnapshotByName(tx, ctx.organizationId, input.name)) throw nameTaken('snapshot', input.name);
    const now = nowIso();
    const s: Snapshot = {
      id: newId(), name: input.name, size: v.max_size, created_at: now, updated_at: now, deleted_at: null,
      organization_id: ctx.organizationId, parent_volume_id: v.id, region: v.region, status: 'SNAPSHOT_STATUS_CREATING',
      type: 'SNAPSHOT_TYPE_LOCAL', messages: [`Copying volume ${v.name}.`],
    };
    await insertSnapshot(tx, s);
    await volumeEvent(tx, v, 'snapshot_requested', `Snapshot ${s.name} requested.`, { snapshot_id: s.id });
    return s;
  });
  ctx.onWrite?.();
  return out;
}

/** GET /v1/snapshots/{id}. */
export function getSnapshotView(ctx: ActionContext, id: string): Promise<Snapshot> {
  return ownSnapshot(ctx.store.db, ctx.organizationId, id);
}

/** POST /v1/snapshots/{id}: a new name. */
export async function updateSnapshot(ctx: ActionContext, id: string, body: unknown): Promise<Snapshot> {
  const input = objectBody(body);
  return ctx.store.db.transaction(async (tx) => {
    const current = await ownSnapshot(tx, ctx.organizationId, id);
    const errors: FieldError[] = [];
    for (const k of Object.keys(input)) if (k !== 'name') errors.push({ field: k, description: 'unknown field: only name can change' });
    const name = input.name;
    if (name === undefined || name === '' || name === current.name) { if (errors.length) throw validationError(errors); return current; }
    const problem = validateVolumeName(name, 'snapshot');
    if (problem) errors.push({ field: 'name', description: problem });
    if (errors.length) throw validationError(errors);
    if (await findSnapshotByName(tx, ctx.organizationId, name as string)) throw nameTaken('snapshot', name as string);
    return (await storeSnapshot(tx, id, { name: name as string }))!;
  });
}

/** DELETE /v1/snapshots/{id}: DELETING; the reconciler removes the copy. Volumes restored from it are independent. */
export async function deleteSnapshot(ctx: ActionContext, id: string): Promise<Snapshot> {
  const out = await ctx.store.db.transaction(async (tx) => {
    const s = await ownSnapshot(tx, ctx.organizationId, id);
    if (DELETED_SNAPSHOT.includes(s.status)) return s;
    const next = await storeSnapshot(tx, id, { status: 'SNAPSHOT_STATUS_DELETING', messages: ['Deleting: the copy is being removed.'] });
    await volumeEvent(tx, { id: s.parent_volume_id, organization_id: s.organization_id }, 'snapshot_deleting', `Snapshot ${s.name} is being deleted.`, { snapshot_id: s.id });
    return next!;
  });
  ctx.onWrite?.();
  return out;
}

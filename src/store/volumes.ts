// Persistent volumes and snapshots (issue #20). A row holds the wire object in `data` plus indexed columns; names are
// unique among an organization's live rows (a unique index decides a race). `host_bytes` is what the volume driver
// made (0 = not made yet): the reconciler's record of the observed side, never shown on the wire.
import type { PersistentVolume, Snapshot } from '../domain/volumes.ts';
import type { Db } from './db.ts';
import {
  getResource, insertResource, listResources, patchResource, Where, type ListResult, type Page, type ResourceTable,
} from './rows.ts';

const volumes: ResourceTable<PersistentVolume> = {
  table: 'volumes',
  bumpVersion: false,
  columns: (v) => ({
    id: v.id, organization_id: v.organization_id, name: v.name, region: v.region, status: v.status,
    service_id: v.service_id, snapshot_id: v.snapshot_id, created_at: v.created_at, updated_at: v.updated_at,
  }),
};

const snapshots: ResourceTable<Snapshot> = {
  table: 'snapshots',
  bumpVersion: false,
  columns: (s) => ({
    id: s.id, organization_id: s.organization_id, name: s.name, parent_volume_id: s.parent_volume_id, region: s.region,
    status: s.status, created_at: s.created_at, updated_at: s.updated_at,
  }),
};

/** Filters of the volume list (Koyeb's query: service_id, region, name). */
export interface VolumeFilter {
  organizationId?: string;
  name?: string;
  region?: string;
  serviceId?: string;
  ids?: string[];
  statuses?: string[];
  /** Leave out DELETED rows (the API's lists do; the rows stay for their events). */
  excludeDeleted?: boolean;
}

/** Inserts a new volume. */
export function insertVolume(db: Db, v: PersistentVolume): Promise<void> {
  return insertResource(db, volumes, v);
}

/** One volume by id, whatever its organization (callers check ownership). */
export function getVolume(db: Db, id: string): Promise<PersistentVolume | undefined> {
  return getResource(db, volumes, id);
}

/** Volumes matching a filter, newest first. */
export function listVolumes(db: Db, f: VolumeFilter, page?: Page): Promise<ListResult<PersistentVolume>> {
  const where = new Where().eq('organization_id', f.organizationId).eq('name', f.name).eq('region', f.region)
    .eq('service_id', f.serviceId).in('id', f.ids).in('status', f.statuses);
  if (f.excludeDeleted) where.raw("status <> 'PERSISTENT_VOLUME_STATUS_DELETED'");
  return listResources(db, volumes, where, page);
}

/** The organization's live volume of that name, if any. */
export async function findVolumeByName(db: Db, organizationId: string, name: string): Promise<PersistentVolume | undefined> {
  return (await listVolumes(db, { organizationId, name, excludeDeleted: true }, { limit: 1, offset: 0 })).items[0];
}

/** Merges a patch into a volume (updated_at now); returns the result. */
export function updateVolume(db: Db, id: string, patch: Partial<PersistentVolume>): Promise<PersistentVolume | undefined> {
  return patchResource(db, volumes, id, patch);
}

/** The size the driver made the volume (0 = not made yet). */
export async function volumeHostBytes(db: Db, id: string): Promise<number> {
  const row = await db.get<{ host_bytes: number }>('SELECT host_bytes FROM volumes WHERE id = ?', [id]);
  return Number(row?.host_bytes ?? 0);
}

/** Records the size the driver made the volume. */
export async function setVolumeHostBytes(db: Db, id: string, bytes: number): Promise<void> {
  await db.run('UPDATE volumes SET host_bytes = ? WHERE id = ?', [bytes, id]);
}

/** Inserts a new snapshot. */
export function insertSnapshot(db: Db, s: Snapshot): Promise<void> {
  return insertResource(db, snapshots, s);
}

/** One snapshot by id, whatever its organization. */
export function getSnapshot(db: Db, id: string): Promise<Snapshot | undefined> {
  return getResource(db, snapshots, id);
}

/** Filters of the snapshot list (Koyeb's query: statuses, region). */
export interface SnapshotFilter {
  organizationId?: string;
  name?: string;
  region?: string;
  parentVolumeId?: string;
  statuses?: string[];
  excludeDeleted?: boolean;
}

/** Snapshots matching a filter, newest first. */
export function listSnapshots(db: Db, f: SnapshotFilter, page?: Page): Promise<ListResult<Snapshot>> {
  const where = new Where().eq('organization_id', f.organizationId).eq('name', f.name).eq('region', f.region)
    .eq('parent_volume_id', f.parentVolumeId).in('status', f.statuses);
  if (f.excludeDeleted) where.raw("status <> 'SNAPSHOT_STATUS_DELETED'");
  return listResources(db, snapshots, where, page);
}

/** The organization's live snapshot of that name, if any. */
export async function findSnapshotByName(db: Db, organizationId: string, name: string): Promise<Snapshot | undefined> {
  return (await listSnapshots(db, { organizationId, name, excludeDeleted: true }, { limit: 1, offset: 0 })).items[0];
}

/** Merges a patch into a snapshot; returns the result. */
export function updateSnapshot(db: Db, id: string, patch: Partial<Snapshot>): Promise<Snapshot | undefined> {
  return patchResource(db, snapshots, id, patch);
}

// What garbage collection of build outputs reads and deletes (src/control/gc.ts): every deployment's service,
// version, status and archive, every service's pinned deployments, and archive rows. Lean rows: a pass reads the
// whole store, so only what the decision needs is parsed out of `data`. Also: events and activities past their
// retention (PIER_EVENTS_KEEP_DAYS).
import type { Deployment, Service } from '../domain/types.ts';
import type { Db } from './db.ts';

/** A deployment as retention sees it. */
export interface DeploymentOutputRow { id: string; serviceId: string; version: number; status: string; archiveId?: string }

/** A service as retention sees it: its status and the deployments it points at (active, latest, last provisioned). */
export interface ServiceRetentionRow { id: string; status: string; pinned: string[] }

/** An uploaded archive's row. */
export interface ArchiveRetentionRow { id: string; createdAt: string }

/** Every deployment, oldest first. */
export async function listDeploymentOutputs(db: Db): Promise<DeploymentOutputRow[]> {
  const rows = await db.all<{ id: string; service_id: string; seq: number; status: string; data: string }>(
    'SELECT id, service_id, seq, status, data FROM deployments ORDER BY service_id, seq',
  );
  return rows.map((r) => {
    const archiveId = (JSON.parse(r.data) as Deployment).definition?.archive?.id;
    return { id: r.id, serviceId: r.service_id, version: Number(r.seq), status: r.status, ...(archiveId ? { archiveId } : {}) };
  });
}

/** Every service, deleted ones included. */
export async function listServiceRetention(db: Db): Promise<ServiceRetentionRow[]> {
  const rows = await db.all<{ id: string; status: string; data: string }>('SELECT id, status, data FROM services');
  return rows.map((r) => {
    const s = JSON.parse(r.data) as Service;
    return { id: r.id, status: r.status, pinned: [s.active_deployment_id, s.latest_deployment_id, s.last_provisioned_deployment_id].filter(Boolean) };
  });
}

/** Every archive row. */
export async function listArchiveRows(db: Db): Promise<ArchiveRetentionRow[]> {
  const rows = await db.all<{ id: string; created_at: string }>('SELECT id, created_at FROM archives');
  return rows.map((r) => ({ id: r.id, createdAt: r.created_at }));
}

/** Forgets an archive whose file was collected. */
export async function deleteArchiveRow(db: Db, id: string): Promise<void> {
  await db.run('DELETE FROM archives WHERE id = ?', [id]);
}

/** Deletes events and activities recorded before `before` (RFC 3339); returns how many of each went. */
export async function deleteTraceBefore(db: Db, before: string): Promise<{ events: number; activities: number }> {
  return db.transaction(async (tx) => {
    const events = await tx.run('DELETE FROM events WHERE when_at < ?', [before]);
    const activities = await tx.run('DELETE FROM activities WHERE created_at < ?', [before]);
    return { events: events.changes, activities: activities.changes };
  });
}

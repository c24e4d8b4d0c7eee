// Services repository: one row per service, the wire object in `data`. Rows stay after deletion with status DELETED.
import type { Service } from '../domain/types.ts';
import type { Db } from './db.ts';
import {
  getResource, insertResource, listResources, patchResource, Where, type ListResult, type Page, type ResourceTable,
} from './rows.ts';

const spec: ResourceTable<Service> = {
  table: 'services',
  bumpVersion: true,
  columns: (s) => ({
    id: s.id, organization_id: s.organization_id, app_id: s.app_id, name: s.name, type: s.type, status: s.status,
    created_at: s.created_at, updated_at: s.updated_at,
  }),
};

/** Filters of the service list. */
export interface ServiceFilter {
  organizationId?: string;
  appId?: string;
  name?: string;
  types?: string[];
  statuses?: string[];
  excludeDeleted?: boolean;
  /** Only these ids (the `ids` list filter). */
  ids?: string[];
  /** Only services whose most recently deployed deployment runs in one of these regions. */
  regions?: string[];
}

/** Inserts a new service. */
export function insertService(db: Db, service: Service): Promise<void> {
  return insertResource(db, spec, service);
}

/** One service by id, whatever its organization (callers check ownership). */
export function getService(db: Db, id: string): Promise<Service | undefined> {
  return getResource(db, spec, id);
}

/** The live (not DELETED) service of an app with this name. */
export async function findServiceByName(db: Db, appId: string, name: string): Promise<Service | undefined> {
  const { items } = await listServices(db, { appId, name, excludeDeleted: true }, { limit: 1, offset: 0 });
  return items[0];
}

/** Services matching a filter, newest first. */
export function listServices(db: Db, filter: ServiceFilter, page?: Page): Promise<ListResult<Service>> {
  const where = new Where()
    .eq('organization_id', filter.organizationId).eq('app_id', filter.appId).eq('name', filter.name)
    .in('type', filter.types).in('status', filter.statuses).in('id', filter.ids);
  if (filter.excludeDeleted) where.raw("status <> 'DELETED'");
  if (filter.regions?.length) {
    // The regions of the service's newest deployment that has regional deployments (a stash has none).
    where.raw(`id IN (SELECT rd.service_id FROM regional_deployments rd WHERE rd.region IN (${filter.regions.map(() => '?').join(', ')})
      AND rd.deployment_id = (SELECT rd2.deployment_id FROM regional_deployments rd2 WHERE rd2.service_id = rd.service_id
      ORDER BY rd2.created_at DESC, rd2.id DESC LIMIT 1))`, ...filter.regions);
  }
  return listResources(db, spec, where, page);
}

/** Merges a patch (status, messages, deployment pointers, timestamps) and bumps the version. */
export function updateService(db: Db, id: string, patch: Partial<Service>): Promise<Service | undefined> {
  return patchResource(db, spec, id, patch);
}

/** Points a service being created at its first deployment: part of creating it, so no new version. */
export async function linkFirstDeployment(db: Db, id: string, deploymentId: string): Promise<void> {
  await patchResource(db, spec, id, { latest_deployment_id: deploymentId }, { creating: true });
}

/** Ids of an organization's services that are not DELETED (its Pier git remotes are named after them). */
export async function liveServiceIds(db: Db, organizationId: string): Promise<string[]> {
  const rows = await db.all<{ id: string }>("SELECT id FROM services WHERE organization_id = ? AND status <> 'DELETED'", [organizationId]);
  return rows.map((r) => r.id);
}

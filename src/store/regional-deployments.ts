// Regional deployments repository: one row per (deployment, region). `version` mirrors the deployment's sequence.
import type { RegionalDeployment } from '../domain/types.ts';
import type { Db } from './db.ts';
import {
  getResource, insertResource, listResources, patchResource, Where, type ListResult, type Page, type ResourceTable,
} from './rows.ts';

const spec: ResourceTable<RegionalDeployment> = {
  table: 'regional_deployments',
  bumpVersion: false,
  columns: (r) => ({
    id: r.id, organization_id: r.organization_id, app_id: r.app_id, service_id: r.service_id,
    deployment_id: r.deployment_id, region: r.region, status: r.status, created_at: r.created_at, updated_at: r.updated_at,
  }),
};

/** Filters of the regional deployment list. */
export interface RegionalDeploymentFilter {
  /** Only these ids (the `ids` list filter). */
  ids?: string[];
  organizationId?: string;
  deploymentId?: string;
  serviceId?: string;
  regions?: string[];
  statuses?: string[];
}

/** Inserts a new regional deployment. */
export function insertRegionalDeployment(db: Db, rd: RegionalDeployment): Promise<void> {
  return insertResource(db, spec, rd);
}

/** One regional deployment by id. */
export function getRegionalDeployment(db: Db, id: string): Promise<RegionalDeployment | undefined> {
  return getResource(db, spec, id);
}

/** Regional deployments matching a filter, newest first (by region within one deployment). */
export function listRegionalDeployments(
  db: Db, filter: RegionalDeploymentFilter, page?: Page,
): Promise<ListResult<RegionalDeployment>> {
  const where = new Where()
    .eq('organization_id', filter.organizationId).eq('deployment_id', filter.deploymentId)
    .eq('service_id', filter.serviceId).in('region', filter.regions).in('status', filter.statuses).in('id', filter.ids);
  return listResources(db, spec, where, page, 'created_at DESC, region ASC');
}

/** Every regional deployment of one deployment, by region. */
export async function listRegionalDeploymentsOf(db: Db, deploymentId: string): Promise<RegionalDeployment[]> {
  return (await listResources(db, spec, new Where().eq('deployment_id', deploymentId), undefined, 'region ASC')).items;
}

/** Merges a patch (status, messages, role, timestamps, child_id). Never pass `definition`. */
export function updateRegionalDeployment(
  db: Db, id: string, patch: Partial<RegionalDeployment>,
): Promise<RegionalDeployment | undefined> {
  if ('definition' in patch) throw new Error('a regional deployment definition is immutable');
  return patchResource(db, spec, id, patch);
}

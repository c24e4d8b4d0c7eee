// Instances repository: rows are created by reconcilers (one per replica and attempt) and updated as they run.
import type { Instance } from '../domain/types.ts';
import type { Db } from './db.ts';
import {
  getResource, insertResource, listResources, patchResource, Where, type ListResult, type Page, type ResourceTable,
} from './rows.ts';

const spec: ResourceTable<Instance> = {
  table: 'instances',
  bumpVersion: false,
  columns: (i) => ({
    id: i.id, organization_id: i.organization_id, app_id: i.app_id, service_id: i.service_id,
    deployment_id: i.xyz_deployment_id, regional_deployment_id: i.regional_deployment_id,
    allocation_id: i.allocation_id, replica_index: i.replica_index, region: i.region, status: i.status,
    created_at: i.created_at, updated_at: i.updated_at,
  }),
};

/** Filters of the instance list (those of GET /v1/instances plus what reconcilers need). */
export interface InstanceFilter {
  /** Only these ids (the `ids` list filter). */
  ids?: string[];
  organizationId?: string;
  appId?: string;
  serviceId?: string;
  deploymentId?: string;
  regionalDeploymentId?: string;
  allocationId?: string;
  replicaIndex?: number;
  statuses?: string[];
  excludeStatuses?: string[];
  /** created_at bounds (RFC 3339), inclusive. */
  startingTime?: string;
  endingTime?: string;
}

/** Inserts a new instance row. */
export function insertInstance(db: Db, instance: Instance): Promise<void> {
  return insertResource(db, spec, instance);
}

/** One instance by id. */
export function getInstance(db: Db, id: string): Promise<Instance | undefined> {
  return getResource(db, spec, id);
}

/** Instances matching a filter; newest first unless `order` is 'asc'. */
export function listInstances(
  db: Db, filter: InstanceFilter, page?: Page, order: 'asc' | 'desc' = 'desc',
): Promise<ListResult<Instance>> {
  const where = new Where()
    .eq('organization_id', filter.organizationId).eq('app_id', filter.appId).eq('service_id', filter.serviceId)
    .eq('deployment_id', filter.deploymentId).eq('regional_deployment_id', filter.regionalDeploymentId)
    .eq('allocation_id', filter.allocationId).eq('replica_index', filter.replicaIndex).in('status', filter.statuses)
    .in('id', filter.ids);
  if (filter.excludeStatuses) where.notIn('status', filter.excludeStatuses);
  if (filter.startingTime) where.raw('created_at >= ?', filter.startingTime);
  if (filter.endingTime) where.raw('created_at <= ?', filter.endingTime);
  const dir = order === 'asc' ? 'ASC' : 'DESC';
  return listResources(db, spec, where, page, `created_at ${dir}, id ${dir}`);
}

/** Merges a patch (status, messages, timestamps, allocation/placement fields). */
export function updateInstance(db: Db, id: string, patch: Partial<Instance>): Promise<Instance | undefined> {
  return patchResource(db, spec, id, patch);
}

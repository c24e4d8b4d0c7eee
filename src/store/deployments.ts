// Deployments repository. A deployment's definition never changes after insert; `version` is its sequence number
// within the service ("1", "2", ...) and is NOT bumped by status updates. The diff against the parent is kept beside it.
import type { Deployment } from '../domain/types.ts';
import type { Db } from './db.ts';
import {
  getResource, insertResource, listResources, patchResource, Where, type ListResult, type Page, type ResourceTable,
} from './rows.ts';

const spec: ResourceTable<Deployment> = {
  table: 'deployments',
  bumpVersion: false,
  columns: (d) => ({
    id: d.id, organization_id: d.organization_id, app_id: d.app_id, service_id: d.service_id,
    seq: Number(d.version), status: d.status, created_at: d.created_at, updated_at: d.updated_at,
  }),
};

/** Filters of the deployment list. */
export interface DeploymentFilter { organizationId?: string; appId?: string; serviceId?: string; statuses?: string[]; ids?: string[] }

/** Inserts a new deployment with its diff against the parent (a JSON-able list of changes). */
export async function insertDeployment(db: Db, deployment: Deployment, diff: unknown[] = []): Promise<void> {
  await insertResource(db, spec, deployment, { diff: JSON.stringify(diff) });
}

/** One deployment by id. */
export function getDeployment(db: Db, id: string): Promise<Deployment | undefined> {
  return getResource(db, spec, id);
}

/** The stored diff of a deployment against its parent ([] for the first one). */
export async function getDeploymentDiff(db: Db, id: string): Promise<unknown[] | undefined> {
  const row = await db.get<{ diff: string }>('SELECT diff FROM deployments WHERE id = ?', [id]);
  return row ? (JSON.parse(row.diff) as unknown[]) : undefined;
}

/** Deployments matching a filter, newest (highest version) first. */
export function listDeployments(db: Db, filter: DeploymentFilter, page?: Page): Promise<ListResult<Deployment>> {
  const where = new Where()
    .eq('organization_id', filter.organizationId).eq('app_id', filter.appId).eq('service_id', filter.serviceId)
    .in('status', filter.statuses).in('id', filter.ids);
  return listResources(db, spec, where, page, 'created_at DESC, seq DESC');
}

/** Deployments of a service whose status is not in `finished`, oldest first (what reconcilers act on). */
export async function listOpenDeployments(db: Db, serviceId: string, finished: readonly string[]): Promise<Deployment[]> {
  const where = new Where().eq('service_id', serviceId).notIn('status', finished);
  return (await listResources(db, spec, where, undefined, 'seq ASC')).items;
}

/** The highest deployment sequence number of a service (0 when none). */
export async function maxDeploymentVersion(db: Db, serviceId: string): Promise<number> {
  const row = await db.get<{ v: number | null }>('SELECT MAX(seq) AS v FROM deployments WHERE service_id = ?', [serviceId]);
  return Number(row?.v ?? 0);
}

/** Merges a patch (status, messages, role, timestamps, provisioning_info, child_id). Never pass `definition`. */
export function updateDeployment(db: Db, id: string, patch: Partial<Deployment>): Promise<Deployment | undefined> {
  if ('definition' in patch) throw new Error('a deployment definition is immutable');
  return patchResource(db, spec, id, patch);
}

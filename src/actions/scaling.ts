// Manual scaling (PUT/GET/DELETE /v1/services/{id}/scale) and the replica view of a deployment
// (GET /v1/deployment/{id}/scaling). Manual scaling applies without a new deployment: reconcilers read it.
import { PierError, validationError } from '../domain/errors.ts';
import { desiredInstances } from '../domain/regional.ts';
import { scopeRegion } from '../domain/scopes.ts';
import { volumeReplicasIn } from '../domain/volumes.ts';
import type { FieldError, Instance, ManualServiceScaling } from '../domain/types.ts';
import { deleteManualScaling, getManualScaling, putManualScaling } from '../store/scalings.ts';
import { getDeployment } from '../store/deployments.ts';
import { listInstances } from '../store/instances.ts';
import { enforceQuotas } from './quotas.ts';
import { objectBody, ownDeployment, ownService, recordActivity, recordEvent, requireLive, type ActionContext } from './common.ts';

/** Most instances one region may run through manual scaling. */
export const MAX_MANUAL_INSTANCES = 20;

/** GET /v1/services/{id}/scale. */
export async function getServiceScaling(ctx: ActionContext, id: string): Promise<{ scalings: ManualServiceScaling[] }> {
  await ownService(ctx.store.db, ctx.organizationId, id);
  return { scalings: (await getManualScaling(ctx.store.db, id)) ?? [] };
}

/** PUT /v1/services/{id}/scale {scalings: [{scopes?, instances}]}: an empty scope list means every region. */
export async function putServiceScaling(ctx: ActionContext, id: string, body: unknown): Promise<Record<string, never>> {
  const input = objectBody(body);
  const db = ctx.store.db;
  const service = await ownService(db, ctx.organizationId, id);
  requireLive('service', service.status, id);
  const latest = service.latest_deployment_id ? await getDeployment(db, service.latest_deployment_id) : undefined;
  const regions = latest?.definition.regions ?? [];
  const errors: FieldError[] = [];
  if (!Array.isArray(input.scalings) || input.scalings.length === 0) {
    errors.push({ field: 'scalings', description: 'must be a non-empty list of {scopes, instances}' });
  }
  const scalings: ManualServiceScaling[] = [];
  (Array.isArray(input.scalings) ? input.scalings : []).forEach((raw: unknown, i: number) => {
    const s = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
    const n = s.instances;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_MANUAL_INSTANCES) {
      errors.push({ field: `scalings[${i}].instances`, description: `must be an integer from 0 to ${MAX_MANUAL_INSTANCES}` });
    }
    const scopes = s.scopes === undefined ? [] : s.scopes;
    if (!Array.isArray(scopes) || scopes.some((x) => typeof x !== 'string')) {
      errors.push({ field: `scalings[${i}].scopes`, description: 'must be a list of "region:<id>" strings' });
    } else {
      scopes.forEach((scope: string, j: number) => {
        const region = scopeRegion(scope);
        if (!region || !regions.includes(region)) {
          errors.push({ field: `scalings[${i}].scopes[${j}]`, description: `must be region:<id> for one of the service's regions (${regions.join(', ')})` });
        }
      });
    }
    scalings.push({ scopes: Array.isArray(scopes) ? (scopes as string[]) : [], instances: n as number });
  });
  // Volumes (#20): each instance mounts its replica's volumes, so no more instances than replica indexes.
  if (latest && errors.length === 0) {
    for (const region of regions) {
      const replicas = volumeReplicasIn(latest.definition, region);
      const wanted = desiredInstances(latest.definition, region, scalings).manual;
      if (replicas > 0 && wanted !== undefined && wanted > replicas) {
        errors.push({ field: 'scalings', description: `in ${region} the service mounts volumes for ${replicas} replica index${replicas === 1 ? '' : 'es'} (each instance mounts its own): scale to at most ${replicas}, or add volumes with more replica indexes` });
      }
    }
  }
  if (errors.length) throw validationError(errors);
  await db.transaction(async (tx) => {
    await enforceQuotas(tx, ctx, { kind: 'scaling', service, manual: scalings });
    await putManualScaling(tx, ctx.organizationId, id, scalings);
    await recordEvent(tx, ctx.organizationId, 'service', id, 'scaled', `Service ${service.name} manually scaled`, { scalings });
    await recordActivity(tx, ctx, 'scaled', { type: 'service', id, name: service.name }, { app_id: service.app_id, scalings });
  });
  ctx.onWrite?.();
  return {};
}

/** DELETE /v1/services/{id}/scale: back to the definition's scaling. */
export async function deleteServiceScaling(ctx: ActionContext, id: string): Promise<Record<string, never>> {
  const service = await ownService(ctx.store.db, ctx.organizationId, id);
  await ctx.store.db.transaction(async (tx) => {
    if (await deleteManualScaling(tx, id)) {
      await recordEvent(tx, ctx.organizationId, 'service', id, 'scaling_removed', `Service ${service.name} manual scaling removed`);
      await recordActivity(tx, ctx, 'unscaled', { type: 'service', id, name: service.name }, { app_id: service.app_id });
    }
  });
  ctx.onWrite?.();
  return {};
}

/** Instance statuses shown as a replica's active or starting instance. */
const LIVE = ['ALLOCATING', 'STARTING', 'HEALTHY', 'UNHEALTHY', 'SLEEPING', 'STOPPING'];

/** GET /v1/deployment/{id}/scaling: replicas per region with their live (else most recent) instances. */
export async function deploymentScaling(
  ctx: ActionContext, id: string, filter: { region?: string; replicaIndex?: number },
): Promise<{ replicas: { region: string; replica_index: number; instances: Instance[] }[] }> {
  const db = ctx.store.db;
  const d = await ownDeployment(db, ctx.organizationId, id);
  const manual = await getManualScaling(db, d.service_id);
  const { items } = await listInstances(db, { deploymentId: id }, undefined, 'desc');
  const replicas: { region: string; replica_index: number; instances: Instance[] }[] = [];
  for (const region of d.definition.regions ?? []) {
    if (filter.region && filter.region !== region) continue;
    const want = desiredInstances(d.definition, region, manual);
    const count = want.manual ?? want.min;
    const inRegion = items.filter((i) => i.region === region);
    const indices = new Set<number>([...Array(count).keys(), ...inRegion.map((i) => i.replica_index)]);
    for (const idx of [...indices].sort((a, b) => a - b)) {
      if (filter.replicaIndex !== undefined && filter.replicaIndex !== idx) continue;
      const mine = inRegion.filter((i) => i.replica_index === idx);
      const live = mine.filter((i) => LIVE.includes(i.status));
      replicas.push({ region, replica_index: idx, instances: live.length ? live : mine.slice(0, 1) });
    }
  }
  if (filter.region && !(d.definition.regions ?? []).includes(filter.region)) {
    throw new PierError('invalid_argument', `Deployment ${id} does not run in region ${filter.region}`, [{ field: 'region', description: 'not a region of this deployment' }]);
  }
  return { replicas };
}

// Service actions: create (service + first deployment + regional deployments in one transaction), update (new
// deployment, or a STASHED one with save_only), redeploy/rollback, pause, resume, delete.
import { releaseProxyPorts, type ProxyPortRange } from '../store/proxy-ports.ts';
import { PierError, validationError } from '../domain/errors.ts';
import { validateServiceName } from '../domain/names.ts';
import { normalizeDefinition, serviceTypeOf } from '../domain/definition.ts';
import type { Deployment, DeploymentDefinition, DeploymentMetadata, FieldError, Service } from '../domain/types.ts';
import type { Db } from '../store/db.ts';
import { findServiceByName, insertService, linkFirstDeployment, updateService as patchService } from '../store/services.ts';
import { getDeployment } from '../store/deployments.ts';
import { newId, nowIso } from '../store/rows.ts';
import {
  objectBody, ownApp, ownDeployment, ownService, recordActivity, recordEvent, requireLive, requireTransition, type ActionContext,
} from './common.ts';
import { insertNewDeployment, type DeployAction } from './deployments.ts';
import { checkReferences } from './references.ts';
import { enforceQuotas } from './quotas.ts';

/** Options shared by create and update. */
export interface WriteOptions {
  dryRun?: boolean;
  /** Create only: the new service's id, when the caller must know it first (the git remote names its repository so). */
  serviceId?: string;
}

/** The normalized definition of service `name`, or a 400 listing every field error (with `extra` first). */
export function validateDefinition(definition: unknown, name: string, extra: FieldError[]): DeploymentDefinition {
  const { definition: def, errors } = normalizeDefinition(definition);
  const all = [...extra, ...errors];
  if (all.length) throw validationError(all);
  // definition.name is the service name (Koyeb's deprecated fallback field), kept in sync so regional names match.
  return { ...def, name };
}

/** POST /v1/services: validates, then writes the service, deployment v1 and its regional deployments at once. */
export async function createService(ctx: ActionContext, body: unknown, opts: WriteOptions = {}): Promise<Service> {
  const input = objectBody(body);
  const rawDef = input.definition as Record<string, unknown> | undefined;
  const name = (typeof input.name === 'string' && input.name) ? input.name
    : (rawDef && typeof rawDef === 'object' && typeof rawDef.name === 'string' ? rawDef.name : undefined);
  const fields: FieldError[] = [];
  if (typeof input.app_id !== 'string' || !input.app_id) fields.push({ field: 'app_id', description: 'is required' });
  const nameProblem = validateServiceName(name);
  if (nameProblem) fields.push({ field: 'name', description: nameProblem });
  const definition = validateDefinition(rawDef, name ?? '', fields);
  const db = ctx.store.db;
  // `koyeb apps init` validates with a made-up app id before the app exists: a dry run against an app the caller does
  // not hold checks the definition and the organization's references only (no app, no siblings, nothing written).
  if (opts.dryRun && !(await ownsApp(db, ctx.organizationId, input.app_id as string))) {
    await checkReferences(ctx, db, definition, { appId: '', allowLocalGit: (await ctx.allowLocalGit?.()) ?? false });
    return dryRunService(ctx.organizationId, input.app_id as string, name!, definition);
  }
  const app = await ownApp(db, ctx.organizationId, input.app_id as string);
  requireLive('app', app.status, app.id);
  const clash = await findServiceByName(db, app.id, name!);
  if (clash) {
    throw new PierError('already_exists', `A service named ${name} already exists in app ${app.name}`, [
      { field: 'name', description: `a service named "${name}" already exists in this app` },
    ]);
  }
  const service = newServiceRow(ctx, app, name!, definition, input.life_cycle, opts.serviceId);
  const target = { appId: app.id, allowLocalGit: (await ctx.allowLocalGit?.()) ?? false };
  if (opts.dryRun) {
    await checkReferences(ctx, db, definition, target);
    return service;
  }
  const created = await db.transaction((tx) => createServiceTx(tx, ctx, service, definition, target));
  ctx.onWrite?.();
  return created;
}

/** A new service's row (status STARTING, no deployment yet) in app `app` of the caller's organization. */
export function newServiceRow(ctx: ActionContext, app: { id: string }, name: string, definition: DeploymentDefinition, lifeCycle: unknown, id?: string): Service {
  const now = nowIso();
  return {
    id: id ?? newId(), created_at: now, updated_at: now, started_at: null, succeeded_at: null, paused_at: null,
    resumed_at: null, terminated_at: null, name, type: serviceTypeOf(definition),
    organization_id: ctx.organizationId, app_id: app.id, status: 'STARTING', messages: [], version: '1',
    active_deployment_id: '', latest_deployment_id: '', last_provisioned_deployment_id: '', state: {},
    life_cycle: lifeCycleOf(lifeCycle),
  };
}

/**
 * Writes service `service` and its deployment v1 inside the caller's transaction, after checking (again, in the
 * transaction) that the app is the caller's, the name is free and the definition's references hold.
 */
export async function createServiceTx(
  tx: Db, ctx: ActionContext, service: Service, definition: DeploymentDefinition, target: { appId: string; allowLocalGit: boolean },
): Promise<Service> {
  await ownApp(tx, ctx.organizationId, service.app_id);
  if (await findServiceByName(tx, service.app_id, service.name)) {
    throw new PierError('already_exists', `A service named ${service.name} already exists`, [{ field: 'name', description: 'already exists' }]);
  }
  await checkReferences(ctx, tx, definition, target);
  await enforceQuotas(tx, ctx, { kind: 'service', appId: service.app_id, definition });
  await insertService(tx, service);
  const d = await insertNewDeployment(tx, { service, definition, action: 'create', tcpProxy: tcpProxyOf(ctx) });
  await recordEvent(tx, ctx.organizationId, 'service', service.id, 'created', `Service ${service.name} created`, { deployment_id: d.id });
  await recordActivity(tx, ctx, 'created', { type: 'service', id: service.id, name: service.name }, { app_id: service.app_id, deployment_id: d.id });
  // The insert above is version 1; pointing at the first deployment is part of creating it, not a new version.
  await linkFirstDeployment(tx, service.id, d.id);
  return { ...service, latest_deployment_id: d.id };
}

/** What a new deployment needs to give its proxy_ports public ports (insertNewDeployment). */
function tcpProxyOf(ctx: ActionContext): { ports?: ProxyPortRange; domain: string } {
  return { ports: ctx.tcpProxyPorts, domain: ctx.domain ?? 'localhost' };
}

/** Whether the organization holds app `id` (another organization's app reads as absent, as everywhere). */
async function ownsApp(db: Db, org: string, id: string): Promise<boolean> {
  try {
    await ownApp(db, org, id);
    return true;
  } catch (err) {
    if (err instanceof PierError && err.code === 'unknown_resource') return false;
    throw err;
  }
}

/** The service a dry run would create in an app that does not exist yet (never stored). */
function dryRunService(org: string, appId: string, name: string, definition: DeploymentDefinition): Service {
  const now = nowIso();
  return {
    id: newId(), created_at: now, updated_at: now, started_at: null, succeeded_at: null, paused_at: null,
    resumed_at: null, terminated_at: null, name, type: serviceTypeOf(definition), organization_id: org, app_id: appId,
    status: 'STARTING', messages: [], version: '1', active_deployment_id: '', latest_deployment_id: '',
    last_provisioned_deployment_id: '', state: {}, life_cycle: {},
  };
}

function lifeCycleOf(v: unknown): Service['life_cycle'] {
  if (!v || typeof v !== 'object') return {};
  const lc = v as Record<string, unknown>;
  const out: Service['life_cycle'] = {};
  if (typeof lc.delete_after_sleep === 'number') out.delete_after_sleep = lc.delete_after_sleep;
  if (typeof lc.delete_after_create === 'number') out.delete_after_create = lc.delete_after_create;
  return out;
}

/**
 * The deployment a new one follows (its parent, and the definition a redeploy or resume runs again): the service's
 * latest deployed one (stashes are skipped), unless that one was canceled: it never ran, so the new deployment follows
 * the active one, the one running (Koyeb's redeploy "creates a new Deployment from the current definition").
 */
export async function parentOf(db: Db, service: Service): Promise<Deployment | undefined> {
  const latest = service.latest_deployment_id ? await getDeployment(db, service.latest_deployment_id) : undefined;
  if (latest && (latest.status === 'CANCELED' || latest.status === 'CANCELING') && service.active_deployment_id
    && service.active_deployment_id !== latest.id) {
    return (await getDeployment(db, service.active_deployment_id)) ?? latest;
  }
  return latest;
}

/** A service able to take a new deployment: live and not mid-pause. A PAUSED one resumes through it. */
export function requireDeployable(service: Service): void {
  requireLive('service', service.status, service.id);
  if (service.status === 'PAUSING') {
    throw new PierError('invalid_state', `Cannot deploy service ${service.id}: its status is PAUSING; wait for PAUSED, then resume`);
  }
}

/** The activity verb of each way a service gets a new deployment. */
const ACTIVITY_VERB: Record<DeployAction, string> = {
  create: 'created', update: 'updated', save_only: 'updated', redeploy: 'redeployed', rollback: 'redeployed', resume: 'resumed',
};

/** Writes a new deployment and moves the service pointers; a PAUSED service goes RESUMING. Inside a transaction. */
export async function deployTx(
  tx: Db, ctx: ActionContext, service: Service, definition: DeploymentDefinition, action: DeployAction,
  extra: {
    skipBuild?: boolean; sourceDeploymentId?: string; metadata?: DeploymentMetadata; lifeCycle?: Service['life_cycle'];
    trigger?: DeploymentMetadata['trigger'];
  } = {},
): Promise<Deployment> {
  const parent = await parentOf(tx, service);
  // A stash runs nothing; every other new deployment (update, redeploy, rollback, resume, push) is checked.
  if (action !== 'save_only') await enforceQuotas(tx, ctx, { kind: 'service', appId: service.app_id, service, definition });
  const d = await insertNewDeployment(tx, { service, definition, parent, action, ...extra, tcpProxy: tcpProxyOf(ctx) });
  await recordActivity(tx, ctx, ACTIVITY_VERB[action], { type: 'service', id: service.id, name: service.name }, {
    app_id: service.app_id, deployment_id: d.id, version: d.version, action,
    ...(extra.sourceDeploymentId ? { source_deployment_id: extra.sourceDeploymentId } : {}),
  });
  if (action === 'save_only') {
    // A stash is stored, not deployed: latest_deployment_id keeps pointing at the newest deployed version.
    await recordEvent(tx, ctx.organizationId, 'service', service.id, 'stashed', `Service ${service.name} saved without deploying (v${d.version})`, { deployment_id: d.id });
    if (extra.lifeCycle) await patchService(tx, service.id, { life_cycle: extra.lifeCycle });
    return d;
  }
  const patch: Partial<Service> = { latest_deployment_id: d.id, type: serviceTypeOf(definition) };
  if (extra.lifeCycle) patch.life_cycle = extra.lifeCycle;
  if (service.status === 'PAUSED' || action === 'resume') {
    requireTransition('service', `service ${service.id}`, service.status, 'RESUMING', 'resume');
    patch.status = 'RESUMING';
    patch.messages = ['Resuming'];
  }
  await patchService(tx, service.id, patch);
  await recordEvent(tx, ctx.organizationId, 'service', service.id, action === 'resume' ? 'resuming' : 'deploying',
    `Service ${service.name}: deployment v${d.version} (${action})`, { deployment_id: d.id });
  return d;
}

/** PUT/PATCH /v1/services/{id}: the whole definition; a new deployment, or a STASHED one with save_only. */
export async function updateService(ctx: ActionContext, id: string, body: unknown, opts: WriteOptions = {}): Promise<Service> {
  const input = objectBody(body);
  const db = ctx.store.db;
  const service = await ownService(db, ctx.organizationId, id);
  const definition = validateDefinition(input.definition, service.name, []);
  requireDeployable(service);
  const saveOnly = input.save_only === true;
  if (input.skip_build === true) await requireBuild(db, service);
  const allowLocalGit = (await ctx.allowLocalGit?.()) ?? false;
  if (opts.dryRun) {
    await checkReferences(ctx, db, definition, { appId: service.app_id, serviceId: service.id, allowLocalGit });
    return service;
  }
  const updated = await db.transaction(async (tx) => {
    const fresh = await ownService(tx, ctx.organizationId, id);
    requireDeployable(fresh);
    await checkReferences(ctx, tx, definition, { appId: fresh.app_id, serviceId: fresh.id, allowLocalGit });
    await deployTx(tx, ctx, fresh, definition, saveOnly ? 'save_only' : 'update', {
      skipBuild: input.skip_build === true,
      metadata: input.metadata && typeof input.metadata === 'object' ? (input.metadata as DeploymentMetadata) : undefined,
      lifeCycle: input.life_cycle ? lifeCycleOf(input.life_cycle) : undefined,
    });
    return (await ownService(tx, ctx.organizationId, id));
  });
  ctx.onWrite?.();
  return updated;
}

/** skip_build needs a previous successful build (git/archive); docker sources have nothing to build. */
async function requireBuild(db: Db, service: Service): Promise<void> {
  const latest = await parentOf(db, service);
  if (latest?.definition.docker) return;
  if (!service.last_provisioned_deployment_id) {
    throw new PierError('invalid_argument', 'skip_build needs a previous successful build of this service', [
      { field: 'skip_build', description: 'no previous successful build to reuse' },
    ]);
  }
}

/**
 * POST /v1/services/{id}/redeploy: a new deployment of the latest definition. Pier extension: with
 * `deployment_id` in the body, the definition of that (older) deployment of the same service is deployed instead:
 * a rollback, recorded as metadata.pier.action = "rollback" with source_deployment_id.
 */
export async function redeployService(ctx: ActionContext, id: string, body: unknown): Promise<Deployment> {
  const input = objectBody(body);
  const db = ctx.store.db;
  const d = await db.transaction(async (tx) => {
    const service = await ownService(tx, ctx.organizationId, id);
    requireDeployable(service);
    let source: Deployment | undefined;
    let action: DeployAction = 'redeploy';
    if (typeof input.deployment_id === 'string' && input.deployment_id) {
      source = await ownDeployment(tx, ctx.organizationId, input.deployment_id);
      if (source.service_id !== service.id) {
        throw new PierError('invalid_argument', 'deployment_id belongs to another service', [
          { field: 'deployment_id', description: 'must be a deployment of this service' },
        ]);
      }
      action = 'rollback';
    } else {
      source = await parentOf(tx, service);
    }
    if (!source) throw new PierError('invalid_state', `Service ${id} has no deployment to redeploy`);
    if (input.skip_build === true) await requireBuild(tx, service);
    return deployTx(tx, ctx, service, source.definition, action, {
      skipBuild: input.skip_build === true, sourceDeploymentId: action === 'rollback' ? source.id : undefined,
    });
  });
  ctx.onWrite?.();
  return d;
}

/** Moves a service to PAUSING (from STARTING/HEALTHY/DEGRADED/UNHEALTHY/RESUMING). Inside a transaction. */
export async function pauseServiceTx(tx: Db, ctx: ActionContext, service: Service): Promise<void> {
  requireTransition('service', `service ${service.id}`, service.status, 'PAUSING', 'pause');
  await patchService(tx, service.id, { status: 'PAUSING', messages: ['Pausing: stopping every instance'] });
  await recordEvent(tx, ctx.organizationId, 'service', service.id, 'pausing', `Service ${service.name} pause requested`);
  await recordActivity(tx, ctx, 'paused', { type: 'service', id: service.id, name: service.name }, { app_id: service.app_id });
}

/** POST /v1/services/{id}/pause. */
export async function pauseService(ctx: ActionContext, id: string): Promise<Record<string, never>> {
  await ctx.store.db.transaction(async (tx) => pauseServiceTx(tx, ctx, await ownService(tx, ctx.organizationId, id)));
  ctx.onWrite?.();
  return {};
}

/** PAUSED → RESUMING plus a new deployment of the latest definition (trigger RESUME). Inside a transaction. */
export async function resumeServiceTx(
  tx: Db, ctx: ActionContext, service: Service, opts: { skipBuild?: boolean },
): Promise<Deployment> {
  requireTransition('service', `service ${service.id}`, service.status, 'RESUMING', 'resume');
  const latest = await parentOf(tx, service);
  if (!latest) throw new PierError('invalid_state', `Service ${service.id} has no deployment to resume`);
  return deployTx(tx, ctx, service, latest.definition, 'resume', { skipBuild: opts.skipBuild });
}

/** POST /v1/services/{id}/resume?skip_build=&use_cache=. */
export async function resumeService(ctx: ActionContext, id: string, opts: { skipBuild?: boolean } = {}): Promise<Record<string, never>> {
  await ctx.store.db.transaction(async (tx) => {
    await resumeServiceTx(tx, ctx, await ownService(tx, ctx.organizationId, id), opts);
  });
  ctx.onWrite?.();
  return {};
}

/** Moves a service to DELETING (from any status; idempotent). Reconcilers remove its instances, then mark it
 * DELETED; the row stays, so its deployments, events and logs remain readable by id. Inside a transaction. */
export async function deleteServiceTx(tx: Db, ctx: ActionContext, service: Service): Promise<void> {
  if (service.status === 'DELETING' || service.status === 'DELETED') return;
  requireTransition('service', `service ${service.id}`, service.status, 'DELETING', 'delete');
  await patchService(tx, service.id, { status: 'DELETING', messages: ['Deleting: stopping every instance'] });
  await releaseProxyPorts(tx, service.id); // its TCP proxy ports go to whoever asks next
  await recordEvent(tx, ctx.organizationId, 'service', service.id, 'deleting', `Service ${service.name} deletion requested`);
  await recordActivity(tx, ctx, 'deleted', { type: 'service', id: service.id, name: service.name, deleted: true }, { app_id: service.app_id });
}

/** DELETE /v1/services/{id}. */
export async function deleteService(ctx: ActionContext, id: string): Promise<Record<string, never>> {
  await ctx.store.db.transaction(async (tx) => deleteServiceTx(tx, ctx, await ownService(tx, ctx.organizationId, id)));
  ctx.onWrite?.();
  return {};
}

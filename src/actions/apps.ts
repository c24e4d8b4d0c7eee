// App actions: create (unique live name per organization), update (rename, life cycle), delete (app and services
// DELETING; reconcilers stop and remove them), pause/resume (applied to every service of the app).
import { PierError } from '../domain/errors.ts';
import { validateAppName } from '../domain/names.ts';
import { findPublicHostClash, hostOwnersOf, publicHostClashMessage, publicHostLabel, type HostOwner } from '../domain/public-host.ts';
import type { App, Domain } from '../domain/types.ts';
import type { Db } from '../store/db.ts';
import { findAppByName, insertApp, updateApp as patchApp } from '../store/apps.ts';
import { findOrganizationByName, getOrganization } from '../store/organizations.ts';
import { listServices } from '../store/services.ts';
import { newId, nowIso } from '../store/rows.ts';
import { canTransition } from '../domain/status.ts';
import {
  fieldError, objectBody, ownApp, recordActivity, recordEvent, requireLive, type ActionContext,
} from './common.ts';
import { deleteServiceTx, pauseServiceTx, resumeServiceTx } from './services.ts';
import { detachAppDomains } from './domains.ts';
import { enforceQuotas } from './quotas.ts';

function autoDomain(app: { id: string; name: string; organization_id: string; created_at: string }, orgName: string, base: string): Domain {
  return {
    id: newId(), organization_id: app.organization_id, name: `${app.name}-${orgName}.${base}`, created_at: app.created_at,
    updated_at: app.created_at, status: 'ACTIVE', type: 'AUTOASSIGNED', app_id: app.id, deployment_group: '',
    verified_at: null, intended_cname: '', messages: [], version: '1',
  };
}

async function requireUniqueName(db: Db, org: string, name: string, exceptId?: string): Promise<void> {
  const clash = await findAppByName(db, org, name);
  if (clash && clash.id !== exceptId) {
    throw new PierError('already_exists', `An app named ${name} already exists`, [{ field: 'name', description: `an app named "${name}" already exists` }]);
  }
}

/**
 * Throws 409 already_exists when another app (of any organization) already answers at the host `candidate` would
 * get: `<app>-<org>` is ambiguous when names contain dashes (org pier's app victim-b and org b-pier's app victim).
 */
export async function requireFreePublicHost(db: Db, candidate: HostOwner, exceptAppId: string | undefined, domain: string, changing: 'app' | 'organization' = 'app'): Promise<void> {
  const holders: HostOwner[] = [];
  for (const owner of hostOwnersOf(publicHostLabel(candidate))) {
    const org = await findOrganizationByName(db, owner.org);
    const app = org ? await findAppByName(db, org.id, owner.app) : undefined;
    if (app && app.id !== exceptAppId) holders.push(owner);
  }
  const holder = findPublicHostClash(candidate, holders);
  if (!holder) return;
  const message = publicHostClashMessage(candidate, holder, domain, changing);
  throw new PierError('already_exists', `Public host taken: ${message}`, [{ field: 'name', description: message }]);
}

function checkName(name: unknown): string {
  const problem = validateAppName(name);
  if (problem) throw new PierError('invalid_argument', `Validation failed: name: ${problem}`, [{ field: 'name', description: problem }]);
  return name as string;
}

/** Pier's own app settings (the `pier` key, not in Koyeb's API): `https_redirect` sends plain HTTP to HTTPS. */
function pierSettings(raw: unknown): NonNullable<App['pier']> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw fieldError('pier', 'must be an object such as {"https_redirect": true}');
  const r = raw as Record<string, unknown>;
  const out: NonNullable<App['pier']> = {};
  if (r.https_redirect !== undefined) {
    if (typeof r.https_redirect !== 'boolean') throw fieldError('pier.https_redirect', 'must be true or false');
    out.https_redirect = r.https_redirect;
  }
  return out;
}

/** POST /v1/apps. */
export async function createApp(ctx: ActionContext, body: unknown): Promise<App> {
  const input = objectBody(body);
  checkName(input.name);
  const app = await ctx.store.db.transaction((tx) => createAppTx(tx, ctx, input));
  ctx.onWrite?.();
  return app;
}

/** Creates app `input.name` inside the caller's transaction: the row, its event and activity. */
export async function createAppTx(tx: Db, ctx: ActionContext, input: Record<string, unknown>): Promise<App> {
  const name = checkName(input.name);
  const lifeCycle = (input.life_cycle && typeof input.life_cycle === 'object' ? input.life_cycle : {}) as App['life_cycle'];
  await requireUniqueName(tx, ctx.organizationId, name);
  const org = await getOrganization(tx, ctx.organizationId);
  await requireFreePublicHost(tx, { app: name, org: org?.name ?? 'pier' }, undefined, ctx.domain ?? 'localhost');
  await enforceQuotas(tx, ctx, { kind: 'app' });
  const now = nowIso();
  const base = {
    id: newId(), name, organization_id: ctx.organizationId, created_at: now, updated_at: now,
  };
  const app: App = {
    ...base, started_at: null, succeeded_at: null, paused_at: null, resumed_at: null, terminated_at: null,
    // An app with no services has nothing to wait for; reconcilers roll it up from its services afterwards.
    status: 'HEALTHY', messages: [], version: '1', domains: [autoDomain(base, org?.name ?? 'pier', ctx.domain ?? 'localhost')],
    life_cycle: { delete_when_empty: Boolean(lifeCycle.delete_when_empty) },
    ...(input.pier !== undefined ? { pier: pierSettings(input.pier) } : {}),
  };
  await insertApp(tx, app);
  await recordEvent(tx, ctx.organizationId, 'app', app.id, 'created', `App ${name} created`);
  await recordActivity(tx, ctx, 'created', { type: 'app', id: app.id, name });
  return app;
}

/** PUT/PATCH /v1/apps/{id}: rename and/or change the life cycle. */
export async function updateApp(ctx: ActionContext, id: string, body: unknown): Promise<App> {
  const input = objectBody(body);
  const app = await ctx.store.db.transaction(async (tx) => {
    const app = await ownApp(tx, ctx.organizationId, id);
    requireLive('app', app.status, id);
    const patch: Partial<App> = {};
    if (input.name !== undefined && input.name !== app.name) {
      const name = checkName(input.name);
      await requireUniqueName(tx, ctx.organizationId, name, id);
      const org = await getOrganization(tx, ctx.organizationId);
      await requireFreePublicHost(tx, { app: name, org: org?.name ?? 'pier' }, id, ctx.domain ?? 'localhost');
      patch.name = name;
      patch.domains = app.domains.map((d) => (d.type === 'AUTOASSIGNED'
        ? { ...d, name: `${name}-${org?.name ?? 'pier'}.${ctx.domain ?? 'localhost'}`, updated_at: nowIso() }
        : d));
    }
    if (input.life_cycle && typeof input.life_cycle === 'object') {
      patch.life_cycle = { delete_when_empty: Boolean((input.life_cycle as App['life_cycle']).delete_when_empty) };
    }
    if (input.pier !== undefined) patch.pier = { ...app.pier, ...pierSettings(input.pier) };
    const updated = (await patchApp(tx, id, patch))!;
    await recordEvent(tx, ctx.organizationId, 'app', id, 'updated', `App ${updated.name} updated`, { fields: Object.keys(patch) });
    await recordActivity(tx, ctx, 'updated', { type: 'app', id, name: updated.name }, { fields: Object.keys(patch) });
    return updated;
  });
  ctx.onWrite?.();
  return app;
}

async function liveServicesOf(db: Db, appId: string) {
  return (await listServices(db, { appId, excludeDeleted: true })).items;
}

/** DELETE /v1/apps/{id}: the app and each of its services go DELETING (idempotent). */
export async function deleteApp(ctx: ActionContext, id: string): Promise<Record<string, never>> {
  await ctx.store.db.transaction(async (tx) => {
    const app = await ownApp(tx, ctx.organizationId, id);
    if (app.status === 'DELETING' || app.status === 'DELETED') return;
    for (const s of await liveServicesOf(tx, id)) await deleteServiceTx(tx, ctx, s);
    await detachAppDomains(tx, ctx.organizationId, id);
    await patchApp(tx, id, { status: 'DELETING', messages: ['App deletion requested'] });
    await recordEvent(tx, ctx.organizationId, 'app', id, 'deleting', `App ${app.name} deletion requested`);
    await recordActivity(tx, ctx, 'deleted', { type: 'app', id, name: app.name, deleted: true });
  });
  ctx.onWrite?.();
  return {};
}

/** POST /v1/apps/{id}/pause: pauses every service that can pause. */
export async function pauseApp(ctx: ActionContext, id: string): Promise<Record<string, never>> {
  await ctx.store.db.transaction(async (tx) => {
    const app = await ownApp(tx, ctx.organizationId, id);
    requireLive('app', app.status, id);
    for (const s of await liveServicesOf(tx, id)) {
      if (canTransition('service', s.status, 'PAUSING')) await pauseServiceTx(tx, ctx, s);
    }
    if (app.status !== 'PAUSED' && app.status !== 'PAUSING') {
      await patchApp(tx, id, { status: 'PAUSING', messages: ['App pause requested'] });
    }
    await recordEvent(tx, ctx.organizationId, 'app', id, 'pausing', `App ${app.name} pause requested`);
    await recordActivity(tx, ctx, 'paused', { type: 'app', id, name: app.name });
  });
  ctx.onWrite?.();
  return {};
}

/** POST /v1/apps/{id}/resume: resumes every PAUSED service. */
export async function resumeApp(ctx: ActionContext, id: string): Promise<Record<string, never>> {
  await ctx.store.db.transaction(async (tx) => {
    const app = await ownApp(tx, ctx.organizationId, id);
    requireLive('app', app.status, id);
    for (const s of await liveServicesOf(tx, id)) {
      if (s.status === 'PAUSED') await resumeServiceTx(tx, ctx, s, {});
    }
    if (app.status === 'PAUSED' || app.status === 'PAUSING') {
      await patchApp(tx, id, { status: 'RESUMING', messages: ['App resume requested'] });
    }
    await recordEvent(tx, ctx.organizationId, 'app', id, 'resuming', `App ${app.name} resume requested`);
    await recordActivity(tx, ctx, 'resumed', { type: 'app', id, name: app.name });
  });
  ctx.onWrite?.();
  return {};
}

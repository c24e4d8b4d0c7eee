// Domain actions: create (a claim: one live per organization and name, refused once another organization verified
// the name; optionally attached), attach/detach (PATCH app_id), delete (DELETING, detached; the certificate manager
// finishes it), refresh (re-check DNS and retry the certificate now). Statuses past creation are the certificate
// manager's (src/certs), which verifies ownership (CNAME or TXT), expires stale claims and issues certificates.
import { PierError, invalidState, notFound, validationError } from '../domain/errors.ts';
import { autoAssignedName, markDomain, normalizeDomainName, validateCreateDomain, type DomainMark } from '../domain/domains.ts';
import type { App, Domain } from '../domain/types.ts';
import type { Db } from '../store/db.ts';
import {
  findLiveDomainByName, findVerifiedDomainByName, getDomain, insertDomain, listDomains, newVerificationToken, setCertSchedule,
  updateDomain as patchDomain, verificationToken,
} from '../store/domains.ts';
import { listApps } from '../store/apps.ts';
import { newId, nowIso, type ListResult, type Page } from '../store/rows.ts';
import { fieldError, objectBody, ownApp, recordActivity, recordEvent, requireLive, type ActionContext } from './common.ts';

async function attachableApp(db: Db, org: string, appId: string): Promise<App> {
  const app = await ownApp(db, org, appId).catch((err: unknown) => {
    if (err instanceof PierError && err.code === 'unknown_resource') throw fieldError('app_id', `no app with id ${appId}`);
    throw err;
  });
  requireLive('app', app.status, appId);
  return app;
}

/**
 * The status a newly created, attached or detached domain starts from: an unverified claim says how to prove it
 * (CNAME or TXT with its token); a verified one waits for DNS and its certificate, or for an app.
 */
function startMark(name: string, verified: boolean, app: App | undefined, token: string): DomainMark {
  if (!verified) return markDomain.unverified({ name, intended: app ? autoAssignedName(app) : '', token });
  return app ? markDomain.waitingForDns(name, autoAssignedName(app)) : markDomain.detached();
}

/** POST /v1/domains. */
export async function createDomain(ctx: ActionContext, body: unknown, opts: { dryRun?: boolean } = {}): Promise<Domain> {
  const input = objectBody(body);
  const errors = validateCreateDomain(input, ctx.domain ?? 'localhost');
  if (errors.length) throw validationError(errors);
  const name = normalizeDomainName(input.name as string);
  const appId = typeof input.app_id === 'string' && input.app_id ? input.app_id : '';
  const run = async (tx: Db): Promise<Domain> => {
    // An unverified claim elsewhere never blocks this one (the first to verify wins); a verified one does.
    if (await findLiveDomainByName(tx, ctx.organizationId, name)) {
      throw new PierError('already_exists', `The domain ${name} is already registered`, [{ field: 'name', description: `"${name}" is already registered` }]);
    }
    if (await findVerifiedDomainByName(tx, name)) {
      throw new PierError('already_exists', `The domain ${name} is owned by another organization`, [
        { field: 'name', description: `"${name}" was verified by another organization` },
      ]);
    }
    const app = appId ? await attachableApp(tx, ctx.organizationId, appId) : undefined;
    const now = nowIso();
    const token = newVerificationToken();
    const mark = startMark(name, false, app, token);
    const domain: Domain = {
      id: newId(), organization_id: ctx.organizationId, name, created_at: now, updated_at: now, status: mark.status,
      type: 'CUSTOM', app_id: appId, deployment_group: '', verified_at: null, intended_cname: app ? autoAssignedName(app) : '',
      messages: mark.messages, version: '1',
    };
    if (opts.dryRun) return domain;
    await insertDomain(tx, domain, token);
    if (app) await recordEvent(tx, ctx.organizationId, 'app', app.id, 'domain_attached', `Domain ${name} attached to app ${app.name}`);
    await recordActivity(tx, ctx, 'created', { type: 'domain', id: domain.id, name }, { app_id: appId });
    return domain;
  };
  const domain = opts.dryRun ? await run(ctx.store.db) : await ctx.store.db.transaction(run);
  if (!opts.dryRun) ctx.onWrite?.();
  return domain;
}

/** The domain if it belongs to the organization (custom domains, then auto-assigned ones), else 404. */
export async function ownDomain(db: Db, org: string, id: string): Promise<Domain> {
  const d = await getDomain(db, id);
  if (d && d.organization_id === org) return d;
  if (!d) {
    const auto = (await autoAssignedDomains(db, org)).find((a) => a.id === id);
    if (auto) return auto;
  }
  throw notFound('domain', id);
}

async function autoAssignedDomains(db: Db, org: string): Promise<Domain[]> {
  const { items } = await listApps(db, { organizationId: org, excludeDeleted: true });
  return items.flatMap((a) => a.domains.filter((d) => d.type === 'AUTOASSIGNED'));
}

/** Filters of GET /v1/domains. */
export interface DomainListQuery { types?: string[]; statuses?: string[]; appIds?: string[]; name?: string; ids?: string[] }

/**
 * GET /v1/domains: the organization's custom domains (not DELETED unless asked by status) and, unless the types
 * filter leaves them out, the auto-assigned domain of each live app; newest first.
 */
export async function listDomainViews(ctx: ActionContext, q: DomainListQuery, page: Page): Promise<ListResult<Domain>> {
  const db = ctx.store.db;
  const wantAuto = !q.types || q.types.includes('AUTOASSIGNED');
  const wantCustom = !q.types || q.types.includes('CUSTOM');
  const custom = wantCustom
    ? (await listDomains(db, { organizationId: ctx.organizationId, name: q.name, statuses: q.statuses, appIds: q.appIds, ids: q.ids, excludeDeleted: !q.statuses })).items
    : [];
  const auto = wantAuto
    ? (await autoAssignedDomains(db, ctx.organizationId)).filter((d) => (!q.name || d.name === q.name)
      && (!q.statuses || q.statuses.includes(d.status)) && (!q.appIds || q.appIds.includes(d.app_id)) && (!q.ids || q.ids.includes(d.id)))
    : [];
  const all = [...custom, ...auto].sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
  return { items: all.slice(page.offset, page.offset + page.limit), count: all.length };
}

/** PATCH /v1/domains/{id}: attach (`app_id`), move or detach (`app_id: ""`) a custom domain. */
export async function updateDomain(
  ctx: ActionContext, id: string, body: unknown, opts: { updateMask?: string[]; dryRun?: boolean } = {},
): Promise<Domain> {
  const input = objectBody(body);
  const mask = opts.updateMask ?? Object.keys(input);
  const run = async (tx: Db): Promise<Domain> => {
    const d = await ownDomain(tx, ctx.organizationId, id);
    if (d.type !== 'CUSTOM') {
      throw new PierError('invalid_argument', 'Auto-assigned domains follow their app: rename the app to change them', [
        { field: 'subdomain', description: 'rename the app (PATCH /v1/apps/{id} name) to change its auto-assigned domain' },
      ]);
    }
    if (d.status === 'DELETING' || d.status === 'DELETED') throw invalidState(`The domain ${d.name} is ${d.status}`);
    if (mask.includes('subdomain') && input.subdomain !== undefined) throw fieldError('subdomain', 'applies to auto-assigned domains only');
    if (!mask.includes('app_id') || input.app_id === undefined) return d;
    if (typeof input.app_id !== 'string') throw fieldError('app_id', 'must be a string (empty to detach)');
    const appId = input.app_id;
    if (appId === d.app_id) return d;
    const app = appId ? await attachableApp(tx, ctx.organizationId, appId) : undefined;
    // Ownership belongs to the organization: moving a verified domain between its apps keeps it verified.
    const mark = startMark(d.name, Boolean(d.verified_at), app, await verificationToken(tx, d.id));
    const patch: Partial<Domain> = {
      app_id: appId, intended_cname: app ? autoAssignedName(app) : '', status: mark.status, messages: mark.messages,
    };
    if (opts.dryRun) return { ...d, ...patch };
    const updated = (await patchDomain(tx, id, patch))!;
    await setCertSchedule(tx, id, { attempts: 0, nextAttemptAt: null, dnsCheckedAt: null });
    if (d.app_id) await recordEvent(tx, ctx.organizationId, 'app', d.app_id, 'domain_detached', `Domain ${d.name} detached`);
    if (app) await recordEvent(tx, ctx.organizationId, 'app', app.id, 'domain_attached', `Domain ${d.name} attached to app ${app.name}`);
    await recordActivity(tx, ctx, 'updated', { type: 'domain', id, name: d.name }, { app_id: appId, previous_app_id: d.app_id });
    return updated;
  };
  const out = opts.dryRun ? await run(ctx.store.db) : await ctx.store.db.transaction(run);
  if (!opts.dryRun) ctx.onWrite?.();
  return out;
}

/** DELETE /v1/domains/{id}: DELETING and detached at once (the edge stops routing it); idempotent. */
export async function deleteDomain(ctx: ActionContext, id: string): Promise<Record<string, never>> {
  await ctx.store.db.transaction(async (tx) => {
    const d = await ownDomain(tx, ctx.organizationId, id);
    if (d.type !== 'CUSTOM') throw invalidState(`The domain ${d.name} is auto-assigned: it goes away with its app`);
    if (d.status === 'DELETING' || d.status === 'DELETED') return;
    await patchDomain(tx, id, { ...markDomain.deleting(), app_id: '' });
    if (d.app_id) await recordEvent(tx, ctx.organizationId, 'app', d.app_id, 'domain_detached', `Domain ${d.name} deleted`);
    await recordActivity(tx, ctx, 'deleted', { type: 'domain', id, name: d.name, deleted: true });
  });
  ctx.onWrite?.();
  return {};
}

/** POST /v1/domains/{id}/refresh: check DNS and retry the certificate at the next pass instead of at the scheduled time. */
export async function refreshDomain(ctx: ActionContext, id: string): Promise<Record<string, never>> {
  const d = await ownDomain(ctx.store.db, ctx.organizationId, id);
  if (d.type === 'CUSTOM') {
    if (d.status === 'DELETING' || d.status === 'DELETED') throw invalidState(`The domain ${d.name} is ${d.status}`);
    await setCertSchedule(ctx.store.db, id, { nextAttemptAt: null, dnsCheckedAt: null });
  }
  ctx.onWrite?.();
  return {};
}

/** Detaches every custom domain of an app being deleted (inside the app's delete transaction). */
export async function detachAppDomains(tx: Db, org: string, appId: string): Promise<void> {
  for (const d of (await listDomains(tx, { organizationId: org, appIds: [appId], excludeDeleted: true })).items) {
    if (d.status === 'DELETING') continue;
    const mark = startMark(d.name, Boolean(d.verified_at), undefined, await verificationToken(tx, d.id));
    await patchDomain(tx, d.id, { status: mark.status, messages: mark.messages, app_id: '', intended_cname: '' });
  }
}

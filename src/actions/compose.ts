// Compose (POST /v1/compose, `koyeb compose FILE`, `pier compose FILE`): one document declares an app and its
// services; applying it creates the app if missing, creates each missing service and deploys each changed one, all
// in ONE transaction (a bad service leaves nothing written). Idempotent: a service whose definition equals its
// latest deployed one gets no new deployment, so applying the same file twice changes nothing. Services of the app
// that the file does not name are left alone (Koyeb's compose never deletes).
import { PierError, validationError } from '../domain/errors.ts';
import { normalizeDefinition } from '../domain/definition.ts';
import { validateAppName, validateServiceName } from '../domain/names.ts';
import type { App, DeploymentDefinition, FieldError, Service } from '../domain/types.ts';
import type { Db } from '../store/db.ts';
import { findAppByName } from '../store/apps.ts';
import { findServiceByName, getService } from '../store/services.ts';
import { objectBody, recordActivity, requireLive, type ActionContext } from './common.ts';
import { createAppTx } from './apps.ts';
import { checkReferences } from './references.ts';
import { createServiceTx, deployTx, newServiceRow, parentOf, requireDeployable } from './services.ts';

/** What compose did to each named service, in file order. */
export interface ComposeOutcome { created: string[]; updated: string[]; unchanged: string[] }

/** The reply of POST /v1/compose: Koyeb's ComposeReply plus Pier's outcome. */
export interface ComposeResult { app: App; services: Service[]; pier: ComposeOutcome & { app_created: boolean } }

/** Most services one file may declare. */
export const MAX_COMPOSE_SERVICES = 50;

const SERVICE_KEYS = new Set(['definition', 'name', 'life_cycle', 'app_id', 'project_id']);

interface Declared { index: number; name: string; definition: DeploymentDefinition; lifeCycle: unknown }

/** Validates the whole document first: every problem at once, each named by its path in the file. */
function readDocument(body: unknown): { app: Record<string, unknown>; services: Declared[] } {
  const input = objectBody(body);
  const errors: FieldError[] = [];
  const app = input.app;
  if (!app || typeof app !== 'object' || Array.isArray(app)) {
    errors.push({ field: 'app', description: 'is required: an object with the app\'s name, e.g. app: {name: my-app}' });
  } else {
    const problem = validateAppName((app as Record<string, unknown>).name);
    if (problem) errors.push({ field: 'app.name', description: problem });
  }
  const list = input.services;
  if (!Array.isArray(list) || list.length === 0) {
    errors.push({ field: 'services', description: 'is required: a list of services, each with a definition (name, docker or git, ports...)' });
  } else if (list.length > MAX_COMPOSE_SERVICES) {
    errors.push({ field: 'services', description: `declares ${list.length} services; at most ${MAX_COMPOSE_SERVICES} per file` });
  }
  const services: Declared[] = [];
  const seen = new Map<string, number>();
  (Array.isArray(list) ? list : []).forEach((raw: unknown, index: number) => {
    const path = `services[${index}]`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      errors.push({ field: path, description: 'must be an object such as {definition: {name: web, docker: {image: nginx}}}' });
      return;
    }
    const s = raw as Record<string, unknown>;
    for (const key of Object.keys(s)) {
      if (!SERVICE_KEYS.has(key)) errors.push({ field: `${path}.${key}`, description: `is not a service field here (expected ${[...SERVICE_KEYS].join(', ')})` });
    }
    const def = s.definition as Record<string, unknown> | undefined;
    const fromName = typeof s.name === 'string' && s.name !== '';
    const name = fromName ? s.name as string : def && typeof def === 'object' && typeof def.name === 'string' ? def.name : undefined;
    const nameField = fromName ? `${path}.name` : `${path}.definition.name`;
    const problem = validateServiceName(name);
    if (problem) errors.push({ field: nameField, description: problem });
    if (name !== undefined && !problem) {
      const earlier = seen.get(name);
      if (earlier !== undefined) errors.push({ field: nameField, description: `"${name}" is also declared by services[${earlier}]: each service appears once` });
      else seen.set(name, index);
    }
    const { definition, errors: defErrors } = normalizeDefinition(def, { path: `${path}.definition` });
    errors.push(...defErrors);
    services.push({ index, name: name ?? '', definition: { ...definition, name: name ?? '' }, lifeCycle: s.life_cycle });
  });
  if (errors.length) throw validationError(errors);
  return { app: app as Record<string, unknown>, services };
}

/** Key-sorted JSON: two definitions are the same when they serialise the same. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
    : v));
}

/** An error raised while writing service `s`, its fields prefixed with the service's place in the file. */
function inService(err: unknown, s: Declared): unknown {
  if (!(err instanceof PierError)) return err;
  const path = `services[${s.index}]`;
  // Definition fields get the service's place in the file; quota fields name the organization's quota as they are.
  const fields = err.fields?.map((f) => ({
    ...f, field: f.field.startsWith('quotas') ? f.field : f.field.startsWith('definition') || f.field === 'name' ? `${path}.${f.field}` : `${path}.definition.${f.field}`,
  }));
  return new PierError(err.code, `${path} (${s.name}): ${err.message}`, fields ?? []);
}

/** Creates or updates one declared service inside the transaction; returns what happened to it. */
async function applyService(tx: Db, ctx: ActionContext, app: App, s: Declared, allowLocalGit: boolean): Promise<keyof ComposeOutcome> {
  const existing = await findServiceByName(tx, app.id, s.name);
  if (!existing) {
    const target = { appId: app.id, allowLocalGit };
    await createServiceTx(tx, ctx, newServiceRow(ctx, app, s.name, s.definition, s.lifeCycle), s.definition, target);
    return 'created';
  }
  requireDeployable(existing);
  const parent = await parentOf(tx, existing);
  // The same definition as the latest deployed one: nothing to do (a PAUSED service stays paused; resume it).
  if (parent && canonical(parent.definition) === canonical(s.definition)) return 'unchanged';
  await checkReferences(ctx, tx, s.definition, { appId: app.id, serviceId: existing.id, allowLocalGit });
  await deployTx(tx, ctx, existing, s.definition, 'update');
  return 'updated';
}

/** POST /v1/compose: the app and its declared services, created or updated in one transaction. */
export async function compose(ctx: ActionContext, body: unknown): Promise<ComposeResult> {
  const doc = readDocument(body);
  const allowLocalGit = (await ctx.allowLocalGit?.()) ?? false;
  const appName = doc.app.name as string;
  const result = await ctx.store.db.transaction(async (tx) => {
    let app = await findAppByName(tx, ctx.organizationId, appName);
    const appCreated = !app;
    if (app) requireLive('app', app.status, app.id);
    else app = await createAppTx(tx, ctx, { name: appName, ...(doc.app.life_cycle !== undefined ? { life_cycle: doc.app.life_cycle } : {}) });
    const outcome: ComposeOutcome = { created: [], updated: [], unchanged: [] };
    for (const s of doc.services) {
      try {
        outcome[await applyService(tx, ctx, app, s, allowLocalGit)].push(s.name);
      } catch (err) {
        throw inService(err, s);
      }
    }
    if (outcome.created.length || outcome.updated.length) {
      await recordActivity(tx, ctx, 'composed', { type: 'app', id: app.id, name: app.name }, { ...outcome, app_created: appCreated });
    }
    const services: Service[] = [];
    for (const s of doc.services) services.push((await getService(tx, (await findServiceByName(tx, app.id, s.name))!.id))!);
    return { app, services, pier: { ...outcome, app_created: appCreated } };
  });
  if (result.pier.created.length || result.pier.updated.length) ctx.onWrite?.();
  return result;
}

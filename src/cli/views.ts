// Table columns and describe blocks for each resource, shared by the commands that show them.
import type { App, Deployment, Instance, RegionalDeployment, Service } from '../domain/types.ts';
import type { Ctx } from './command.ts';
import { age, shortId, truncate } from './output.ts';
import { appUrls, type EdgePorts } from './urls.ts';

/** A secret as the API lists it (value redacted). */
export interface SecretView {
  id: string;
  name: string;
  type: string;
  created_at: string;
  updated_at?: string;
}

const msg = (ctx: Ctx, messages: string[] | undefined): string => truncate((messages ?? []).join('; ') || '-', 60, ctx.full);

/** Columns of an app list. */
export const APP_HEADERS = ['ID', 'NAME', 'STATUS', 'URL', 'CREATED'];
/** One app as a table row: its URLs (one per domain) with the edge's port, so they can be opened as shown. */
export function appRow(ctx: Ctx, a: App, edge: EdgePorts): string[] {
  const urls = appUrls(a, edge).join(', ') || '-';
  return [shortId(a.id, ctx.full), a.name, a.status, urls, age(a.created_at, ctx.io.now())];
}

/** Columns of a service list. */
export const SERVICE_HEADERS = ['ID', 'APP', 'NAME', 'TYPE', 'STATUS', 'CREATED'];
/** One service as a table row; `appNames` maps app ids to names. */
export function serviceRow(ctx: Ctx, s: Service, appNames: Map<string, string>): string[] {
  return [shortId(s.id, ctx.full), appNames.get(s.app_id) ?? shortId(s.app_id, ctx.full), s.name, s.type, s.status, age(s.created_at, ctx.io.now())];
}

/** Columns of a deployment list. */
export const DEPLOYMENT_HEADERS = ['ID', 'SERVICE', 'VERSION', 'STATUS', 'MESSAGES', 'REGIONS', 'CREATED'];
/** One deployment as a table row. */
export function deploymentRow(ctx: Ctx, d: Deployment): string[] {
  return [
    shortId(d.id, ctx.full), d.definition?.name ?? shortId(d.service_id, ctx.full), d.version ?? '-', d.status,
    msg(ctx, d.messages), (d.definition?.regions ?? []).join(',') || '-', age(d.created_at, ctx.io.now()),
  ];
}

/** Columns of a regional deployment list. */
export const REGIONAL_HEADERS = ['ID', 'REGION', 'DEPLOYMENT', 'STATUS', 'MESSAGES', 'CREATED'];
/** One regional deployment as a table row. */
export function regionalRow(ctx: Ctx, r: RegionalDeployment): string[] {
  return [shortId(r.id, ctx.full), r.region, shortId(r.deployment_id, ctx.full), r.status, msg(ctx, r.messages), age(r.created_at, ctx.io.now())];
}

/** Columns of an instance list. */
export const INSTANCE_HEADERS = ['ID', 'SERVICE', 'STATUS', 'REGION', 'DATACENTER', 'MESSAGES', 'CREATED'];
/** One instance as a table row. */
export function instanceRow(ctx: Ctx, i: Instance): string[] {
  return [
    shortId(i.id, ctx.full), shortId(i.service_id, ctx.full), i.status, i.region || '-', i.datacenter || '-',
    msg(ctx, i.messages), age(i.created_at, ctx.io.now()),
  ];
}

/** Columns of a secret list; values are never shown here (`secrets reveal` shows one). */
export const SECRET_HEADERS = ['ID', 'NAME', 'TYPE', 'VALUE', 'CREATED'];
/** One secret as a table row. */
export function secretRow(ctx: Ctx, s: SecretView): string[] {
  return [shortId(s.id, ctx.full), s.name, s.type, '*****', age(s.created_at, ctx.io.now())];
}

/** A map from app id to name, for service tables. */
export async function appNameMap(ctx: Ctx): Promise<Map<string, string>> {
  const apps = await ctx.client().listAll<App>('/v1/apps', 'apps');
  return new Map(apps.map((a) => [a.id, a.name]));
}

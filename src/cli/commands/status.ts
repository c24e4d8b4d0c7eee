// `pier status`: what runs, at a glance (apps, services, their statuses and URLs), and `pier login`: store the API's
// URL and a token, checked against the API first, in the credentials file every other command reads.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { App, Deployment, Service } from '../../domain/types.ts';
import { UsageError } from '../args.ts';
import { ApiClient } from '../client.ts';
import type { Command, Ctx } from '../command.ts';
import { ApiError, CliError } from '../errors.ts';
import { printRaw, renderTable, truncate } from '../output.ts';
import { DEFAULT_URL, credentialsPath } from '../settings.ts';
import { edgePorts, serviceUrls } from '../urls.ts';

/** One service line of `pier status`. */
export interface StatusRow {
  app: string;
  service: string;
  type: string;
  status: string;
  urls: string[];
  message: string;
}

async function statusRows(ctx: Ctx): Promise<{ info: Record<string, unknown>; rows: StatusRow[]; apps: App[] }> {
  const client = ctx.client();
  const [apps, services, edge, info] = await Promise.all([
    client.listAll<App>('/v1/apps', 'apps'),
    client.listAll<Service>('/v1/services', 'services'),
    edgePorts(ctx),
    client.get<Record<string, unknown>>('/v1/pier/info').catch(() => ({})),
  ]);
  const byId = new Map(apps.map((a) => [a.id, a]));
  const rows = await Promise.all(services.map(async (s): Promise<StatusRow> => {
    const app = byId.get(s.app_id);
    const depId = s.active_deployment_id || s.latest_deployment_id;
    let definition: Deployment['definition'] | undefined;
    if (depId && app) definition = (await client.get<{ deployment: Deployment }>(`/v1/deployments/${depId}`)).deployment.definition;
    return {
      app: app?.name ?? s.app_id.slice(0, 8), service: s.name, type: s.type, status: s.status,
      urls: app ? serviceUrls(app, definition, edge) : [], message: (s.messages ?? []).at(-1) ?? '',
    };
  }));
  rows.sort((a, b) => a.app.localeCompare(b.app) || a.service.localeCompare(b.service));
  return { info, rows, apps };
}

async function status(ctx: Ctx): Promise<number> {
  const { info, rows, apps } = await statusRows(ctx);
  const client = ctx.client();
  if (printRaw(ctx, { api_url: client.baseUrl, info, services: rows })) return 0;
  const facts = [
    `Pier${typeof info.version === 'string' ? ` ${info.version}` : ''} at ${client.baseUrl}`,
    typeof info.runtime === 'string' ? `runtime ${info.runtime}` : '',
    typeof info.edge_url === 'string' ? `edge ${info.edge_url}` : '',
  ].filter(Boolean);
  ctx.out(facts.join(' · '));
  if (!rows.length) {
    ctx.out(apps.length ? `${apps.length} app(s), no services yet.` : 'Nothing deployed yet. Try: pier app init hello --docker nginx:1.27 --ports 80:http --routes /:80 --wait');
    return 0;
  }
  ctx.out('');
  ctx.out(renderTable(['APP', 'SERVICE', 'TYPE', 'STATUS', 'URL', 'MESSAGE'], rows.map((r) => [
    r.app, r.service, r.type, r.status, r.urls.join(', ') || '-', truncate(r.message || '-', 60, ctx.full),
  ])));
  return 0;
}

/** Writes url and token into the credentials file (mode 0600), keeping its other fields when the URL is unchanged. */
export function saveCredentials(path: string, url: string, token: string, organizationId: string | undefined): void {
  let saved: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      saved = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch {
      saved = {}; // An unreadable file is replaced whole: the new settings are what the user asked for.
    }
  }
  const next = { ...(saved.url === url ? saved : {}), url, token, ...(organizationId ? { organization_id: organizationId } : {}) };
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600); // writeFileSync's mode applies only to a new file
}

async function login(ctx: Ctx): Promise<number> {
  const a = ctx.args;
  const url = (a.str('url') || ctx.io.env.PIER_URL || DEFAULT_URL).replace(/\/+$/, '');
  let token = a.str('token');
  if (token === undefined && a.bool('token-from-stdin')) token = (await ctx.io.readStdin()).trim();
  if (!token) throw new UsageError('give the token with --token TOKEN or --token-from-stdin (e.g. pier tokens create NAME on a machine already logged in)');
  const client = new ApiClient(url, token);
  try {
    await client.get('/v1/apps', { limit: 1 });
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      throw new CliError(`the API at ${url} refused this token (${err.message}); nothing was saved`);
    }
    throw err;
  }
  const info = await client.get<{ organization_id?: string }>('/v1/pier/info').catch(() => ({}) as { organization_id?: string });
  const path = credentialsPath(ctx.io.env);
  saveCredentials(path, url, token, info.organization_id);
  ctx.out(`Logged in to ${url}; saved in ${path} (mode 0600).`);
  return 0;
}

/** `pier status`. */
export const statusCommand: Command = {
  name: 'status',
  summary: 'Show what runs: apps, services, their statuses and URLs',
  run: status,
};

/** `pier login`. */
export const loginCommand: Command = {
  name: 'login',
  summary: 'Check an API URL and token, then save them in the credentials file the CLI reads',
  flags: [{ name: 'token-from-stdin', kind: 'bool', help: 'Read the token from stdin (keeps it out of shell history)' }],
  examples: ['printf %s "$TOKEN" | pier login --url https://pier.example.com --token-from-stdin'],
  run: login,
};

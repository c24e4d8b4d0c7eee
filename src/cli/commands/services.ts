// `pier services` (s, svc, service): the koyeb CLI's service commands against Pier's API.
import type { App, Deployment, Instance, ResourceEvent, Service } from '../../domain/types.ts';
import type { FlagSpec } from '../args.ts';
import type { Command, Ctx } from '../command.ts';
import { ALL_DEPLOYMENTS_FLAG, showServiceLogs } from '../service-logs.ts';
import { edgePorts, serviceUrls } from '../urls.ts';
import { age, printList, printRaw, renderKeyValues, renderTable, shortId, toYaml } from '../output.ts';
import { resolveApp, resolveService } from '../resolve.ts';
import {
  appNameMap, DEPLOYMENT_HEADERS, deploymentRow, INSTANCE_HEADERS, instanceRow, SERVICE_HEADERS, serviceRow,
} from '../views.ts';
import { DEFINITION_FLAGS, WAIT_FLAGS } from './definition-specs.ts';
import { createService, printService, redeployService, updateService } from './service-deploy.ts';
import { scaleCommand } from './service-scale.ts';
import { LOG_FLAGS } from '../logs.ts';
import { UsageError } from '../args.ts';
import { runExec } from '../exec.ts';

const APP_FLAG: FlagSpec = { name: 'app', short: 'a', kind: 'string', placeholder: 'APP', help: 'App of the service (name or id)' };

/** Resolves the NAME argument (`<app>/<service>`, `<service>` + --app, UUID or short id) to a service id. */
/** `pier services events NAME`: the service's events from /v1/service_events, newest first. */
async function serviceEvents(ctx: Ctx): Promise<number> {
  const id = await serviceArg(ctx);
  const limitText = ctx.args.str('limit') ?? '20';
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new UsageError(`--limit must be a whole number from 1 to 100, got "${limitText}"`);
  const query = new URLSearchParams({ service_id: id, limit: String(limit), order: 'desc' });
  const type = ctx.args.str('type');
  if (type) query.set('types', type);
  const reply = await ctx.client().get<{ events: ResourceEvent[] }>(`/v1/service_events?${query}`);
  if (printRaw(ctx, reply)) return 0;
  ctx.out(renderTable(['WHEN', 'TYPE', 'MESSAGE'], reply.events.map((e) => [age(e.when, Date.now()), e.type, e.message])));
  return 0;
}

export function serviceArg(ctx: Ctx): Promise<string> {
  return resolveService(ctx.client(), ctx.args.positionals[0]!, ctx.args.str('app'));
}

async function getService(ctx: Ctx): Promise<number> {
  const id = await serviceArg(ctx);
  await printService(ctx, await ctx.client().get<{ service: Service }>(`/v1/services/${id}`));
  return 0;
}

async function listServices(ctx: Ctx): Promise<number> {
  const client = ctx.client();
  const app = ctx.args.str('app');
  const query = { app_id: app ? await resolveApp(client, app) : undefined, name: ctx.args.str('name') };
  const services = await client.listAll<Service>('/v1/services', 'services', query);
  const names = ctx.output === 'table' ? await appNameMap(ctx) : new Map<string, string>();
  printList(ctx, { services, count: services.length }, services, SERVICE_HEADERS, (s) => serviceRow(ctx, s, names));
  return 0;
}

async function describeService(ctx: Ctx): Promise<number> {
  const client = ctx.client();
  const id = await serviceArg(ctx);
  const reply = await client.get<{ service: Service }>(`/v1/services/${id}`);
  if (printRaw(ctx, reply)) return 0;
  const s = reply.service;
  const { app } = await client.get<{ app: App }>(`/v1/apps/${s.app_id}`);
  const { deployments } = await client.get<{ deployments: Deployment[] }>('/v1/deployments', { service_id: id, limit: 10 });
  const instances = await client.listAll<Instance>('/v1/instances', 'instances', { service_id: id });
  const now = ctx.io.now();
  // The serving deployment's routes are where the service answers now (the latest may still be rolling out).
  const serving = (deployments ?? []).find((d) => d.id === s.active_deployment_id) ?? deployments?.[0];
  const urls = serviceUrls(app, serving?.definition, await edgePorts(ctx));
  ctx.out(renderKeyValues([
    ['ID', s.id], ['Name', s.name], ['App', `${app.name} (${shortId(app.id, ctx.full)})`], ['Type', s.type],
    ['Status', s.status], ['Messages', (s.messages ?? []).join('; ') || '-'],
    ['URL', urls.join(', ') || (s.type === 'WORKER' ? '- (worker)' : '- (private: no public route)')],
    // Where its TCP proxy ports answer (given at deploy time: the serving deployment's metadata).
    ...((serving?.metadata?.proxy_ports ?? []).length
      ? [['TCP proxy', serving!.metadata.proxy_ports!.map((p) => `${p.host}:${p.public_port} -> ${p.port}`).join(', ')] as [string, string]]
      : []),
    ['Active deployment', shortId(s.active_deployment_id, ctx.full)], ['Latest deployment', shortId(s.latest_deployment_id, ctx.full)],
    ['Created', `${s.created_at} (${age(s.created_at, now)})`], ['Updated', `${s.updated_at} (${age(s.updated_at, now)})`],
  ]));
  const latest = deployments?.[0];
  if (latest) ctx.out(`\nDefinition (deployment ${shortId(latest.id, ctx.full)}):\n${indent(toYaml(latest.definition))}`);
  ctx.out(`\nDeployments:\n${renderTable(DEPLOYMENT_HEADERS, (deployments ?? []).map((d) => deploymentRow(ctx, d)))}`);
  ctx.out(`\nInstances:\n${renderTable(INSTANCE_HEADERS, instances.map((i) => instanceRow(ctx, i)))}`);
  return 0;
}

/** Indents a block by two spaces. */
export function indent(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}

function action(verb: 'pause' | 'resume' | 'delete'): (ctx: Ctx) => Promise<number> {
  return async (ctx) => {
    const client = ctx.client();
    const id = await serviceArg(ctx);
    if (verb === 'delete') await client.request('DELETE', `/v1/services/${id}`);
    else if (verb === 'resume') {
      await client.post(`/v1/services/${id}/resume`, {}, { skip_build: ctx.args.has('skip-build') ? ctx.args.bool('skip-build') : undefined });
    } else await client.post(`/v1/services/${id}/pause`);
    const done = { pause: 'pausing', resume: 'resuming', delete: 'deleting' }[verb];
    if (!printRaw(ctx, {})) ctx.out(`Service ${ctx.args.positionals[0]} is ${done}.`);
    return 0;
  };
}

async function unappliedChanges(ctx: Ctx): Promise<number> {
  const client = ctx.client();
  const id = await serviceArg(ctx);
  const { service } = await client.get<{ service: Service }>(`/v1/services/${id}`);
  const latestId = service.latest_deployment_id;
  if (!latestId || latestId === service.active_deployment_id) {
    ctx.out('No unapplied changes.');
    return 0;
  }
  const { deployment } = await client.get<{ deployment: Deployment }>(`/v1/deployments/${latestId}`);
  if (deployment.status !== 'STASHED') {
    ctx.out(`No unapplied changes (the latest deployment ${shortId(latestId, ctx.full)} is ${deployment.status}).`);
    return 0;
  }
  const against = service.active_deployment_id || deployment.parent_id;
  const diff = await client.get<{ changes: unknown[]; lines: string[] }>(`/v1/deployments/${latestId}/diff`, { against: against || undefined });
  if (printRaw(ctx, diff)) return 0;
  ctx.out(`Unapplied changes (stashed deployment ${shortId(latestId, ctx.full)} vs active ${shortId(against, ctx.full)}):`);
  ctx.out(diff.lines?.length ? diff.lines.map((l) => `  ${l}`).join('\n') : '  (none)');
  ctx.out(`Apply them with: pier services redeploy ${ctx.args.positionals[0]}`);
  return 0;
}

/** The `services` command group. */
export const servicesCommand: Command = {
  name: 'services',
  aliases: ['s', 'svc', 'service'],
  summary: 'Manage services',
  subcommands: [
    {
      name: 'create', summary: 'Create a service', usage: 'NAME', args: [1, 1],
      flags: [{ ...APP_FLAG, help: 'App of the service (required)' }, ...DEFINITION_FLAGS, ...WAIT_FLAGS],
      examples: [
        'pier services create web --app shop --docker nginx --ports 80',
        'pier services create api --app shop --git github.com/org/api --env PORT=9000 --ports 9000:http --routes /:9000 --wait',
        "pier services create db --app shop --docker redis --ports 6379:tcp   # private: reachable as db.shop.internal",
      ],
      run: async (ctx) => {
        const app = ctx.args.str('app');
        if (!app) throw new UsageError('--app APP is required');
        return createService(ctx, () => resolveApp(ctx.client(), app), ctx.args.positionals[0]!);
      },
    },
    {
      name: 'update', summary: 'Update a service (creates a new deployment)', usage: 'NAME', args: [1, 1],
      flags: [
        APP_FLAG, ...DEFINITION_FLAGS,
        { name: 'override', kind: 'bool', help: 'Start from an empty definition instead of the current one' },
        { name: 'save-only', kind: 'bool', help: 'Save the definition without deploying it (STASHED)' },
        { name: 'skip-build', kind: 'bool', help: 'Reuse the image of the last successful build' },
        ...WAIT_FLAGS,
      ],
      examples: ["pier services update shop/web --env PORT=8001 --env '!DEBUG'", "pier services update shop/web --ports 80:tcp --routes '!/'"],
      run: updateService,
    },
    { name: 'get', summary: 'Show a service', usage: 'NAME', args: [1, 1], flags: [APP_FLAG], run: getService },
    { name: 'describe', summary: 'Show a service with its definition, deployments and instances', usage: 'NAME', args: [1, 1], flags: [APP_FLAG], run: describeService },
    {
      name: 'list', summary: 'List services', flags: [APP_FLAG, { name: 'name', short: 'n', kind: 'string', placeholder: 'NAME', help: 'Only services with this name' }],
      run: listServices,
    },
    { name: 'delete', summary: 'Delete a service', usage: 'NAME', args: [1, 1], flags: [APP_FLAG], run: action('delete') },
    { name: 'pause', summary: 'Pause a service (stops its instances)', usage: 'NAME', args: [1, 1], flags: [APP_FLAG], run: action('pause') },
    {
      name: 'resume', summary: 'Resume a paused service', usage: 'NAME', args: [1, 1],
      flags: [APP_FLAG, { name: 'skip-build', kind: 'bool', help: 'Reuse the image of the last successful build' }], run: action('resume'),
    },
    {
      name: 'redeploy', summary: 'Redeploy a service, or roll back to an earlier deployment with --deployment', usage: 'NAME', args: [1, 1],
      flags: [
        APP_FLAG,
        { name: 'skip-build', kind: 'bool', help: 'Reuse the image of the last successful build' },
        { name: 'use-cache', kind: 'bool', help: 'Use the build cache' },
        { name: 'deployment', kind: 'string', placeholder: 'ID', help: "Roll back: redeploy this deployment's definition (Pier)" },
        ...WAIT_FLAGS,
      ],
      run: redeployService,
    },
    {
      name: 'logs', aliases: ['l', 'log'], summary: "Show or follow service logs (the current deployment's, unless --all-deployments)",
      usage: 'NAME', args: [1, 1], flags: [APP_FLAG, ...LOG_FLAGS, ALL_DEPLOYMENTS_FLAG],
      run: async (ctx) => showServiceLogs(ctx, await serviceArg(ctx)),
    },
    {
      name: 'exec', summary: 'Run a command in a running instance of a service', usage: 'NAME -- CMD [ARGS...]', args: [2, 10_000], flags: [APP_FLAG],
      run: async (ctx) => runExec(ctx, { id: await serviceArg(ctx), idType: 'SERVICE_ID' }, ctx.args.positionals.slice(1)),
    },
    {
      name: 'events', summary: 'Show what happened to a service, newest first (deployments, statuses, scaling decisions)',
      usage: 'NAME', args: [1, 1],
      flags: [APP_FLAG, { name: 'type', short: 't', kind: 'string', placeholder: 'TYPE', help: 'Only events of this type, e.g. autoscaled' },
        { name: 'limit', kind: 'string', placeholder: 'N', help: 'How many events (default 20, at most 100)' }],
      run: serviceEvents,
    },
    scaleCommand(APP_FLAG),
    {
      name: 'unapplied-changes', summary: 'Show changes saved with --save-only and not deployed yet', usage: 'NAME', args: [1, 1],
      flags: [APP_FLAG], run: unappliedChanges,
    },
  ],
};

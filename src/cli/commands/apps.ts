// `pier apps` (a, app): app CRUD, pause/resume, and `init` (an app plus its first service in one go).
import type { App, Service } from '../../domain/types.ts';
import type { Command, Ctx } from '../command.ts';
import { age, printList, printRaw, renderKeyValues, renderTable } from '../output.ts';
import { resolveApp } from '../resolve.ts';
import { APP_HEADERS, appRow, SERVICE_HEADERS, serviceRow } from '../views.ts';
import { DEFINITION_FLAGS, WAIT_FLAGS } from './definition-specs.ts';
import { createService } from './service-deploy.ts';
import { appUrls, edgePorts } from '../urls.ts';

async function printApp(ctx: Ctx, reply: { app: App }): Promise<void> {
  if (!printRaw(ctx, reply)) ctx.out(renderTable(APP_HEADERS, [appRow(ctx, reply.app, await edgePorts(ctx))]));
}

async function appId(ctx: Ctx): Promise<string> {
  return resolveApp(ctx.client(), ctx.args.positionals[0]!);
}

function action(verb: 'pause' | 'resume' | 'delete'): (ctx: Ctx) => Promise<number> {
  return async (ctx) => {
    const id = await appId(ctx);
    if (verb === 'delete') await ctx.client().request('DELETE', `/v1/apps/${id}`);
    else await ctx.client().post(`/v1/apps/${id}/${verb}`);
    const done = { pause: 'pausing', resume: 'resuming', delete: 'deleting' }[verb];
    if (!printRaw(ctx, {})) ctx.out(`App ${ctx.args.positionals[0]} is ${done}.`);
    return 0;
  };
}

async function describeApp(ctx: Ctx): Promise<number> {
  const client = ctx.client();
  const id = await appId(ctx);
  const reply = await client.get<{ app: App }>(`/v1/apps/${id}`);
  if (printRaw(ctx, reply)) return 0;
  const a = reply.app;
  const services = await client.listAll<Service>('/v1/services', 'services', { app_id: id });
  ctx.out(renderKeyValues([
    ['ID', a.id], ['Name', a.name], ['Status', a.status], ['Messages', (a.messages ?? []).join('; ') || '-'],
    ['Domains', (a.domains ?? []).map((d) => d.name).join(', ') || '-'],
    ['URL', appUrls(a, await edgePorts(ctx)).join(', ') || '-'],
    ['Created', `${a.created_at} (${age(a.created_at, ctx.io.now())})`],
  ]));
  const names = new Map([[a.id, a.name]]);
  ctx.out(`\nServices:\n${renderTable(SERVICE_HEADERS, services.map((s) => serviceRow(ctx, s, names)))}`);
  return 0;
}

/** The `apps` command group. */
export const appsCommand: Command = {
  name: 'apps',
  aliases: ['a', 'app'],
  summary: 'Manage apps',
  subcommands: [
    {
      name: 'create', summary: 'Create an app', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        await printApp(ctx, await ctx.client().post<{ app: App }>('/v1/apps', { name: ctx.args.positionals[0] }));
        return 0;
      },
    },
    {
      name: 'init', summary: 'Create an app and a service of the same name', usage: 'NAME', args: [1, 1],
      flags: [...DEFINITION_FLAGS, ...WAIT_FLAGS],
      examples: ['pier apps init hello --docker nginx --ports 80 --wait'],
      run: async (ctx) => {
        const name = ctx.args.positionals[0]!;
        const createApp = async (): Promise<string> => (await ctx.client().post<{ app: App }>('/v1/apps', { name })).app.id;
        return createService(ctx, createApp, name);
      },
    },
    {
      name: 'get', summary: 'Show an app', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        await printApp(ctx, await ctx.client().get<{ app: App }>(`/v1/apps/${await appId(ctx)}`));
        return 0;
      },
    },
    { name: 'describe', summary: 'Show an app and its services', usage: 'NAME', args: [1, 1], run: describeApp },
    {
      name: 'list', summary: 'List apps',
      run: async (ctx) => {
        const apps = await ctx.client().listAll<App>('/v1/apps', 'apps');
        const edge = ctx.output === 'table' ? await edgePorts(ctx) : { http: '' };
        printList(ctx, { apps, count: apps.length }, apps, APP_HEADERS, (a) => appRow(ctx, a, edge));
        return 0;
      },
    },
    {
      name: 'update', summary: 'Rename an app', usage: 'NAME', args: [1, 1],
      flags: [{ name: 'name', short: 'n', kind: 'string', placeholder: 'NEW_NAME', help: 'New name of the app' }],
      run: async (ctx) => {
        const id = await appId(ctx);
        const body: Record<string, unknown> = {};
        if (ctx.args.str('name') !== undefined) body.name = ctx.args.str('name');
        await printApp(ctx, await ctx.client().request<{ app: App }>('PUT', `/v1/apps/${id}`, { body }));
        return 0;
      },
    },
    { name: 'delete', summary: 'Delete an app and its services', usage: 'NAME', args: [1, 1], run: action('delete') },
    { name: 'pause', summary: 'Pause every service of an app', usage: 'NAME', args: [1, 1], run: action('pause') },
    { name: 'resume', summary: 'Resume every service of an app', usage: 'NAME', args: [1, 1], run: action('resume') },
  ],
};

// `pier instances` (i, inst, instance): list, inspect, read the logs of and exec into running instances.
import type { Instance } from '../../domain/types.ts';
import type { Command, Ctx } from '../command.ts';
import { runExec } from '../exec.ts';
import { LOG_FLAGS, showLogs } from '../logs.ts';
import { age, printList, printRaw, renderKeyValues, renderTable, shortId } from '../output.ts';
import { resolveApp, resolveDeployment, resolveInstance, resolveService } from '../resolve.ts';
import { INSTANCE_HEADERS, instanceRow } from '../views.ts';

async function instanceArg(ctx: Ctx): Promise<string> {
  return resolveInstance(ctx.client(), ctx.args.positionals[0]!);
}

async function listInstances(ctx: Ctx): Promise<number> {
  const client = ctx.client();
  const app = ctx.args.str('app');
  const service = ctx.args.str('service');
  const deployment = ctx.args.str('deployment');
  const query = {
    app_id: app ? await resolveApp(client, app) : undefined,
    service_id: service ? await resolveService(client, service, app) : undefined,
    deployment_id: deployment ? await resolveDeployment(client, deployment) : undefined,
  };
  const instances = await client.listAll<Instance>('/v1/instances', 'instances', query);
  printList(ctx, { instances, count: instances.length }, instances, INSTANCE_HEADERS, (i) => instanceRow(ctx, i));
  return 0;
}

async function describeInstance(ctx: Ctx): Promise<number> {
  const reply = await ctx.client().get<{ instance: Instance }>(`/v1/instances/${await instanceArg(ctx)}`);
  if (printRaw(ctx, reply)) return 0;
  const i = reply.instance;
  ctx.out(renderKeyValues([
    ['ID', i.id], ['Service', shortId(i.service_id, ctx.full)], ['Regional deployment', shortId(i.regional_deployment_id, ctx.full)],
    ['Status', i.status], ['Messages', (i.messages ?? []).join('; ') || '-'], ['Region', i.region || '-'],
    ['Datacenter', i.datacenter || '-'], ['Type', i.type || '-'], ['Replica', String(i.replica_index ?? '-')],
    ['Allocation', i.allocation_id || '-'], ['Created', `${i.created_at} (${age(i.created_at, ctx.io.now())})`],
  ]));
  return 0;
}

/** The `instances` command group. */
export const instancesCommand: Command = {
  name: 'instances',
  aliases: ['i', 'inst', 'instance'],
  summary: 'Inspect instances',
  subcommands: [
    {
      name: 'list', summary: 'List instances',
      flags: [
        { name: 'app', short: 'a', kind: 'string', placeholder: 'APP', help: 'Only instances of this app' },
        { name: 'service', short: 's', kind: 'string', placeholder: 'SERVICE', help: 'Only instances of this service' },
        { name: 'deployment', kind: 'string', placeholder: 'ID', help: 'Only instances of this deployment' },
      ],
      run: listInstances,
    },
    {
      name: 'get', summary: 'Show an instance', usage: 'ID', args: [1, 1],
      run: async (ctx) => {
        const reply = await ctx.client().get<{ instance: Instance }>(`/v1/instances/${await instanceArg(ctx)}`);
        if (!printRaw(ctx, reply)) ctx.out(renderTable(INSTANCE_HEADERS, [instanceRow(ctx, reply.instance)]));
        return 0;
      },
    },
    { name: 'describe', summary: 'Show an instance in detail', usage: 'ID', args: [1, 1], run: describeInstance },
    {
      name: 'logs', aliases: ['l', 'log'], summary: 'Show or follow instance logs', usage: 'ID', args: [1, 1],
      flags: LOG_FLAGS.filter((f) => f.name !== 'instance'),
      run: async (ctx) => showLogs(ctx, { instance_id: await instanceArg(ctx) }),
    },
    {
      name: 'exec', summary: 'Run a command in an instance (a remote terminal when run from one)', usage: 'ID -- CMD [ARGS...]', args: [2, 10_000],
      run: async (ctx) => runExec(ctx, { id: await instanceArg(ctx), idType: 'INSTANCE_ID' }, ctx.args.positionals.slice(1)),
    },
  ],
};

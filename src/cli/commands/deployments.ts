// `pier deployments` (d, dep, depl, deployment) and `pier regional-deployments` (rd, ...).
import type { Deployment, RegionalDeployment } from '../../domain/types.ts';
import type { Command, Ctx } from '../command.ts';
import { LOG_FLAGS, showLogs } from '../logs.ts';
import { age, printList, printRaw, renderKeyValues, renderTable, shortId, toYaml } from '../output.ts';
import { resolveApp, resolveDeployment, resolveRegionalDeployment, resolveService } from '../resolve.ts';
import { DEPLOYMENT_HEADERS, deploymentRow, REGIONAL_HEADERS, regionalRow } from '../views.ts';
import { indent } from './services.ts';

interface DiffReply {
  changes: unknown[];
  lines: string[];
}

async function deploymentArg(ctx: Ctx): Promise<string> {
  return resolveDeployment(ctx.client(), ctx.args.positionals[0]!);
}

async function listDeployments(ctx: Ctx): Promise<number> {
  const client = ctx.client();
  const app = ctx.args.str('app');
  const service = ctx.args.str('service');
  const query = {
    app_id: app ? await resolveApp(client, app) : undefined,
    service_id: service ? await resolveService(client, service, app) : undefined,
  };
  const deployments = await client.listAll<Deployment>('/v1/deployments', 'deployments', query);
  printList(ctx, { deployments, count: deployments.length }, deployments, DEPLOYMENT_HEADERS, (d) => deploymentRow(ctx, d));
  return 0;
}

async function describeDeployment(ctx: Ctx): Promise<number> {
  const client = ctx.client();
  const id = await deploymentArg(ctx);
  const reply = await client.get<{ deployment: Deployment }>(`/v1/deployments/${id}`);
  if (printRaw(ctx, reply)) return 0;
  const d = reply.deployment;
  ctx.out(renderKeyValues([
    ['ID', d.id], ['Service', shortId(d.service_id, ctx.full)], ['Version', d.version ?? '-'], ['Status', d.status],
    ['Role', d.role ?? '-'], ['Messages', (d.messages ?? []).join('; ') || '-'], ['Parent', shortId(d.parent_id, ctx.full)],
    ['Image', d.provisioning_info?.image || '-'], ['Created', `${d.created_at} (${age(d.created_at, ctx.io.now())})`],
  ]));
  ctx.out(`\nDefinition:\n${indent(toYaml(d.definition ?? {}))}`);
  if (d.parent_id) {
    const diff = await client.get<DiffReply>(`/v1/deployments/${id}/diff`, { against: d.parent_id });
    ctx.out(`\nChanges since ${shortId(d.parent_id, ctx.full)}:`);
    ctx.out(diff.lines?.length ? indent(diff.lines.join('\n')) : '  (none)');
  }
  return 0;
}

async function diffDeployments(ctx: Ctx): Promise<number> {
  const client = ctx.client();
  const id = await deploymentArg(ctx);
  let against = ctx.args.str('against');
  if (against !== undefined) against = await resolveDeployment(client, against);
  const diff = await client.get<DiffReply>(`/v1/deployments/${id}/diff`, { against });
  if (printRaw(ctx, diff)) return 0;
  ctx.out(diff.lines?.length ? diff.lines.join('\n') : 'No changes.');
  return 0;
}

/** The `deployments` command group. */
export const deploymentsCommand: Command = {
  name: 'deployments',
  aliases: ['d', 'dep', 'depl', 'deployment'],
  summary: 'Inspect deployments (immutable versions of a service)',
  subcommands: [
    {
      name: 'list', summary: 'List deployments, newest first',
      flags: [
        { name: 'app', short: 'a', kind: 'string', placeholder: 'APP', help: 'Only deployments of this app' },
        { name: 'service', short: 's', kind: 'string', placeholder: 'SERVICE', help: 'Only deployments of this service' },
      ],
      run: listDeployments,
    },
    {
      name: 'get', summary: 'Show a deployment', usage: 'ID', args: [1, 1],
      run: async (ctx) => {
        const reply = await ctx.client().get<{ deployment: Deployment }>(`/v1/deployments/${await deploymentArg(ctx)}`);
        if (!printRaw(ctx, reply)) ctx.out(renderTable(DEPLOYMENT_HEADERS, [deploymentRow(ctx, reply.deployment)]));
        return 0;
      },
    },
    { name: 'describe', summary: 'Show a deployment, its definition and what changed since its parent', usage: 'ID', args: [1, 1], run: describeDeployment },
    {
      name: 'cancel', summary: 'Cancel a deployment that is still pending, provisioning or scheduled', usage: 'ID', args: [1, 1],
      run: async (ctx) => {
        await ctx.client().post(`/v1/deployments/${await deploymentArg(ctx)}/cancel`);
        if (!printRaw(ctx, {})) ctx.out(`Deployment ${ctx.args.positionals[0]} is canceling.`);
        return 0;
      },
    },
    {
      name: 'diff', summary: 'Show what a deployment changed (against its parent, or --against another one)', usage: 'ID', args: [1, 1],
      flags: [{ name: 'against', kind: 'string', placeholder: 'ID', help: 'Deployment to compare with (default: its parent)' }],
      run: diffDeployments,
    },
    {
      name: 'logs', aliases: ['l', 'log'], summary: 'Show or follow deployment logs (-t build for the build)', usage: 'ID', args: [1, 1],
      flags: LOG_FLAGS,
      run: async (ctx) => showLogs(ctx, { deployment_id: await deploymentArg(ctx) }),
    },
  ],
};

/** The `regional-deployments` command group. */
export const regionalDeploymentsCommand: Command = {
  name: 'regional-deployments',
  aliases: ['rd', 'rdep', 'rdepl', 'rdeploy', 'rdeployment', 'regional-deployment'],
  summary: 'Inspect regional deployments (one per region of a deployment)',
  subcommands: [
    {
      name: 'list', summary: 'List regional deployments',
      flags: [{ name: 'deployment', kind: 'string', placeholder: 'ID', help: 'Only those of this deployment' }],
      run: async (ctx) => {
        const client = ctx.client();
        const dep = ctx.args.str('deployment');
        const query = { deployment_id: dep ? await resolveDeployment(client, dep) : undefined };
        const items = await client.listAll<RegionalDeployment>('/v1/regional_deployments', 'regional_deployments', query);
        printList(ctx, { regional_deployments: items, count: items.length }, items, REGIONAL_HEADERS, (r) => regionalRow(ctx, r));
        return 0;
      },
    },
    {
      name: 'get', summary: 'Show a regional deployment', usage: 'ID', args: [1, 1],
      run: async (ctx) => {
        const id = await resolveRegionalDeployment(ctx.client(), ctx.args.positionals[0]!);
        const reply = await ctx.client().get<{ regional_deployment: RegionalDeployment }>(`/v1/regional_deployments/${id}`);
        if (!printRaw(ctx, reply)) ctx.out(renderTable(REGIONAL_HEADERS, [regionalRow(ctx, reply.regional_deployment)]));
        return 0;
      },
    },
  ],
};

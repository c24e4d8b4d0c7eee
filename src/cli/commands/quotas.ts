// `pier quotas get|set` (an organization's quotas: GET /v1/organizations/{id}/quotas, operators set them with PUT
// /v1/pier/organizations/{id}/quotas) and `pier usage` (instance-seconds by app, service, region and instance type:
// GET /v1/usages/details).
import { UsageError, type FlagSpec } from '../args.ts';
import type { Command, Ctx } from '../command.ts';
import { printRaw, renderKeyValues, renderTable } from '../output.ts';

async function ownOrganizationId(ctx: Ctx): Promise<string> {
  const reply = await ctx.client().get<{ organization: { id: string } }>('/v1/account/organization');
  return reply.organization.id;
}

function showQuotas(ctx: Ctx, reply: { quotas: Record<string, unknown> }): void {
  if (printRaw(ctx, reply)) return;
  const q = reply.quotas;
  const byType = q.max_instances_by_type as Record<string, string> | undefined;
  const show = (v: unknown) => (v === undefined ? 'no limit' : Array.isArray(v) ? v.join(', ') : String(v));
  ctx.out(renderKeyValues([
    ['Apps', show(q.apps)], ['Services', show(q.services)], ['Services per app', show(q.services_by_app)],
    ['Memory (MB, at max scale)', show(q.memory_mb)], ['Regions', show(q.regions)], ['Instance types', show(q.instance_types)],
    ['Instances by type (at max scale)', byType ? Object.entries(byType).map(([k, v]) => `${k}=${v}`).join(', ') : 'no limit'],
    ['Public TCP proxy ports', show(q.proxy_ports)],
  ]));
}

async function getQuotas(ctx: Ctx): Promise<number> {
  const id = ctx.args.positionals[0] ?? await ownOrganizationId(ctx);
  showQuotas(ctx, await ctx.client().get<{ quotas: Record<string, unknown> }>(`/v1/organizations/${encodeURIComponent(id)}/quotas`));
  return 0;
}

async function setQuotas(ctx: Ctx): Promise<number> {
  const id = ctx.args.positionals[0]!;
  const quotas: Record<string, unknown> = {};
  for (const [flag, key] of [['apps', 'apps'], ['services', 'services'], ['services-by-app', 'services_by_app'], ['memory-mb', 'memory_mb']] as const) {
    const v = ctx.args.str(flag);
    if (v !== undefined) quotas[key] = v;
  }
  const proxyPorts = ctx.args.str('proxy-ports');
  // Koyeb's spec types this one as an integer; the API takes either form.
  if (proxyPorts !== undefined) quotas.proxy_ports = /^\d+$/.test(proxyPorts) ? Number(proxyPorts) : proxyPorts;
  const regions = ctx.args.list('regions');
  if (regions) quotas.regions = regions;
  const types = ctx.args.list('instance-types');
  if (types) quotas.instance_types = types;
  const max = ctx.args.list('max-instances');
  if (max) {
    quotas.max_instances_by_type = Object.fromEntries(max.map((pair) => {
      const m = /^([a-z0-9-]+)=(\d+)$/.exec(pair);
      if (!m) throw new UsageError(`--max-instances takes TYPE=N such as nano=4, got "${pair}"`);
      return [m[1]!, m[2]!];
    }));
  }
  // Every limit not given is lifted: the set replaces the organization's quotas as a whole.
  const reply = await ctx.client().request<{ quotas: Record<string, unknown> }>('PUT', `/v1/pier/organizations/${encodeURIComponent(id)}/quotas`, { body: { quotas } });
  showQuotas(ctx, reply);
  return 0;
}

async function showUsage(ctx: Ctx): Promise<number> {
  const query: Record<string, string> = { limit: '100' };
  const since = ctx.args.str('since');
  const until = ctx.args.str('until');
  if (since) query.starting_time = since;
  if (until) query.ending_time = until;
  const reply = await ctx.client().get<{ usage_details: { app_name: string; service_name: string; region: string; instance_type: string; duration_seconds: number }[] }>('/v1/usages/details', query);
  if (printRaw(ctx, reply)) return 0;
  // One row per app, service, region and type: the instances summed.
  const sums = new Map<string, { row: string[]; seconds: number }>();
  for (const d of reply.usage_details) {
    const key = [d.app_name, d.service_name, d.region, d.instance_type].join('\0');
    const entry = sums.get(key) ?? { row: [d.app_name, d.service_name, d.region, d.instance_type], seconds: 0 };
    entry.seconds += d.duration_seconds;
    sums.set(key, entry);
  }
  if (sums.size === 0) {
    ctx.out('No usage in this period.');
    return 0;
  }
  ctx.out(renderTable(['APP', 'SERVICE', 'REGION', 'TYPE', 'SECONDS', 'HOURS'], [...sums.values()].map((e) => [...e.row, String(e.seconds), (e.seconds / 3600).toFixed(2)])));
  return 0;
}

const LIMIT_FLAGS: FlagSpec[] = [
  { name: 'apps', kind: 'string', placeholder: 'N', help: 'Most apps' },
  { name: 'services', kind: 'string', placeholder: 'N', help: 'Most services' },
  { name: 'services-by-app', kind: 'string', placeholder: 'N', help: 'Most services in one app' },
  { name: 'memory-mb', kind: 'string', placeholder: 'MB', help: 'Most memory of all services at their maximum scale' },
  { name: 'proxy-ports', kind: 'string', placeholder: 'N', help: 'Most public TCP proxy ports (proxy_ports) held at once' },
  { name: 'regions', kind: 'list', split: true, placeholder: 'REGION', help: 'Allowed regions (repeat or comma-separate)' },
  { name: 'instance-types', kind: 'list', split: true, placeholder: 'TYPE', help: 'Allowed instance types' },
  { name: 'max-instances', kind: 'list', split: true, placeholder: 'TYPE=N', help: 'Most instances of a type at maximum scale, e.g. nano=4' },
];

/** `pier quotas get [ORG_ID]` and `pier quotas set ORG_ID --apps N ...` (operators). */
export const quotasCommand: Command = {
  name: 'quotas', aliases: ['quota'], summary: "Show or set an organization's quotas",
  subcommands: [
    { name: 'get', summary: "Show an organization's quotas (default: this token's)", usage: '[ORG_ID]', args: [0, 1], run: getQuotas },
    {
      name: 'set', summary: "Replace an organization's quotas (operators; a limit not given is lifted)", usage: 'ORG_ID', args: [1, 1],
      flags: LIMIT_FLAGS, examples: ['pier quotas set 1a2b... --apps 5 --services 20 --regions fra --max-instances nano=10'], run: setQuotas,
    },
  ],
};

/** `pier usage [--since T] [--until T]`: instance time by app, service, region and type. */
export const usageCommand: Command = {
  name: 'usage', summary: 'Show how long instances ran, by app, service, region and instance type (default: this month)',
  args: [0, 0],
  flags: [
    { name: 'since', kind: 'string', placeholder: 'TIME', help: 'Start of the period (RFC 3339)' },
    { name: 'until', kind: 'string', placeholder: 'TIME', help: 'End of the period (RFC 3339, default now)' },
  ],
  run: showUsage,
};

// `pier services scale`: the manual scaling override (PUT/GET/DELETE /v1/services/{id}/scale), applied without a
// redeploy and taking precedence over the definition's scaling.
import type { ManualServiceScaling } from '../../domain/types.ts';
import { UsageError, type FlagSpec } from '../args.ts';
import type { Command, Ctx } from '../command.ts';
import { printRaw, renderTable } from '../output.ts';
import { resolveService } from '../resolve.ts';

/** Parses `--scale region:N` values and `--instances N` into the API's scalings list. */
export function manualScalings(scale: string[], instances: number | undefined): ManualServiceScaling[] {
  const out: ManualServiceScaling[] = [];
  if (instances !== undefined) {
    if (instances < 0) throw new UsageError('--instances cannot be negative');
    out.push({ scopes: [], instances });
  }
  for (const value of scale) {
    const m = /^([a-z0-9-]+):(\d+)$/.exec(value);
    if (!m) throw new UsageError(`--scale "${value}": expected REGION:INSTANCES, e.g. fra:3`);
    out.push({ scopes: [`region:${m[1]}`], instances: Number(m[2]) });
  }
  return out;
}

function id(ctx: Ctx): Promise<string> {
  return resolveService(ctx.client(), ctx.args.positionals[0]!, ctx.args.str('app'));
}

function printScalings(ctx: Ctx, reply: { scalings?: ManualServiceScaling[] }): void {
  if (printRaw(ctx, reply)) return;
  const rows = (reply.scalings ?? []).map((s) => [
    s.scopes?.length ? s.scopes.map((x) => x.replace(/^region:/, '')).join(',') : 'all regions', String(s.instances),
  ]);
  ctx.out(rows.length ? renderTable(['REGIONS', 'INSTANCES'], rows) : 'No manual scaling: the definition\'s scaling applies.');
}

/** The `services scale` command with its `get` and `delete` subcommands. */
export function scaleCommand(appFlag: FlagSpec): Command {
  return {
    name: 'scale',
    summary: 'Set a manual instance count per region, without redeploying',
    usage: 'NAME',
    args: [1, 1],
    flags: [
      appFlag,
      { name: 'scale', kind: 'list', placeholder: 'REGION:N', help: 'Instances in one region, e.g. fra:3' },
      { name: 'instances', kind: 'int', placeholder: 'N', help: 'Instances in every region' },
    ],
    examples: ['pier services scale shop/web --scale fra:3 --scale was:2', 'pier services scale shop/web --instances 2'],
    run: async (ctx) => {
      const scalings = manualScalings(ctx.args.list('scale') ?? [], ctx.args.int('instances'));
      if (!scalings.length) throw new UsageError('give --scale REGION:N or --instances N');
      const reply = await ctx.client().request<{ scalings?: ManualServiceScaling[] }>('PUT', `/v1/services/${await id(ctx)}/scale`, {
        body: { scalings },
      });
      printScalings(ctx, { scalings: reply.scalings ?? scalings });
      return 0;
    },
    subcommands: [
      {
        name: 'get', summary: 'Show the manual scaling of a service', usage: 'NAME', args: [1, 1], flags: [appFlag],
        run: async (ctx) => {
          printScalings(ctx, await ctx.client().get<{ scalings?: ManualServiceScaling[] }>(`/v1/services/${await id(ctx)}/scale`));
          return 0;
        },
      },
      {
        name: 'delete', summary: "Remove the manual scaling (back to the definition's)", usage: 'NAME', args: [1, 1], flags: [appFlag],
        run: async (ctx) => {
          await ctx.client().request('DELETE', `/v1/services/${await id(ctx)}/scale`);
          if (!printRaw(ctx, {})) ctx.out('Manual scaling removed.');
          return 0;
        },
      },
    ],
  };
}

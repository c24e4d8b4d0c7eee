// `pier domains` (domain, dom): custom domains as the koyeb CLI has them: create (optionally attached), attach,
// detach, refresh, list, get/describe, delete. Messages say which DNS record to set and how certificates are going.
import type { Domain } from '../../domain/types.ts';
import type { Command, Ctx } from '../command.ts';
import { CliError } from '../errors.ts';
import { age, printList, printRaw, renderKeyValues, renderTable, shortId, truncate } from '../output.ts';
import { isUuid, resolveApp } from '../resolve.ts';

const HEADERS = ['ID', 'NAME', 'APP', 'STATUS', 'TYPE', 'MESSAGES', 'CREATED'];

function row(ctx: Ctx, d: Domain, apps: Map<string, string>): string[] {
  const app = d.app_id ? apps.get(d.app_id) ?? shortId(d.app_id, ctx.full) : '-';
  return [shortId(d.id, ctx.full), d.name, app, d.status, d.type, truncate(d.messages.join('; ') || '-', 70, ctx.full), age(d.created_at, ctx.io.now())];
}

async function appNames(ctx: Ctx): Promise<Map<string, string>> {
  const apps = await ctx.client().listAll<{ id: string; name: string }>('/v1/apps', 'apps');
  return new Map(apps.map((a) => [a.id, a.name]));
}

/** A domain id from a UUID, a short id or its name. */
async function domainId(ctx: Ctx, ref: string): Promise<string> {
  if (isUuid(ref)) return ref;
  const all = await ctx.client().listAll<Domain>('/v1/domains', 'domains');
  const found = all.filter((d) => d.name === ref.toLowerCase().replace(/\.$/, '') || (ref.length >= 8 && d.id.startsWith(ref)));
  if (found.length === 1) return found[0]!.id;
  if (found.length > 1) throw new CliError(`"${ref}" matches ${found.length} domains; use a full id`);
  throw new CliError(`domain not found: ${ref}`);
}

async function show(ctx: Ctx, reply: { domain: Domain }): Promise<void> {
  if (printRaw(ctx, reply)) return;
  ctx.out(renderTable(HEADERS, [row(ctx, reply.domain, await appNames(ctx))]));
}

/** The `domains` command group. */
export const domainsCommand: Command = {
  name: 'domains',
  aliases: ['domain', 'dom'],
  summary: 'Manage custom domains and their certificates',
  subcommands: [
    {
      name: 'create', summary: 'Add a custom domain (point a CNAME at the app\'s domain, then Pier gets a certificate)', usage: 'NAME', args: [1, 1],
      flags: [{ name: 'attach-to', kind: 'string', placeholder: 'APP', help: 'Attach it to this app at once' }],
      examples: ['pier domains create www.example.com --attach-to shop'],
      run: async (ctx) => {
        const appRef = ctx.args.str('attach-to');
        const body: Record<string, unknown> = { name: ctx.args.positionals[0], type: 'CUSTOM' };
        if (appRef) body.app_id = await resolveApp(ctx.client(), appRef);
        const reply = await ctx.client().post<{ domain: Domain }>('/v1/domains', body);
        await show(ctx, reply);
        if (ctx.output === 'table' && reply.domain.intended_cname) {
          ctx.err(`Set a DNS record: CNAME ${reply.domain.name} → ${reply.domain.intended_cname}, then: pier domains refresh ${reply.domain.name}`);
        }
        return 0;
      },
    },
    {
      name: 'attach', summary: 'Attach a custom domain to an app', usage: 'NAME APP', args: [2, 2],
      run: async (ctx) => {
        const [ref, appRef] = ctx.args.positionals as [string, string];
        const body = { app_id: await resolveApp(ctx.client(), appRef) };
        await show(ctx, await ctx.client().request<{ domain: Domain }>('PATCH', `/v1/domains/${await domainId(ctx, ref)}`, { body }));
        return 0;
      },
    },
    {
      name: 'detach', summary: 'Detach a custom domain from its app', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        const id = await domainId(ctx, ctx.args.positionals[0]!);
        await show(ctx, await ctx.client().request<{ domain: Domain }>('PATCH', `/v1/domains/${id}`, { body: { app_id: '' } }));
        return 0;
      },
    },
    {
      name: 'refresh', summary: 'Check DNS and retry the certificate now', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        await ctx.client().post(`/v1/domains/${await domainId(ctx, ctx.args.positionals[0]!)}/refresh`, {});
        if (!printRaw(ctx, {})) ctx.out(`Domain ${ctx.args.positionals[0]} refresh requested.`);
        return 0;
      },
    },
    {
      name: 'list', summary: 'List domains (custom and auto-assigned)',
      run: async (ctx) => {
        const domains = await ctx.client().listAll<Domain>('/v1/domains', 'domains');
        const apps = await appNames(ctx);
        printList(ctx, { domains, count: domains.length }, domains, HEADERS, (d) => row(ctx, d, apps));
        return 0;
      },
    },
    {
      name: 'get', summary: 'Show a domain', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        await show(ctx, await ctx.client().get<{ domain: Domain }>(`/v1/domains/${await domainId(ctx, ctx.args.positionals[0]!)}`));
        return 0;
      },
    },
    {
      name: 'describe', summary: 'Show a domain in detail', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        const reply = await ctx.client().get<{ domain: Domain }>(`/v1/domains/${await domainId(ctx, ctx.args.positionals[0]!)}`);
        if (printRaw(ctx, reply)) return 0;
        const d = reply.domain;
        const apps = d.app_id ? await appNames(ctx) : new Map<string, string>();
        ctx.out(renderKeyValues([
          ['ID', d.id], ['Name', d.name], ['Type', d.type], ['Status', d.status],
          ['App', d.app_id ? `${apps.get(d.app_id) ?? ''} (${d.app_id})` : '-'], ['Intended CNAME', d.intended_cname || '-'],
          ['Verified', d.verified_at ?? '-'], ['Created', `${d.created_at} (${age(d.created_at, ctx.io.now())})`],
        ]));
        for (const m of d.messages) ctx.out(`  ${m}`);
        return 0;
      },
    },
    {
      name: 'delete', summary: 'Delete a custom domain', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        await ctx.client().request('DELETE', `/v1/domains/${await domainId(ctx, ctx.args.positionals[0]!)}`);
        if (!printRaw(ctx, {})) ctx.out(`Domain ${ctx.args.positionals[0]} deleted.`);
        return 0;
      },
    },
  ],
};

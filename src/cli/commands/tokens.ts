// `pier tokens` (API tokens of the caller's organization), `pier organizations` (operator: tenants and their first
// admin token) and `pier rotate-master-key` (offline: re-encrypts every secret under a fresh master key).
import { loadConfig } from '../../config.ts';
import { openStore } from '../../store/store.ts';
import { masterKeyPath } from '../../store/crypto.ts';
import { rotateMasterKey } from '../../store/secrets.ts';
import type { Command, Ctx } from '../command.ts';
import { printRaw, renderTable } from '../output.ts';

interface Credential { id: string; name: string; description: string; read_only: boolean; created_at: string; expires_at: string | null; token?: string }

function printCredentials(ctx: Ctx, reply: unknown, items: Credential[]): void {
  if (printRaw(ctx, reply)) return;
  ctx.out(renderTable(['ID', 'NAME', 'ACCESS', 'CREATED', 'EXPIRES'], items.map((c) => [
    c.id, c.name, c.read_only ? 'read-only' : 'full', c.created_at, c.expires_at ?? '-',
  ])));
}

/** Prints a freshly minted token once, on stdout alone so it can be piped into a secret store. */
function printNewToken(ctx: Ctx, reply: unknown, token: string): void {
  if (printRaw(ctx, reply)) return;
  ctx.err('token (shown once; store it now):');
  ctx.out(token);
}

/** The `tokens` command group. */
export const tokensCommand: Command = {
  name: 'tokens',
  aliases: ['token', 'credentials'],
  summary: "Manage your organization's API tokens",
  subcommands: [
    {
      name: 'list', aliases: ['ls'], summary: 'List API tokens (never their values)',
      run: async (ctx) => {
        const reply = await ctx.client().get<{ credentials: Credential[] }>('/v1/credentials?limit=100');
        printCredentials(ctx, reply, reply.credentials);
        return 0;
      },
    },
    {
      name: 'create', summary: 'Create an API token and print it once', usage: 'NAME', args: [1, 1],
      flags: [
        { name: 'read-only', kind: 'bool', help: 'The token can read but never create, change or delete' },
        { name: 'description', kind: 'string', placeholder: 'TEXT', help: 'What the token is for' },
        { name: 'expires-at', kind: 'string', placeholder: 'RFC3339', help: 'Expiry date (default: never)' },
      ],
      run: async (ctx) => {
        const reply = await ctx.client().post<{ credential: Credential }>('/v1/credentials', {
          name: ctx.args.positionals[0], read_only: ctx.args.bool('read-only'),
          description: ctx.args.str('description') ?? '', expires_at: ctx.args.str('expires-at'),
        });
        printNewToken(ctx, reply, reply.credential.token ?? '');
        return 0;
      },
    },
    {
      name: 'revoke', aliases: ['delete', 'rm'], summary: 'Revoke an API token (effective immediately)', usage: 'ID', args: [1, 1],
      run: async (ctx) => {
        await ctx.client().request('DELETE', `/v1/credentials/${encodeURIComponent(ctx.args.positionals[0]!)}`);
        ctx.err(`revoked ${ctx.args.positionals[0]}`);
        return 0;
      },
    },
  ],
};

/** The `organizations` command group (operator: needs a full token of the installation's organization). */
export const organizationsCommand: Command = {
  name: 'organizations',
  aliases: ['orgs', 'organization'],
  summary: 'Create and list organizations (operator only)',
  subcommands: [
    {
      name: 'list', aliases: ['ls'], summary: 'List organizations',
      run: async (ctx) => {
        const reply = await ctx.client().get<{ organizations: { id: string; name: string; created_at: string }[] }>('/v1/pier/organizations?limit=100');
        if (!printRaw(ctx, reply)) ctx.out(renderTable(['ID', 'NAME', 'CREATED'], reply.organizations.map((o) => [o.id, o.name, o.created_at])));
        return 0;
      },
    },
    {
      name: 'create', summary: "Create an organization and print its first admin token once", usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        const reply = await ctx.client().post<{ credential: Credential }>('/v1/pier/organizations', { name: ctx.args.positionals[0] });
        printNewToken(ctx, reply, reply.credential.token ?? '');
        return 0;
      },
    },
  ],
};

/** `pier rotate-master-key`: run while Pier is stopped; re-encrypts every stored secret in one transaction. */
export const rotateKeyCommand: Command = {
  name: 'rotate-master-key',
  summary: 'Re-encrypt every secret under a new master key (stop Pier first)',
  flags: [
    { name: 'data-dir', kind: 'string', placeholder: 'DIR', help: 'State directory (env PIER_DATA_DIR)', defaultText: '~/.pier' },
    { name: 'master-key-file', kind: 'string', placeholder: 'FILE', help: 'Master key file (env PIER_MASTER_KEY_FILE)', defaultText: '<data-dir>/master.key' },
  ],
  run: async (ctx) => {
    const flags: Record<string, string> = {};
    for (const f of ['data-dir', 'master-key-file']) { const v = ctx.args.str(f); if (v !== undefined) flags[f] = v; }
    const config = loadConfig(flags, ctx.io.env as NodeJS.ProcessEnv);
    const store = await openStore({ dataDir: config.dataDir, masterKeyFile: config.masterKeyFile, databaseUrl: config.databaseUrl });
    try {
      const r = await rotateMasterKey(store.db, store.secretKey, masterKeyPath(config.dataDir, config.masterKeyFile));
      ctx.err(`re-encrypted ${r.secrets} secret(s) and ${r.webhook_secrets} webhook secret(s) under a new master key`);
    } finally {
      await store.close();
    }
    return 0;
  },
};

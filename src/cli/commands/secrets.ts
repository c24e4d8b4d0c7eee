// `pier secrets` (sec, secret): simple secrets referenced by services as `--env KEY=@NAME`. Values never appear in
// tables; `reveal` prints one on purpose.
import { UsageError } from '../args.ts';
import type { Command, Ctx } from '../command.ts';
import { age, printList, printRaw, renderKeyValues, renderTable } from '../output.ts';
import { resolveSecret } from '../resolve.ts';
import { registrySecretBody, registryTypeOf, SECRET_TYPE_NAMES, shownRegistryFlags, type RegistryFlags } from '../secret-types.ts';
import { SECRET_HEADERS, secretRow, type SecretView } from '../views.ts';

const VALUE_FLAGS = [
  { name: 'value', short: 'v', kind: 'string' as const, placeholder: 'VALUE', help: 'Secret value (visible in shell history; prefer --value-from-stdin)' },
  { name: 'value-from-stdin', kind: 'bool' as const, help: 'Read the value from stdin' },
];

async function secretValue(ctx: Ctx): Promise<string> {
  const value = ctx.args.str('value');
  if (value !== undefined && ctx.args.bool('value-from-stdin')) throw new UsageError('use --value or --value-from-stdin, not both');
  if (value !== undefined) return value;
  if (ctx.args.bool('value-from-stdin')) return (await ctx.io.readStdin()).replace(/\r?\n$/, '');
  throw new UsageError('give the value with --value VALUE or --value-from-stdin');
}

function printSecret(ctx: Ctx, reply: { secret: SecretView }): void {
  if (!printRaw(ctx, reply)) ctx.out(renderTable(SECRET_HEADERS, [secretRow(ctx, reply.secret)]));
}

async function secretArg(ctx: Ctx): Promise<string> {
  return resolveSecret(ctx.client(), ctx.args.positionals[0]!);
}

const REGISTRY_FLAGS = [
  { name: 'type', kind: 'string' as const, placeholder: 'TYPE', help: `Secret type: ${SECRET_TYPE_NAMES.join(', ')}`, defaultText: 'simple' },
  { name: 'registry-username', kind: 'string' as const, aliases: ['username'], placeholder: 'USER', help: 'Registry user name (registry types)' },
  { name: 'registry-password', kind: 'string' as const, aliases: ['password'], placeholder: 'PASSWORD', help: 'Registry password (registry types; --value or --value-from-stdin also give it)' },
  // Not --url: that global flag is the API's address.
  { name: 'registry-url', kind: 'string' as const, placeholder: 'URL', help: 'Registry address, e.g. registry.example.com (registry-private, registry-gcp)' },
  { name: 'registry-keyfile', kind: 'string' as const, placeholder: 'FILE', help: 'Service account key file (registry-gcp)' },
  { name: 'registry-name', kind: 'string' as const, placeholder: 'NAME', help: 'Registry name (registry-azure)' },
];

/** The registry flags given on the command line (the password also from --value or stdin). */
async function registryFlags(ctx: Ctx): Promise<RegistryFlags> {
  const a = ctx.args;
  const given = a.str('registry-password');
  const password = given ?? (a.has('value') || a.bool('value-from-stdin') ? await secretValue(ctx) : undefined);
  const keyfile = a.str('registry-keyfile');
  const flags: RegistryFlags = {
    username: a.str('registry-username'), password, url: a.str('registry-url'),
    keyfile: keyfile !== undefined ? ctx.io.readFile(keyfile) : undefined, registryName: a.str('registry-name'),
  };
  for (const k of Object.keys(flags) as (keyof RegistryFlags)[]) if (flags[k] === undefined) delete flags[k];
  return flags;
}

/** `secrets create`: a simple secret from --value/stdin, or a registry secret from the --registry-* flags. */
async function createSecret(ctx: Ctx): Promise<number> {
  const name = ctx.args.positionals[0]!;
  const type = ctx.args.str('type') ?? 'simple';
  let body: Record<string, unknown>;
  if (type === 'simple') {
    body = { name, type: 'SIMPLE', value: await secretValue(ctx) };
  } else {
    const built = registrySecretBody(name, type, await registryFlags(ctx));
    if (!built) throw new UsageError(`--type must be one of ${SECRET_TYPE_NAMES.join(', ')}, not "${type}"`);
    if (built.missing.length) throw new UsageError(`a ${type} secret needs ${built.missing.join(', ')}`);
    body = built.body;
  }
  printSecret(ctx, await ctx.client().post<{ secret: SecretView }>('/v1/secrets', body));
  return 0;
}

/** The `secrets` command group. */
export const secretsCommand: Command = {
  name: 'secrets',
  aliases: ['sec', 'secret'],
  summary: 'Manage secrets',
  subcommands: [
    {
      name: 'create', summary: 'Create a secret', usage: 'NAME', args: [1, 1],
      flags: [...VALUE_FLAGS, ...REGISTRY_FLAGS],
      examples: [
        'printf %s "$DATABASE_URL" | pier secrets create db-url --value-from-stdin',
        'pier secrets create hub --type registry-dockerhub --registry-username me --value-from-stdin',
        'pier secrets create reg --type registry-private --registry-username u --registry-password p --registry-url registry.example.com',
      ],
      run: createSecret,
    },
    {
      name: 'update', summary: "Change a secret's value (a registry secret's credentials)", usage: 'NAME', args: [1, 1],
      flags: [...VALUE_FLAGS, ...REGISTRY_FLAGS.filter((f) => f.name !== 'type')],
      run: async (ctx) => {
        const id = await secretArg(ctx);
        const { secret } = await ctx.client().get<{ secret: SecretView }>(`/v1/secrets/${id}`);
        let body: Record<string, unknown>;
        const type = secret.type === 'REGISTRY' ? registryTypeOf(secret as unknown as Record<string, unknown>) : undefined;
        if (type) {
          // User name and URL default to the stored ones (shown by the API); the password must be given again.
          const flags = { ...shownRegistryFlags(secret as unknown as Record<string, unknown>, type), ...(await registryFlags(ctx)) };
          const built = registrySecretBody(secret.name, type, flags)!;
          if (built.missing.length) throw new UsageError(`updating a ${type} secret needs ${built.missing.join(', ')}`);
          body = { ...built.body };
          delete body.type;
        } else {
          body = { name: secret.name, value: await secretValue(ctx) };
        }
        const reply = await ctx.client().request<{ secret: SecretView; services_using?: { service_id: string; service_name: string }[] }>(
          'PUT', `/v1/secrets/${id}`, { body });
        printSecret(ctx, reply);
        // Running deployments keep the old value until redeployed: say which, and how.
        for (const u of reply.services_using ?? []) {
          ctx.err(`service ${u.service_name} uses this secret; redeploy it to apply the new value: pier services redeploy ${u.service_id}`);
        }
        return 0;
      },
    },
    {
      name: 'get', summary: 'Show a secret (without its value)', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        printSecret(ctx, await ctx.client().get<{ secret: SecretView }>(`/v1/secrets/${await secretArg(ctx)}`));
        return 0;
      },
    },
    {
      name: 'describe', summary: 'Show a secret in detail (without its value)', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        const reply = await ctx.client().get<{ secret: SecretView }>(`/v1/secrets/${await secretArg(ctx)}`);
        if (printRaw(ctx, reply)) return 0;
        const s = reply.secret;
        ctx.out(renderKeyValues([['ID', s.id], ['Name', s.name], ['Type', s.type], ['Value', '*****'], ['Created', `${s.created_at} (${age(s.created_at, ctx.io.now())})`]]));
        return 0;
      },
    },
    {
      name: 'list', summary: 'List secrets',
      run: async (ctx) => {
        const secrets = await ctx.client().listAll<SecretView>('/v1/secrets', 'secrets');
        printList(ctx, { secrets, count: secrets.length }, secrets, SECRET_HEADERS, (s) => secretRow(ctx, s));
        return 0;
      },
    },
    {
      name: 'delete', summary: 'Delete a secret', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        await ctx.client().request('DELETE', `/v1/secrets/${await secretArg(ctx)}`);
        if (!printRaw(ctx, {})) ctx.out(`Secret ${ctx.args.positionals[0]} deleted.`);
        return 0;
      },
    },
    {
      name: 'reveal', aliases: ['show'], summary: "Print a secret's value", usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        const reply = await ctx.client().post<{ value: string }>(`/v1/secrets/${await secretArg(ctx)}/reveal`, {});
        if (!printRaw(ctx, reply)) ctx.out(reply.value);
        return 0;
      },
    },
  ],
};

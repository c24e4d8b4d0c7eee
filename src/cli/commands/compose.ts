// `pier compose FILE`: applies a koyeb-compose file (YAML or JSON: {app: {name}, services: [{definition}]}, `$VAR`
// and `${VAR}` expanded from the environment first, as `koyeb compose` does) through POST /v1/compose, then says
// what happened to each service; --wait waits for each new deployment to be healthy.
import YAML from 'yaml';
import type { App, Service } from '../../domain/types.ts';
import { UsageError } from '../args.ts';
import type { Command, Ctx } from '../command.ts';
import { CliError } from '../errors.ts';
import { printRaw, renderTable, shortId } from '../output.ts';
import { WAIT_FLAGS } from './definition-specs.ts';
import { waitAndReport, waitTimeoutMs } from './service-deploy.ts';

interface ComposeReply {
  app: App;
  services: Service[];
  pier?: { created: string[]; updated: string[]; unchanged: string[]; app_created: boolean };
}

/** Go's os.ExpandEnv: `$NAME` and `${NAME}` become the variable's value, or nothing when it is unset. */
export function expandEnv(text: string, env: Record<string, string | undefined>): string {
  return text.replace(/\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, braced: string | undefined, bare: string | undefined) => env[braced ?? bare ?? ''] ?? '');
}

/** The compose document of a file, or a usage error saying what is wrong with it. */
export function readComposeFile(ctx: Ctx, path: string): unknown {
  let text: string;
  try {
    text = ctx.io.readFile(path);
  } catch (err) {
    throw new UsageError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return YAML.parse(expandEnv(text, ctx.io.env));
  } catch (err) {
    throw new UsageError(`${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
}

async function runCompose(ctx: Ctx): Promise<number> {
  const path = ctx.args.positionals[0]!;
  const wait = ctx.args.bool('wait');
  const timeoutMs = wait ? waitTimeoutMs(ctx) : 0;
  const doc = readComposeFile(ctx, path);
  const reply = await ctx.client().post<ComposeReply>('/v1/compose', doc);
  if (printRaw(ctx, reply)) return 0;
  const outcome = reply.pier;
  const what = (name: string) => (outcome?.created.includes(name) ? 'created' : outcome?.updated.includes(name) ? 'deployed (changed)' : outcome?.unchanged.includes(name) ? 'unchanged' : '-');
  ctx.out(`App ${reply.app.name} (${shortId(reply.app.id, ctx.full)})${outcome?.app_created ? ' created' : ''}`);
  ctx.out(renderTable(['SERVICE', 'ID', 'TYPE', 'RESULT', 'LATEST DEPLOYMENT'], reply.services.map((s) => [
    s.name, shortId(s.id, ctx.full), s.type, what(s.name), shortId(s.latest_deployment_id, ctx.full),
  ])));
  if (!wait) return 0;
  const failed: string[] = [];
  for (const s of reply.services) {
    if (outcome && outcome.unchanged.includes(s.name)) continue;
    ctx.err(`Waiting for ${s.name}...`);
    try {
      const code = await waitAndReport(ctx, { serviceId: s.id, deploymentId: s.latest_deployment_id, timeoutMs });
      if (code === 130) return 130;
      if (code !== 0) failed.push(s.name);
    } catch (err) {
      ctx.err(`${s.name}: ${(err as Error).message}`);
      failed.push(s.name);
    }
  }
  if (failed.length) throw new CliError(`not healthy: ${failed.join(', ')}`, ['see `pier events --service <app>/<service>` and `pier services logs`']);
  return 0;
}

/** `pier compose FILE [--wait]`. */
export const composeCommand: Command = {
  name: 'compose', summary: "Create or update an app's services from a koyeb-compose file (idempotent)",
  usage: 'FILE', args: [1, 1], flags: [...WAIT_FLAGS],
  examples: ['pier compose koyeb.yaml --wait', 'IMAGE=nginx:1.27 pier compose mesh.yaml   # ${IMAGE} in the file'],
  run: runCompose,
};

// `pier function deploy <file-or-dir> --app A --name F`: packs a handler (one file becomes handler.<ext>; a
// directory must hold a handler file), uploads it as an archive like `pier deploy`, creates or updates the service
// with the function defaults (src/build/functions/definition.ts: scale-to-zero, port 8000, route /), waits until it is
// HEALTHY or SLEEPING and prints its URL. `function list` and `function logs` are the service commands.
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import type { App, Deployment, DeploymentDefinition, Service } from '../../domain/types.ts';
import { dirView } from '../../build/builder.ts';
import { findHandler, HANDLER_FILES } from '../../build/functions/detect.ts';
import { FUNCTION_PORT, functionDefinition } from '../../build/functions/definition.ts';
import { UsageError, type FlagSpec } from '../args.ts';
import type { Command, Ctx } from '../command.ts';
import { applyDefinitionFlags } from '../definition-flags.ts';
import { CliError } from '../errors.ts';
import { DEFINITION_FLAGS, WAIT_FLAGS, readDefinitionFlags } from './definition-specs.ts';
import { packDirectory } from './deploy.ts';
import { printFutureUrls, printService, waitAndReport, waitTimeoutMs } from './service-deploy.ts';
import { servicesCommand } from './services.ts';

/** Definition flags that make sense for a function (the source, type, ports and routes are the command's own). */
const PASSED_FLAGS = new Set([
  'env', 'regions', 'instance-type', 'min-scale', 'max-scale', 'light-sleep-delay', 'deep-sleep-delay', 'checks',
  'checks-grace-period', 'autoscaling-concurrent-requests', 'autoscaling-requests-per-second', 'skip-cache',
]);

const FUNCTION_FLAGS: FlagSpec[] = [
  { name: 'app', kind: 'string', placeholder: 'APP', help: 'App to deploy into (created when missing)' },
  { name: 'name', kind: 'string', placeholder: 'FUNCTION', help: 'Function (service) to create or update' },
  { name: 'route', kind: 'string', placeholder: 'PATH', help: 'Public route of the function', defaultText: '/' },
  { name: 'private', kind: 'bool', help: 'No public route: only the app\'s other services reach it (http://NAME:8000)' },
  { name: 'no-wait', kind: 'bool', help: 'Do not wait for the deployment' },
];

/** The directory to pack: the given directory, or a temp one holding the given file as handler.<ext>. */
function handlerDir(path: string): { dir: string; cleanup(): void } {
  if (!existsSync(path)) throw new CliError(`${path} does not exist`);
  if (statSync(path).isDirectory()) {
    let found;
    try { found = findHandler(dirView(path)); } catch (err) { throw new CliError((err as Error).message); }
    if (!found) throw new CliError(`${path} has no handler file: add one of ${HANDLER_FILES.join(', ')} (or pass the file itself)`);
    return { dir: path, cleanup() {} };
  }
  const ext = extname(path);
  const name = HANDLER_FILES.find((f) => extname(f) === ext);
  if (!name) throw new CliError(`${path} is not a function handler: use a .ts, .mts, .js, .mjs or .py file`);
  const dir = mkdtempSync(join(tmpdir(), 'pier-function-'));
  copyFileSync(path, join(dir, name));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

async function upload(ctx: Ctx, dir: string): Promise<string> {
  const { data, files } = await packDirectory(dir);
  const client = ctx.client();
  const { archive } = await client.post<{ archive: { id: string; upload_url: string } }>('/v1/archives', { size: String(data.length) });
  const up = await fetch(archive.upload_url, { method: 'PUT', body: new Uint8Array(data), headers: { 'content-type': 'application/gzip' } });
  if (!up.ok) throw new CliError(`uploading the archive failed: HTTP ${up.status} ${(await up.text()).slice(0, 200)}`);
  ctx.err(`Uploaded ${files} files (${data.length} bytes) as archive ${archive.id}`);
  return archive.id;
}

/** The new definition: function defaults for a new service, else the latest one with the new archive and flags. */
function definitionOf(ctx: Ctx, name: string, archiveId: string, latest: Deployment | undefined): DeploymentDefinition {
  const route = ctx.args.str('route');
  const isPrivate = ctx.args.bool('private');
  if (route !== undefined && !route.startsWith('/')) throw new UsageError(`--route must start with /, got "${route}"`);
  if (route !== undefined && isPrivate) throw new UsageError('--route and --private exclude each other');
  let base: DeploymentDefinition;
  if (latest) {
    base = structuredClone(latest.definition);
    delete base.docker;
    delete base.git;
    base.archive = { id: archiveId, buildpack: {} };
    if (route !== undefined) base.routes = [{ port: FUNCTION_PORT, path: route }];
  } else {
    base = functionDefinition({ name, source: { archive: { id: archiveId, buildpack: {} } }, route, private: isPrivate });
  }
  const { definition, warnings } = applyDefinitionFlags(base, readDefinitionFlags(ctx.args), ctx.io.readFile);
  for (const w of warnings) ctx.err(`warning: ${w}`);
  // The flags' defaults add a `/` route to a web service without one; a private function has none.
  if (isPrivate) definition.routes = [];
  definition.name = name;
  return definition;
}

async function deployFunction(ctx: Ctx): Promise<number> {
  const appName = ctx.args.str('app');
  const name = ctx.args.str('name');
  if (!appName || !name) throw new UsageError('pier function deploy needs --app APP and --name FUNCTION');
  const timeoutMs = waitTimeoutMs(ctx);
  const source = handlerDir(resolve(ctx.args.positionals[0]!));
  let archiveId: string;
  try { archiveId = await upload(ctx, source.dir); } finally { source.cleanup(); }

  const client = ctx.client();
  const apps = await client.listAll<App>('/v1/apps', 'apps', { name: appName });
  const app = apps.find((a) => a.name === appName) ?? (await client.post<{ app: App }>('/v1/apps', { name: appName })).app;
  const existing = (await client.listAll<Service>('/v1/services', 'services', { app_id: app.id, name })).find((s) => s.name === name);
  let latest: Deployment | undefined;
  if (existing) latest = (await client.get<{ deployments: Deployment[] }>('/v1/deployments', { service_id: existing.id, limit: 1 })).deployments?.[0];
  const definition = definitionOf(ctx, name, archiveId, latest);
  const reply = existing
    ? await client.request<{ service: Service }>('PUT', `/v1/services/${existing.id}`, { body: { definition } })
    : await client.post<{ service: Service }>('/v1/services', { app_id: app.id, name, definition });
  if (ctx.args.bool('no-wait')) {
    await printService(ctx, reply);
    await printFutureUrls(ctx, app, definition);
    return 0;
  }
  const fresh = reply.service.latest_deployment_id;
  const code = await waitAndReport(ctx, {
    serviceId: reply.service.id, deploymentId: fresh && fresh !== latest?.id ? fresh : undefined, previousDeploymentId: latest?.id, timeoutMs,
  });
  if (code === 0 && !definition.routes?.length && ctx.output === 'table') {
    ctx.out(`Private function: the app's services reach it at http://${name}:${FUNCTION_PORT}/`);
  }
  return code;
}

const reused = (name: string): Command => {
  const c = servicesCommand.subcommands?.find((s) => s.name === name);
  if (!c) throw new Error(`pier services ${name} is missing`);
  return { ...c, summary: `${c.summary} (the service command: a function is a service)` };
};

/** `pier function deploy|list|logs`. */
export const functionCommand: Command = {
  name: 'function',
  aliases: ['functions', 'fn'],
  summary: 'Deploy a handler (JavaScript, TypeScript or Python) as a scale-to-zero service',
  subcommands: [
    {
      name: 'deploy',
      summary: 'Upload a handler file or directory and deploy it as a function (creates the app and service when missing)',
      usage: 'FILE_OR_DIR', args: [1, 1],
      flags: [...FUNCTION_FLAGS, ...DEFINITION_FLAGS.filter((f) => PASSED_FLAGS.has(f.name)), ...WAIT_FLAGS.filter((f) => f.name !== 'wait')],
      examples: [
        'pier function deploy ./hello.ts --app demo --name hello',
        'pier function deploy ./api --app demo --name api --route /api --env DB_URL=@db-url --max-scale 3',
      ],
      run: deployFunction,
    },
    reused('list'),
    reused('logs'),
  ],
};

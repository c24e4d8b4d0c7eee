// `pier deploy <dir> <app>/<service>` (koyeb's form) or `pier deploy <dir> --app A --name S`: packs a directory
// (honouring .gitignore and .dockerignore), uploads it as an archive (POST /v1/archives, then PUT to the signed
// upload URL), creates or updates the service to build it (with the directory's Dockerfile when it has one, unless
// --archive-builder says otherwise), and with --wait waits until the new deployment is healthy and prints its URL.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { listContext, tarContext } from '../../build/context.ts';
import { compileIgnore, type IgnoreMatcher } from '../../build/ignore.ts';
import type { App, ArchiveSource, Deployment, DeploymentDefinition, Service } from '../../domain/types.ts';
import type { FlagSpec } from '../args.ts';
import { UsageError } from '../args.ts';
import type { Command, Ctx } from '../command.ts';
import { applyDefinitionFlags } from '../definition-flags.ts';
import { CliError } from '../errors.ts';
import { DEFINITION_FLAGS, WAIT_FLAGS, readDefinitionFlags } from './definition-specs.ts';
import { printFutureUrls, printService, waitAndReport, waitTimeoutMs } from './service-deploy.ts';

const ARCHIVE_FLAGS: FlagSpec[] = [
  { name: 'app', kind: 'string', placeholder: 'APP', help: 'App to deploy into (created when missing)' },
  { name: 'name', kind: 'string', placeholder: 'SERVICE', help: 'Service to create or update' },
  { name: 'archive-builder', kind: 'string', placeholder: 'BUILDER', help: 'buildpack or docker', defaultText: 'docker when the directory has a Dockerfile, else buildpack' },
  { name: 'archive-buildpack-build-command', kind: 'string', placeholder: 'CMD', help: 'Buildpack build command' },
  { name: 'archive-buildpack-run-command', kind: 'string', placeholder: 'CMD', help: 'Buildpack run command' },
  { name: 'archive-docker-dockerfile', kind: 'string', placeholder: 'PATH', help: 'Dockerfile path' },
  { name: 'archive-docker-target', kind: 'string', placeholder: 'TARGET', help: 'Dockerfile build target' },
];

/** Rules of both .gitignore and .dockerignore at the directory's root: a path either excludes is left out. */
export function deployIgnore(dir: string): IgnoreMatcher {
  const matchers: IgnoreMatcher[] = [];
  for (const [file, style] of [['.gitignore', 'git'], ['.dockerignore', 'docker']] as const) {
    const p = join(dir, file);
    if (existsSync(p)) matchers.push(compileIgnore(readFileSync(p, 'utf8'), style));
  }
  return { ignores: (path, isDir) => matchers.some((m) => m.ignores(path, isDir)), reincludes: matchers.some((m) => m.reincludes !== false) };
}

/** Packs `dir` as a tar.gz of what deployIgnore keeps (and never .git); returns the bytes and the file count. */
export async function packDirectory(dir: string): Promise<{ data: Buffer; files: number }> {
  const paths = listContext(dir, deployIgnore(dir));
  return { data: gzipSync(await tarContext(dir, paths)), files: paths.length };
}

/**
 * The builder when --archive-builder is not given: docker when the directory has a Dockerfile (at the path the flags
 * or the previous deployment name), else the one the service used before, else buildpack. A Dockerfile wins over an
 * earlier buildpack choice: building such a directory with buildpacks only fails ("nothing to run").
 */
export function defaultBuilder(hasDockerfile: boolean, previous?: ArchiveSource): 'docker' | 'buildpack' {
  if (hasDockerfile || previous?.docker) return 'docker';
  return 'buildpack';
}

/** The app and service names: `<app>/<service>` as the second argument (koyeb's form), or --app and --name. */
export function deployTarget(positional: string | undefined, app: string | undefined, name: string | undefined): { app: string; name: string } {
  if (positional !== undefined) {
    const m = /^([^/\s]+)\/([^/\s]+)$/.exec(positional);
    if (!m) throw new UsageError(`"${positional}" is not <app>/<service>`);
    if ((app && app !== m[1]) || (name && name !== m[2])) throw new UsageError(`"${positional}" and --app/--name name different services`);
    return { app: m[1]!, name: m[2]! };
  }
  if (!app || !name) throw new UsageError('pier deploy needs <app>/<service> (or --app APP and --name SERVICE)');
  return { app, name };
}

/** The archive source of the flags. */
function archiveSource(ctx: Ctx, id: string, dir: string, previous?: ArchiveSource): ArchiveSource {
  const a = ctx.args;
  const dockerfile = a.str('archive-docker-dockerfile') ?? previous?.docker?.dockerfile ?? 'Dockerfile';
  const builder = a.str('archive-builder') ?? defaultBuilder(existsSync(join(dir, dockerfile)), previous);
  if (builder === 'docker') {
    const docker = { ...(previous?.docker ?? {}) };
    const dockerfile = a.str('archive-docker-dockerfile');
    const target = a.str('archive-docker-target');
    if (dockerfile !== undefined) docker.dockerfile = dockerfile;
    if (target !== undefined) docker.target = target;
    return { id, docker };
  }
  if (builder !== 'buildpack') throw new UsageError(`--archive-builder must be buildpack or docker, not "${builder}"`);
  const buildpack = { ...(previous?.buildpack ?? {}) };
  const build = a.str('archive-buildpack-build-command');
  const run = a.str('archive-buildpack-run-command');
  if (build !== undefined) buildpack.build_command = build;
  if (run !== undefined) buildpack.run_command = run;
  return { id, buildpack };
}

async function deploy(ctx: Ctx): Promise<number> {
  const dir = resolve(ctx.args.positionals[0]!);
  const { app: appName, name } = deployTarget(ctx.args.positionals[1], ctx.args.str('app'), ctx.args.str('name'));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CliError(`${dir} is not a directory`);
  const timeoutMs = waitTimeoutMs(ctx);
  const client = ctx.client();

  const { data, files } = await packDirectory(dir);
  const { archive } = await client.post<{ archive: { id: string; upload_url: string } }>('/v1/archives', { size: String(data.length) });
  const up = await fetch(archive.upload_url, { method: 'PUT', body: new Uint8Array(data), headers: { 'content-type': 'application/gzip' } });
  if (!up.ok) throw new CliError(`uploading the archive failed: HTTP ${up.status} ${(await up.text()).slice(0, 200)}`);
  ctx.err(`Uploaded ${files} files (${data.length} bytes) as archive ${archive.id}`);

  const apps = await client.listAll<App>('/v1/apps', 'apps', { name: appName });
  const app = apps.find((a) => a.name === appName) ?? (await client.post<{ app: App }>('/v1/apps', { name: appName })).app;
  const services = await client.listAll<Service>('/v1/services', 'services', { app_id: app.id, name });
  const existing = services.find((s) => s.name === name);
  let latest: Deployment | undefined;
  if (existing) {
    const { deployments } = await client.get<{ deployments: Deployment[] }>('/v1/deployments', { service_id: existing.id, limit: 1 });
    latest = deployments?.[0];
  }
  const base: DeploymentDefinition = structuredClone(latest?.definition ?? {});
  delete base.docker;
  delete base.git;
  base.archive = archiveSource(ctx, archive.id, dir, latest?.definition.archive);
  ctx.err(base.archive.docker
    ? `Building with ${base.archive.docker.dockerfile ?? 'Dockerfile'}${ctx.args.has('archive-builder') ? '' : ' (--archive-builder buildpack to use buildpacks)'}`
    : 'Building with buildpacks');
  const { definition, warnings } = applyDefinitionFlags(base, readDefinitionFlags(ctx.args), ctx.io.readFile);
  for (const w of warnings) ctx.err(`warning: ${w}`);
  definition.name = name;

  const reply = existing
    ? await client.request<{ service: Service }>('PUT', `/v1/services/${existing.id}`, { body: { definition } })
    : await client.post<{ service: Service }>('/v1/services', { app_id: app.id, name, definition });
  if (!ctx.args.bool('wait')) {
    await printService(ctx, reply);
    await printFutureUrls(ctx, app, definition);
    return 0;
  }
  const fresh = reply.service.latest_deployment_id;
  return waitAndReport(ctx, {
    serviceId: reply.service.id,
    deploymentId: fresh && fresh !== latest?.id ? fresh : undefined,
    previousDeploymentId: latest?.id,
    timeoutMs,
  });
}

/** `pier deploy DIR --app A --name S [definition flags] [--wait]`. */
export const deployCommand: Command = {
  name: 'deploy',
  summary: 'Upload a directory and build it as a service (creates the app and service when missing)',
  usage: 'DIR [APP/SERVICE]', args: [1, 2],
  // The source is the directory: the --docker*/--git* flags do not apply.
  flags: [...ARCHIVE_FLAGS, ...DEFINITION_FLAGS.filter((f) => !/^(docker|git)/.test(f.name) && f.name !== 'privileged'), ...WAIT_FLAGS],
  examples: [
    'pier deploy ./site hello/web --ports 8000:http --routes /:8000 --wait',
    'pier deploy ./api --app shop --name api --archive-builder buildpack --wait',
  ],
  run: deploy,
};

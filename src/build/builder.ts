// The Builder the controller calls for git (and later archive) deployments: fetch the commit, pick the builder
// (a Dockerfile when the source asks for `docker`, else buildpack detection), build under a time limit with a
// CPU/memory/disk cap and a per-service cache, stream the log as type build, and return what the runtime runs.
// Every tenant-supplied step runs sandboxed (sandbox*.ts): in build containers or the engine's build for docker,
// in bubblewrap as an unprivileged uid for the process runtime; Pier itself only copies, packs and plans.
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import type { Deployment, DockerBuilder } from '../domain/types.ts';
import { DockerEngine } from '../runtime/docker/engine.ts';
import { baseKindOf, ensureBaseImage, hostPythonVersion } from './base-images.ts';
import { stepEnv, tlsHint, writeBuildFiles, type BuildPackageSettings } from './build-env.ts';
import { contextIgnore, listContext, tarContext, withPaths } from './context.ts';
import { BUILD_FILES_DIR, planDockerfile, type BuildPlan, type BuildTarget, type FileView } from './detect.ts';
import { planSource } from './functions/build.ts';
import { buildDirectory } from './directory.ts';
import { engineBuild } from './docker-build.ts';
import { reasonOf, timeLimited } from './exec.ts';
import { fetchGit, type GitCommit } from './git.ts';
import { defaultArchivesDir, extractArchive, extractionLimit } from './archive.ts';
import { gitRepositoryAllowed, type GitAccess } from '../domain/git-source.ts';
import { createBuildLog, type BuildLog, type BuildLogSink } from './logs.ts';
import { openBuildCgroup } from './host-cgroup.ts';
import { GO_BUILD_FLAGS } from './buildpacks/go.ts';
import { prepareGoCache, type SeedStepRunner } from './go-std-cache.ts';
import { ensureBuildNetwork, hostGoRoot, runContainerSteps } from './sandbox-docker.ts';
import { writeInsideBuild } from './sandbox-files.ts';
import { runSandboxedSteps } from './sandbox-process.ts';
import { BUILD_NETWORK, SANDBOX_CA_FILE } from './sandbox.ts';

/** What a build produced. `image` is an image tag, or `dir:<path>` for a directory build (process runtime). */
export interface BuildOutput { image: string; commit?: GitCommit }

/** Prefix of `BuildOutput.image` for a prepared directory; the runtime starts `/bin/sh /app/.pier/run` in it. */
export const DIRECTORY_IMAGE_PREFIX = 'dir:';

/** How the builder is set up. */
export interface BuilderOptions {
  /** What the runtime runs: images (docker) or directories (process). */
  target: BuildTarget;
  /** Where sources, directory builds and caches live (e.g. <data-dir>/builds). */
  workDir: string;
  /** Where build log lines go. */
  appendLogs: BuildLogSink;
  engine?: DockerEngine;
  /** Wall-clock limit of one build (default 20 min). */
  timeoutMs?: number;
  /** CPU cap of a build in vCPUs (default 1). */
  cpu?: number;
  /** Memory cap of a build in bytes (default 2 GiB). */
  memoryBytes?: number;
  /** Most bytes a build's sandboxed steps may write to its directory and cache (default 8 GiB). */
  diskBytes?: number;
  /** Labels put on built images (e.g. the installation scope). */
  labels?: Record<string, string>;
  /** Where uploaded archives live (default: <workDir>/../archives, i.e. <data-dir>/archives). */
  archivesDir?: string;
  /** Most bytes an archive may extract to (PIER_ARCHIVE_MAX_EXTRACTED_BYTES); capped by the instance type's disk. */
  archiveMaxExtractedBytes?: number;
  /**
   * Who may build from a repository on this host's disk (paths, file://), asked before git runs: defence in depth
   * behind the API's check, and the only check for definitions stored before it existed. Absent = no check.
   */
  gitAccess?: (d: Deployment) => Promise<GitAccess>;
  /**
   * The deployment's env at build time (src/control/spec.ts buildEnvironment): build commands get `env`, Dockerfile
   * builds `buildArgs`, and `secretValues` are redacted from the build log. Default: plain values only, no redaction.
   */
  environment?: (d: Deployment) => Promise<BuildEnv>;
  /** The operator's package settings (CA bundle, proxies, registry mirrors) given to buildpack builds. */
  packages?: BuildPackageSettings;
  /** Where the compiled Go standard library of each toolchain is kept (default <workDir>/go-std; go-std-cache.ts). */
  goStdDir?: string;
}

/** See BuilderOptions.environment. */
export interface BuildEnv { env: Record<string, string>; buildArgs: Record<string, string>; secretValues: string[] }

/** The builder port (src/control/ports.ts Builder) implemented for real. */
export interface PierBuilder {
  build(d: Deployment, signal: AbortSignal): Promise<BuildOutput>;
}

/**
 * A FileView over a directory. A link is followed only while it stays inside the directory: a source's
 * `package.json -> /root/.pier/credentials.json` must not be read by Pier (and quoted by a parse error).
 */
export function dirView(dir: string): FileView {
  const top = (() => { try { return realpathSync(dir); } catch { return dir; } })();
  const inside = (p: string) => {
    const path = join(dir, p);
    try {
      if (!lstatSync(path).isSymbolicLink()) return path;
      const real = realpathSync(path);
      return real === top || real.startsWith(top + sep) ? real : undefined;
    } catch { return undefined; }
  };
  return {
    exists: (p) => inside(p) !== undefined,
    read: (p) => {
      const path = inside(p);
      try { return path && statSync(path).isFile() ? readFileSync(path, 'utf8') : undefined; } catch { return undefined; }
    },
  };
}

/** Resolves the source's workdir inside the checkout; refuses paths that leave it. */
export function sourceDir(checkout: string, workdir: string | undefined): string {
  const dir = resolve(checkout, (workdir ?? '').replace(/^\/+/, ''));
  const rel = relative(checkout, dir);
  if (rel.startsWith('..') || rel.startsWith(sep)) throw new Error(`workdir "${workdir}" leaves the repository`);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`workdir "${workdir}" is not a directory of the repository`);
  if (!realpathSync(dir).startsWith(realpathSync(checkout))) throw new Error(`workdir "${workdir}" leaves the repository`);
  return dir;
}

/** Plain (non-secret) env values of a definition: passed as build args, never secrets. */
export function buildArgsOf(d: Deployment): Record<string, string> {
  const args: Record<string, string> = {};
  for (const e of d.definition.env ?? []) if (!e.secret && e.value !== undefined && !/\{\{/.test(e.value)) args[e.key] = e.value;
  return args;
}

/** Creates the builder. */
export function createBuilder(o: BuilderOptions): PierBuilder {
  const engine = o.engine ?? new DockerEngine();
  const packages = o.packages ?? {};
  const limits = {
    timeoutMs: o.timeoutMs ?? 20 * 60_000, cpu: o.cpu ?? 1, memoryBytes: o.memoryBytes ?? 2 * 1024 ** 3, diskBytes: o.diskBytes ?? 8 * 1024 ** 3,
  };
  // The private /tmp of a sandboxed step lives in memory (and counts against its cap): a quarter of it.
  const tmpBytes = Math.max(64 * 1024 ** 2, Math.floor(limits.memoryBytes / 4));
  // The operator's CA bundle is a host file: sandboxed steps see it read-only at SANDBOX_CA_FILE.
  const caFile = packages.caFile ? { host: packages.caFile, inside: SANDBOX_CA_FILE } : undefined;
  const goStdDir = o.goStdDir ?? join(o.workDir, 'go-std');

  /** A Go build's empty service cache gets the toolchain's compiled std first, seeded by `runStep` when missing. */
  function goCache(plan: BuildPlan, cacheDir: string, say: (l: string) => void, runStep: SeedStepRunner): Promise<void> {
    const goRoot = plan.stack === 'go' ? hostGoRoot() : undefined;
    // A build_command that does not build with the default flags (or not at all) would not use a new seed.
    const makes = plan.hostCommands.some((c) => c.includes(`go build ${GO_BUILD_FLAGS} `));
    return goRoot ? prepareGoCache({ dir: goStdDir, goRoot, cacheDir, log: say, runStep, makes }) : Promise.resolve();
  }

  async function run(d: Deployment, signal: AbortSignal, log: BuildLog, env: BuildEnv): Promise<BuildOutput> {
    const git = d.definition.git;
    const archive = d.definition.archive;
    const source = git ?? archive;
    if (!source) throw new Error('nothing to build: the deployment has no git or archive source');
    const root = join(o.workDir, 'deployments', d.id);
    rmSync(root, { recursive: true, force: true });
    const checkout = join(root, 'src');
    mkdirSync(checkout, { recursive: true });
    const say = (l: string, s: 'stdout' | 'stderr' = 'stdout') => log.line(l, s);
    // An archive is built like a checkout of it; only git records a commit.
    if (git && o.gitAccess) {
      const verdict = gitRepositoryAllowed(git.repository, await o.gitAccess(d));
      if (!verdict.allowed) throw new Error(`git.repository: ${verdict.reason}`);
    }
    const commit = git ? await fetchGit(git, checkout, { signal, onLine: say }) : undefined;
    if (!git) {
      const limit = extractionLimit(d.definition, o.archiveMaxExtractedBytes);
      await extractArchive(o.archivesDir ?? defaultArchivesDir(o.workDir), archive!.id, checkout, signal, say, limit);
    }
    const dir = sourceDir(checkout, git?.workdir);
    const cacheDir = d.definition.skip_cache ? join(root, 'cache') : join(o.workDir, 'cache', d.service_id);
    mkdirSync(cacheDir, { recursive: true });
    if (source.docker) return { image: await dockerfileBuild(d, source.docker, dir, log, signal, env.buildArgs), commit };
    // A source with only a handler file is a function (src/build/functions): its wrapper and compiled handler are
    // written into the source first, then it builds like any Node or Python app.
    const plan = await planSource(dir, dirView(dir), {
      buildCommand: source.buildpack?.build_command ?? git?.build_command,
      runCommand: source.buildpack?.run_command ?? git?.run_command,
      serviceType: d.definition.type === 'WORKER' ? 'WORKER' : 'WEB',
      pythonVersion: hostPythonVersion(),
    }, o.target, say);
    say(`Detected a ${plan.stack} app; it will run: ${plan.runCommand}`);
    if (o.target === 'directory') {
      const appDir = join(root, 'app');
      const cg = openBuildCgroup(d.id, limits, say);
      try {
        const stepVars = { ...plan.buildEnv, ...stepEnv(packages, caFile?.inside, env.env) };
        // Pier's own step (no tenant env, an empty app directory), in the same sandbox and cgroup as the build's.
        await goCache(plan, cacheDir, say, (command, seedApp, seedCache) => runSandboxedSteps([command], {
          appDir: seedApp, cacheDir: seedCache, env: {}, signal, log: say, joinFiles: cg?.joinFiles, diskBytes: limits.diskBytes, tmpBytes,
        }));
        await buildDirectory({
          source: dir, appDir, plan, cacheDir,
          runSteps: (commands) => runSandboxedSteps(commands, {
            appDir, cacheDir, env: stepVars, signal, log: say, joinFiles: cg?.joinFiles, diskBytes: limits.diskBytes, tmpBytes,
            readOnly: caFile ? [caFile] : [],
          }),
        });
      } finally {
        cg?.close();
      }
      // The checkout is not needed any more; removed off the deploy's path (a next build of this deployment clears it).
      void rm(checkout, { recursive: true, force: true }).catch(() => undefined);
      return { image: `${DIRECTORY_IMAGE_PREFIX}${appDir}`, commit };
    }
    const image = await buildpackImage(d, plan, dir, cacheDir, log, signal, env.env);
    rmSync(root, { recursive: true, force: true });
    return { image, commit };
  }

  async function dockerfileBuild(d: Deployment, b: DockerBuilder, dir: string, log: BuildLog, signal: AbortSignal, buildArgs: Record<string, string>): Promise<string> {
    if (o.target !== 'image') throw new Error('Dockerfile builds need the docker runtime; this Pier runs the process runtime (use the buildpack builder)');
    const dockerfile = b.dockerfile || 'Dockerfile';
    if (!existsSync(join(dir, dockerfile))) throw new Error(`no ${dockerfile} in the build context: add one or set the builder's dockerfile path`);
    const tag = imageTag(d);
    log.line(`Building ${dockerfile}${b.target ? ` (target ${b.target})` : ''} into ${tag}`);
    // Docker always sends the Dockerfile, even when .dockerignore lists it.
    const tar = await tarContext(dir, withPaths(dir, listContext(dir, contextIgnore(dir)), [dockerfile]), signal);
    await ensureBuildNetwork(engine);
    await engineBuild(engine, tar, {
      tag, dockerfile, target: b.target, buildArgs, noCache: d.definition.skip_cache,
      cpu: limits.cpu, memoryBytes: limits.memoryBytes, labels: imageLabels(d), network: BUILD_NETWORK,
    }, (l) => log.line(l), signal);
    return tag;
  }

  async function buildpackImage(d: Deployment, plan: BuildPlan, dir: string, cacheDir: string, log: BuildLog, signal: AbortSignal, env: Record<string, string>): Promise<string> {
    const base = await ensureBaseImage(engine, baseKindOf(plan.stack), (l) => log.line(l));
    if (plan.hostCommands.length) {
      await goCache(plan, cacheDir, (l) => log.line(l), (command, seedApp, seedCache) => runContainerSteps([command], {
        engine, image: base, buildDir: seedApp, cacheDir: seedCache, env: {}, cpu: limits.cpu, memoryBytes: limits.memoryBytes,
        diskBytes: limits.diskBytes, tmpBytes, labels: imageLabels(d), signal, log: (l, s) => log.line(l, s),
      }));
      mkdirSync(join(cacheDir, 'home'), { recursive: true });
      await runContainerSteps(plan.hostCommands, {
        engine, image: base, buildDir: dir, cacheDir, env: stepEnv(packages, caFile?.inside, env), cpu: limits.cpu,
        memoryBytes: limits.memoryBytes, diskBytes: limits.diskBytes, tmpBytes, labels: imageLabels(d), readOnly: caFile ? [caFile] : [],
        signal, log: (l, s) => log.line(l, s),
      });
    }
    // What the host steps built (bin/) goes in even when the app's .gitignore lists it.
    const paths = withPaths(dir, listContext(dir, contextIgnore(dir)), plan.keepPaths ?? [])
      .filter((p) => p !== 'Dockerfile.pier' && p !== BUILD_FILES_DIR && !p.startsWith(`${BUILD_FILES_DIR}/`));
    // The steps could have planted these names as links: Pier's writes must not follow them onto the host.
    rmSync(join(dir, BUILD_FILES_DIR), { recursive: true, force: true });
    const buildFiles = writeBuildFiles(dir, packages, env);
    writeInsideBuild(dir, 'Dockerfile.pier', planDockerfile(plan, base));
    const tag = imageTag(d);
    const tar = await tarContext(dir, [...paths, ...buildFiles, 'Dockerfile.pier'], signal);
    await ensureBuildNetwork(engine);
    await engineBuild(engine, tar, {
      tag, dockerfile: 'Dockerfile.pier', noCache: d.definition.skip_cache, cpu: limits.cpu,
      memoryBytes: limits.memoryBytes, labels: imageLabels(d), network: BUILD_NETWORK,
    }, (l) => log.line(l), signal);
    return tag;
  }

  function imageLabels(d: Deployment): Record<string, string> {
    return { ...o.labels, 'dev.pier.service_id': d.service_id, 'dev.pier.deployment_id': d.id };
  }

  return {
    async build(d, signal) {
      let env: BuildEnv;
      let envError: Error | undefined;
      try {
        env = o.environment ? await o.environment(d) : { env: buildArgsOf(d), buildArgs: buildArgsOf(d), secretValues: [] };
      } catch (err) {
        env = { env: {}, buildArgs: {}, secretValues: [] };
        envError = new Error(`the build's environment cannot be resolved: ${(err as Error).message}`);
      }
      const log = createBuildLog(d, o.appendLogs, env.secretValues);
      const limit = timeLimited(signal, limits.timeoutMs);
      const limited = limit.signal;
      const started = Date.now();
      log.line(`Build started for deployment ${d.id}`, 'koyeb');
      try {
        if (envError) throw envError;
        const out = await run(d, limited, log, env);
        log.line(`Build finished in ${Math.round((Date.now() - started) / 1000)} s: ${out.image}`, 'koyeb');
        return out;
      } catch (err) {
        const why = limited.aborted ? reasonOf(limited) : (err as Error).message;
        log.line(`Build failed: ${why}`, 'koyeb');
        const tail = log.tail(6).slice(0, -1).filter((l) => l.trim());
        const hint = tlsHint(log.tail(50), packages);
        const message = hint ? `${why} (${hint})` : why;
        throw new Error(tail.length ? `${message}\nLast build log lines:\n${tail.join('\n')}` : message);
      } finally {
        limit.dispose();
        await log.flush();
      }
    },
  };
}

/** The tag of a deployment's image: per service repository, per deployment tag. */
export function imageTag(d: Deployment): string {
  return `pier-build/${d.service_id.toLowerCase()}:${d.id.toLowerCase()}`;
}


// A buildpack build for the process runtime: the source copied into a directory, dependencies installed and the
// build run on the host (Pier's argv; the commands themselves are the app's own shell commands), and a launcher
// at .pier/run that the runtime starts as `/bin/sh /app/.pier/run`.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { copyContext, listContext } from './context.ts';
import { planLauncher, type BuildPlan } from './detect.ts';
import { runStep } from './exec.ts';

/** Where a directory build's launcher lives, relative to the app directory. */
export const LAUNCHER = '.pier/run';

/** The environment host build steps run with: a clean PATH, caches under the service's cache directory. */
export function hostBuildEnv(cacheDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' + (existsSync('/usr/local/go/bin/go') ? ':/usr/local/go/bin' : ''),
    HOME: join(cacheDir, 'home'), LC_ALL: 'C.UTF-8',
    npm_config_cache: join(cacheDir, 'npm'), npm_config_update_notifier: 'false',
    PIP_CACHE_DIR: join(cacheDir, 'pip'), PIP_DISABLE_PIP_VERSION_CHECK: '1',
    GOCACHE: join(cacheDir, 'go-build'), GOPATH: join(cacheDir, 'go'), GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0',
    ...extra,
  };
}

/** Runs shell commands of a plan in `dir` on the host, one step each. */
export async function runHostCommands(
  commands: string[], dir: string, env: Record<string, string>, signal: AbortSignal, log: (l: string, s: 'stdout' | 'stderr') => void,
  joinFiles?: string[],
): Promise<void> {
  for (const c of commands) {
    log(`$ ${c}`, 'stdout');
    await runStep(['/bin/sh', '-c', c], { cwd: dir, env, signal, onLine: log, joinFiles });
  }
}

/** Builds `source` into `appDir` following `plan`; resolves once the launcher is written. */
export async function buildDirectory(o: {
  source: string; appDir: string; plan: BuildPlan; cacheDir: string; env?: Record<string, string>;
  signal: AbortSignal; log: (l: string, s: 'stdout' | 'stderr') => void; joinFiles?: string[];
}): Promise<void> {
  copyContext(o.source, o.appDir, listContext(o.source));
  mkdirSync(join(o.cacheDir, 'home'), { recursive: true });
  const env = hostBuildEnv(o.cacheDir, o.env);
  await runHostCommands([...o.plan.hostCommands, ...o.plan.installCommands, ...o.plan.buildCommands], o.appDir, env, o.signal, o.log, o.joinFiles);
  mkdirSync(join(o.appDir, '.pier'), { recursive: true });
  writeFileSync(join(o.appDir, LAUNCHER), planLauncher(o.plan));
  chmodSync(join(o.appDir, LAUNCHER), 0o755);
}

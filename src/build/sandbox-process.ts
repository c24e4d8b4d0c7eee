// Runs a build's steps for the process runtime inside bubblewrap (argv from sandbox.ts): each step joins the build's
// cgroup as root, drops to BUILD_UID with setpriv (no groups, no new privileges), then bwrap makes its namespaces.
// The host network stays, fenced by Pier's BUILD_OUTPUT_CHAIN (sandbox-firewall.ts); the disk cap is watched here.
import { existsSync, mkdirSync } from 'node:fs';
import { hostRootEntries } from '../runtime/process/sandbox.ts';
import { seccompFilter, seccompSupported } from '../runtime/process/seccomp.ts';
import { reasonOf, runStep, StepError } from './exec.ts';
import { BUILD_UID, HOST_STEP_ENV, STAGE_DIR, type ReadOnlyMount, buildBwrapArgs, dropPrivileges, envPayload, sandboxBuildEnv, stagedArgv } from './sandbox.ts';
import { chownTree, guardSteps } from './sandbox-files.ts';
import { ensureBuildFirewall } from './sandbox-firewall.ts';

/** What a sandboxed process build needs. */
export interface ProcessSandboxOptions {
  /** The directory built in place (mounted at /app). */
  appDir: string;
  /** The service's build cache (mounted at /cache). */
  cacheDir: string;
  /** The deployment's env (secrets resolved): the only env the steps see besides Pier's PATH and cache settings. */
  env: Record<string, string>;
  signal: AbortSignal;
  log: (line: string, stream: 'stdout' | 'stderr') => void;
  /** cgroup.procs files of the build's cgroup (cpu/memory/pids). */
  joinFiles?: string[];
  /** Most bytes the steps may write to the app and cache directories. */
  diskBytes: number;
  /** Size of the private /tmp (counted in the build's memory). */
  tmpBytes: number;
  /** Host paths the steps see read-only. */
  readOnly?: ReadOnlyMount[];
}

/** The fd bwrap reads the seccomp filter from (fd 3 carries the env). */
const SECCOMP_FD = 4;

const PROGRAM_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'];

function program(name: string): string | undefined {
  for (const d of PROGRAM_DIRS) if (existsSync(`${d}/${name}`)) return `${d}/${name}`;
  return undefined;
}

/** The Go toolchain's bin directory on this host (under /usr, so the sandbox's read-only /usr has it), if any. */
export function hostGoBin(): string | undefined {
  return ['/usr/local/go/bin', '/usr/lib/go/bin'].find((d) => existsSync(`${d}/go`));
}

/** As root: stage the build's directories in a private mount namespace, drop to BUILD_UID, then bwrap from the stage. */
function stagedStep(
  unshare: string, setpriv: string, bwrap: string, o: ProcessSandboxOptions, rootEntries: ReturnType<typeof hostRootEntries>, command: string,
  seccompFd: number | undefined,
): string[] {
  const extra = (o.readOnly ?? []).map((m, i) => ({ host: m.host, name: `ro-${i}`, inside: m.inside }));
  const sandbox = [bwrap, ...buildBwrapArgs({
    appDir: `${STAGE_DIR}/app`, cacheDir: `${STAGE_DIR}/cache`, rootEntries, command, tmpBytes: o.tmpBytes, seccompFd,
    readOnly: extra.map((m) => ({ host: `${STAGE_DIR}/${m.name}`, inside: m.inside })),
  })];
  const binds = [{ host: o.appDir, name: 'app' }, { host: o.cacheDir, name: 'cache' }, ...extra];
  return stagedArgv(unshare, binds, dropPrivileges(setpriv, BUILD_UID, sandbox));
}

/** Runs `commands` one by one in the build sandbox; rejects with the first failure (or the disk/time/cancel reason). */
export async function runSandboxedSteps(commands: string[], o: ProcessSandboxOptions): Promise<void> {
  if (commands.length === 0) return;
  const bwrap = program('bwrap');
  if (!bwrap) throw new StepError('build steps run in a bubblewrap sandbox and bwrap is not installed: run scripts/setup-host.sh or apt-get install bubblewrap');
  const root = process.getuid?.() === 0;
  const setpriv = program('setpriv');
  const unshare = program('unshare');
  if (root && (!setpriv || !unshare)) throw new StepError('build steps drop root with setpriv and unshare, and they are not installed (apt-get install util-linux)');
  if (root) {
    mkdirSync(STAGE_DIR, { recursive: true, mode: 0o755 });
    chownTree(o.appDir, BUILD_UID);
    chownTree(o.cacheDir, BUILD_UID);
    await ensureBuildFirewall();
  }
  const env = envPayload(sandboxBuildEnv(o.env, hostGoBin()));
  // The instances' seccomp filter (Docker's default profile, at least) on fd 4, read by bwrap; the env is fd 3.
  const seccomp = seccompSupported() ? seccompFilter() : undefined;
  if (!seccomp) o.log(`note: no seccomp filter for ${process.arch}: build steps run without one`, 'stderr');
  const rootEntries = hostRootEntries();
  const guard = await guardSteps([o.appDir, o.cacheDir], o.diskBytes, o.signal, o.log);
  try {
    for (const command of commands) {
      o.log(`$ ${command}`, 'stdout');
      const seccompFd = seccomp ? SECCOMP_FD : undefined;
      const argv = root ? stagedStep(unshare!, setpriv!, bwrap, o, rootEntries, command, seccompFd) : [bwrap, ...buildBwrapArgs({
        appDir: o.appDir, cacheDir: o.cacheDir, rootEntries, command, tmpBytes: o.tmpBytes, readOnly: o.readOnly, seccompFd,
      })];
      try {
        await runStep(argv, { cwd: '/', env: HOST_STEP_ENV, extraFds: seccomp ? [env, seccomp] : [env], signal: guard.signal, onLine: o.log, joinFiles: o.joinFiles, label: command });
      } catch (err) {
        if (guard.signal.aborted && !o.signal.aborted) throw new StepError(`${command} stopped: ${reasonOf(guard.signal)}`);
        throw err;
      }
    }
  } finally {
    guard.dispose();
  }
}

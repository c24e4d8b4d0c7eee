// The process runtime's sandbox: bubblewrap's argv (pure), and the supervisor script that joins the cgroup, feeds
// the app its environment from a pipe (never argv, never disk), timestamps output lines and records the exit code.
import { existsSync, lstatSync, readlinkSync } from 'node:fs';

/** How the host's top-level system directories must appear inside the sandbox. */
export type RootEntry = { path: string; kind: 'symlink'; target: string } | { path: string; kind: 'dir' };

/** Top-level directories that hold programs and libraries (read-only inside the sandbox). */
export const SYSTEM_DIRS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** /etc entries an ordinary program needs (DNS, users, TLS roots, time zone, dynamic linker, alternatives). */
export const ETC_ENTRIES = [
  '/etc/alternatives', '/etc/ca-certificates', '/etc/ssl', '/etc/pki', '/etc/group', '/etc/passwd', '/etc/hosts',
  '/etc/host.conf', '/etc/nsswitch.conf', '/etc/resolv.conf', '/etc/gai.conf', '/etc/localtime', '/etc/timezone',
  '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/mime.types', '/etc/os-release',
];

/** Looks at the host's system directories: merged-/usr hosts have symlinks (/bin -> usr/bin) that must stay links. */
export function hostRootEntries(): RootEntry[] {
  const out: RootEntry[] = [];
  for (const path of SYSTEM_DIRS) {
    if (!existsSync(path)) continue;
    const st = lstatSync(path);
    if (st.isSymbolicLink()) out.push({ path, kind: 'symlink', target: readlinkSync(path) });
    else if (st.isDirectory()) out.push({ path, kind: 'dir' });
  }
  return out;
}

/** What one sandbox needs. */
export interface SandboxOptions {
  appDir: string;
  /** argv of the app (entrypoint then command). */
  argv: string[];
  workdir?: string;
  hostname: string;
  /** Size limit of the private /tmp (the only writable place), if any. */
  tmpBytes?: number;
  rootEntries: RootEntry[];
  /** A directory holding the app network's `hosts` file; it replaces the host's /etc/hosts (kept current by renames). */
  hostsDir?: string;
}

/** Where the app network's hosts directory appears inside the sandbox. */
export const SANDBOX_HOSTS_DIR = '/run/pier-network';

/** bubblewrap's arguments (after the bwrap path itself) for one instance. */
export function bwrapArgs(o: SandboxOptions): string[] {
  const args = [
    '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    // The sandbox dies with its supervisor; the supervisor itself is detached so it outlives the control plane.
    '--die-with-parent',
    '--new-session', // no controlling terminal: blocks TIOCSTI injection
    '--cap-drop', 'ALL',
    '--hostname', o.hostname,
    '--ro-bind', '/usr', '/usr',
  ];
  for (const e of o.rootEntries) {
    if (e.kind === 'symlink') args.push('--symlink', e.target, e.path);
    else args.push('--ro-bind', e.path, e.path);
  }
  for (const p of ETC_ENTRIES) if (!(o.hostsDir && p === '/etc/hosts')) args.push('--ro-bind-try', p, p);
  // A bind of the directory, not the file: the file is replaced by rename, which a file bind would not follow.
  if (o.hostsDir) args.push('--ro-bind', o.hostsDir, SANDBOX_HOSTS_DIR, '--symlink', `${SANDBOX_HOSTS_DIR}/hosts`, '/etc/hosts');
  args.push('--proc', '/proc', '--dev', '/dev');
  if (o.tmpBytes && o.tmpBytes > 0) args.push('--size', String(Math.floor(o.tmpBytes)));
  args.push('--tmpfs', '/tmp');
  args.push('--ro-bind', o.appDir, '/app');
  args.push('--chdir', o.workdir ?? '/app');
  args.push('--', ...o.argv);
  return args;
}

/**
 * The supervisor (bash, started detached with a minimal environment): `$1` = instance dir, then cgroup.procs files,
 * `--`, then the sandbox argv. Fd 3 carries the app's environment as NUL-separated NAME=value pairs.
 * Writes sandbox.pid when the sandbox is spawned, stdout.log/stderr.log as "<epoch seconds> <line>", and exit.json
 * once the sandbox has exited and its output is flushed.
 */
export const SUPERVISOR_SCRIPT = `set -u
dir=$1; shift
procs=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do procs+=("$1"); shift; done
shift
stamp() { local line; while IFS= read -r line || [ -n "$line" ]; do printf '%s %s\\n' "$EPOCHREALTIME" "$line"; done; }
stamp < "$dir/out.fifo" >> "$dir/stdout.log" 3<&- &
s1=$!
stamp < "$dir/err.fifo" >> "$dir/stderr.log" 3<&- &
s2=$!
(
  for f in "\${procs[@]}"; do printf '%s\\n' "$BASHPID" > "$f" || { echo "pier: cannot join cgroup $f" >&2; exit 125; }; done
  unset -v PATH LC_ALL PWD OLDPWD SHLVL
  while IFS= read -r -d '' kv <&3; do export "$kv"; done
  exec 3<&-
  exec "$@"
) > "$dir/out.fifo" 2> "$dir/err.fifo" &
child=$!
exec 3<&-
printf '%s\\n' "$child" > "$dir/sandbox.pid"
wait "$child"; rc=$?
wait "$s1" "$s2"
printf '{"exitCode":%d,"finishedAt":"%s"}\\n' "$rc" "$EPOCHREALTIME" > "$dir/exit.json"
`;

/** Parses bash's $EPOCHREALTIME ("1700000000.123456", or with a comma in some locales) into an ISO time. */
export function epochToIso(value: string): string | undefined {
  const n = Number(value.replace(',', '.'));
  return Number.isFinite(n) && n > 0 ? new Date(Math.round(n * 1000)).toISOString() : undefined;
}

/** Environment variable names the sandbox accepts (a name with `=` or NUL cannot be exported). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

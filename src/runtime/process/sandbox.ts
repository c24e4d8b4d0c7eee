// The process runtime's sandbox: bubblewrap's argv (pure), and the supervisor script that joins the cgroup, feeds
// the app its environment from a pipe (never argv, never disk), timestamps output lines and records the exit code.
// The app runs as root of its own user namespace, which is an unprivileged uid on the host (uids.ts): the root
// supervisor stages what the sandbox mounts, then drops to that uid (setpriv) before bubblewrap starts.
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

/** /proc entries Docker makes read-only: host-global knobs (sysctls, IRQ affinity, PCI, filesystems, SysRq). */
export const PROC_READ_ONLY = ['/proc/sys', '/proc/sysrq-trigger', '/proc/irq', '/proc/bus', '/proc/fs'];

/** /proc entries Docker hides: kernel memory, keys, timers, hardware (files become /dev/null, directories empty). */
export const PROC_HIDDEN = [
  '/proc/kcore', '/proc/keys', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/latency_stats',
  '/proc/acpi', '/proc/scsi', '/proc/asound',
];

/** Which of the /proc entries to cover exist on this kernel (bubblewrap cannot cover a missing one). */
export interface ProcEntries { readOnly: string[]; hiddenFiles: string[]; hiddenDirs: string[] }

/** Looks at the host's /proc: the sandbox's own /proc has the same entries (they are not per pid namespace). */
export function hostProcEntries(): ProcEntries {
  const out: ProcEntries = { readOnly: PROC_READ_ONLY.filter((p) => existsSync(p)), hiddenFiles: [], hiddenDirs: [] };
  for (const p of PROC_HIDDEN) {
    if (!existsSync(p)) continue;
    if (lstatSync(p).isDirectory()) out.hiddenDirs.push(p);
    else out.hiddenFiles.push(p);
  }
  return out;
}

/**
 * Where the supervisor binds the app directory and the hosts directory (in its own mount namespace) so that the
 * sandbox's unprivileged uid can reach them: their real paths sit under Pier's data directory, which only root may
 * enter. On the host these are empty directories.
 */
export const STAGE_DIR = '/run/pier/stage';
export const STAGE_APP = `${STAGE_DIR}/app`;
export const STAGE_HOSTS = `${STAGE_DIR}/hosts`;

/** Where the supervisor binds the i-th persistent volume (issue #20) for the sandbox to bind read-write at its path. */
export function stageVolume(i: number): string { return `${STAGE_DIR}/volume${i}`; }

/**
 * Paths inside the sandbox a volume may not cover or sit under: what the sandbox itself mounts there (system
 * directories, /proc, /dev, /etc, the read-only app, the network's hosts directory).
 */
export const SANDBOX_RESERVED_PATHS = ['/usr', '/etc', '/proc', '/dev', '/app', '/run/pier-network', ...SYSTEM_DIRS];

/** The supervisor's fstab (`mount -a -T`): one bind per staged directory; fields escaped as fstab(5) says. */
export function stageFstab(appDir: string, hostsDir?: string, volumeDirs: readonly string[] = []): string {
  const esc = (p: string) => p.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  const lines = [`${esc(appDir)} ${STAGE_APP} none bind 0 0`];
  if (hostsDir) lines.push(`${esc(hostsDir)} ${STAGE_HOSTS} none bind 0 0`);
  // Volumes: already nodev,nosuid filesystems of their own; the bind keeps those flags.
  volumeDirs.forEach((d, i) => lines.push(`${esc(d)} ${stageVolume(i)} none bind 0 0`));
  return `${lines.join('\n')}\n`;
}

/** The file descriptor the supervisor hands bubblewrap the seccomp program on (fd 3 carries the environment). */
export const SECCOMP_FD = 4;

/** setpriv's arguments (after its path) that turn the root supervisor into the sandbox's host uid for bubblewrap. */
export function dropPrivilegesArgs(uid: number): string[] {
  return [
    `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', // no supplementary group of root's survives
    '--no-new-privs', '--bounding-set=-all', '--inh-caps=-all', '--',
  ];
}

/** What one sandbox needs. */
export interface SandboxOptions {
  /** The directory bound read-only at /app (the staged path, as the sandbox's uid cannot reach the real one). */
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
  /** /proc entries to make read-only or hide (default: none, for tests of the rest). */
  proc?: ProcEntries;
  /** The fd bubblewrap reads the seccomp program from, if any. */
  seccompFd?: number;
  /** Persistent volumes, bound read-write unless `readOnly`: `source` is the staged directory (stageVolume), `target` the path inside. */
  volumes?: { source: string; target: string; readOnly?: boolean }[];
}

/** Where the app network's hosts directory appears inside the sandbox. */
export const SANDBOX_HOSTS_DIR = '/run/pier-network';

/** bubblewrap's arguments (after the bwrap path itself) for one instance. */
export function bwrapArgs(o: SandboxOptions): string[] {
  const args = [
    // Root inside is the unprivileged uid bubblewrap runs as: an escape from every other namespace is still nobody.
    '--unshare-user', '--uid', '0', '--gid', '0',
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
  // The binds' sources are the host's /proc entries: their content is the same (global, or per the opener's
  // namespaces, as /proc/sys/net is), and bubblewrap has no way to bind a path of the new /proc onto itself.
  for (const p of o.proc?.readOnly ?? []) args.push('--ro-bind', p, p);
  for (const p of o.proc?.hiddenFiles ?? []) args.push('--ro-bind', '/dev/null', p); // nodev: opening it fails
  for (const p of o.proc?.hiddenDirs ?? []) args.push('--tmpfs', p, '--remount-ro', p);
  if (o.tmpBytes && o.tmpBytes > 0) args.push('--size', String(Math.floor(o.tmpBytes)));
  args.push('--tmpfs', '/tmp');
  args.push('--ro-bind', o.appDir, '/app');
  // The only writable binds of the host: each volume, its own filesystem of its own size (issue #20).
  for (const v of o.volumes ?? []) args.push(v.readOnly ? '--ro-bind' : '--bind', v.source, v.target);
  args.push('--chdir', o.workdir ?? '/app');
  // Applied last, just before the app starts, with no_new_privs set (bubblewrap's init gets it too).
  if (o.seccompFd !== undefined) args.push('--seccomp', String(o.seccompFd));
  args.push('--', ...o.argv);
  return args;
}

/**
 * The supervisor (bash, started detached with a minimal environment, in a mount namespace of its own and, when the
 * instance has one, in its network namespace): `$1` = instance dir, then cgroup.procs files, `--`, then the sandbox
 * argv (which drops to the sandbox's uid). Fd 3 carries the app's environment as NUL-separated NAME=value pairs; fd 4
 * the seccomp program, read by bubblewrap. Before the sandbox starts, `<dir>/stage.fstab` (if any) is mounted (binds
 * visible to this namespace only), and with PIER_OWN_NETNS=1 the instance's network namespace lets any uid bind
 * ports below 1024 and open ping sockets: the namespace belongs to the host's user namespace, where the sandbox's
 * root is an unprivileged uid (Docker sets the same two sysctls in its containers' namespaces).
 * The copy of the host's /run/netns is detached from this namespace: it is a shared mount (ip netns), so every other
 * instance's namespace file would be propagated into every supervisor's namespace (N^2 mounts at N instances, and
 * bubblewrap's setup reading them all); the supervisor already is in its network namespace, the sandbox never needs them.
 * Writes sandbox.pid when the sandbox is spawned, stdout.log/stderr.log as "<epoch seconds> <line>", and exit.json
 * once the sandbox has exited and its output is flushed.
 * Two bash processes per instance (issue #26): the supervisor itself stamps stdout (the pipeline's last element runs
 * in this shell, `lastpipe`), one child stamps stderr; the app's output reaches them through pipes bash makes, so
 * nothing is spawned for the instance before this script (no fifos to make).
 */
export const SUPERVISOR_SCRIPT = `set -u
shopt -s lastpipe
dir=$1; shift
procs=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do procs+=("$1"); shift; done
shift
stamp() { local line; while IFS= read -r line || [ -n "$line" ]; do printf '%s %s\\n' "$EPOCHREALTIME" "$line"; done; }
exec {err}> >(exec 3<&- 4<&-; stamp >> "$dir/stderr.log")
s2=$!
(
  exec {err}>&-
  printf '%s\\n' "$BASHPID" > "$dir/sandbox.pid"
  for f in "\${procs[@]}"; do printf '%s\\n' "$BASHPID" > "$f" || { echo "pier: cannot join cgroup $f" >&2; exit 125; }; done
  if [ -f "$dir/stage.fstab" ]; then mount -a -T "$dir/stage.fstab" || { echo "pier: cannot stage the app directory" >&2; exit 125; }; fi
  while read -r _ _ _ _ mp _; do
    if [ "$mp" = /run/netns ]; then umount -l /run/netns || { echo "pier: cannot detach /run/netns" >&2; exit 125; }; break; fi
  done < /proc/self/mountinfo
  if [ "\${PIER_OWN_NETNS:-}" = 1 ]; then
    { printf '0\\n' > /proc/sys/net/ipv4/ip_unprivileged_port_start && printf '0 2147483647\\n' > /proc/sys/net/ipv4/ping_group_range; } ||
      { echo "pier: cannot open low ports in the instance's network namespace" >&2; exit 125; }
  fi
  unset -v PATH LC_ALL PWD OLDPWD SHLVL PIER_OWN_NETNS
  while IFS= read -r -d '' kv <&3; do export "$kv"; done
  exec 3<&-
  exec "$@"
) 2>&$err | { exec {err}>&- 3<&- 4<&-; stamp >> "$dir/stdout.log"; }
rc=\${PIPESTATUS[0]}
wait "$s2"
printf '{"exitCode":%d,"finishedAt":"%s"}\\n' "$rc" "$EPOCHREALTIME" > "$dir/exit.json"
`;

/** Parses bash's $EPOCHREALTIME ("1700000000.123456", or with a comma in some locales) into an ISO time. */
export function epochToIso(value: string): string | undefined {
  const n = Number(value.replace(',', '.'));
  return Number.isFinite(n) && n > 0 ? new Date(Math.round(n * 1000)).toISOString() : undefined;
}

/** Environment variable names the sandbox accepts (a name with `=` or NUL cannot be exported). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

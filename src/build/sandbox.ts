// Where a build's tenant-supplied steps run (install, build, build_command overrides, go build): never on the host.
// Pure: the bubblewrap argv of the process target, the container body of the docker target, the environment both
// see and the firewall rules that keep a process build off the host's listeners. sandbox-process.ts and
// sandbox-docker.ts run what this module writes.
import { DOCKER_BRIDGE_PREFIX } from '../runtime/firewall.ts';
import { BRIDGE_PREFIX } from '../runtime/process/netplan.ts';
import type { RootEntry } from '../runtime/process/sandbox.ts';

/** The unprivileged host uid (and gid) build steps run as, on both targets; no account of the host uses it. */
export const BUILD_UID = 65432;

/** Where the directory being built appears inside the sandbox (the runtime serves it at the same path). */
export const SANDBOX_APP_DIR = '/app';

/** Where the service's build cache (npm, pip, go) appears inside the sandbox. */
export const SANDBOX_CACHE_DIR = '/cache';

/** Where the operator's CA bundle (PIER_BUILD_CA_FILE) appears inside the sandbox. */
export const SANDBOX_CA_FILE = '/run/pier-build/ca.crt';

/** A host file or directory a step sees read-only. */
export interface ReadOnlyMount { host: string; inside: string }

/** The Docker network build containers join (Pier-owned, found by the instance firewall through its label). */
export const BUILD_NETWORK = 'pier-build';

/** The label that marks the build network and build containers. */
export const BUILD_ROLE_LABEL = 'dev.pier.role';

/** Max processes of one build step (fork-bomb guard). */
export const BUILD_PIDS_LIMIT = 2048;

/** /etc entries a build step needs: DNS, users, TLS roots, time zone, the dynamic linker's cache. */
export const BUILD_ETC_ENTRIES = [
  '/etc/alternatives', '/etc/ca-certificates', '/etc/ssl', '/etc/pki', '/etc/group', '/etc/passwd', '/etc/hosts',
  '/etc/host.conf', '/etc/nsswitch.conf', '/etc/resolv.conf', '/etc/gai.conf', '/etc/localtime', '/etc/timezone',
  '/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/ld.so.conf.d', '/etc/mime.types', '/etc/os-release',
];

/**
 * The environment of a sandboxed step: a clean PATH (with a Go toolchain's bin when there is one), caches under the
 * sandbox's cache directory, then the deployment's own env (secrets resolved) on top. Nothing of Pier's own env.
 */
export function sandboxBuildEnv(extra: Record<string, string> = {}, goBin?: string): Record<string, string> {
  const c = SANDBOX_CACHE_DIR;
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' + (goBin ? `:${goBin}` : ''),
    HOME: `${c}/home`, LC_ALL: 'C.UTF-8', TMPDIR: '/tmp',
    npm_config_cache: `${c}/npm`, npm_config_update_notifier: 'false',
    PIP_CACHE_DIR: `${c}/pip`, PIP_DISABLE_PIP_VERSION_CHECK: '1',
    GOCACHE: `${c}/go-build`, GOPATH: `${c}/go`, GOFLAGS: '-buildvcs=false', CGO_ENABLED: '0',
    ...extra,
  };
}

/** What one process-target step needs. */
export interface BuildBwrapOptions {
  /** Host directory built in place, mounted read-write at SANDBOX_APP_DIR. */
  appDir: string;
  /** Host cache directory of the service, mounted read-write at SANDBOX_CACHE_DIR. */
  cacheDir: string;
  rootEntries: RootEntry[];
  /** The tenant's command, run by `/bin/sh -c` inside. */
  command: string;
  /** Size limit of the private /tmp in bytes. */
  tmpBytes: number;
  /** The fd bwrap reads a seccomp BPF program from, when there is one. */
  seccompFd?: number;
  /** Host paths the step sees read-only (the operator's CA bundle). */
  readOnly?: ReadOnlyMount[];
}

/**
 * bubblewrap's arguments (after the bwrap path) for one build step: a user namespace with the caller's
 * (unprivileged) uid, private pid/ipc/uts namespaces, read-only system directories, the app and cache directories
 * read-write, a private size-limited /tmp, /proc of its own pid namespace (bwrap covers /proc/sys read-only), no
 * /sys, no capabilities, no controlling terminal, killed with its parent. The host's network stays (see
 * buildFirewallRules for what it may reach).
 */
export function buildBwrapArgs(o: BuildBwrapOptions): string[] {
  const args = [
    '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--die-with-parent', '--new-session', '--cap-drop', 'ALL',
    '--hostname', 'pier-build',
    '--ro-bind', '/usr', '/usr',
  ];
  for (const e of o.rootEntries) {
    if (e.kind === 'symlink') args.push('--symlink', e.target, e.path);
    else args.push('--ro-bind', e.path, e.path);
  }
  for (const p of BUILD_ETC_ENTRIES) args.push('--ro-bind-try', p, p);
  args.push('--proc', '/proc', '--dev', '/dev');
  args.push('--size', String(Math.max(1024 * 1024, Math.floor(o.tmpBytes))), '--tmpfs', '/tmp');
  args.push('--bind', o.appDir, SANDBOX_APP_DIR, '--bind', o.cacheDir, SANDBOX_CACHE_DIR);
  for (const m of o.readOnly ?? []) args.push('--ro-bind', m.host, m.inside);
  if (o.seccompFd !== undefined) args.push('--seccomp', String(o.seccompFd));
  args.push('--chdir', SANDBOX_APP_DIR, '--', '/bin/bash', '-c', LOAD_ENV, 'pier-build', o.command);
  return args;
}

// Inside the sandbox: export the NUL-separated NAME=value pairs read from fd 3, close it, run the command. The env
// never travels on argv (ps shows argv to every host user) nor through the host-side programs (setpriv, bwrap),
// where a tenant's LD_PRELOAD would be honoured by the host's dynamic linker.
const LOAD_ENV = 'unset -v PATH PWD OLDPWD SHLVL; while IFS= read -r -d "" kv; do export "$kv"; done <&3; exec 3<&-; exec /bin/sh -c "$1"';

/** Environment names a step can be given (a name with `=`, a NUL or a leading digit cannot be exported). */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The env as fd 3 carries it to LOAD_ENV: NAME=value pairs ended by NUL; names that cannot be exported and values with a NUL are left out. */
export function envPayload(env: Record<string, string>): Buffer {
  return Buffer.from(Object.entries(env).filter(([k, v]) => ENV_NAME.test(k) && !v.includes('\0')).map(([k, v]) => `${k}=${v}\0`).join(''));
}

/** The only env of the host-side programs that start a sandboxed step (sh, setpriv, bwrap): nothing of the tenant's. */
export const HOST_STEP_ENV: Record<string, string> = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };

/** The argv that drops from root to `uid` (no groups, no new privileges) before running `argv`. */
export function dropPrivileges(setpriv: string, uid: number, argv: string[]): string[] {
  return [setpriv, `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--no-new-privs', '--', ...argv];
}

/**
 * Where, in a private mount namespace, root binds what the unprivileged bwrap then binds into the sandbox: the
 * build's own directories sit under the data directory (e.g. /root/.pier, mode 0700), which BUILD_UID cannot walk.
 */
export const STAGE_DIR = '/run/pier-build-stage';

// Root, in its new mount namespace: a tmpfs on the stage, then each `host inside-name` pair bound under it (a file
// onto an empty file, a directory onto a directory), then the rest of the argv. Every path is an argument, never
// part of the script.
const STAGE_SCRIPT = 'stage=$1; shift; mount -t tmpfs -o mode=0755,size=64k pier-build-stage "$stage" || exit 125; ' +
  'while [ "$1" != "--" ]; do if [ -d "$1" ]; then mkdir "$stage/$2"; else : > "$stage/$2"; fi; ' +
  'mount --bind "$1" "$stage/$2" || exit 125; shift 2; done; shift; exec "$@"';

/**
 * The argv that gives `argv` a private mount namespace in which each host path of `binds` is at STAGE_DIR/<name>
 * (names are Pier's: `app`, `cache`, `ca.crt`), for an unprivileged program to bind from there.
 */
export function stagedArgv(unshare: string, binds: Array<{ host: string; name: string }>, argv: string[]): string[] {
  for (const b of binds) if (!/^[a-z][a-z0-9.-]*$/.test(b.name)) throw new Error(`invalid stage name ${b.name}`);
  return [unshare, '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', STAGE_SCRIPT, 'pier-build-stage', STAGE_DIR,
    ...binds.flatMap((b) => [b.host, b.name]), '--', ...argv];
}

/** What one docker-target step needs. */
export interface BuildContainerOptions {
  image: string;
  command: string;
  env: Record<string, string>;
  /** Host directory built in place, mounted read-write at SANDBOX_APP_DIR. */
  buildDir: string;
  /** Host cache directory of the service, mounted read-write at SANDBOX_CACHE_DIR. */
  cacheDir: string;
  /** Host toolchain directories mounted read-only at the same path (e.g. the Go tree). */
  toolchains: string[];
  /** Other host paths the step sees read-only (the operator's CA bundle). */
  readOnly?: ReadOnlyMount[];
  cpu: number;
  memoryBytes: number;
  tmpBytes: number;
  labels: Record<string, string>;
  /** The uid:gid the step runs as (default BUILD_UID; a Pier that is not root runs them as itself). */
  uid?: number;
  gid?: number;
}

/**
 * The body of POST /containers/create for one build step: the tenant's command by `/bin/sh -c`, as BUILD_UID, a
 * read-only root filesystem with a size-limited /tmp, only the build and cache directories writable, the toolchain
 * read-only, no capabilities, no new privileges, capped cpu/memory/pids, on the build network.
 */
export function buildContainerBody(o: BuildContainerOptions): Record<string, unknown> {
  const memory = Math.max(6 * 1024 * 1024, Math.floor(o.memoryBytes));
  return {
    Image: o.image,
    Cmd: ['/bin/sh', '-c', o.command],
    Entrypoint: null,
    Env: Object.entries(o.env).map(([k, v]) => `${k}=${v}`),
    User: `${o.uid ?? BUILD_UID}:${o.gid ?? o.uid ?? BUILD_UID}`,
    WorkingDir: SANDBOX_APP_DIR,
    Labels: { ...o.labels, [BUILD_ROLE_LABEL]: 'build' },
    Tty: false, OpenStdin: false, AttachStdin: false, AttachStdout: false, AttachStderr: false,
    NetworkDisabled: false,
    HostConfig: {
      NanoCpus: Math.round(Math.max(0.01, o.cpu) * 1e9),
      Memory: memory,
      MemorySwap: memory,
      PidsLimit: BUILD_PIDS_LIMIT,
      ReadonlyRootfs: true,
      Tmpfs: { '/tmp': `rw,nosuid,nodev,size=${Math.max(1024 * 1024, Math.floor(o.tmpBytes))}` },
      Privileged: false,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      RestartPolicy: { Name: 'no' },
      NetworkMode: BUILD_NETWORK,
      Mounts: [
        { Type: 'bind', Source: o.buildDir, Target: SANDBOX_APP_DIR, ReadOnly: false },
        { Type: 'bind', Source: o.cacheDir, Target: SANDBOX_CACHE_DIR, ReadOnly: false },
        ...o.toolchains.map((t) => ({ Type: 'bind', Source: t, Target: t, ReadOnly: true })),
        ...(o.readOnly ?? []).map((m) => ({ Type: 'bind', Source: m.host, Target: m.inside, ReadOnly: true })),
      ],
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '1' } },
    },
  };
}

/** Pier's chain for what process-build steps (BUILD_UID, host network) may send. */
export const BUILD_OUTPUT_CHAIN = 'PIER-BUILD-OUT';

/**
 * The filter table (for `iptables-restore --noflush`, or ip6tables-restore with `v6`) of BUILD_OUTPUT_CHAIN,
 * jumped to from OUTPUT for sockets of BUILD_UID: DNS to the host's resolvers, then nothing to any address of this
 * host (loopback, every interface, bridge gateways: Pier's API, the edge, databases), nothing to link-local (cloud
 * metadata), nothing through a bridge (Docker's and Pier's app networks), no answers to connections opened from
 * elsewhere (a build serves nobody); the rest (package registries) is allowed.
 */
export function buildFirewallRules(resolvers: string[], v6 = false): string {
  const family = resolvers.filter((r) => r.includes(':') === v6);
  const dns = family.flatMap((r) => ['udp', 'tcp'].map((p) => `-A ${BUILD_OUTPUT_CHAIN} -d ${r} -p ${p} --dport 53 -j RETURN`));
  const reject = v6 ? '-j REJECT --reject-with icmp6-adm-prohibited' : '-j REJECT --reject-with icmp-admin-prohibited';
  return [
    '*filter',
    `:${BUILD_OUTPUT_CHAIN} - [0:0]`,
    `-A ${BUILD_OUTPUT_CHAIN} -m conntrack --ctdir REPLY -j DROP`,
    ...dns,
    `-A ${BUILD_OUTPUT_CHAIN} -m addrtype --dst-type LOCAL ${reject}`,
    `-A ${BUILD_OUTPUT_CHAIN} -d ${v6 ? 'fe80::/10' : '169.254.0.0/16'} ${reject}`,
    ...['docker0', 'br-+', `${BRIDGE_PREFIX}+`, `${DOCKER_BRIDGE_PREFIX}+`, 'docker_gwbridge', 'veth+'].map((i) => `-A ${BUILD_OUTPUT_CHAIN} -o ${i} ${reject}`),
    'COMMIT',
    '',
  ].join('\n');
}

/** The OUTPUT rule that sends BUILD_UID's packets through BUILD_OUTPUT_CHAIN (for `iptables -C/-I OUTPUT`). */
export function buildOutputJump(uid = BUILD_UID): string[] {
  return ['-m', 'owner', '--uid-owner', String(uid), '-j', BUILD_OUTPUT_CHAIN];
}

/** The nameservers of a resolv.conf text (DNS stays reachable even when the resolver listens on this host). */
export function resolversOf(resolvConf: string): string[] {
  const out: string[] = [];
  for (const line of resolvConf.split('\n')) {
    const m = /^\s*nameserver\s+([0-9a-fA-F.:]+)(?:%\S+)?\s*$/.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}

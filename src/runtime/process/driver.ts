// The process runtime: each instance is a bubblewrap sandbox in its own cgroup, started by a detached bash
// supervisor so it survives control-plane restarts. Each instance gets its own network namespace on its app's bridge
// (netns.ts) and listens on its declared ports at its own address; where that cannot work (not root, no `ip` or
// `iptables`), or with PIER_PROCESS_NETWORK=host, it shares the host's network and each declared port becomes a free
// 127.0.0.1 port passed as $PORT / $PIER_PORT_<port>.
import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { RuntimeError, workloadNotFound } from '../errors.ts';
import type { Capabilities, Endpoint, ExecOptions, ExecSession, ExitStatus, InstanceHandle, InstanceSpec, InstanceState, InstanceStats, LogLine, Runtime } from '../contract.ts';
import { STARTUP_BOOST_MAX_MS } from '../contract.ts';
import { signalFromExitCode } from '../common.ts';
import { InstanceCgroup, detectCgroupLayout, type CgroupLayout } from './cgroups.ts';
import { EXEC_PYTHON, processExec, sandboxProcess } from './exec.ts';
import { supervisorLauncher } from './launcher.ts';
import { readLogFiles } from './logs.ts';
import { ProcessNetworks, networkingUnavailable } from './netns.ts';
import {
  ENV_NAME, SECCOMP_FD, STAGE_APP, STAGE_HOSTS, SUPERVISOR_SCRIPT, bwrapArgs, dropPrivilegesArgs, epochToIso, hostProcEntries,
  SANDBOX_RESERVED_PATHS, hostRootEntries, stageFstab, stageVolume,
} from './sandbox.ts';
import { seccompFilter, seccompSupported } from './seccomp.ts';
import { type InstanceRecord, instancePaths, isSameProcess, listRecords, processStartTime, readExit, readRecord, writeRecord } from './state.ts';
import { DEFAULT_UID_RANGE, type UidRange, claimUid, releaseUid, uidRangeConflict } from './uids.ts';
import { instanceWatches } from './watch.ts';
import { mountTarget, volumeMountsProblem } from '../volumes/mounts.ts';
import { isMountPoint } from '../volumes/local.ts';
import { runProgram } from '../sbin.ts';

/** Options of the process runtime. */
export interface ProcessRuntimeOptions {
  /** Where instance directories live (default /var/lib/pier/process). */
  stateDir?: string;
  /** Name of the parent cgroup (default `pier`). */
  cgroupParent?: string;
  /** Max processes per instance. */
  pidsLimit?: number;
  /** Overrides cgroup detection (tests). */
  cgroupLayout?: CgroupLayout;
  /**
   * `isolated`: a network namespace per instance, or fail; `host`: the host's network (no isolation); `auto`
   * (default, or PIER_PROCESS_NETWORK): isolated when the host allows it, else host with a one-line warning.
   */
  network?: NetworkMode;
  /** Options of the private networks (pool, egress); config.ts reads PIER_PROCESS_SUBNET / PIER_PROCESS_EGRESS. */
  networks?: { pool?: string; egress?: boolean; lockPath?: string };
  /** Where the one-line warning about a degraded network goes (default stderr). */
  log?: (line: string) => void;
  /** Host uids the sandboxes run as, one per instance (default DEFAULT_UID_RANGE: 2,000,000,000 + 65,536). */
  uidRange?: UidRange;
  /** Called with each step of start() and its wall time in ms (the density bench's spans, issue #26). */
  trace?: (step: StartStep, ms: number) => void;
  /** The longest a startup boost lasts without endStartupBoost (default STARTUP_BOOST_MAX_MS; tests shorten it). */
  startupBoostMs?: number;
}

/** The steps of start() that `trace` reports, in order. */
export type StartStep = 'prepare' | 'uid' | 'cgroup' | 'network' | 'stage' | 'spawn' | 'record' | 'await';

/** How instances of the process runtime are networked. */
export type NetworkMode = 'auto' | 'isolated' | 'host';

// Warn once per process, not once per driver object (tests and cleanup build many).
let warnedDegraded = false;

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const POLL_MS = 50;

function findProgram(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? DEFAULT_PATH).split(delimiter).concat(DEFAULT_PATH.split(':'))) {
    const p = join(dir, name);
    try { accessSync(p, constants.X_OK); return p; } catch { /* keep looking */ }
  }
  return undefined;
}

/** Reserves a free loopback port by binding port 0 and releasing it (the app binds it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Runs a sandbox the way instances get one (unprivileged uid, user namespace, seccomp) around /bin/true, once per
 * process and uid range: the host may forbid unprivileged user namespaces, and that must fail here, not per start.
 */
const sandboxProbes = new Map<number, Promise<string | null>>();
function probeSandbox(bwrap: string, setpriv: string, uid: number): Promise<string | null> {
  let p = sandboxProbes.get(uid);
  if (!p) {
    p = new Promise((resolve) => {
      const args = [...dropPrivilegesArgs(uid), bwrap, '--unshare-user', '--uid', '0', '--gid', '0', '--unshare-pid', '--ro-bind', '/usr', '/usr'];
      for (const e of hostRootEntries()) args.push(...(e.kind === 'symlink' ? ['--symlink', e.target, e.path] : ['--ro-bind', e.path, e.path]));
      args.push('--proc', '/proc', '--seccomp', '3', '--', '/bin/true');
      const child = spawn(setpriv, args, { env: { PATH: DEFAULT_PATH, LC_ALL: 'C' }, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
      let stderr = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.stderr!.on('data', (c) => { stderr += c; });
      child.on('error', (err) => { clearTimeout(timer); resolve(err.message); });
      child.on('close', (code, sig) => { clearTimeout(timer); resolve(code === 0 ? null : stderr.trim() || `exit ${code ?? sig}`); });
      const fd3 = child.stdio[3] as NodeJS.WritableStream;
      fd3.on('error', () => { /* reported by the exit */ });
      fd3.end(seccompFilter());
    });
    sandboxProbes.set(uid, p);
  }
  return p;
}

// App directories already made readable by this process (a deployment's instances share one).
const readableAppDirs = new Set<string>();

/**
 * The sandbox's uid reads the app directory as "other" (the files belong to the host's root): every directory must
 * be readable and searchable by everyone, every file readable (and executable where its owner may execute it). Builds
 * write 0644/0755 already; an archive may carry 0600 files. Once per app directory and process; bounded walk.
 */
function letSandboxRead(appDir: string): void {
  if (readableAppDirs.has(appDir)) return;
  const widen = (path: string, mode: number, dir: boolean) => {
    const want = mode | 0o004 | (dir || mode & 0o100 ? 0o001 : 0);
    if (want !== mode) chmodSync(path, want & 0o7777);
  };
  const stack = [appDir];
  for (let seen = 0; stack.length > 0 && seen < 500_000; seen++) {
    const dir = stack.pop()!;
    widen(dir, statSync(dir).mode, true);
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) stack.push(path);
      else if (e.isFile()) widen(path, statSync(path).mode, false);
    }
  }
  readableAppDirs.add(appDir);
}

/** Instance ids become directory and cgroup names: anything that could climb out of them is rejected. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
function safeId(id: string): boolean {
  return SAFE_ID.test(id) && !id.includes('..');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The network of an instance whose service disabled the mesh: still its app's (`pier-app-<app id>`, the name the
 * control plane gives app networks, so removeNetwork finds it), without names; isolation is per app either way.
 */
function fallbackNetwork(spec: InstanceSpec): string {
  return spec.labels.app_id ? `pier-app-${spec.labels.app_id}` : 'pier-default';
}

/** Runs instances as sandboxed processes (bubblewrap + cgroups); for hosts without Docker. */
export class ProcessRuntime implements Runtime {
  readonly name = 'process';
  /** Frozen standbys for autoscaled regions (standby.ts); a start here is ~25 ms, a thaw ~5 ms. */
  readonly keepsStandbys = true;
  readonly stateDir: string;
  private readonly cgroupParent: string;
  private readonly pidsLimit: number;
  private layout: CgroupLayout | null | undefined;
  private readonly cpuSamples = new Map<string, { at: number; usageNs: number }>();
  private readonly networkMode: NetworkMode;
  private readonly networkOpts: ProcessRuntimeOptions['networks'];
  private readonly log: (line: string) => void;
  /** The network manager (whenever the host allows it: removal works even in host mode), and whether new instances use it. */
  private nets: ProcessNetworks | null | undefined;
  private isolate: boolean | undefined;
  private readonly uidRange: UidRange;
  private sandboxChecked: Promise<void> | undefined;
  private readonly trace: ProcessRuntimeOptions['trace'];
  private readonly startupBoostMs: number;
  /** Per boosted instance, the timer that ends its boost if no passing health check does first. */
  private readonly boostTimers = new Map<string, NodeJS.Timeout>();

  constructor(opts: ProcessRuntimeOptions = {}) {
    this.stateDir = opts.stateDir ?? '/var/lib/pier/process';
    this.cgroupParent = opts.cgroupParent ?? 'pier';
    this.pidsLimit = opts.pidsLimit ?? 4096;
    this.layout = opts.cgroupLayout;
    this.networkMode = opts.network ?? 'auto';
    this.networkOpts = opts.networks;
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.uidRange = opts.uidRange ?? DEFAULT_UID_RANGE;
    this.trace = opts.trace;
    this.startupBoostMs = opts.startupBoostMs ?? STARTUP_BOOST_MAX_MS;
  }

  private networks(): ProcessNetworks | null {
    if (this.nets === undefined) this.nets = networkingUnavailable() === null ? new ProcessNetworks({ stateDir: this.stateDir, ...this.networkOpts }) : null;
    return this.nets;
  }

  /** Decides once whether new instances get a private network; `auto` degrades to the host's with a warning. */
  private async isolation(): Promise<ProcessNetworks | null> {
    if (this.isolate === undefined) {
      if (this.networkMode === 'host') this.isolate = false;
      else {
        const reason = networkingUnavailable();
        let failure = reason ?? undefined;
        if (!failure) await this.networks()!.ensureFirewall().catch((err) => { failure = (err as Error).message; });
        if (failure && this.networkMode === 'isolated') throw new RuntimeError('unavailable', `process runtime: private networks need root, ip, iptables and nsenter: ${failure}`);
        if (failure && !warnedDegraded) {
          warnedDegraded = true;
          this.log(`process runtime: WARNING instances share the host network (no isolation between apps or from the host): ${failure}`);
        }
        this.isolate = !failure;
      }
      if (this.networks()) await this.pruneHalfStarted();
    }
    return this.isolate ? this.networks() : null;
  }

  /**
   * A control plane killed between attaching an instance's network and recording the instance leaves a directory
   * with net.json and no state.json, which recover() never lists: remove those (old enough not to be a start in flight).
   */
  private async pruneHalfStarted(): Promise<void> {
    let ids: string[];
    try { ids = readdirSync(join(this.stateDir, 'instances')); } catch { return; }
    for (const id of ids) {
      const p = instancePaths(this.stateDir, id);
      const net = join(p.dir, 'net.json');
      if (!safeId(id) || existsSync(p.state) || !existsSync(net)) continue;
      if (Date.now() - statSync(net).mtimeMs < 60_000) continue;
      await this.remove(id).catch((err) => this.log(`process runtime: cannot remove half-started instance ${id}: ${(err as Error).message}`));
    }
  }

  private cgroupLayout(): CgroupLayout {
    if (this.layout === undefined) this.layout = detectCgroupLayout();
    if (!this.layout) throw new RuntimeError('unavailable', 'process runtime: no cgroup v1 (memory, cpu, cpuacct) or v2 hierarchy is mounted');
    return this.layout;
  }

  private cgroup(instanceId: string): InstanceCgroup {
    return new InstanceCgroup(this.cgroupLayout(), this.cgroupParent, instanceId);
  }

  async capabilities(): Promise<Capabilities> {
    if (!findProgram('bwrap')) throw new RuntimeError('unavailable', 'process runtime: bubblewrap (bwrap) is not installed: run scripts/setup-host.sh or apt-get install bubblewrap');
    if (!existsSync('/bin/bash')) throw new RuntimeError('unavailable', 'process runtime: /bin/bash is required for the instance supervisor');
    await this.checkSandbox();
    const probe = this.cgroup(`probe-${process.pid}`);
    try {
      probe.create({ cpu: 1, memoryBytes: 64 * 1024 * 1024, pids: 16 });
    } catch (err) {
      throw new RuntimeError('unavailable', `process runtime: cannot create cgroups under ${this.cgroupParent} (${(err as Error).message}); run as root on a host with writable cgroups`);
    } finally {
      try { probe.destroy(); } catch { /* best effort */ }
    }
    mkdirSync(join(this.stateDir, 'instances'), { recursive: true });
    const nets = await this.isolation();
    return { name: 'process', runs: 'directory', enforcesCpu: true, enforcesMemory: true, enforcesDisk: false, privateNetworking: nets !== null, volumes: true };
  }

  /** Refuses to run instances the sandbox cannot hold: no seccomp table for this CPU, no user namespaces, uid clash. */
  private checkSandbox(): Promise<void> {
    this.sandboxChecked ??= this.sandboxCheck();
    this.sandboxChecked.catch(() => { this.sandboxChecked = undefined; }); // the operator may fix the host and retry
    return this.sandboxChecked;
  }

  private async sandboxCheck(): Promise<void> {
    if (!seccompSupported()) throw new RuntimeError('unavailable', `process runtime: the sandbox's seccomp filter is written for x86_64, not ${process.arch}`);
    const conflict = uidRangeConflict(this.uidRange);
    if (conflict) throw new RuntimeError('unavailable', `process runtime: ${conflict}`);
    const setpriv = findProgram('setpriv');
    const unshare = findProgram('unshare');
    if (!setpriv || !unshare || !findProgram('mount')) throw new RuntimeError('unavailable', 'process runtime: setpriv, unshare and mount (util-linux, mount) are required to start sandboxes');
    const failure = await probeSandbox(findProgram('bwrap')!, setpriv, this.uidRange.base);
    if (failure) {
      throw new RuntimeError('unavailable', `process runtime: bubblewrap cannot create a user namespace as an unprivileged uid (${failure}); `
        + 'user.max_user_namespaces must be above 0 (and kernel.unprivileged_userns_clone=1 where that sysctl exists): scripts/setup-host.sh sets them');
    }
  }

  async start(spec: InstanceSpec, signal?: AbortSignal): Promise<InstanceHandle> {
    let lap = performance.now();
    const mark = this.trace ? (step: StartStep) => { const now = performance.now(); this.trace!(step, now - lap); lap = now; } : () => undefined;
    const argv = [...(spec.entrypoint ?? []), ...(spec.command ?? [])];
    if (!spec.appDir || !existsSync(spec.appDir) || !statSync(spec.appDir).isDirectory()) throw new RuntimeError('invalid_spec', `the process runtime runs directories: spec.appDir must be an existing directory`);
    if (argv.length === 0) throw new RuntimeError('invalid_spec', 'the process runtime needs spec.entrypoint or spec.command (no image metadata to fall back on)');
    for (const name of Object.keys(spec.env)) if (!ENV_NAME.test(name)) throw new RuntimeError('invalid_spec', `invalid environment variable name: ${name}`);
    if (!safeId(spec.instanceId)) throw new RuntimeError('invalid_spec', `invalid instance id: ${spec.instanceId}`);
    const volumes = spec.volumes ?? [];
    const volumeProblem = volumeMountsProblem(volumes, SANDBOX_RESERVED_PATHS);
    if (volumeProblem) throw new RuntimeError('invalid_spec', volumeProblem);
    for (const v of volumes) {
      if (!isMountPoint(v.hostPath)) throw new RuntimeError('invalid_spec', `volume ${v.volumeId} is not mounted at ${v.hostPath} on this host (VolumeDriver.mount it first)`);
    }
    const bwrap = findProgram('bwrap');
    if (!bwrap) throw new RuntimeError('unavailable', 'process runtime: bubblewrap (bwrap) is not installed');
    const paths = instancePaths(this.stateDir, spec.instanceId);
    if (existsSync(paths.dir)) throw new RuntimeError('conflict', `instance ${spec.instanceId} already exists in the process runtime`);
    signal?.throwIfAborted();
    // The launcher (a node process, exits when idle) starts while this start does its own steps below.
    supervisorLauncher.warm();

    const nets = await this.isolation();
    await this.checkSandbox();
    const cg = this.cgroup(spec.instanceId);
    mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
    let uid: number | undefined;
    try {
      // An instance with volumes prefers the uid that owns its first volume (the previous instance's, released by
      // its remove()): then nothing needs a chown. Otherwise each volume is handed over to this instance's uid.
      mark('prepare');
      uid = await claimUid(this.uidRange, paths.dir, volumes.length ? { prefer: statSync(volumes[0]!.hostPath).uid } : {});
      for (const v of volumes) await giveVolumeTo(v.hostPath, uid);
      letSandboxRead(spec.appDir);
      mark('uid');
      // A startup boost (Cloud Run's): more CPU until the first passing health check, then the instance's own limit.
      const boost = spec.cpu > 0 && spec.startupCpu !== undefined && spec.startupCpu > spec.cpu ? spec.startupCpu : undefined;
      cg.create({ cpu: boost ?? spec.cpu, memoryBytes: spec.memoryBytes, pids: this.pidsLimit });
      mark('cgroup');
      const hostname = `pier-${spec.instanceId.slice(0, 12)}`;
      const net = nets ? await nets.attach(spec.instanceId, spec.network ?? fallbackNetwork(spec), spec.networkAliases ?? [], hostname) : undefined;
      const ports = [...new Set(spec.ports)].sort((a, b) => a - b);
      const endpoints: Endpoint[] = [];
      for (const port of ports) endpoints.push(net ? { containerPort: port, host: net.ip, hostPort: port } : { containerPort: port, host: '127.0.0.1', hostPort: await freePort() });
      mark('network');
      const env: Record<string, string> = { PATH: DEFAULT_PATH, HOME: '/tmp', ...spec.env };
      for (const e of endpoints) env[`PIER_PORT_${e.containerPort}`] = String(e.hostPort);
      // On the host network apps must listen on $PORT (a free host port); in their own namespace on what they declared.
      if (endpoints.length && (!net || env.PORT === undefined)) env.PORT = String(endpoints[0].hostPort);
      // The real paths are under Pier's data directory, which the sandbox's uid cannot enter: the supervisor binds
      // them onto the empty stage directories in its own mount namespace (sandbox.ts).
      for (const d of [STAGE_APP, STAGE_HOSTS, ...volumes.map((_v, i) => stageVolume(i))]) mkdirSync(d, { recursive: true, mode: 0o755 });
      writeFileSync(join(paths.dir, 'stage.fstab'), stageFstab(spec.appDir, net ? nets!.hostsDir(net.bridge) : undefined, volumes.map((v) => v.hostPath)), { mode: 0o600 });
      const sandboxArgv = bwrapArgs({
        appDir: STAGE_APP, argv, workdir: spec.workdir, hostname,
        tmpBytes: spec.diskBytes, rootEntries: hostRootEntries(), hostsDir: net ? STAGE_HOSTS : undefined,
        proc: hostProcEntries(), seccompFd: SECCOMP_FD,
        volumes: volumes.map((v, i) => ({ source: stageVolume(i), target: mountTarget(v), ...(v.readOnly ? { readOnly: true } : {}) })),
      });
      // The supervisor itself enters the instance's network namespace (so that it can set the namespace's sysctls
      // without one more program); the sandbox inherits it.
      const enter = net ? [findProgram('nsenter') ?? 'nsenter', `--net=${ProcessNetworks.namespacePath(net)}`, '--'] : [];
      const drop = [findProgram('setpriv')!, ...dropPrivilegesArgs(uid)];
      mark('stage');
      const startedAt = new Date().toISOString();
      // nsenter and unshare exec in place (same pid) into bash: the supervisor's own mount namespace holds the
      // staged binds; slave propagation still lets the host's unmounts reach it.
      const supervisor = [...enter, findProgram('unshare')!, '--mount', '--propagation', 'slave', '--', '/bin/bash', '-c', SUPERVISOR_SCRIPT, 'pier-supervisor'];
      // Started by the small launcher process (launcher.ts), not forked from this one: a fork's cost grows with
      // the control plane's memory, which grows with N. The app's env travels on fd 3, never through bash's startup.
      const pid = await supervisorLauncher.launch({
        file: supervisor[0]!, args: [...supervisor.slice(1), paths.dir, ...cg.procsFiles(), '--', ...drop, bwrap, ...sandboxArgv],
        cwd: paths.dir, logPath: paths.supervisorLog,
        env: { PATH: DEFAULT_PATH, LC_ALL: 'C', ...(net ? { PIER_OWN_NETNS: '1' } : {}) },
        fd3: Buffer.from(Object.entries(env).map(([k, v]) => `${k}=${v}\0`).join('')),
        fd4: seccompFilter(),
      }).catch((err: Error) => { throw new RuntimeError('failed', `process runtime: could not start the supervisor: ${err.message}`); });
      mark('spawn');
      const startTime = pid ? processStartTime(pid) : undefined;
      if (!pid || !startTime) throw new RuntimeError('failed', `process runtime: could not start the supervisor: ${this.supervisorLog(spec.instanceId)}`);
      const rec: InstanceRecord = {
        instanceId: spec.instanceId, labels: { ...spec.labels }, endpoints, supervisorPid: pid, supervisorStartTime: startTime, startedAt, uid,
        ...(boost ? { boost: { cpu: spec.cpu, until: Date.now() + this.startupBoostMs } } : {}),
      };
      writeRecord(this.stateDir, rec);
      if (rec.boost) this.endBoostAt(spec.instanceId, rec.boost.until);
      mark('record');
      await this.awaitSandbox(spec.instanceId, rec);
      mark('await');
      return { instanceId: spec.instanceId, runtimeId: spec.instanceId, endpoints, labels: { ...spec.labels } };
    } catch (err) {
      await this.remove(spec.instanceId).catch(() => undefined);
      if (uid !== undefined) releaseUid(uid, paths.dir);
      if (existsSync(paths.dir)) rmSync(paths.dir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Waits (bounded, 10 s) until the sandbox runs inside its cgroup. Woken by the instance directory's watch (sandbox.pid
   * or exit.json written) and by a short poll (joining the cgroup writes nothing there), not on a coarse timer alone.
   */
  private async awaitSandbox(id: string, rec: InstanceRecord): Promise<void> {
    const paths = instancePaths(this.stateDir, id);
    const cg = this.cgroup(id);
    let woken: (() => void) | undefined;
    const unsubscribe = instanceWatches.subscribe(paths.dir, () => woken?.());
    try {
      for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
        // Running means inside its cgroup (or already finished), not merely spawned.
        if (existsSync(paths.sandboxPid) && (cg.pids().length > 0 || readExit(this.stateDir, id))) return;
        if (!isSameProcess(rec.supervisorPid, rec.supervisorStartTime)) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, existsSync(paths.sandboxPid) ? 2 : 25);
          woken = () => { clearTimeout(timer); resolve(); };
        });
        woken = undefined;
      }
    } finally {
      unsubscribe();
    }
    throw new RuntimeError('failed', `process runtime: the sandbox did not start: ${this.supervisorLog(id)}`);
  }

  private supervisorLog(id: string): string {
    try { return readFileSync(instancePaths(this.stateDir, id).supervisorLog, 'utf8').trim().slice(-500) || 'no output'; } catch { return 'no output'; }
  }

  private sandboxPid(id: string): number | undefined {
    try { return Number(readFileSync(instancePaths(this.stateDir, id).sandboxPid, 'utf8').trim()) || undefined; } catch { return undefined; }
  }

  private alive(rec: InstanceRecord): boolean {
    return readExit(this.stateDir, rec.instanceId) === null && isSameProcess(rec.supervisorPid, rec.supervisorStartTime);
  }

  async stop(runtimeId: string, graceMs: number): Promise<void> {
    if (!safeId(runtimeId)) return;
    const rec = readRecord(this.stateDir, runtimeId);
    if (!rec) return;
    if (!this.alive(rec)) return this.detach(runtimeId);
    const cg = this.cgroup(runtimeId);
    // A frozen (light-sleeping) instance handles no signal until thawed (v1 freezer); thaw it first.
    if (cg.canFreeze() && cg.frozen()) await cg.setFrozen(false).catch(() => undefined);
    // SIGTERM to the app's processes, not to the outer bwrap (it would die and take the sandbox down with SIGKILL).
    // bwrap's init (pid 1 inside) ignores it: it installs no handler.
    const outer = this.sandboxPid(runtimeId);
    for (const pid of cg.pids()) if (pid !== outer) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
    const deadline = Date.now() + Math.max(0, graceMs);
    while (Date.now() < deadline && this.alive(rec)) await sleep(POLL_MS);
    for (let i = 0; i < 200 && this.alive(rec); i++) {
      cg.killAll('SIGKILL');
      await sleep(POLL_MS);
    }
    await this.detach(runtimeId);
  }

  /** Frees the instance's namespace, veth and address (and its app's bridge once unused); the hosts file drops it. */
  private async detach(runtimeId: string): Promise<void> {
    if (!existsSync(join(instancePaths(this.stateDir, runtimeId).dir, 'net.json'))) return;
    const nets = this.networks();
    if (!nets) throw new RuntimeError('unavailable', `process runtime: cannot remove the network namespace of ${runtimeId}: ${networkingUnavailable()}`);
    await nets.detach(runtimeId);
  }

  async endStartupBoost(runtimeId: string): Promise<void> {
    clearTimeout(this.boostTimers.get(runtimeId));
    this.boostTimers.delete(runtimeId);
    if (!safeId(runtimeId)) return;
    const rec = readRecord(this.stateDir, runtimeId);
    if (!rec?.boost) return;
    const cg = this.cgroup(runtimeId);
    // The limit first, then the record: a crash in between leaves a boost that recover() ends again (idempotent).
    try {
      cg.setCpu(rec.boost.cpu);
    } catch (err) {
      if (!cg.exists()) return; // removed meanwhile: nothing to limit
      throw err;
    }
    const { boost: _ended, ...rest } = rec;
    try {
      writeRecord(this.stateDir, rest);
    } catch (err) {
      if (existsSync(instancePaths(this.stateDir, runtimeId).dir)) throw err; // else removed meanwhile
    }
  }

  /** Ends the instance's boost at `until` (epoch ms) unless endStartupBoost comes first. */
  private endBoostAt(runtimeId: string, until: number): void {
    clearTimeout(this.boostTimers.get(runtimeId));
    const timer = setTimeout(() => {
      this.boostTimers.delete(runtimeId);
      this.endStartupBoost(runtimeId).catch((err: Error) => this.log(`process runtime: ending the startup boost of ${runtimeId} failed: ${err.message}`));
    }, Math.max(0, until - Date.now()));
    timer.unref();
    this.boostTimers.set(runtimeId, timer);
  }

  async remove(runtimeId: string): Promise<void> {
    clearTimeout(this.boostTimers.get(runtimeId));
    this.boostTimers.delete(runtimeId);
    if (!safeId(runtimeId)) return;
    const rec = readRecord(this.stateDir, runtimeId);
    if (rec && this.alive(rec)) await this.stop(runtimeId, 0);
    this.cpuSamples.delete(runtimeId);
    let cg: InstanceCgroup | undefined;
    try { cg = this.cgroup(runtimeId); } catch { cg = undefined; }
    if (cg?.exists()) {
      // The kernel refuses rmdir until the last process is gone; bounded retries.
      for (let i = 0; ; i++) {
        cg.killAll('SIGKILL');
        try { cg.destroy(); break; } catch (err) {
          if (i >= 100) throw new RuntimeError('failed', `process runtime: cannot remove cgroup of ${runtimeId}: ${(err as Error).message}`);
          await sleep(POLL_MS);
        }
      }
    }
    await this.detach(runtimeId);
    const dir = instancePaths(this.stateDir, runtimeId).dir;
    if (rec?.uid !== undefined) releaseUid(rec.uid, dir); // before the directory goes: a claim whose owner is gone is free
    rmSync(dir, { recursive: true, force: true });
  }

  /** Removes an app network's bridge when no instance is on it (bridges also go with their last instance). */
  async removeNetwork(name: string): Promise<void> {
    await this.networks()?.removeNetwork(name);
  }

  async wait(runtimeId: string, signal?: AbortSignal): Promise<ExitStatus> {
    // Woken by the instance directory's watch (exit.json written, or the directory removed; not the app's output)
    // or by the safety poll.
    let woken: (() => void) | undefined;
    let changed = false;
    const wake = (_why: unknown, file?: string) => {
      if (file === 'stdout.log' || file === 'stderr.log') return;
      changed = true;
      woken?.();
    };
    const onAbort = () => woken?.();
    const unsubscribe = safeId(runtimeId) ? instanceWatches.subscribe(instancePaths(this.stateDir, runtimeId).dir, wake) : undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        signal?.throwIfAborted();
        changed = false;
        const state = await this.inspect(runtimeId);
        if (!state) throw workloadNotFound(runtimeId);
        if (state.exit) return state.exit;
        if (changed || signal?.aborted) continue;
        await new Promise<void>((resolve) => { woken = resolve; });
        woken = undefined;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      unsubscribe?.();
    }
  }

  /** Light sleep: freezes the instance's cgroup (v1 freezer or v2 cgroup.freeze); memory and sockets stay. */
  async freeze(runtimeId: string): Promise<void> {
    await this.setFrozen(runtimeId, true);
  }

  /** Thaws a frozen instance; a running one is left as it is. */
  async thaw(runtimeId: string): Promise<void> {
    await this.setFrozen(runtimeId, false);
  }

  private async setFrozen(runtimeId: string, on: boolean): Promise<void> {
    const rec = safeId(runtimeId) ? readRecord(this.stateDir, runtimeId) : undefined;
    if (!rec || !this.alive(rec)) throw workloadNotFound(runtimeId);
    const cg = this.cgroup(runtimeId);
    if (!cg.canFreeze()) throw new RuntimeError('unavailable', 'process runtime: no cgroup freezer here (cgroup v2 cgroup.freeze or a v1 freezer hierarchy)');
    if (cg.frozen() === on) return;
    try {
      await cg.setFrozen(on);
    } catch (err) {
      throw new RuntimeError('failed', `process runtime: ${(err as Error).message} (${runtimeId})`);
    }
  }

  async inspect(runtimeId: string): Promise<InstanceState | null> {
    if (!safeId(runtimeId)) return null;
    const rec = readRecord(this.stateDir, runtimeId);
    if (!rec) return null;
    const exit = readExit(this.stateDir, runtimeId);
    let oomKilled = false;
    try { oomKilled = this.cgroup(runtimeId).oomKilled(); } catch { /* no cgroups: cannot tell */ }
    if (exit) {
      return {
        running: false, startedAt: rec.startedAt,
        exit: { exitCode: exit.exitCode, signal: signalFromExitCode(exit.exitCode), oomKilled, startedAt: rec.startedAt, finishedAt: exit.finishedAt ? epochToIso(exit.finishedAt) : undefined },
      };
    }
    if (isSameProcess(rec.supervisorPid, rec.supervisorStartTime)) return { running: true, startedAt: rec.startedAt };
    // The supervisor vanished without recording an exit (killed, or the host rebooted): the sandbox died with it.
    return { running: false, startedAt: rec.startedAt, exit: { exitCode: null, signal: null, oomKilled, error: 'the instance supervisor disappeared (killed or host restarted)', startedAt: rec.startedAt } };
  }

  async stats(runtimeId: string): Promise<InstanceStats> {
    if (!safeId(runtimeId) || !readRecord(this.stateDir, runtimeId)) throw workloadNotFound(runtimeId);
    const cg = this.cgroup(runtimeId);
    let prev = this.cpuSamples.get(runtimeId);
    if (!prev) {
      prev = { at: performance.now(), usageNs: cg.cpuUsageNs() };
      await sleep(250); // first call: take two samples so the percentage means something
    }
    const now = { at: performance.now(), usageNs: cg.cpuUsageNs() };
    this.cpuSamples.set(runtimeId, now);
    const wallNs = (now.at - prev.at) * 1e6;
    const cpuPercent = wallNs > 0 ? Math.max(0, ((now.usageNs - prev.usageNs) / wallNs) * 100) : 0;
    return { cpuPercent, memoryBytes: cg.memoryBytes(), memoryLimitBytes: cg.limits().memoryBytes };
  }

  async *logs(runtimeId: string, opts: { follow: boolean; since?: Date; signal?: AbortSignal }): AsyncIterable<LogLine> {
    const rec = safeId(runtimeId) ? readRecord(this.stateDir, runtimeId) : null;
    if (!rec) throw workloadNotFound(runtimeId);
    const paths = instancePaths(this.stateDir, runtimeId);
    // An inotify event can only reveal exit.json; a vanished supervisor (no exit.json) shows on the safety poll.
    const ended = (thorough: boolean) => readExit(this.stateDir, runtimeId) !== null || (thorough && !isSameProcess(rec.supervisorPid, rec.supervisorStartTime));
    yield* readLogFiles(paths, { ...opts, ended, wakes: (wake) => instanceWatches.subscribe(paths.dir, wake) });
  }

  /** Runs a command inside the instance's sandbox with its uid, namespaces, cgroup, seccomp filter and no capabilities (exec.ts). */
  async exec(runtimeId: string, opts: ExecOptions): Promise<ExecSession> {
    const rec = safeId(runtimeId) ? readRecord(this.stateDir, runtimeId) : null;
    if (!rec) throw workloadNotFound(runtimeId);
    if (!this.alive(rec)) throw new RuntimeError('not_found', `instance ${runtimeId} is not running`);
    const nsenter = findProgram('nsenter');
    const setpriv = findProgram('setpriv');
    if (!nsenter || !setpriv) throw new RuntimeError('unavailable', 'process runtime: exec needs nsenter and setpriv (util-linux)');
    if (!existsSync(EXEC_PYTHON)) throw new RuntimeError('unavailable', `process runtime: exec needs ${EXEC_PYTHON} (apt-get install python3-minimal) to apply the sandbox's seccomp filter and terminal`);
    const cg = this.cgroup(runtimeId);
    // Right after start() only bubblewrap itself may be in the cgroup yet: wait (bounded) for the sandbox's processes.
    for (let i = 0; i < 60 && sandboxProcess(cg.pids()) === undefined && this.alive(rec); i++) await sleep(POLL_MS);
    return processExec(runtimeId, { procsFiles: cg.procsFiles(), pids: cg.pids(), uid: rec.uid }, { nsenter, setpriv }, opts);
  }

  async recover(): Promise<InstanceHandle[]> {
    // A control plane that just started is about to start instances: its launcher starts now, not with the first.
    supervisorLauncher.warm();
    const records = listRecords(this.stateDir);
    // A boost of a control plane that stopped ends on time all the same (at once if its time is past).
    for (const r of records) if (r.boost) this.endBoostAt(r.instanceId, r.boost.until);
    return records.map((r) => ({ instanceId: r.instanceId, runtimeId: r.instanceId, endpoints: r.endpoints, labels: r.labels }));
  }

  /** The limits the kernel enforces for an instance (cpu in vCPUs, memory in bytes), read back from its cgroup. */
  enforcedLimits(runtimeId: string): { cpu: number; memoryBytes: number } {
    if (!safeId(runtimeId)) throw workloadNotFound(runtimeId);
    return this.cgroup(runtimeId).limits();
  }
}

/**
 * Hands a volume's files to the sandbox uid that mounts it next (root of its user namespace is that host uid): every
 * file the previous instance wrote belongs to the previous uid. `-h -P`: symbolic links themselves, never their
 * targets (a tenant's link to /etc/shadow stays a link); hard links cannot leave the volume's own filesystem.
 * Skipped when the volume's root already belongs to the uid. Costs about 15 µs per file (measured, docs/volumes.md).
 */
async function giveVolumeTo(hostPath: string, uid: number): Promise<void> {
  const st = statSync(hostPath);
  if (st.uid === uid && st.gid === uid) return;
  const chown = findProgram('chown') ?? '/bin/chown';
  try {
    // The root last: a root owned by the uid means the whole volume is (a handover cut short is redone next time).
    const entries = readdirSync(hostPath).map((e) => join(hostPath, e));
    for (let i = 0; i < entries.length; i += 1000) await runProgram(chown, ['-R', '-h', '-P', `${uid}:${uid}`, '--', ...entries.slice(i, i + 1000)]);
    await runProgram(chown, ['-h', `${uid}:${uid}`, '--', hostPath]);
  } catch (err) {
    throw new RuntimeError('failed', `process runtime: cannot hand volume ${hostPath} to the instance's uid ${uid}: ${(err as Error).message}`);
  }
}

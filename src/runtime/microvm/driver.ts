// PIER_RUNTIME=microvm: one virtual machine per instance (Firecracker's model) on QEMU's `microvm` machine: virtio-mmio
// devices only, no PCI, no firmware, the host's Debian kernel booted directly (kernel.ts), Pier's init in an
// initramfs (initramfs.ts, guest-init.ts), the image as the VM's own ext4 disk (rootfs.ts), a tap on a Pier bridge
// (net.ts), each persistent volume's host mount shared over virtio-9p (README). KVM where it works for a stock guest;
// otherwise TCG (emulation), said once at startup.
// Per instance, `<stateDir>/instances/<instanceId>/`: state.json, disk.ext4, config.sh (0600: env and argv, never on
// the kernel command line), console.log (everything the guest wrote on its serial console), console.sock (the host
// writes `stop`/`kill` there), qemu.pid. QEMU is daemonized: a control-plane restart re-adopts it (recover()).
import { connect } from 'node:net';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { RuntimeError, workloadNotFound } from '../errors.ts';
import type { Capabilities, ExitStatus, InstanceHandle, InstanceSpec, InstanceState, InstanceStats, LogLine, Runtime } from '../contract.ts';
import { signalFromExitCode } from '../common.ts';
import { DEFAULT_DOCKER_SOCKET, DockerEngine } from '../docker/engine.ts';
import { program } from '../sbin.ts';
import { ensureInitramfs } from './initramfs.ts';
import { ensureVmlinux, findHostKernel } from './kernel.ts';
import { ADDRESS_CLAIMS_DIR, DEFAULT_VM_NETWORK, claimAddress, createTap, deleteTap, ensureBridge, macOf, releaseAddress, tapName, type VmNetworkPlan } from './net.ts';
import { ensureImageTree, imageConfig, makeRootDisk } from './rootfs.ts';
import { VmAppNetworks, hostsMessage, type VmNet } from './appnet.ts';
import { networkingUnavailable } from '../process/netns.ts';
import { mountTarget, volumeMountsProblem, type VolumeMount } from '../volumes/mounts.ts';
import { isMountPoint } from '../volumes/local.ts';
import { removeSocketLink, socketPath } from '../../socket-path.ts';

/** Short links to instance directories whose console socket path would not fit (root's only: 0700). */
export const SHORT_LINK_DIR = '/run/pier-microvm';

/**
 * The console socket of the instance directory `dir`, as QEMU binds it and Pier connects to it. A data directory
 * deep enough to push `<dir>/console.sock` past sun_path's 107 bytes (QEMU refuses to bind it, and the VM never
 * starts) is reached through a link named after the directory's hash in SHORT_LINK_DIR (src/socket-path.ts): the
 * socket file itself stays in the instance directory. `make` creates (or repairs) the link; without it the path is
 * only computed.
 */
export function consoleSocket(dir: string, make = false, linkDir = SHORT_LINK_DIR): string {
  return socketPath(dir, 'console.sock', make, linkDir);
}

const MiB = 1024 * 1024;
/** Guest RAM on top of the instance's memory: the guest kernel, the initramfs and Pier's init (the app's cgroup gets exactly the instance's memory). */
export const GUEST_OVERHEAD_BYTES = 96 * MiB;
/** The disk of an instance without a disk size. */
const DEFAULT_DISK_BYTES = 1024 * MiB;
/**
 * Paths inside the guest a volume may not cover nor sit under: what Pier's init mounts there itself (proc, sysfs,
 * devtmpfs) and its busybox, which runs the app.
 */
export const GUEST_RESERVED_PATHS = ['/proc', '/sys', '/dev', '/.pier'];

export interface MicrovmRuntimeOptions {
  /** Where kernels, initramfs, image trees and instances live (default /var/lib/pier/microvm). */
  stateDir?: string;
  /** `kvm`, `tcg`, or `auto` (default): KVM when /dev/kvm works for a stock guest, else TCG. */
  accel?: 'auto' | 'kvm' | 'tcg';
  /** The Docker engine the images come from. */
  dockerSocket?: string;
  network?: VmNetworkPlan;
  /** Host-wide directory of address claims (default /run/pier/microvm-addresses), shared by every installation. */
  addressDir?: string;
  log?: (line: string) => void;
  /** How long start() waits for the guest to boot and start the app (default 120 s: TCG on a loaded machine). */
  bootTimeoutMs?: number;
  /** App networks (spec.network): the process runtime's pool and egress (PIER_PROCESS_SUBNET, PIER_PROCESS_EGRESS). */
  appNetworks?: { pool?: string; egress?: boolean; lockPath?: string };
}

interface VmState {
  instanceId: string; labels: Record<string, string>; ports: number[]; address: string; tap: string;
  startedAt: string; memoryBytes: number; cpu: number; accel: 'kvm' | 'tcg';
  /** The app network's bridge when the VM is on one (its record is net.json), else the VM is on `piervm0`. */
  bridge?: string;
  /** The persistent volumes shared into the guest (virtio-9p, tag `pv<i>`), in the spec's order. */
  volumes?: VolumeMount[];
}

/** One parsed console line. */
type ConsoleEvent =
  | { kind: 'boot'; epoch: number; uptime: number }
  | { kind: 'line'; stream: 'stdout' | 'stderr'; uptime: number; line: string }
  | { kind: 'limits'; cpuMax: string; memoryMax: string }
  | { kind: 'exit'; code: number; ooms: number; uptime: number };

/** Parses the guest init's console protocol (guest-init.ts); kernel messages and anything else are skipped. */
export function parseConsole(text: string): ConsoleEvent[] {
  const out: ConsoleEvent[] = [];
  for (const raw of text.split('\n')) {
    const l = raw.replace(/\r$/, '');
    let m: RegExpExecArray | null;
    if ((m = /^([OE]) (\d+(?:\.\d+)?) (.*)$/.exec(l)) || (m = /^([OE]) (\d+(?:\.\d+)?)$/.exec(l))) {
      out.push({ kind: 'line', stream: m[1] === 'O' ? 'stdout' : 'stderr', uptime: Number(m[2]), line: m[3] ?? '' });
    } else if ((m = /^B (\d+) (\d+(?:\.\d+)?)$/.exec(l))) {
      out.push({ kind: 'boot', epoch: Number(m[1]), uptime: Number(m[2]) });
    } else if ((m = /^L (\S+) (\S+)$/.exec(l))) {
      out.push({ kind: 'limits', cpuMax: m[1], memoryMax: m[2] });
    } else if ((m = /^X (\d+) (\d+) (\d+(?:\.\d+)?)$/.exec(l))) {
      out.push({ kind: 'exit', code: Number(m[1]), ooms: Number(m[2]), uptime: Number(m[3]) });
    }
  }
  return out;
}

/** What a file holds from byte `offset` on ('' when it is missing or shorter). */
function sinceOffset(file: string, offset: number): string {
  let fd: number;
  try { fd = openSync(file, 'r'); } catch { return ''; }
  try {
    const size = statSync(file).size;
    if (size <= offset) return '';
    const buf = Buffer.alloc(size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    return buf.subarray(0, n).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

/** A shell single-quoted word. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The config disk's text: settings, exported env and the argv, padded with newlines to whole sectors. */
export function configScript(o: { address: string; gateway: string; hostname: string; memoryBytes: number; cpu: number; workdir: string; env: Record<string, string>; argv: string[]; hosts?: string; volumes?: readonly VolumeMount[] }): Buffer {
  const lines = [
    `PIER_ADDR=${shellQuote(`${o.address}/24`)}`,
    `PIER_GATEWAY=${shellQuote(o.gateway)}`,
    `PIER_HOSTNAME=${shellQuote(o.hostname)}`,
    `PIER_MEMORY=${shellQuote(String(Math.floor(o.memoryBytes)))}`,
    `PIER_CPU_MAX=${shellQuote(o.cpu > 0 ? `${Math.max(1000, Math.round(o.cpu * 100_000))} 100000` : 'max 100000')}`,
    `PIER_PIDS='4096'`,
    `PIER_WORKDIR=${shellQuote(o.workdir)}`,
    ...(o.hosts ? [`PIER_HOSTS=${shellQuote(o.hosts)}`] : []),
    ...(o.volumes?.length ? [`PIER_VOLUMES=${shellQuote(volumeLines(o.volumes))}`] : []),
  ];
  for (const [k, v] of Object.entries(o.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new RuntimeError('invalid_spec', `env name ${JSON.stringify(k)} cannot be passed to a microVM: use letters, digits and _ (not starting with a digit)`);
    lines.push(`export ${k}=${shellQuote(v)}`);
  }
  lines.push(`set -- ${o.argv.map(shellQuote).join(' ')}`);
  const text = Buffer.from(`${lines.join('\n')}\n`);
  const size = Math.ceil((text.length + 1) / 4096) * 4096;
  return Buffer.concat([text, Buffer.alloc(size - text.length, 0x0a)]);
}

/** The guest init's volume table: one `<9p tag> ro|rw <path>` line per volume (paths hold no newline: mounts.ts). */
export function volumeLines(volumes: readonly VolumeMount[]): string {
  return volumes.map((v, i) => `pv${i} ${v.readOnly ? 'ro' : 'rw'} ${mountTarget(v)}`).join('\n');
}

/** A value inside one of QEMU's `key=value,...` options: a comma is written twice. */
export function qemuOptionValue(s: string): string {
  return s.replace(/,/g, ',,');
}

/** Whether /dev/kvm can boot a stock guest: it exists, and is not PVM (kvm_pvm runs only PVM-enabled guest kernels). */
export function kvmUsable(): { ok: boolean; why?: string } {
  if (!existsSync('/dev/kvm')) return { ok: false, why: 'no /dev/kvm' };
  if (existsSync('/sys/module/kvm_pvm')) return { ok: false, why: '/dev/kvm is PVM (kvm_pvm): a stock Debian guest kernel fails under it' };
  return { ok: true };
}

function pidAlive(pid: number, dir: string): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    return cmd.includes(dir);
  } catch {
    return false;
  }
}

/** Runs instances as QEMU microVMs. */
export class MicrovmRuntime implements Runtime {
  readonly name = 'microvm';
  private readonly stateDir: string;
  private readonly accelPref: 'auto' | 'kvm' | 'tcg';
  private readonly engine: DockerEngine;
  private readonly net: VmNetworkPlan;
  private readonly log: (line: string) => void;
  private prepared: Promise<{ vmlinux: string; initramfs: string }> | undefined;
  private accel: 'kvm' | 'tcg' | undefined;
  private readonly cpuSamples = new Map<string, { at: number; ticks: number }>();
  private readonly bootTimeoutMs: number;
  private readonly addressDir: string;
  private readonly appNetOpts: MicrovmRuntimeOptions['appNetworks'];
  private appNets: VmAppNetworks | null | undefined;
  /** Per bridge: the pushes of its hosts file, one after another (the newest file always goes last). */
  private readonly hostsPushes = new Map<string, Promise<void>>();

  constructor(opts: MicrovmRuntimeOptions = {}) {
    this.stateDir = opts.stateDir ?? '/var/lib/pier/microvm';
    this.accelPref = opts.accel ?? 'auto';
    this.engine = new DockerEngine(opts.dockerSocket ?? DEFAULT_DOCKER_SOCKET);
    this.net = opts.network ?? DEFAULT_VM_NETWORK;
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.bootTimeoutMs = opts.bootTimeoutMs ?? 120_000;
    this.addressDir = opts.addressDir ?? ADDRESS_CLAIMS_DIR;
    this.appNetOpts = opts.appNetworks;
  }

  /** App networks, or null where they cannot work (no iptables...): then every VM is on the isolated `piervm0`. */
  private appNetworks(): VmAppNetworks | null {
    if (this.appNets === undefined) {
      const why = networkingUnavailable();
      if (why) this.log(`microvm runtime: WARNING no private app networks (${why}): every VM stays isolated on ${this.net.bridge}, private names do not resolve`);
      this.appNets = why ? null : new VmAppNetworks({ stateDir: this.stateDir, ...this.appNetOpts });
    }
    return this.appNets;
  }

  /** Sends the app network's current hosts file to every running VM on it (serialized per bridge). */
  private pushHosts(bridge: string): Promise<void> {
    const nets = this.appNetworks();
    if (!nets) return Promise.resolve();
    const prev = this.hostsPushes.get(bridge) ?? Promise.resolve();
    const next = prev.then(async () => {
      const members = nets.members(bridge);
      const message = hostsMessage(nets.hosts(bridge));
      await Promise.all(members.map(async (m) => {
        const runtimeId = m.dir.split('/').pop() as string;
        if (this.pidOf(runtimeId) !== null) await this.command(runtimeId, message);
      }));
    }).catch(() => undefined);
    this.hostsPushes.set(bridge, next);
    void next.then(() => { if (this.hostsPushes.get(bridge) === next) this.hostsPushes.delete(bridge); });
    return next;
  }

  private dirOf(runtimeId: string): string {
    return join(this.stateDir, 'instances', runtimeId.replace(/[^A-Za-z0-9_-]/g, '_'));
  }

  async capabilities(): Promise<Capabilities> {
    const missing: string[] = [];
    if (typeof process.getuid === 'function' && process.getuid() !== 0) missing.push('root (tap devices, the bridge)');
    if (!program('qemu-system-x86_64')) missing.push('qemu-system-x86_64 (apt-get install qemu-system-x86)');
    for (const p of ['mkfs.ext4', 'ip', 'modprobe', 'xz', 'tar']) if (!program(p)) missing.push(p);
    const kernel = findHostKernel();
    if (!kernel) missing.push('a guest kernel: /boot/vmlinuz-* with its modules (apt-get install linux-image-amd64)');
    if (missing.length) throw new RuntimeError('unavailable', `the microvm runtime needs ${missing.join(', ')}: run \`PIER_RUNTIME=microvm pier setup --yes\` as root`);
    try {
      await this.engine.ping();
    } catch (err) {
      throw new RuntimeError('unavailable', `the microvm runtime builds guest disks from Docker images: Docker engine not reachable at ${this.engine.socketPath} (${(err as Error).message})`);
    }
    if (!this.accel) {
      const kvm = kvmUsable();
      if (this.accelPref === 'kvm' && !kvm.ok) throw new RuntimeError('unavailable', `microvm: KVM was asked for but ${kvm.why}`);
      this.accel = this.accelPref === 'tcg' || !kvm.ok ? 'tcg' : 'kvm';
      if (this.accel === 'tcg') this.log(`microvm runtime: WARNING running guests under TCG (emulation, one busy core per booting VM, ~10x slower system calls): ${this.accelPref === 'tcg' ? 'chosen by configuration' : kvm.why}`);
    }
    return { name: 'microvm', runs: 'image', enforcesCpu: true, enforcesMemory: true, enforcesDisk: true, privateNetworking: this.appNetworks() !== null, volumes: true };
  }

  /** The kernel and initramfs, made once: concurrent first starts share one promise (they wrote the same temp file). */
  private prepare(): Promise<{ vmlinux: string; initramfs: string }> {
    this.prepared ??= (async () => {
      const kernel = findHostKernel();
      if (!kernel) throw new RuntimeError('unavailable', 'no guest kernel: apt-get install linux-image-amd64');
      const cache = join(this.stateDir, 'kernel');
      return { vmlinux: await ensureVmlinux(kernel.vmlinuz, cache), initramfs: ensureInitramfs(kernel.version, cache) };
    })();
    this.prepared.catch(() => { this.prepared = undefined; });
    return this.prepared;
  }

  async start(spec: InstanceSpec, signal?: AbortSignal): Promise<InstanceHandle> {
    if (!spec.image) throw new RuntimeError('invalid_spec', 'the microvm runtime runs images: spec.image is required');
    checkVolumes(spec);
    await this.capabilities();
    const boot = await this.prepare();
    const image = await imageConfig(this.engine, spec.image);
    if (!image) throw new RuntimeError('unavailable', `image ${spec.image} is not in the Docker engine: the microvm runtime builds its disk from a local image (build or pull it first)`);
    const tree = await ensureImageTree(this.engine, image.id, join(this.stateDir, 'images'));
    signal?.throwIfAborted();
    const runtimeId = spec.instanceId;
    const dir = this.dirOf(runtimeId);
    if (existsSync(join(dir, 'state.json'))) throw new RuntimeError('conflict', `microVM ${runtimeId} already exists`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tap = tapName(spec.instanceId);
    const hostname = `pier-${spec.instanceId.slice(0, 12)}`;
    const nets = spec.network ? this.appNetworks() : null;
    let address: string | undefined;
    let appNet: VmNet | undefined;
    try {
      const disk = join(dir, 'disk.ext4');
      await makeRootDisk(tree, disk, spec.diskBytes && spec.diskBytes > 0 ? spec.diskBytes : DEFAULT_DISK_BYTES);
      if (nets && spec.network) {
        appNet = await nets.attach(dir, tap, spec.network, spec.networkAliases ?? [], hostname);
      } else {
        await ensureBridge(this.net);
        address = claimAddress(this.addressDir, this.net, spec.instanceId);
        await createTap(this.net, tap);
      }
      const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
      for (const kv of image.env) { const i = kv.indexOf('='); if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1); }
      Object.assign(env, spec.env);
      const entrypoint = spec.entrypoint ?? image.entrypoint;
      const argv = [...entrypoint, ...(spec.command ?? (spec.entrypoint ? [] : image.cmd))];
      if (!argv.length) throw new RuntimeError('invalid_spec', `image ${spec.image} has no entrypoint or command, and the spec gives none`);
      const config = join(dir, 'config.sh');
      writeFileSync(config, configScript({
        address: appNet?.ip ?? address as string, gateway: appNet?.gateway ?? `${this.net.prefix}.1`, hostname, memoryBytes: spec.memoryBytes,
        cpu: spec.cpu, workdir: spec.workdir ?? image.workdir, env, argv, hosts: appNet ? nets!.hosts(appNet.bridge) : undefined, volumes: spec.volumes,
      }), { mode: 0o600 });
      const state: VmState = {
        instanceId: spec.instanceId, labels: { ...spec.labels }, ports: [...spec.ports], address: appNet?.ip ?? address as string, tap,
        startedAt: new Date().toISOString(), memoryBytes: spec.memoryBytes, cpu: spec.cpu, accel: this.accel ?? 'tcg', bridge: appNet?.bridge,
        ...(spec.volumes?.length ? { volumes: spec.volumes.map((v) => ({ ...v })) } : {}),
      };
      writeFileSync(join(dir, 'state.json'), JSON.stringify(state));
      await this.launch(dir, state, boot, spec);
      await this.untilBooted(runtimeId, signal);
      // The others learn the new name; this VM gets the file again in case a member came or went while it booted.
      if (appNet) await this.pushHosts(appNet.bridge);
      return { instanceId: spec.instanceId, runtimeId, endpoints: this.endpointsOf(state), labels: { ...spec.labels } };
    } catch (err) {
      // The app network's record lives in the instance directory, which remove() deletes: detach first (also after
      // an attach that failed half-way: it wrote the record before the tap and the bridge).
      if (nets) await nets.detach(dir).catch(() => undefined);
      await this.remove(runtimeId).catch(() => undefined);
      if (address) releaseAddress(this.addressDir, address, spec.instanceId);
      await deleteTap(tap);
      if (appNet) await this.pushHosts(appNet.bridge);
      throw err instanceof RuntimeError ? err : new RuntimeError('failed', `starting the microVM failed: ${(err as Error).message}`);
    }
  }

  /** The QEMU argv of an instance (no secrets: env and argv travel on the config disk). */
  qemuArgs(dir: string, state: VmState, boot: { vmlinux: string; initramfs: string }, smp: number): string[] {
    const memMiB = Math.ceil((state.memoryBytes + GUEST_OVERHEAD_BYTES) / MiB);
    return [
      '-name', `pier-${state.instanceId}`,
      '-M', 'microvm', ...(state.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max']),
      '-m', `${memMiB}M`, '-smp', String(smp),
      '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
      '-chardev', `socket,id=con,path=${qemuOptionValue(consoleSocket(dir))},server=on,wait=off,logfile=${join(dir, 'console.log')}`,
      '-serial', 'chardev:con',
      '-kernel', boot.vmlinux, '-initrd', boot.initramfs,
      '-append', 'console=ttyS0 reboot=t panic=-1 tsc_early_khz=2000000 quiet loglevel=1 rdinit=/init',
      '-drive', `id=root,file=${join(dir, 'disk.ext4')},format=raw,if=none,cache=unsafe`, '-device', 'virtio-blk-device,drive=root',
      '-drive', `id=cfg,file=${join(dir, 'config.sh')},format=raw,if=none,readonly=on`, '-device', 'virtio-blk-device,drive=cfg',
      '-netdev', `tap,id=n0,ifname=${state.tap},script=no,downscript=no`, '-device', `virtio-net-device,netdev=n0,mac=${macOf(state.address)}`,
      // Volumes: the host's mount of each one shared over virtio-9p. passthrough: QEMU (root) sets the guest's owners
      // and modes on the host files, as Docker's bind mount shows them; readonly: QEMU itself refuses writes (EROFS),
      // whatever the guest's root remounts.
      ...(state.volumes ?? []).flatMap((v, i) => [
        '-fsdev', `local,id=fs${i},path=${qemuOptionValue(v.hostPath)},security_model=passthrough${v.readOnly ? ',readonly=on' : ''}`,
        '-device', `virtio-9p-device,fsdev=fs${i},mount_tag=pv${i}`,
      ]),
      '-pidfile', join(dir, 'qemu.pid'), '-daemonize',
    ];
  }

  private async launch(dir: string, state: VmState, boot: { vmlinux: string; initramfs: string }, spec: InstanceSpec): Promise<void> {
    const qemu = program('qemu-system-x86_64') as string;
    consoleSocket(dir, true);
    const args = this.qemuArgs(dir, state, boot, Math.max(1, Math.ceil(spec.cpu || 1)));
    await new Promise<void>((resolve, reject) => {
      // -daemonize: the launcher exits once the VM runs; the VM survives the control plane.
      const child = spawn(qemu, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      let err = '';
      child.stderr.on('data', (c) => { err += c; });
      child.on('error', reject);
      child.on('close', (code) => code === 0 ? resolve() : reject(new Error(`qemu exited with ${code}: ${err.trim()}`)));
    });
  }

  /**
   * Waits until the guest's init started the app (its `B` line), so that start() resolves when the app runs, as with
   * a container: booting takes ~2 s under KVM-less emulation on an idle core, much more on a loaded one.
   */
  private async untilBooted(runtimeId: string, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.bootTimeoutMs;
    while (Date.now() < deadline) {
      signal?.throwIfAborted();
      const events = this.events(runtimeId);
      if (events.some((e) => e.kind === 'boot' || e.kind === 'exit')) return;
      if (this.pidOf(runtimeId) === null && existsSync(join(this.dirOf(runtimeId), 'console.log'))) {
        throw new Error(`the microVM stopped while booting; its console ended with: ${this.consoleTail(runtimeId)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the microVM did not boot within ${this.bootTimeoutMs / 1000} s (${this.accel ?? 'tcg'}); its console ended with: ${this.consoleTail(runtimeId)}`);
  }

  private consoleTail(runtimeId: string): string {
    try {
      return readFileSync(join(this.dirOf(runtimeId), 'console.log'), 'latin1').trim().split('\n').slice(-5).join(' / ') || '(nothing)';
    } catch {
      return '(nothing)';
    }
  }

  private readState(runtimeId: string): VmState | null {
    try {
      return JSON.parse(readFileSync(join(this.dirOf(runtimeId), 'state.json'), 'utf8')) as VmState;
    } catch {
      return null;
    }
  }

  private pidOf(runtimeId: string): number | null {
    const dir = this.dirOf(runtimeId);
    try {
      const pid = Number(readFileSync(join(dir, 'qemu.pid'), 'utf8').trim());
      return pid > 0 && pidAlive(pid, dir) ? pid : null;
    } catch {
      return null;
    }
  }

  private endpointsOf(state: VmState) {
    return state.ports.map((p) => ({ containerPort: p, host: state.address, hostPort: p }));
  }

  private events(runtimeId: string): ConsoleEvent[] {
    try {
      return parseConsole(readFileSync(join(this.dirOf(runtimeId), 'console.log'), 'latin1'));
    } catch {
      return [];
    }
  }

  /** The guest's uptime → wall clock (from its `B` line), or the QEMU start time when it has none yet. */
  private clock(state: VmState, events: ConsoleEvent[]): (uptime: number) => string {
    const b = events.find((e) => e.kind === 'boot') as Extract<ConsoleEvent, { kind: 'boot' }> | undefined;
    const base = b ? b.epoch * 1000 - b.uptime * 1000 : Date.parse(state.startedAt);
    return (uptime) => new Date(base + uptime * 1000).toISOString();
  }

  private exitOf(runtimeId: string, state: VmState): ExitStatus | undefined {
    const events = this.events(runtimeId);
    const x = events.find((e) => e.kind === 'exit') as Extract<ConsoleEvent, { kind: 'exit' }> | undefined;
    if (x) {
      return { exitCode: x.code, signal: signalFromExitCode(x.code), oomKilled: x.ooms > 0, startedAt: state.startedAt, finishedAt: this.clock(state, events)(x.uptime) };
    }
    if (this.pidOf(runtimeId) !== null) return undefined;
    const dir = this.dirOf(runtimeId);
    const killed = existsSync(join(dir, 'killed'));
    let finishedAt = new Date().toISOString();
    try { finishedAt = statSync(join(dir, 'console.log')).mtime.toISOString(); } catch { /* never wrote */ }
    return killed
      ? { exitCode: 137, signal: 'SIGKILL', oomKilled: false, startedAt: state.startedAt, finishedAt }
      : { exitCode: null, oomKilled: false, error: 'the microVM stopped without reporting an exit code (see its console: a kernel panic or a failed boot)', startedAt: state.startedAt, finishedAt };
  }

  async inspect(runtimeId: string): Promise<InstanceState | null> {
    const state = this.readState(runtimeId);
    if (!state) return null;
    const exit = this.exitOf(runtimeId, state);
    return exit ? { running: false, startedAt: state.startedAt, exit } : { running: true, startedAt: state.startedAt };
  }

  async wait(runtimeId: string, signal?: AbortSignal): Promise<ExitStatus> {
    for (;;) {
      const state = this.readState(runtimeId);
      if (!state) throw workloadNotFound(runtimeId);
      const exit = this.exitOf(runtimeId, state);
      if (exit) return exit;
      signal?.throwIfAborted();
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Writes a command on the guest's console (the init reads it) and waits for the init's acknowledgement (`A stop`,
   * `A kill`, `A hosts` on the console), sending it again (at most 3 times) when none came within 2 s. Without the
   * acknowledgement a `stop` was lost now and then on a loaded host (one CI run: SIGTERM never arrived, the app was
   * killed at the end of its 20 s grace): the connection used to close 100 ms after the write, and QEMU can drop
   * what it has not read yet when its client hangs up while the guest drains the UART slowly.
   */
  private async command(runtimeId: string, cmd: string): Promise<void> {
    const ack = cmd === 'stop' || cmd === 'kill' ? `A ${cmd}` : cmd.startsWith('hosts\n') ? 'A hosts' : undefined;
    // The answer is looked for only in what the console wrote after the command was first sent (the app's output is
    // in the same log, so rereading it whole every 50 ms would cost as much as the app ever printed).
    const log = join(this.dirOf(runtimeId), 'console.log');
    let from = 0;
    try { from = statSync(log).size; } catch { /* nothing written yet */ }
    const acked = () => ack !== undefined && sinceOffset(log, from).split('\n').some((l) => l.replace(/\r$/, '') === ack);
    for (let attempt = 0; attempt < 3; attempt++) {
      const answered = await new Promise<boolean>((resolve) => {
        const sock = connect(consoleSocket(this.dirOf(runtimeId), true));
        let finished = false;
        const done = (ok: boolean) => { if (finished) return; finished = true; clearInterval(poll); clearTimeout(limit); sock.destroy(); resolve(ok); };
        // The connection stays open until the guest answered (or 2 s): closing it early is what lost commands.
        const poll = setInterval(() => { if (acked()) done(true); }, 50);
        const limit = setTimeout(() => done(!ack), ack ? 2000 : 300);
        sock.on('connect', () => sock.write(cmd.endsWith('\n') ? cmd : `${cmd}\n`));
        sock.on('error', () => done(false));
      });
      if (answered || this.pidOf(runtimeId) === null || this.events(runtimeId).some((e) => e.kind === 'exit')) return;
    }
  }

  async stop(runtimeId: string, graceMs: number): Promise<void> {
    const state = this.readState(runtimeId);
    if (!state || this.exitOf(runtimeId, state)) return;
    await this.command(runtimeId, 'stop');
    const until = async (ms: number) => {
      const deadline = Date.now() + ms;
      while (Date.now() < deadline) {
        if (this.exitOf(runtimeId, state)) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return !!this.exitOf(runtimeId, state);
    };
    if (await until(graceMs)) return;
    await this.command(runtimeId, 'kill');
    if (await until(5000)) return;
    this.killVm(runtimeId);
  }

  /** SIGKILLs QEMU itself (the guest did not answer), recording that the instance was killed. */
  private killVm(runtimeId: string): void {
    const pid = this.pidOf(runtimeId);
    if (pid === null) return;
    writeFileSync(join(this.dirOf(runtimeId), 'killed'), '');
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }

  async remove(runtimeId: string): Promise<void> {
    const dir = this.dirOf(runtimeId);
    const state = this.readState(runtimeId);
    this.killVm(runtimeId);
    for (let i = 0; i < 50 && this.pidOf(runtimeId) !== null; i++) await new Promise((r) => setTimeout(r, 100));
    let bridge: string | undefined;
    if (state?.bridge) {
      bridge = await this.appNetworks()?.detach(dir);
      await deleteTap(state.tap);
    } else if (state) {
      await deleteTap(state.tap);
      releaseAddress(this.addressDir, state.address, state.instanceId);
    }
    this.cpuSamples.delete(runtimeId);
    removeSocketLink(dir, 'console.sock', SHORT_LINK_DIR); // the link only, not the directory it names
    rmSync(dir, { recursive: true, force: true });
    if (bridge) await this.pushHosts(bridge); // the others stop resolving it
  }

  async stats(runtimeId: string): Promise<InstanceStats> {
    const state = this.readState(runtimeId);
    const pid = this.pidOf(runtimeId);
    if (!state || pid === null) throw workloadNotFound(runtimeId);
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100/s)
    const now = Date.now();
    const prev = this.cpuSamples.get(runtimeId);
    this.cpuSamples.set(runtimeId, { at: now, ticks });
    const startedMs = Date.parse(state.startedAt);
    const cpuPercent = prev && now > prev.at ? ((ticks - prev.ticks) / 100) / ((now - prev.at) / 1000) * 100 : (ticks / 100) / Math.max(1, (now - startedMs) / 1000) * 100;
    const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return { cpuPercent: Math.max(0, cpuPercent), memoryBytes: rss ? Number(rss[1]) * 1024 : 0, memoryLimitBytes: state.memoryBytes };
  }

  async *logs(runtimeId: string, opts: { follow: boolean; since?: Date; signal?: AbortSignal }): AsyncIterable<LogLine> {
    const state = this.readState(runtimeId);
    if (!state) throw workloadNotFound(runtimeId);
    let emitted = 0;
    for (;;) {
      const events = this.events(runtimeId);
      const clock = this.clock(state, events);
      const lines = events.filter((e): e is Extract<ConsoleEvent, { kind: 'line' }> => e.kind === 'line');
      for (; emitted < lines.length; emitted++) {
        const l = lines[emitted];
        const time = clock(l.uptime);
        if (opts.since && Date.parse(time) < opts.since.getTime()) continue;
        yield { stream: l.stream, line: l.line, time };
      }
      if (!opts.follow || opts.signal?.aborted || this.exitOf(runtimeId, state)) {
        if (opts.follow && !opts.signal?.aborted) {
          // The exit line is written after the last output lines: one more read picks up any that raced it.
          const rest = this.events(runtimeId).filter((e) => e.kind === 'line').slice(emitted) as Extract<ConsoleEvent, { kind: 'line' }>[];
          for (const l of rest) yield { stream: l.stream, line: l.line, time: clock(l.uptime) };
        }
        return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async recover(): Promise<InstanceHandle[]> {
    const root = join(this.stateDir, 'instances');
    if (!existsSync(root)) return [];
    const out: InstanceHandle[] = [];
    for (const id of readdirSync(root)) {
      const state = this.readState(id);
      if (!state) continue;
      out.push({ instanceId: state.instanceId, runtimeId: id, endpoints: this.endpointsOf(state), labels: { ...state.labels } });
    }
    return out;
  }
}

/** Refuses volumes that cannot be mounted as asked, or whose filesystem is not mounted (QEMU would share the host's disk). */
function checkVolumes(spec: InstanceSpec): void {
  const problem = volumeMountsProblem(spec.volumes, GUEST_RESERVED_PATHS);
  if (problem) throw new RuntimeError('invalid_spec', problem);
  for (const v of spec.volumes ?? []) {
    if (!isMountPoint(v.hostPath)) throw new RuntimeError('invalid_spec', `volume ${v.volumeId} is not mounted at ${v.hostPath} on this host (VolumeDriver.mount it first)`);
  }
}

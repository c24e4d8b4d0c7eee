// Private networks of the process runtime: one named network namespace per instance, joined by a veth pair to one
// bridge per app network, isolated from other apps and from the host by Pier's own iptables chains. Plans come from
// netplan.ts; this module runs them (`ip -batch`, `iptables-restore`, argv arrays only) under a host-wide lock.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { program, runProgram } from '../sbin.ts';
import { NETWORK_LOCK, withHostLock } from './hostlock.ts';
import {
  APP_PREFIX, DEFAULT_POOL, JUMPS, type AttachPlan, type Cidr, bridgeName, cidrString, filterRules, gatewayOf, hostBatch,
  instanceNames, ipToNumber, namespaceBatch, natRules, parsePool, pickAddress, pickSubnet, renderHosts,
} from './netplan.ts';

/** Docker's chain for user rules (evaluated first in FORWARD, never rewritten by Docker) and Pier's isolation chain. */
const DOCKER_USER = 'DOCKER-USER';
const ISOLATION_CHAIN = 'PIER-ISOLATION';

/** What an instance's network is, recorded in `<instance dir>/net.json` before anything is created. */
export interface InstanceNet {
  network: string;
  bridge: string;
  netns: string;
  veth: string;
  ip: string;
  /** The app subnet, `a.b.c.d/24`. */
  subnet: string;
  hostname: string;
  aliases: string[];
}

/** Options of the network manager. */
export interface NetworksOptions {
  stateDir: string;
  /** The pool app subnets are carved from (default PIER_PROCESS_SUBNET or 10.213.0.0/16). */
  pool?: string;
  /** Let instances open connections to other networks (default PIER_PROCESS_EGRESS=1, else off). */
  egress?: boolean;
  /** Path of the host-wide lock (tests). */
  lockPath?: string;
}

/** Why private networking cannot work on this host, or null when it can (root, `ip`, `iptables-restore`, `nsenter`). */
export function networkingUnavailable(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root';
  for (const p of ['ip', 'iptables', 'iptables-restore', 'nsenter']) if (!program(p)) return `${p} is not installed (apt-get install iproute2 iptables util-linux)`;
  if (!existsSync('/proc/sys/net/ipv4')) return 'no IPv4 networking in this kernel';
  return null;
}

const run = runProgram;

/** Every IPv4 address configured on this host right now (all interfaces, all owners). */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((l) => (l ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address));
}

function bridgeSubnet(bridge: string): Cidr | undefined {
  const a = networkInterfaces()[bridge]?.find((x) => x.family === 'IPv4');
  if (!a) return undefined;
  return { base: ipToNumber(a.address) - ((ipToNumber(a.address)) % 2 ** (32 - APP_PREFIX)), prefix: APP_PREFIX };
}

function bridgePorts(bridge: string): string[] | undefined {
  try { return readdirSync(`/sys/class/net/${bridge}/brif`); } catch { return undefined; }
}

// Once per process and configuration: the chains are host-wide and rebuilt idempotently.
const firewallDone = new Map<string, Promise<void>>();

/** Creates, tracks and removes the process runtime's namespaces, veths, bridges and firewall rules. */
export class ProcessNetworks {
  readonly pool: Cidr;
  readonly egress: boolean;
  private readonly stateDir: string;
  private readonly lockPath: string;

  constructor(opts: NetworksOptions) {
    this.stateDir = opts.stateDir;
    this.pool = parsePool(opts.pool ?? DEFAULT_POOL);
    this.egress = opts.egress ?? false;
    this.lockPath = opts.lockPath ?? NETWORK_LOCK;
  }

  /** Installs Pier's chains and the jumps to them (top of FORWARD, INPUT, POSTROUTING); idempotent. */
  ensureFirewall(): Promise<void> {
    const key = `${cidrString(this.pool)} ${this.egress}`;
    let p = firewallDone.get(key);
    if (!p) {
      p = this.applyFirewall();
      firewallDone.set(key, p);
      p.catch(() => firewallDone.delete(key));
    }
    return p;
  }

  private async applyFirewall(): Promise<void> {
    const restore = program('iptables-restore')!;
    const iptables = program('iptables')!;
    await run(restore, ['-w', '--noflush'], filterRules(this.egress) + natRules(this.pool, this.egress));
    for (const [table, from, to] of JUMPS) {
      const ok = await run(iptables, ['-w', '-t', table, '-C', from, '-j', to]).then(() => true, () => false);
      if (!ok) await run(iptables, ['-w', '-t', table, '-I', from, '1', '-j', to]);
    }
    // Docker inserts its per-network rules at the top of FORWARD whenever it creates a network, so Pier's jump there
    // drifts down (harmless: those rules name Docker's bridges only). DOCKER-USER is where Docker promises user rules
    // run first and stay put: jump from there too when it exists.
    if (await run(iptables, ['-w', '-S', DOCKER_USER]).then(() => true, () => false)) {
      const ok = await run(iptables, ['-w', '-C', DOCKER_USER, '-j', ISOLATION_CHAIN]).then(() => true, () => false);
      if (!ok) await run(iptables, ['-w', '-I', DOCKER_USER, '1', '-j', ISOLATION_CHAIN]);
    }
    if (this.egress && readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() !== '1') {
      throw new Error('PIER_PROCESS_EGRESS=1 needs IPv4 forwarding: sysctl -w net.ipv4.ip_forward=1');
    }
  }

  private netFile(instanceId: string): string { return join(this.stateDir, 'instances', instanceId, 'net.json'); }

  /** The network record of an instance, or null. */
  readNet(instanceId: string): InstanceNet | null {
    try { return JSON.parse(readFileSync(this.netFile(instanceId), 'utf8')) as InstanceNet; } catch { return null; }
  }

  /** Directory bind-mounted into the sandbox: holds the app network's `hosts` file. */
  hostsDir(bridge: string): string { return join(this.stateDir, 'networks', bridge); }

  /**
   * The index of an app network's instances: one empty file per instance id, beside (never inside) the mounted hosts
   * directory. Attach and detach read that network's members (at most 254), not every instance of the installation:
   * reading every net.json twice per start cost time in proportion to N (issue #26). An instance's net.json stays
   * the truth; a member without one is stale (a start that failed before its kernel objects) and is dropped.
   */
  private membersDir(bridge: string): string { return join(this.stateDir, 'networks', `${bridge}.members`); }

  /** The instances recorded on one app network (call under the lock). */
  private members(bridge: string): InstanceNet[] {
    this.indexOnce();
    let ids: string[];
    try { ids = readdirSync(this.membersDir(bridge)); } catch { return []; }
    const out: InstanceNet[] = [];
    for (const id of ids) {
      const net = this.readNet(id);
      if (net?.bridge === bridge) out.push(net);
      else if (!existsSync(this.netFile(id))) rmSync(join(this.membersDir(bridge), id), { force: true });
    }
    return out;
  }

  private addMember(bridge: string, instanceId: string): void {
    mkdirSync(this.membersDir(bridge), { recursive: true, mode: 0o700 });
    writeFileSync(join(this.membersDir(bridge), instanceId), '', { mode: 0o600 });
  }

  /**
   * Installations from before the index (instances running through the upgrade) get it built once, from every
   * instance's net.json; the marker says it is done, so a new network's empty index never means "scan everything".
   */
  private indexOnce(): void {
    const marker = join(this.stateDir, 'networks', '.members-indexed');
    if (existsSync(marker)) return;
    let ids: string[];
    try { ids = readdirSync(join(this.stateDir, 'instances')); } catch { ids = []; }
    for (const id of ids) {
      const net = this.readNet(id);
      if (net) this.addMember(net.bridge, id);
    }
    mkdirSync(join(this.stateDir, 'networks'), { recursive: true, mode: 0o755 });
    writeFileSync(marker, '', { mode: 0o600 });
  }

  /** Rewrites the app network's hosts file from the instances recorded on it (atomic rename; the dir is mounted). */
  private writeHosts(bridge: string, nets = this.members(bridge)): void {
    const dir = this.hostsDir(bridge);
    if (nets.length === 0) { rmSync(dir, { recursive: true, force: true }); return; }
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    writeFileSync(join(dir, 'hosts.tmp'), renderHosts(nets), { mode: 0o644 });
    renameSync(join(dir, 'hosts.tmp'), join(dir, 'hosts'));
  }

  /**
   * Gives an instance its namespace and address on the app network's bridge (created on first use, with a free
   * subnet of the pool). The instance directory must exist: net.json is written there before the kernel objects,
   * so a crash half-way leaves a record that detach() cleans up.
   */
  async attach(instanceId: string, network: string, aliases: string[], hostname: string): Promise<InstanceNet> {
    await this.ensureFirewall();
    const ip = program('ip')!;
    return withHostLock(this.lockPath, async () => {
      const bridge = bridgeName(this.stateDir, network);
      const members = this.members(bridge);
      // A live bridge's subnet is its members' (getifaddrs, behind networkInterfaces, lists every link of the host,
      // each instance's veth too: asked only for a bridge without members).
      const live = existsSync(`/sys/class/net/${bridge}`);
      const existing = !live ? undefined : members[0] ? parsePool(members[0].subnet) : bridgeSubnet(bridge);
      const subnet = existing ?? pickSubnet(this.pool, hostAddresses());
      if (!subnet) throw new Error(`no free /${APP_PREFIX} left in PIER_PROCESS_SUBNET ${cidrString(this.pool)}`);
      const addr = pickAddress(subnet, members.map((n) => n.ip));
      if (!addr) throw new Error(`app network ${network} has no free address left in ${cidrString(subnet)}`);
      const names = instanceNames(this.stateDir, instanceId);
      const net: InstanceNet = { network, bridge, ...names, ip: addr, subnet: cidrString(subnet), hostname, aliases };
      writeFileSync(this.netFile(instanceId), JSON.stringify(net), { mode: 0o600 });
      this.addMember(bridge, instanceId);
      const plan: AttachPlan = { bridge, createBridge: !existing, subnet, ...names, ip: addr };
      if (plan.createBridge && existsSync(`/sys/class/net/${bridge}`)) await run(ip, ['link', 'del', bridge]); // no IPv4: half made
      await run(ip, ['-batch', '-'], hostBatch(plan));
      if (plan.createBridge) writeFileSync(`/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`, '1');
      await run(ip, ['-n', names.netns, '-batch', '-'], namespaceBatch(plan));
      this.writeHosts(bridge, [...members, net]);
      return net;
    });
  }

  /** Removes an instance's namespace and veth, and its bridge once no instance uses it. Idempotent. */
  async detach(instanceId: string): Promise<void> {
    const net = this.readNet(instanceId);
    if (!net) return;
    const ip = program('ip')!;
    await withHostLock(this.lockPath, async () => {
      // The veth first (its peer goes with it), then the namespace's name: one spawn for both.
      const lines = [
        ...(existsSync(`/sys/class/net/${net.veth}`) ? [`link del ${net.veth}`] : []),
        ...(existsSync(`/run/netns/${net.netns}`) ? [`netns del ${net.netns}`] : []),
      ];
      if (lines.length) await run(ip, ['-batch', '-'], `${lines.join('\n')}\n`);
      rmSync(this.netFile(instanceId), { force: true });
      rmSync(join(this.membersDir(net.bridge), instanceId), { force: true });
      this.writeHosts(net.bridge);
      await this.collectBridge(ip, net.bridge);
    });
  }

  private async collectBridge(ip: string, bridge: string): Promise<void> {
    const ports = bridgePorts(bridge);
    if (ports === undefined || ports.length > 0) return;
    if (this.members(bridge).length > 0) return; // an attach is recorded and about to plug in
    await run(ip, ['link', 'del', bridge]);
    rmSync(this.hostsDir(bridge), { recursive: true, force: true });
    rmSync(this.membersDir(bridge), { recursive: true, force: true });
  }

  /** Removes an app network's bridge if no instance is on it (a no-op otherwise). */
  async removeNetwork(network: string): Promise<void> {
    const ip = program('ip')!;
    const bridge = bridgeName(this.stateDir, network);
    await withHostLock(this.lockPath, () => this.collectBridge(ip, bridge));
  }

  /** The namespace path an instance's sandbox enters. */
  static namespacePath(net: InstanceNet): string { return `/run/netns/${net.netns}`; }
}

/** Removes Pier's chains and jumps from the host (explicit cleanup only: every installation on the host shares them). */
export async function removeFirewall(): Promise<void> {
  const iptables = program('iptables');
  if (!iptables) return;
  for (let i = 0; i < 10 && await run(iptables, ['-w', '-D', DOCKER_USER, '-j', ISOLATION_CHAIN]).then(() => true, () => false); i++) { /* every copy */ }
  for (const [table, from, to] of JUMPS) {
    for (let i = 0; i < 10 && await run(iptables, ['-w', '-t', table, '-D', from, '-j', to]).then(() => true, () => false); i++) { /* every copy */ }
    await run(iptables, ['-w', '-t', table, '-F', to]).catch(() => undefined);
    await run(iptables, ['-w', '-t', table, '-X', to]).catch(() => undefined);
  }
  firewallDone.clear();
}

// Private app networks for microVMs (issue #19), built like the process runtime's (process/netplan.ts, netns.ts):
// one `pierbr*` bridge per app network with a /24 from PIER_PROCESS_SUBNET, each VM's tap a plain (non-isolated)
// port on it, so VMs of one app reach each other and nothing else. Isolation is the process runtime's firewall,
// unchanged: its PIER-ISOLATION / PIER-INPUT chains match `pierbr+`, so traffic between two apps' bridges is dropped,
// and so are new connections from a bridge to the host. Instances without a network stay on `piervm0` (net.ts).
//
// Private names: the app network's hosts file (netplan.ts renderHosts, the same file the process runtime mounts) goes
// on the VM's config disk at boot and is pushed again over the serial console (`hosts` / `h <line>` / `hosts.end`,
// read by the guest init) to every VM of the network whenever a member comes or goes: a VM started before its peer
// resolves it too, and a replaced peer's new address reaches the others.
//
// The pure half (plans, console messages) is tested without root; VmAppNetworks runs it under the process runtime's
// host-wide network lock. Records: `<instance dir>/net.json`, written before any kernel object exists.
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { program, runProgram } from '../sbin.ts';
import { NETWORK_LOCK, withHostLock } from '../process/hostlock.ts';
import { ProcessNetworks } from '../process/netns.ts';
import {
  APP_PREFIX, DEFAULT_POOL, type Cidr, bridgeBatch, bridgeName, cidrString, gatewayOf, ipToNumber, parsePool, pickAddress, pickSubnet, renderHosts,
} from '../process/netplan.ts';

/** One VM on an app network, as recorded in its instance directory (net.json). */
export interface VmNet {
  network: string;
  bridge: string;
  tap: string;
  ip: string;
  /** `a.b.c.d/24`. */
  subnet: string;
  gateway: string;
  hostname: string;
  aliases: string[];
}

/** What plugging one VM's tap into an app network needs. */
export interface TapPlan { bridge: string; createBridge: boolean; subnet: Cidr; tap: string }

/**
 * The `ip -batch` script: (the bridge with the gateway address,) the tap as an ordinary port of it. No IPv6
 * addresses on the host side (addrgenmode none), so VMs cannot reach host services over link-local IPv6 either.
 */
export function tapBatch(p: TapPlan): string {
  const lines: string[] = p.createBridge ? bridgeBatch(p.bridge, p.subnet) : [];
  lines.push(
    `tuntap add dev ${p.tap} mode tap`,
    `link set ${p.tap} addrgenmode none`,
    `link set ${p.tap} master ${p.bridge} up`,
  );
  return `${lines.join('\n')}\n`;
}

/** The app network's hosts file for its members (the process runtime's format). */
export function hostsOf(members: VmNet[]): string {
  return renderHosts(members.map((m) => ({ ip: m.ip, hostname: m.hostname, aliases: m.aliases })));
}

/**
 * The console message that replaces the guest's /etc/hosts: `hosts`, one `h <line>` per line, `hosts.end` (one line
 * each, well under the tty's 4095-byte line limit; the init renames the new file into place only on `hosts.end`).
 */
export function hostsMessage(hosts: string): string {
  const lines = hosts.split('\n').filter((l) => l.length > 0).map((l) => `h ${l.replace(/[^\x20-\x7e\t]/g, '')}`);
  return ['hosts', ...lines, 'hosts.end', ''].join('\n');
}

/** Options of the app networks. */
export interface VmAppNetworksOptions {
  /** The microVM runtime's state directory (instances in `<stateDir>/instances/<dir>/`; bridge names hash it). */
  stateDir: string;
  /** The pool app subnets come from (the process runtime's PIER_PROCESS_SUBNET; default 10.213.0.0/16). */
  pool?: string;
  /** Let VMs open connections to other networks (PIER_PROCESS_EGRESS; default off). */
  egress?: boolean;
  lockPath?: string;
}

function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((l) => (l ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address));
}

function bridgeSubnet(bridge: string): Cidr | undefined {
  const a = networkInterfaces()[bridge]?.find((x) => x.family === 'IPv4');
  if (!a) return undefined;
  const n = ipToNumber(a.address);
  return { base: n - (n % 2 ** (32 - APP_PREFIX)), prefix: APP_PREFIX };
}

/** Creates and removes microVM taps on app bridges, and knows each network's members. */
export class VmAppNetworks {
  readonly pool: Cidr;
  private readonly stateDir: string;
  private readonly lockPath: string;
  private readonly firewall: ProcessNetworks;

  constructor(opts: VmAppNetworksOptions) {
    this.stateDir = opts.stateDir;
    this.pool = parsePool(opts.pool ?? DEFAULT_POOL);
    this.lockPath = opts.lockPath ?? NETWORK_LOCK;
    // Only for its firewall: the same host-wide chains, installed idempotently.
    this.firewall = new ProcessNetworks({ stateDir: opts.stateDir, pool: opts.pool, egress: opts.egress ?? false, lockPath: this.lockPath });
  }

  private instancesDir(): string { return join(this.stateDir, 'instances'); }

  /** The record of the instance whose directory is `dir`, or null (not on an app network). */
  static read(dir: string): VmNet | null {
    try { return JSON.parse(readFileSync(join(dir, 'net.json'), 'utf8')) as VmNet; } catch { return null; }
  }

  /** Every recorded member of a bridge, with its instance directory. */
  members(bridge: string): Array<{ dir: string; net: VmNet }> {
    let names: string[];
    try { names = readdirSync(this.instancesDir()); } catch { return []; }
    return names.map((n) => join(this.instancesDir(), n))
      .map((dir) => ({ dir, net: VmAppNetworks.read(dir) }))
      .filter((m): m is { dir: string; net: VmNet } => m.net !== null && m.net.bridge === bridge);
  }

  /** The hosts file of a bridge's network now. */
  hosts(bridge: string): string { return hostsOf(this.members(bridge).map((m) => m.net)); }

  /** Gives the VM whose directory is `dir` an address on the app network and its tap there (bridge made on first use). */
  async attach(dir: string, tap: string, network: string, aliases: string[], hostname: string): Promise<VmNet> {
    await this.firewall.ensureFirewall();
    const ip = program('ip')!;
    return withHostLock(this.lockPath, async () => {
      const bridge = bridgeName(this.stateDir, network);
      const existing = bridgeSubnet(bridge);
      const subnet = existing ?? pickSubnet(this.pool, hostAddresses());
      if (!subnet) throw new Error(`no free /${APP_PREFIX} left in PIER_PROCESS_SUBNET ${cidrString(this.pool)} for app network ${network}`);
      const addr = pickAddress(subnet, this.members(bridge).map((m) => m.net.ip));
      if (!addr) throw new Error(`app network ${network} has no free address left in ${cidrString(subnet)}`);
      const net: VmNet = { network, bridge, tap, ip: addr, subnet: cidrString(subnet), gateway: gatewayOf(subnet), hostname, aliases };
      writeFileSync(join(dir, 'net.json'), JSON.stringify(net), { mode: 0o600 });
      const plan: TapPlan = { bridge, createBridge: !existing, subnet, tap };
      if (plan.createBridge && existsSync(`/sys/class/net/${bridge}`)) await runProgram(ip, ['link', 'del', bridge]); // no IPv4: half made
      await runProgram(ip, ['-batch', '-'], tapBatch(plan));
      if (plan.createBridge) writeFileSync(`/proc/sys/net/ipv6/conf/${bridge}/disable_ipv6`, '1');
      return net;
    });
  }

  /** Removes the VM's tap and record, and the bridge once nothing is on it. Idempotent; returns the bridge it left. */
  async detach(dir: string): Promise<string | undefined> {
    const net = VmAppNetworks.read(dir);
    if (!net) return undefined;
    const ip = program('ip')!;
    await withHostLock(this.lockPath, async () => {
      if (existsSync(`/sys/class/net/${net.tap}`)) await runProgram(ip, ['link', 'del', net.tap]);
      rmSync(join(dir, 'net.json'), { force: true });
      let ports: string[] | undefined;
      try { ports = readdirSync(`/sys/class/net/${net.bridge}/brif`); } catch { ports = undefined; }
      if (ports && ports.length === 0 && this.members(net.bridge).length === 0) await runProgram(ip, ['link', 'del', net.bridge]);
    });
    return net.bridge;
  }
}

// Pure planning for the process runtime's private networks: interface and namespace names, subnet and address
// choice, the `ip -batch` scripts that wire an instance, the firewall rules and the app's hosts file. No I/O here:
// netns.ts runs what this module writes, so every decision can be tested without root.
import { createHash } from 'node:crypto';

/** Each app network gets one subnet of this size carved from the pool (254 instance addresses). */
export const APP_PREFIX = 24;
/** Default pool (PIER_PROCESS_SUBNET): private, and unlikely to collide with Docker's 172.17/16 or common LANs. */
export const DEFAULT_POOL = '10.213.0.0/16';
/** Every Pier bridge name starts with this; firewall rules match `pierbr+`. */
export const BRIDGE_PREFIX = 'pierbr';
/** Host-side veth names. */
export const VETH_PREFIX = 'piervh';
/** Named network namespaces (`/run/netns/<name>`). */
export const NETNS_PREFIX = 'pier-';
/** The filter chains Pier owns: jumped to from FORWARD and INPUT, never anything of Docker's. */
export const FORWARD_CHAIN = 'PIER-ISOLATION';
export const INPUT_CHAIN = 'PIER-INPUT';
/** The nat chain (jumped to from POSTROUTING) that masquerades egress when the operator enables it. */
export const NAT_CHAIN = 'PIER-EGRESS';

/** An IPv4 network: base address as an unsigned 32-bit number and prefix length. */
export interface Cidr { base: number; prefix: number }

/** Parses dotted IPv4 into a number; throws on anything else. */
export function ipToNumber(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new Error(`not an IPv4 address: ${ip}`);
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** Formats a 32-bit number as dotted IPv4. */
export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

/** Parses `a.b.c.d/len` (the pool); the host bits must be zero and the pool at least one app subnet wide. */
export function parsePool(value: string): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(value.trim());
  if (!m) throw new Error(`PIER_PROCESS_SUBNET must look like 10.213.0.0/16, not "${value}"`);
  const base = ipToNumber(m[1]);
  const prefix = Number(m[2]);
  if (prefix < 8 || prefix > APP_PREFIX) throw new Error(`PIER_PROCESS_SUBNET needs a prefix between /8 and /${APP_PREFIX}, not /${prefix}`);
  if (base % 2 ** (32 - prefix) !== 0) throw new Error(`PIER_PROCESS_SUBNET ${value} has host bits set`);
  return { base, prefix };
}

/** Formats a network as `a.b.c.d/len`. */
export function cidrString(c: Cidr): string { return `${numberToIp(c.base)}/${c.prefix}`; }

function contains(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip < c.base + 2 ** (32 - c.prefix);
}

/**
 * The first app subnet of the pool that no address already on this host falls into (bridges of other apps and
 * other installations, the LAN, Docker's networks), or undefined when the pool is full.
 */
export function pickSubnet(pool: Cidr, hostAddresses: string[]): Cidr | undefined {
  const used = hostAddresses.flatMap((a) => { try { return [ipToNumber(a)]; } catch { return []; } });
  const count = 2 ** (APP_PREFIX - pool.prefix);
  for (let i = 0; i < count; i++) {
    const c = { base: pool.base + i * 2 ** (32 - APP_PREFIX), prefix: APP_PREFIX };
    if (!used.some((u) => contains(c, u))) return c;
  }
  return undefined;
}

/** The bridge's own address: the first host of the subnet, the instances' gateway. */
export function gatewayOf(subnet: Cidr): string { return numberToIp(subnet.base + 1); }

/** The lowest instance address of the subnet not in `used` (the gateway and broadcast excluded), or undefined. */
export function pickAddress(subnet: Cidr, used: string[]): string | undefined {
  const taken = new Set(used);
  const last = 2 ** (32 - subnet.prefix) - 2;
  for (let h = 2; h <= last; h++) {
    const ip = numberToIp(subnet.base + h);
    if (!taken.has(ip)) return ip;
  }
  return undefined;
}

function hash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

/**
 * Names of an instance's namespace and host-side veth. Hashed with the state directory, so two installations on one
 * host never collide; interface names stay within the kernel's 15 characters.
 */
export function instanceNames(stateDir: string, instanceId: string): { netns: string; veth: string } {
  const h = hash('instance', stateDir, instanceId);
  return { netns: `${NETNS_PREFIX}${h.slice(0, 16)}`, veth: `${VETH_PREFIX}${h.slice(0, 9)}` };
}

/** The bridge of one app network of one installation. */
export function bridgeName(stateDir: string, network: string): string {
  return `${BRIDGE_PREFIX}${hash('network', stateDir, network).slice(0, 9)}`;
}

/** What attaching one instance needs. */
export interface AttachPlan {
  bridge: string;
  /** Create the bridge first (it does not exist yet). */
  createBridge: boolean;
  subnet: Cidr;
  netns: string;
  veth: string;
  ip: string;
}

/**
 * The `ip -batch` lines that make an app network's bridge: the gateway address, no IPv6 on the host side. Shared by
 * the process runtime (veths) and microVMs (taps, microvm/appnet.ts).
 */
export function bridgeBatch(bridge: string, subnet: Cidr): string[] {
  return [
    `link add ${bridge} type bridge`,
    `link set ${bridge} addrgenmode none`,
    `addr add ${gatewayOf(subnet)}/${subnet.prefix} dev ${bridge}`,
    `link set ${bridge} up`,
  ];
}

/**
 * The host-side `ip -batch` script: (the bridge,) the namespace, a veth pair whose inner end is `eth0` in the
 * namespace, the outer end on the bridge. No IPv6 addresses on the host side, so instances cannot reach host
 * services over link-local IPv6 either.
 */
export function hostBatch(p: AttachPlan): string {
  const lines: string[] = p.createBridge ? bridgeBatch(p.bridge, p.subnet) : [];
  lines.push(
    `netns add ${p.netns}`,
    `link add ${p.veth} type veth peer name eth0 netns ${p.netns}`,
    `link set ${p.veth} addrgenmode none`,
    `link set ${p.veth} master ${p.bridge} up`,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * The MAC an instance's interface gets for an address: fixed by the address (`prefix`, then its four bytes; locally
 * administered), as Docker does on its bridges. Addresses are given again (the lowest free one), and the host and the
 * other instances keep the last MAC they saw for an address for tens of seconds: with a new MAC per instance, a new
 * instance on a just-freed address got no packet until those entries expired (health checks and the edge timed out).
 */
export function macOfAddress(ip: string, prefix = '02:50'): string {
  const n = ipToNumber(ip);
  return [prefix, ...[24, 16, 8, 0].map((b) => ((n >>> b) & 0xff).toString(16).padStart(2, '0'))].join(':');
}

/** The `ip -n <netns> -batch` script run inside the namespace: loopback, the MAC and address, the default route. */
export function namespaceBatch(p: AttachPlan): string {
  return [
    'link set lo up',
    `link set eth0 address ${macOfAddress(p.ip)}`,
    `addr add ${p.ip}/${p.subnet.prefix} dev eth0`,
    'link set eth0 up',
    `route add default via ${gatewayOf(p.subnet)}`,
  ].join('\n') + '\n';
}

/**
 * The filter table for `iptables-restore --noflush` (declaring a chain there empties it, so applying twice is the
 * same as once). Same-app traffic is bridged and accepted; traffic between two apps' bridges is routed and dropped;
 * nothing from elsewhere may open a connection into an app network (the host reaches instances through OUTPUT, not
 * FORWARD); link-local (cloud metadata) is never reachable; the rest leaves only when egress is on. INPUT from a
 * bridge accepts only replies, so instances cannot connect to the host (Pier's API, the edge, anything listening).
 */
export function filterRules(egress: boolean): string {
  const br = `${BRIDGE_PREFIX}+`;
  return [
    '*filter',
    `:${FORWARD_CHAIN} - [0:0]`,
    `:${INPUT_CHAIN} - [0:0]`,
    `-A ${FORWARD_CHAIN} -i ${br} -o ${br} -m physdev --physdev-is-bridged -j ACCEPT`,
    `-A ${FORWARD_CHAIN} -i ${br} -o ${br} -j DROP`,
    `-A ${FORWARD_CHAIN} -o ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `-A ${FORWARD_CHAIN} -o ${br} -j DROP`,
    `-A ${FORWARD_CHAIN} -i ${br} -d 169.254.0.0/16 -j DROP`,
    `-A ${FORWARD_CHAIN} -i ${br} -j ${egress ? 'ACCEPT' : 'DROP'}`,
    `-A ${INPUT_CHAIN} -i ${br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
    `-A ${INPUT_CHAIN} -i ${br} -j DROP`,
    'COMMIT',
    '',
  ].join('\n');
}

/** The nat table: masquerade what leaves the pool for another network, only when egress is on. */
export function natRules(pool: Cidr, egress: boolean): string {
  return [
    '*nat',
    `:${NAT_CHAIN} - [0:0]`,
    ...(egress ? [`-A ${NAT_CHAIN} -s ${cidrString(pool)} ! -o ${BRIDGE_PREFIX}+ -j MASQUERADE`] : []),
    'COMMIT',
    '',
  ].join('\n');
}

/** The jumps into Pier's chains, as [table, builtin chain, Pier chain]; each is inserted at the top once. */
export const JUMPS: Array<[table: string, from: string, to: string]> = [
  ['filter', 'FORWARD', FORWARD_CHAIN],
  ['filter', 'INPUT', INPUT_CHAIN],
  ['nat', 'POSTROUTING', NAT_CHAIN],
];

/** One instance as the app's hosts file lists it. */
export interface HostsEntry { ip: string; hostname: string; aliases: string[] }

/** The app's /etc/hosts: localhost, then each instance's address with its hostname and mesh aliases. */
export function renderHosts(entries: HostsEntry[]): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  const sorted = [...entries].sort((a, b) => ipToNumber(a.ip) - ipToNumber(b.ip));
  for (const e of sorted) lines.push(`${e.ip}\t${[e.hostname, ...e.aliases.filter((a) => /^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(a))].join(' ')}`);
  return `${lines.join('\n')}\n`;
}

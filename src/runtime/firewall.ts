// Pier's host firewall for container networks, as pure builders: the `iptables-restore` text of Pier-owned chains and
// the argv of the jumps into them. No I/O here, so every rule is pinned by fast tests; docker/firewall.ts applies them
// for the Docker runtime. The process runtime's chains (process/netplan.ts) have the same shape with its own bridges.
import { createHash } from 'node:crypto';

/** Every bridge Pier asks Docker to create is named with this prefix, so one wildcard (`pierdk+`) covers them all. */
export const DOCKER_BRIDGE_PREFIX = 'pierdk';
/** Filter chain for forwarded traffic of Pier's Docker networks, jumped to from DOCKER-USER (and FORWARD). */
export const DOCKER_FORWARD_CHAIN = 'PIER-DOCKER-ISOLATION';
/** Filter chain for traffic from Pier's Docker networks to the host itself, jumped to from INPUT. */
export const DOCKER_INPUT_CHAIN = 'PIER-DOCKER-INPUT';
/** Docker's chain for user rules: evaluated first in FORWARD and never flushed by dockerd. */
export const DOCKER_USER_CHAIN = 'DOCKER-USER';
/** Bridges of other owners that Pier's networks must never open connections into (Docker's, the process runtime's). */
export const FOREIGN_BRIDGES = ['docker+', 'br-+', 'pierbr+'];

/** An IP family: rules are written for iptables (4) and ip6tables (6). */
export type IpFamily = 4 | 6;

const LINK_LOCAL: Record<IpFamily, string> = { 4: '169.254.0.0/16', 6: 'fe80::/10' };
const IFACE = /^[A-Za-z0-9_.-]{1,15}\+?$/;

/** The bridge interface of a Pier Docker network: the prefix and 9 hex digits of its name's hash (15 characters). */
export function dockerBridgeName(network: string): string {
  return `${DOCKER_BRIDGE_PREFIX}${createHash('sha256').update(`docker-network\0${network}`).digest('hex').slice(0, 9)}`;
}

/**
 * The interface patterns the rules cover: the Pier wildcard first, then bridges of Pier networks named otherwise
 * (created before bridges were named, or by another part of Pier), sorted and without duplicates. A name that is no
 * valid interface name is refused: it would otherwise reach iptables-restore's input.
 */
export function bridgePatterns(extra: readonly string[]): string[] {
  for (const name of extra) if (!IFACE.test(name)) throw new Error(`not an interface name: ${JSON.stringify(name)}`);
  const wildcard = `${DOCKER_BRIDGE_PREFIX}+`;
  return [wildcard, ...[...new Set(extra)].filter((n) => n !== wildcard && !n.startsWith(DOCKER_BRIDGE_PREFIX)).sort()];
}

/**
 * The filter table for `iptables-restore --noflush` (declaring a chain there empties it, so applying twice is the same
 * as once). For each Pier bridge: traffic bridged inside the network is left to Docker's own rules (same app; icc);
 * replies come back in; nothing else opens a connection into the network (another app, another bridge, the LAN);
 * from the network, link-local (cloud metadata) and every other bridge are dropped, the rest (egress) goes on to
 * Docker's rules. INPUT from a bridge accepts only replies: the host (any of its addresses, the bridge gateway, the
 * API, the edge) is unreachable from a container, while the host still reaches containers (edge, health:
 * OUTPUT to the bridge, replies back through INPUT).
 */
export function isolationRules(bridges: readonly string[], family: IpFamily = 4): string {
  const fwd = DOCKER_FORWARD_CHAIN;
  const lines = ['*filter', `:${fwd} - [0:0]`, `:${DOCKER_INPUT_CHAIN} - [0:0]`];
  for (const b of bridges) lines.push(`-A ${fwd} -i ${b} -o ${b} -m physdev --physdev-is-bridged -j RETURN`);
  for (const b of bridges) {
    lines.push(
      `-A ${fwd} -o ${b} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
      `-A ${fwd} -o ${b} -j DROP`,
    );
  }
  for (const b of bridges) {
    lines.push(`-A ${fwd} -i ${b} -d ${LINK_LOCAL[family]} -j DROP`);
    for (const other of FOREIGN_BRIDGES) lines.push(`-A ${fwd} -i ${b} -o ${other} -j DROP`);
  }
  for (const b of bridges) {
    lines.push(
      `-A ${DOCKER_INPUT_CHAIN} -i ${b} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN`,
      `-A ${DOCKER_INPUT_CHAIN} -i ${b} -j DROP`,
    );
  }
  lines.push('COMMIT', '');
  return lines.join('\n');
}

/** A jump from a built-in (or Docker's) chain into one of Pier's. */
export interface Jump { from: string; to: string }

/**
 * The jumps into Pier's Docker chains. DOCKER-USER is where Docker promises user rules run first and stay put (it
 * inserts its per-network ACCEPTs at the top of FORWARD, above anything else); the FORWARD jump covers an engine
 * started without iptables management, where DOCKER-USER does not exist.
 */
export const DOCKER_JUMPS: readonly Jump[] = [
  { from: DOCKER_USER_CHAIN, to: DOCKER_FORWARD_CHAIN },
  { from: 'FORWARD', to: DOCKER_FORWARD_CHAIN },
  { from: 'INPUT', to: DOCKER_INPUT_CHAIN },
];

/** argv (after the program) that succeeds when the jump exists. */
export function jumpCheckArgs(j: Jump): string[] { return ['-w', '-t', 'filter', '-C', j.from, '-j', j.to]; }
/** argv that inserts the jump at the top of its chain. */
export function jumpInsertArgs(j: Jump): string[] { return ['-w', '-t', 'filter', '-I', j.from, '1', '-j', j.to]; }
/** argv that deletes one copy of the jump. */
export function jumpDeleteArgs(j: Jump): string[] { return ['-w', '-t', 'filter', '-D', j.from, '-j', j.to]; }
/** argv that succeeds when a chain exists. */
export function chainListArgs(chain: string): string[] { return ['-w', '-t', 'filter', '-S', chain]; }
/** argv that empties a chain. */
export function chainFlushArgs(chain: string): string[] { return ['-w', '-t', 'filter', '-F', chain]; }
/** argv that deletes an (empty, unreferenced) chain. */
export function chainDeleteArgs(chain: string): string[] { return ['-w', '-t', 'filter', '-X', chain]; }

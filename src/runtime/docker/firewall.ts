// Applies Pier's firewall for Docker networks (rules from ../firewall.ts) to this host: Pier-owned chains rebuilt with
// `iptables-restore --noflush` (idempotent), jumps inserted once, argv arrays only. Which bridges are Pier's comes from
// the engine: every network labelled Pier-owned or `dev.pier.role=build`, whatever its bridge is called.
import { MANAGED_LABEL } from '../common.ts';
import { program, runProgram } from '../sbin.ts';
import {
  DOCKER_FORWARD_CHAIN, DOCKER_INPUT_CHAIN, DOCKER_JUMPS, bridgePatterns, chainDeleteArgs, chainFlushArgs, chainListArgs,
  isolationRules, jumpCheckArgs, jumpDeleteArgs, jumpInsertArgs,
} from '../firewall.ts';
import { withHostLock } from '../process/hostlock.ts';
import type { DockerEngine } from './engine.ts';

/** Label (and value) of the network builds run on; its rules are the instances' rules. */
export const ROLE_LABEL = 'dev.pier.role';
/** Docker's network option naming the bridge interface. */
export const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';
/** Host-wide lock: several installations (and control planes) rebuild the same chains. */
export const FIREWALL_LOCK = '/run/pier/docker-firewall.lock';

/** Why the firewall cannot be installed here (not root, no iptables), or null when it can. */
export function firewallUnavailable(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root';
  for (const p of ['iptables', 'iptables-restore']) if (!program(p)) return `${p} is not installed (apt-get install iptables)`;
  return null;
}

const run = runProgram;

const succeeds = (file: string, args: string[]) => run(file, args).then(() => true, () => false);

interface NetworkSummary { Name: string; Id: string; Driver: string; Labels: Record<string, string> | null; Options: Record<string, string> | null }

/** Whether a network is Pier's to protect: created by the runtime, or the build network. */
export function isPierNetwork(n: Pick<NetworkSummary, 'Labels'>): boolean {
  return n.Labels?.[MANAGED_LABEL] === 'true' || n.Labels?.[ROLE_LABEL] === 'build';
}

/** The bridge interface Docker gives a bridge network: its name option, else `br-` and 12 digits of its id. */
export function bridgeOf(n: Pick<NetworkSummary, 'Id' | 'Options'>): string {
  return n.Options?.[BRIDGE_NAME_OPTION] || `br-${n.Id.slice(0, 12)}`;
}

async function applyFamily(restore: string, tables: string, rules: string): Promise<void> {
  await run(restore, ['-w', '--noflush'], rules);
  for (const j of DOCKER_JUMPS) {
    if (!(await succeeds(tables, chainListArgs(j.from)))) continue; // DOCKER-USER exists only where dockerd manages iptables
    if (!(await succeeds(tables, jumpCheckArgs(j)))) await run(tables, jumpInsertArgs(j));
  }
}

/**
 * Writes the chains for these bridge patterns and the jumps into them. IPv4 must succeed; IPv6 is defence in depth
 * (Docker disables IPv6 inside containers of IPv4-only networks), so its failure is returned as a warning.
 */
async function apply(bridges: string[]): Promise<string[]> {
  const restore = program('iptables-restore');
  const tables = program('iptables');
  if (!restore || !tables) throw new Error('iptables-restore is not installed (apt-get install iptables)');
  await applyFamily(restore, tables, isolationRules(bridges, 4));
  const restore6 = program('ip6tables-restore');
  const tables6 = program('ip6tables');
  if (!restore6 || !tables6) return ['ip6tables is not installed: IPv6 rules skipped'];
  try {
    await applyFamily(restore6, tables6, isolationRules(bridges, 6));
  } catch (err) {
    return [`IPv6 rules not installed: ${(err as Error).message}`];
  }
  return [];
}

/** Installs and refreshes the rules for the Pier networks of one engine. */
export class DockerFirewall {
  private applied: string | undefined;
  private pending: Promise<void> | undefined;
  private readonly warned = new Set<string>();

  constructor(
    private readonly engine: DockerEngine,
    private readonly log: (line: string) => void,
    private readonly lockPath = FIREWALL_LOCK,
  ) {}

  /** Installs the rules once per process (they are host-wide and survive a restart of Pier or dockerd). */
  ensure(): Promise<void> {
    if (this.applied !== undefined) return Promise.resolve();
    return this.refresh();
  }

  /**
   * Rebuilds the chains from the engine's Pier networks now: after creating a network whose bridge is not covered by
   * the wildcard, or when a network appears that this process did not create (the build network). Concurrent calls
   * share one pass.
   */
  refresh(): Promise<void> {
    this.pending ??= this.rebuild().finally(() => { this.pending = undefined; });
    return this.pending;
  }

  private async rebuild(): Promise<void> {
    await withHostLock(this.lockPath, async () => {
      const nets = await this.engine.json<NetworkSummary[]>('GET', '/networks');
      const extra = nets.filter((n) => n.Driver === 'bridge' && isPierNetwork(n)).map(bridgeOf);
      const bridges = bridgePatterns(extra);
      const warnings = await apply(bridges);
      const key = bridges.join(' ');
      for (const w of warnings) if (!this.warned.has(w)) { this.warned.add(w); this.log(`docker runtime: ${w}`); }
      this.applied = key;
    });
  }

  /** Whether an interface is covered by the rules this process installed (false before the first install). */
  covers(bridge: string): boolean {
    if (this.applied === undefined) return false;
    return this.applied.split(' ').some((p) => (p.endsWith('+') ? bridge.startsWith(p.slice(0, -1)) : bridge === p));
  }
}

/** Removes Pier's Docker chains and every jump to them (explicit cleanup; nothing else of the host is touched). */
export async function removeDockerFirewall(): Promise<void> {
  for (const name of ['iptables', 'ip6tables']) {
    const tables = program(name);
    if (!tables) continue;
    for (const j of DOCKER_JUMPS) {
      for (let i = 0; i < 10 && await succeeds(tables, jumpDeleteArgs(j)); i++) { /* every copy */ }
    }
    for (const chain of [DOCKER_FORWARD_CHAIN, DOCKER_INPUT_CHAIN]) {
      await run(tables, chainFlushArgs(chain)).catch(() => undefined);
      await run(tables, chainDeleteArgs(chain)).catch(() => undefined);
    }
  }
}

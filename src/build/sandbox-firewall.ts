// What a process-target build may reach: its steps share the host's network (they need the package registries), so
// Pier fences them by uid: OUTPUT jumps to BUILD_OUTPUT_CHAIN for sockets of BUILD_UID, which refuses every address
// of this host, link-local and every bridge (sandbox.ts buildFirewallRules). IPv4 and IPv6; installed once per
// process, idempotently (declaring the chain in iptables-restore empties it first).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { BUILD_OUTPUT_CHAIN, buildFirewallRules, buildOutputJump, resolversOf } from './sandbox.ts';

const SBIN = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

function program(name: string): string | undefined {
  return SBIN.map((d) => `${d}/${name}`).find((p) => existsSync(p));
}

function run(file: string, args: string[], input = ''): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'ignore', 'pipe'], env: { PATH: SBIN.join(':'), LC_ALL: 'C' } });
    let err = '';
    child.stderr.on('data', (c) => { err += c; });
    child.on('error', reject);
    child.on('close', (code) => code === 0 ? resolve() : reject(new Error(`${file.split('/').pop()} ${args.join(' ')}: ${err.trim() || `exit ${code}`}`)));
    child.stdin.on('error', () => { /* reported by close */ });
    child.stdin.end(input);
  });
}

async function apply(v6: boolean, resolvers: string[]): Promise<void> {
  const restore = program(v6 ? 'ip6tables-restore' : 'iptables-restore');
  const tables = program(v6 ? 'ip6tables' : 'iptables');
  if (!restore || !tables) {
    if (v6) return; // no IPv6 tooling: the host has no IPv6 to protect either
    throw new Error('process builds need iptables to keep them off the host\'s listeners (apt-get install iptables)');
  }
  await run(restore, ['-w', '--noflush'], buildFirewallRules(resolvers, v6));
  const jump = buildOutputJump();
  const present = await run(tables, ['-w', '-C', 'OUTPUT', ...jump]).then(() => true, () => false);
  if (!present) await run(tables, ['-w', '-I', 'OUTPUT', '1', ...jump]);
}

let installed: Promise<void> | undefined;

/** Installs (once per process) the rules that keep BUILD_UID's traffic off this host, link-local and bridges. */
export function ensureBuildFirewall(): Promise<void> {
  installed ??= (async () => {
    let resolv = '';
    try { resolv = readFileSync('/etc/resolv.conf', 'utf8'); } catch { /* no resolver configured: no DNS exception */ }
    const resolvers = resolversOf(resolv);
    await apply(false, resolvers);
    await apply(true, resolvers).catch((err: Error) => {
      // A host without IPv6 in the kernel cannot load the ip6 tables; anything else is a real failure.
      if (existsSync('/proc/net/if_inet6')) throw err;
    });
  })();
  installed.catch(() => { installed = undefined; });
  return installed;
}

/** Removes the chain and its jump (explicit cleanup only: every installation on the host shares them). */
export async function removeBuildFirewall(): Promise<void> {
  for (const v6 of [false, true]) {
    const tables = program(v6 ? 'ip6tables' : 'iptables');
    if (!tables) continue;
    for (let i = 0; i < 10 && await run(tables, ['-w', '-D', 'OUTPUT', ...buildOutputJump()]).then(() => true, () => false); i++) { /* every copy */ }
    await run(tables, ['-w', '-F', BUILD_OUTPUT_CHAIN]).catch(() => undefined);
    await run(tables, ['-w', '-X', BUILD_OUTPUT_CHAIN]).catch(() => undefined);
  }
  installed = undefined;
}

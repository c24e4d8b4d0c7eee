// MicroVM networking: one host bridge (`piervm0`, the first address of PIER's microVM subnet), one tap device per VM
// on it, one address per instance claimed as a file in a host-wide directory (default /run/pier/microvm-addresses:
// several installations share the bridge, so they must share the claims; /run is empty after a reboot, as are the VMs).
// The edge and health checks reach `<instance address>:<port>` directly. Like the process runtime's INPUT chain, new
// connections from the bridge to the host are dropped (replies pass), so an instance reaches no host service; every
// tap is an isolated bridge port, so no VM reaches another (there are no per-app networks for VMs yet).
import { createHash } from 'node:crypto';
import { mkdirSync, openSync, closeSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { program, runProgram } from '../sbin.ts';
import { macOfAddress } from '../process/netplan.ts';

/** The bridge and its /24 (the bridge owns .1; instances get .2-.254). */
export interface VmNetworkPlan { bridge: string; prefix: string }

export const DEFAULT_VM_NETWORK: VmNetworkPlan = { bridge: 'piervm0', prefix: '10.214.0' };

/** The tap device name of an instance (at most 15 characters). */
export function tapName(instanceId: string): string {
  return `piervt${createHash('sha256').update(instanceId).digest('hex').slice(0, 8)}`;
}

/**
 * A VM's MAC: fixed by its address (process/netplan.ts macOfAddress), so a VM given a just-freed address is reached
 * at once by the host and its neighbours, whose entries still hold the MAC of the address's last VM.
 */
export function macOf(address: string): string {
  return macOfAddress(address, '52:54');
}

async function ip(args: string[]): Promise<string> {
  const bin = program('ip');
  if (!bin) throw new Error('ip is not installed (apt-get install iproute2)');
  return runProgram(bin, args);
}

/** Creates the bridge with its address (idempotent) and the INPUT rule that keeps instances off the host. */
export async function ensureBridge(plan: VmNetworkPlan): Promise<void> {
  const exists = await ip(['link', 'show', plan.bridge]).then(() => true, () => false);
  if (!exists) {
    await ip(['link', 'add', plan.bridge, 'type', 'bridge']).catch((err) => { if (!/exists/i.test(String(err))) throw err; });
    await ip(['addr', 'replace', `${plan.prefix}.1/24`, 'dev', plan.bridge]);
    await ip(['link', 'set', plan.bridge, 'up']);
  }
  const iptables = program('iptables');
  if (!iptables) return;
  const rule = ['INPUT', '-i', plan.bridge, '-m', 'conntrack', '--ctstate', 'NEW', '-j', 'DROP'];
  await runProgram(iptables, ['-w', '-C', ...rule]).catch(() => runProgram(iptables, ['-w', '-I', ...rule]));
}

/** Where address claims live unless told otherwise. */
export const ADDRESS_CLAIMS_DIR = '/run/pier/microvm-addresses';

/** Claims a free address for an instance in the claims directory `dir`; resolves with it (e.g. 10.214.0.7). */
export function claimAddress(dir: string, plan: VmNetworkPlan, instanceId: string): string {
  mkdirSync(dir, { recursive: true });
  for (let n = 2; n < 255; n++) {
    const addr = `${plan.prefix}.${n}`;
    try {
      closeSync(openSync(join(dir, `${addr}-${instanceId}`), 'wx'));
    } catch { continue; }
    // Another instance may hold the same address under its own name: the lowest claimant keeps it.
    const holders = readdirSync(dir).filter((f) => f.startsWith(`${addr}-`)).sort();
    if (holders[0] === `${addr}-${instanceId}`) return addr;
    rmSync(join(dir, `${addr}-${instanceId}`), { force: true });
  }
  throw new Error(`no free address left in ${plan.prefix}.0/24 for microVMs`);
}

/** Releases an instance's address claim. */
export function releaseAddress(dir: string, addr: string, instanceId: string): void {
  rmSync(join(dir, `${addr}-${instanceId}`), { force: true });
}

/** Creates the instance's tap device on the bridge. */
export async function createTap(plan: VmNetworkPlan, tap: string): Promise<void> {
  await ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap']).catch((err) => { if (!/exists|busy/i.test(String(err))) throw err; });
  await ip(['link', 'set', tap, 'master', plan.bridge]);
  // An isolated bridge port forwards only to non-isolated ones (the host side): no VM reaches another VM.
  await ip(['link', 'set', 'dev', tap, 'type', 'bridge_slave', 'isolated', 'on']);
  await ip(['link', 'set', tap, 'up']);
}

/** Deletes a tap device (no-op when gone). */
export async function deleteTap(tap: string): Promise<void> {
  await ip(['link', 'del', tap]).catch(() => undefined);
}

// Per-instance cgroups for the process runtime, on cgroup v2 (unified) and v1 (one hierarchy per controller).
// Every path is derived from the instance id, so a restarted control plane finds the cgroup without stored state.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the cgroup hierarchies are mounted on this machine. */
export type CgroupLayout =
  | { version: 'v2'; root: string }
  | { version: 'v1'; mounts: { memory: string; cpu: string; cpuacct: string; pids?: string; freezer?: string } };

/** Limits applied to one instance. */
export interface CgroupLimits { cpu: number; memoryBytes: number; pids: number }

const CFS_PERIOD_US = 100_000;

/** Finds the cgroup mounts from /proc/self/mountinfo text; v1 wins when the memory controller is mounted there. */
export function detectCgroupLayout(mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): CgroupLayout | null {
  const v1: Record<string, string> = {};
  let v2: string | undefined;
  for (const { mountPoint, fstype, superOpts } of cgroupMounts(mountinfo)) {
    if (fstype === 'cgroup2' && (v2 === undefined || mountPoint === '/sys/fs/cgroup')) v2 = mountPoint;
    if (fstype === 'cgroup') for (const opt of superOpts) if (['memory', 'cpu', 'cpuacct', 'pids', 'freezer'].includes(opt)) v1[opt] ??= mountPoint;
  }
  if (v1.memory && v1.cpu && v1.cpuacct) return { version: 'v1', mounts: { memory: v1.memory, cpu: v1.cpu, cpuacct: v1.cpuacct, pids: v1.pids, ...(v1.freezer ? { freezer: v1.freezer } : {}) } };
  if (v2 && existsSync(join(v2, 'cgroup.controllers'))) return { version: 'v2', root: v2 };
  return null;
}

/**
 * Whether moving a process into a cgroup skips the RCU grace period: the cgroup2 mount's `favordynmods` (it acts on
 * every hierarchy, v1 ones of a hybrid host too). Without it the first move after a quiet spell waits for a grace
 * period (7-20 ms measured on these machines), on every instance start and wake; scripts/setup-host.sh turns it on.
 * From /proc/self/mountinfo and /sys/kernel/cgroup/features text; undefined where there is no cgroup2 mount, or the
 * kernel has no such option and it is not on.
 */
export function cgroupJoinTuning(mountinfo: string, features: string | undefined): { mount: string; on: boolean } | undefined {
  const v2 = cgroupMounts(mountinfo).find((m) => m.fstype === 'cgroup2');
  if (!v2) return undefined;
  const on = v2.superOpts.includes('favordynmods');
  if (!on && !(features ?? '').split('\n').includes('favordynmods')) return undefined;
  return { mount: v2.mountPoint, on };
}

/** The cgroup (v1) and cgroup2 mounts in /proc/self/mountinfo text: mount point, type and superblock options. */
function cgroupMounts(mountinfo: string): { mountPoint: string; fstype: 'cgroup' | 'cgroup2'; superOpts: string[] }[] {
  const out: { mountPoint: string; fstype: 'cgroup' | 'cgroup2'; superOpts: string[] }[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const [fstype, , superOpts = ''] = line.slice(sep + 3).split(' ');
    if (fstype === 'cgroup' || fstype === 'cgroup2') out.push({ mountPoint: line.slice(0, sep).split(' ')[4]!, fstype, superOpts: superOpts.split(',') });
  }
  return out;
}

function readText(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

function readNumber(path: string): number {
  const t = readText(path)?.trim();
  return t && /^\d+$/.test(t) ? Number(t) : 0;
}

/** Reads `key value` lines (memory.events, memory.oom_control, cpu.stat, memory.stat). */
export function readKeyed(path: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (readText(path) ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

function tryWrite(path: string, value: string): boolean {
  try { writeFileSync(path, value); return true; } catch { return false; }
}

/** The cgroup(s) of one instance: `<parent>/<instanceId>` in each hierarchy. */
/** CFS quota per CFS_PERIOD_US for `cpu` vCPUs; -1 (no quota) for 0. */
function cfsQuota(cpu: number): number {
  return cpu > 0 ? Math.max(1000, Math.round(cpu * CFS_PERIOD_US)) : -1;
}

export class InstanceCgroup {
  readonly layout: CgroupLayout;
  readonly parent: string;
  readonly name: string;

  constructor(layout: CgroupLayout, parent: string, name: string) {
    this.layout = layout;
    this.parent = parent;
    this.name = name;
  }

  /** The instance's directory in every hierarchy it uses. */
  dirs(): string[] {
    if (this.layout.version === 'v2') return [join(this.layout.root, this.parent, this.name)];
    const m = this.layout.mounts;
    return [...new Set([m.memory, m.cpu, m.cpuacct, m.pids, m.freezer].filter((x): x is string => !!x))].map((mnt) => join(mnt, this.parent, this.name));
  }

  private mountPoints(): string[] {
    if (this.layout.version === 'v2') return [this.layout.root];
    const m = this.layout.mounts;
    return [m.memory, m.cpu, m.cpuacct, m.pids, m.freezer].filter((x): x is string => !!x);
  }

  private dir(controller: 'memory' | 'cpu' | 'cpuacct' | 'pids' | 'freezer'): string | undefined {
    if (this.layout.version === 'v2') return join(this.layout.root, this.parent, this.name);
    const mnt = this.layout.mounts[controller];
    return mnt ? join(mnt, this.parent, this.name) : undefined;
  }

  /** Creates the cgroup and writes the limits; throws if the memory limit cannot be set (it is the one we promise). */
  create(limits: CgroupLimits): void {
    const memory = String(Math.max(0, Math.floor(limits.memoryBytes)));
    const quota = cfsQuota(limits.cpu);
    for (const mount of this.mountPoints()) if (!existsSync(mount)) throw new Error(`cgroup hierarchy not mounted at ${mount}`);
    if (this.layout.version === 'v2') {
      const root = this.layout.root;
      const parentDir = join(root, this.parent);
      mkdirSync(parentDir, { recursive: true });
      // Controllers must be enabled top-down for the leaf to get memory.max and cpu.max.
      for (const c of ['+memory', '+cpu', '+pids']) { tryWrite(join(root, 'cgroup.subtree_control'), c); tryWrite(join(parentDir, 'cgroup.subtree_control'), c); }
      const dir = join(parentDir, this.name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'memory.max'), memory);
      tryWrite(join(dir, 'memory.swap.max'), '0');
      tryWrite(join(dir, 'cpu.max'), quota > 0 ? `${quota} ${CFS_PERIOD_US}` : `max ${CFS_PERIOD_US}`);
      tryWrite(join(dir, 'pids.max'), String(limits.pids));
      return;
    }
    for (const d of this.dirs()) mkdirSync(d, { recursive: true });
    const mem = this.dir('memory')!;
    writeFileSync(join(mem, 'memory.limit_in_bytes'), memory);
    tryWrite(join(mem, 'memory.memsw.limit_in_bytes'), memory); // no swap on top (only with swap accounting)
    tryWrite(join(mem, 'memory.swappiness'), '0');
    const cpu = this.dir('cpu')!;
    tryWrite(join(cpu, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
    tryWrite(join(cpu, 'cpu.cfs_quota_us'), String(quota));
    const pids = this.dir('pids');
    if (pids) tryWrite(join(pids, 'pids.max'), String(limits.pids));
  }

  /** Changes the CPU limit of an existing cgroup (a startup boost ending); vCPUs, 0 = unlimited. */
  setCpu(cpu: number): void {
    const quota = cfsQuota(cpu);
    if (this.layout.version === 'v2') writeFileSync(join(this.dir('cpu')!, 'cpu.max'), quota > 0 ? `${quota} ${CFS_PERIOD_US}` : `max ${CFS_PERIOD_US}`);
    else writeFileSync(join(this.dir('cpu')!, 'cpu.cfs_quota_us'), String(quota));
  }

  /** The files a process writes its pid into to join the cgroup in every hierarchy. */
  procsFiles(): string[] {
    return this.dirs().map((d) => join(d, 'cgroup.procs'));
  }

  /** Whether any of the instance's cgroup directories exists. */
  exists(): boolean {
    return this.dirs().some((d) => existsSync(d));
  }

  /** Every pid currently in the cgroup. */
  pids(): number[] {
    const set = new Set<number>();
    for (const f of this.procsFiles()) for (const l of (readText(f) ?? '').split('\n')) if (/^\d+$/.test(l.trim())) set.add(Number(l.trim()));
    return [...set];
  }

  /** The enforced CPU limit in vCPUs (0 = unlimited) and memory limit in bytes, read back from the kernel. */
  limits(): { cpu: number; memoryBytes: number } {
    if (this.layout.version === 'v2') {
      const [quota, period] = (readText(join(this.dir('cpu')!, 'cpu.max')) ?? 'max').trim().split(/\s+/);
      const cpu = quota === 'max' ? 0 : Number(quota) / Number(period || CFS_PERIOD_US);
      return { cpu, memoryBytes: readNumber(join(this.dir('memory')!, 'memory.max')) };
    }
    const quota = Number((readText(join(this.dir('cpu')!, 'cpu.cfs_quota_us')) ?? '-1').trim());
    const period = readNumber(join(this.dir('cpu')!, 'cpu.cfs_period_us')) || CFS_PERIOD_US;
    return { cpu: quota > 0 ? quota / period : 0, memoryBytes: readNumber(join(this.dir('memory')!, 'memory.limit_in_bytes')) };
  }

  /** Memory in use without reclaimable page cache, like `docker stats`. */
  memoryBytes(): number {
    const mem = this.dir('memory')!;
    if (this.layout.version === 'v2') return Math.max(0, readNumber(join(mem, 'memory.current')) - (readKeyed(join(mem, 'memory.stat')).inactive_file ?? 0));
    return Math.max(0, readNumber(join(mem, 'memory.usage_in_bytes')) - (readKeyed(join(mem, 'memory.stat')).total_inactive_file ?? 0));
  }

  /** Total CPU time used, in nanoseconds. */
  cpuUsageNs(): number {
    if (this.layout.version === 'v2') return (readKeyed(join(this.dir('cpu')!, 'cpu.stat')).usage_usec ?? 0) * 1000;
    return readNumber(join(this.dir('cpuacct')!, 'cpuacct.usage'));
  }

  /** Whether the kernel's OOM killer killed a process of this cgroup. */
  oomKilled(): boolean {
    const mem = this.dir('memory')!;
    if (this.layout.version === 'v2') return (readKeyed(join(mem, 'memory.events')).oom_kill ?? 0) > 0;
    const ctl = readKeyed(join(mem, 'memory.oom_control'));
    if (ctl.oom_kill !== undefined) return ctl.oom_kill > 0;
    return readNumber(join(mem, 'memory.failcnt')) > 0; // kernels before 4.13 only count limit hits
  }

  /** Whether this cgroup can be frozen: v2's cgroup.freeze, or v1's freezer hierarchy (mounted at start). */
  canFreeze(): boolean {
    if (this.layout.version === 'v2') return existsSync(join(this.dir('memory')!, 'cgroup.freeze'));
    const f = this.dir('freezer');
    return !!f && existsSync(join(f, 'freezer.state'));
  }

  /** Whether every process of the cgroup is frozen now. */
  frozen(): boolean {
    if (this.layout.version === 'v2') return readKeyed(join(this.dir('memory')!, 'cgroup.events')).frozen === 1;
    const f = this.dir('freezer');
    return !!f && readText(join(f, 'freezer.state'))?.trim() === 'FROZEN';
  }

  /**
   * Freezes (true) or thaws (false) every process of the cgroup and waits, bounded by `timeoutMs`, until the kernel
   * reports it done (v1 passes through FREEZING; v2 sets `frozen` in cgroup.events). Memory and sockets stay.
   */
  async setFrozen(on: boolean, timeoutMs = 2000): Promise<void> {
    const [file, value] = this.layout.version === 'v2'
      ? [join(this.dir('memory')!, 'cgroup.freeze'), on ? '1' : '0']
      : [join(this.dir('freezer') ?? '/nonexistent', 'freezer.state'), on ? 'FROZEN' : 'THAWED'];
    if (!this.canFreeze()) throw new Error('this cgroup cannot be frozen (no cgroup v2 cgroup.freeze, no v1 freezer hierarchy)');
    writeFileSync(file, value);
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; this.frozen() !== on; i++) {
      if (Date.now() >= deadline) throw new Error(`the cgroup did not ${on ? 'freeze' : 'thaw'} within ${timeoutMs} ms`);
      // v1 retries a freeze that met a process in an uninterruptible sleep on the next write.
      if (on && this.layout.version === 'v1' && i % 10 === 9) tryWrite(file, value);
      await new Promise((r) => setTimeout(r, i < 10 ? 1 : 10));
    }
  }

  /** Kills every process in the cgroup (cgroup.kill on v2 when the kernel has it). */
  killAll(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (signal === 'SIGKILL' && this.layout.version === 'v2' && tryWrite(join(this.dir('memory')!, 'cgroup.kill'), '1')) return;
    for (const pid of this.pids()) { try { process.kill(pid, signal); } catch { /* already gone */ } }
  }

  /** Removes the cgroup directories (the kernel refuses while processes remain, so kill first). */
  destroy(): void {
    for (const d of this.dirs()) {
      if (!existsSync(d)) continue;
      try { rmdirSync(d); } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
}

/** Lists instance cgroup names under the parent (for cleanup of cgroups whose state directory vanished). */
export function listInstanceCgroups(layout: CgroupLayout, parent: string): string[] {
  const base = layout.version === 'v2' ? join(layout.root, parent) : join(layout.mounts.memory, parent);
  try { return readdirSync(base, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name); } catch { return []; }
}

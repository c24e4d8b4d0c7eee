// Disk limits of Docker instances, and how this engine enforces them: `HostConfig.StorageOpt.size` where its storage
// driver supports it (overlay2 on xfs mounted with pquota, zfs), else a size-limited ext4 upper layer per container
// (upper-disk.ts), else not at all (the operator is told once). Learnt once, by trying.
import { formatBytes, instanceMessage } from '../../domain/messages.ts';
import type { ExitStatus } from '../contract.ts';
import { DockerEngine, EngineError } from './engine.ts';
import type { StartSpans } from './timing.ts';
import { type GraphDriver, UpperDisks, upperDisksUnavailable } from './upper-disk.ts';

/** What is known of the engine's support for `StorageOpt.size`. */
export type DiskQuota = 'unknown' | 'enforced' | 'unsupported';

/** How this engine's instances get their disk limit. */
export type DiskMode = 'storage-opt' | 'upper-disk' | 'none';

/** Whether a create refusal is the storage driver refusing `StorageOpt` (and not, say, a missing image). */
export function isStorageOptRefusal(err: unknown): boolean {
  if (!(err instanceof EngineError) || err.status < 400) return false;
  return /storage[- ]?opt|storage option|quota/i.test(err.message);
}

/** The message an operator reads when disk limits cannot be enforced, with the engine's own reason. */
export function diskNotEnforcedMessage(reason: string): string {
  return `docker runtime: WARNING instance types' disk limits are NOT enforced on this engine: ${reason}`;
}

/**
 * Tries `StorageOpt` on a throwaway container (never started) from any local image: 'enforced', 'unsupported', or
 * 'unknown' when the engine has no image yet (the first instance's create then decides).
 */
export async function probeDiskQuota(engine: DockerEngine): Promise<{ quota: DiskQuota; reason?: string }> {
  const images = await engine.json<Array<{ Id: string }>>('GET', '/images/json');
  if (images.length === 0) return { quota: 'unknown' };
  let created: { Id: string };
  try {
    created = await engine.json<{ Id: string }>('POST', '/containers/create', {
      query: { name: `pier-diskprobe-${Math.random().toString(16).slice(2, 10)}` },
      body: { Image: images[0].Id, Entrypoint: ['/pier-disk-probe'], HostConfig: { NetworkMode: 'none', StorageOpt: { size: String(1024 ** 3) } } },
    });
  } catch (err) {
    if (isStorageOptRefusal(err)) return { quota: 'unsupported', reason: (err as Error).message };
    return { quota: 'unknown' };
  }
  await engine.jsonOrNull('DELETE', `/containers/${created.Id}`, { query: { force: true, v: true } });
  return { quota: 'enforced' };
}

/** A failed exit is blamed on the disk when this little is left (or less). */
export function nearlyFull(limitBytes: number, freeBytes: number): boolean {
  return freeBytes <= Math.max(limitBytes * 0.02, 8 * 1024 * 1024);
}

/** The exit message of an instance that failed with its disk (nearly) full, or undefined. */
export function diskFullMessage(o: { limitBytes: number; usedBytes: number; freeBytes: number; exitCode: number; afterMs: number }): string | undefined {
  if (!(o.limitBytes > 0) || !nearlyFull(o.limitBytes, o.freeBytes)) return undefined;
  return instanceMessage.exited(o.exitCode, o.afterMs, `disk full (the instance type's ${formatBytes(o.limitBytes)} disk; ${formatBytes(o.usedBytes)} in use)`);
}

/** The parts of a container's inspect output that disk limits need. */
export interface DiskInspect {
  Id: string;
  HostConfig?: { StorageOpt?: Record<string, string> | null };
  State: { StartedAt: string; FinishedAt: string };
}

/** Decides how this engine's instances get their disk limit, sets it up per container and explains a full disk. */
export class DockerDisks {
  private decided: DiskMode | undefined;
  private readonly upper: UpperDisks;

  constructor(private readonly engine: DockerEngine, dir: string, private readonly log: (line: string) => void) {
    this.upper = new UpperDisks(dir);
  }

  /**
   * The mode, decided once: StorageOpt if the storage driver takes it, else per-container ext4 layers if they work
   * here, else none (said once). Undefined while the engine has no image to probe with.
   */
  async mode(): Promise<DiskMode | undefined> {
    if (this.decided) return this.decided;
    const probe = await probeDiskQuota(this.engine);
    if (probe.quota === 'unknown') return undefined;
    let mode: DiskMode = 'storage-opt';
    if (probe.quota === 'unsupported') {
      const why = upperDisksUnavailable(await this.engine.json<{ Driver: string; DockerRootDir: string }>('GET', '/info'));
      mode = why ? 'none' : 'upper-disk';
      if (why) this.log(diskNotEnforcedMessage(`the storage driver refuses --storage-opt size (${probe.reason}) and per-instance disks cannot work: ${why}`));
    }
    this.decided ??= mode;
    return this.decided;
  }

  /** Gives a created, not yet started container its disk when that is this engine's way. */
  async afterCreate(containerId: string, bytes: number | undefined, t?: StartSpans): Promise<void> {
    if (!bytes || bytes <= 0 || (await this.mode()) !== 'upper-disk') return;
    const span = <T>(name: string, fn: () => Promise<T>) => (t ? t.span(name, fn) : fn());
    const c = await span('disk_inspect', () => this.engine.json<{ GraphDriver: GraphDriver }>('GET', `/containers/${containerId}/json`));
    await this.upper.attach(containerId, c.GraphDriver, bytes, span);
  }

  /** Whether removing this container must release a disk first (the container stopped). */
  holds(containerId: string): boolean { return this.upper.has(containerId); }

  /** Releases a container's disk (it must not be running); a no-op without one. */
  release(containerId: string): Promise<void> { return this.upper.detach(containerId); }

  /** The exit, with a "disk full" message instead of the bare exit code when the disk is (nearly) full. */
  async explainExit(c: DiskInspect, exit: ExitStatus): Promise<ExitStatus> {
    if (exit.oomKilled || exit.error || !exit.exitCode) return exit;
    let usage: { limitBytes: number; usedBytes: number; freeBytes: number } | undefined;
    const own = this.upper.usage(c.Id);
    const quota = Number(c.HostConfig?.StorageOpt?.size ?? 0);
    if (own) {
      usage = { limitBytes: own.sizeBytes, usedBytes: own.usedBytes, freeBytes: own.freeBytes };
    } else if (quota > 0) {
      const sized = await this.engine.jsonOrNull<{ SizeRw?: number }>('GET', `/containers/${c.Id}/json`, { query: { size: 1 }, timeoutMs: 120_000 }).catch(() => null);
      if (sized) usage = { limitBytes: quota, usedBytes: sized.SizeRw ?? 0, freeBytes: quota - (sized.SizeRw ?? 0) };
    }
    if (!usage) return exit;
    const afterMs = Math.max(0, Date.parse(c.State.FinishedAt) - Date.parse(c.State.StartedAt)) || 0;
    const message = diskFullMessage({ ...usage, exitCode: exit.exitCode, afterMs });
    return message ? { ...exit, error: message } : exit;
  }
}

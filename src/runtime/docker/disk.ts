// Disk limits of Docker instances: `HostConfig.StorageOpt.size` caps a container's writable layer where the storage
// driver supports it (overlay2 on xfs mounted with pquota, btrfs, zfs). Whether this engine does is learnt once, by
// trying; when it does not, instances still run and the operator is told once that disk is not enforced.
import { formatBytes, instanceMessage } from '../../domain/messages.ts';
import { DockerEngine, EngineError } from './engine.ts';

/** What is known of the engine's support for per-container disk limits. */
export type DiskQuota = 'unknown' | 'enforced' | 'unsupported';

/** Whether a create refusal is the storage driver refusing `StorageOpt` (and not, say, a missing image). */
export function isStorageOptRefusal(err: unknown): boolean {
  if (!(err instanceof EngineError) || err.status < 400) return false;
  return /storage[- ]?opt|storage option|quota/i.test(err.message);
}

/** The message an operator reads when disk limits cannot be enforced, with the engine's own reason. */
export function diskNotEnforcedMessage(reason: string): string {
  return 'docker runtime: instance types\' disk limits are NOT enforced on this engine (its storage driver refuses '
    + `--storage-opt size: ${reason}). scripts/setup-host.sh gives a dockerd it starts a data root that supports them`;
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

/** Size fields of GET /containers/{id}/json?size=1. */
export interface ContainerSizes { SizeRw?: number; SizeRootFs?: number }

/** Below this share of the limit a failed exit is not blamed on the disk. */
const FULL_SHARE = 0.95;

/**
 * The exit message of an instance that failed with its disk (nearly) full, or undefined. btrfs counts the image
 * against the limit (the whole root filesystem), overlay2 only the writable layer.
 */
export function diskFullMessage(o: { limitBytes: number; sizes: ContainerSizes; storageDriver: string; exitCode: number; afterMs: number }): string | undefined {
  const used = o.storageDriver === 'btrfs' ? (o.sizes.SizeRootFs ?? 0) : (o.sizes.SizeRw ?? 0);
  if (!(o.limitBytes > 0) || used < o.limitBytes * FULL_SHARE) return undefined;
  return instanceMessage.exited(o.exitCode, o.afterMs, `disk full: ${formatBytes(used)} used of the instance type's ${formatBytes(o.limitBytes)} disk`);
}

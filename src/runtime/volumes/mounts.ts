// What every runtime driver checks before it mounts volumes into an instance (issue #20): pure, no I/O, so the
// rules are pinned by fast tests and the same for Docker and the process sandbox.
import type { InstanceSpec } from '../contract.ts';

/** One volume of a spec. */
export type VolumeMount = NonNullable<InstanceSpec['volumes']>[number];

/**
 * Why the volumes of a spec cannot be mounted, or null when they can. `reserved`: paths inside the instance a volume
 * may not cover (nor sit under), e.g. the process sandbox's /usr and /proc.
 */
export function volumeMountsProblem(volumes: readonly VolumeMount[] | undefined, reserved: readonly string[] = []): string | null {
  const seen = new Map<string, string>();
  for (const [i, v] of (volumes ?? []).entries()) {
    const at = `volumes[${i}]`;
    if (typeof v?.path !== 'string' || !v.path.startsWith('/')) return `${at}.path must be an absolute path inside the instance, got ${JSON.stringify(v?.path)}`;
    if (v.path.length > 255 || /[\0\n]/.test(v.path) || v.path.split('/').some((s) => s === '.' || s === '..')) {
      return `${at}.path ${JSON.stringify(v.path)} must be a plain absolute path (no . or .. segments, at most 255 characters)`;
    }
    const path = v.path.replace(/\/+/g, '/').replace(/\/$/, '');
    if (path === '') return `${at}.path cannot be / (mount the volume on a directory such as /data)`;
    for (const r of reserved) {
      if (path === r || path.startsWith(`${r}/`) || r.startsWith(`${path}/`)) return `${at}.path ${path} overlaps ${r}, which this runtime needs for itself; choose another directory such as /data`;
    }
    if (typeof v.hostPath !== 'string' || !v.hostPath.startsWith('/')) return `${at}.hostPath must be the absolute path of the mounted volume on the host (VolumeDriver.mount)`;
    if (seen.has(path)) return `${at}.path ${path} is already the mount point of volume ${seen.get(path)}`;
    for (const [p, id] of seen) if (path.startsWith(`${p}/`) || p.startsWith(`${path}/`)) return `${at}.path ${path} is nested with ${p} (volume ${id}); volumes go on separate directories`;
    seen.set(path, v.volumeId);
  }
  return null;
}

/** The path inside the instance, normalised (no repeated or trailing slash). */
export function mountTarget(v: VolumeMount): string {
  return v.path.replace(/\/+/g, '/').replace(/\/$/, '');
}

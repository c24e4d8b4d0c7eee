// Host uids of process-runtime sandboxes. Each instance runs as root inside its own user namespace, and that root is
// a distinct unprivileged uid on the host (gid the same number), claimed from a reserved range for as long as the
// instance exists. Distinct per instance, not per app: per-user kernel budgets (inotify instances, user namespaces,
// RLIMIT_NPROC) are not shared between instances, and two instances never own each other's processes.
// Claims are files in a host-wide directory on /run (a tmpfs: a reboot, which ends every sandbox, clears them), so
// several Pier installations on one kernel never hand out the same uid.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { withHostLock } from './hostlock.ts';

/** A range of host uids (and gids of the same numbers) reserved for sandboxes. */
export interface UidRange { base: number; count: number }

/**
 * The default range: 2,000,000,000 + 65,536. Far above what useradd hands out as subordinate ids (from 100000, 65536
 * per user: /etc/subuid) and outside systemd's container range (524288-1879048191), below 2^31 (tools that treat a
 * uid as signed still work).
 */
export const DEFAULT_UID_RANGE: UidRange = Object.freeze({ base: 2_000_000_000, count: 65_536 });

/** Where claims live (one file per claimed uid, holding the claiming instance's directory). */
export const UID_CLAIMS_DIR = '/run/pier/uids';
const CLAIMS_LOCK = '/run/pier/uids.lock';

/** Checks the range against the host's users, groups and subordinate id ranges; the conflict, or null. */
export function uidRangeConflict(range: UidRange, files = { passwd: '/etc/passwd', group: '/etc/group', subuid: '/etc/subuid', subgid: '/etc/subgid' }): string | null {
  const end = range.base + range.count; // exclusive
  if (!Number.isInteger(range.base) || !Number.isInteger(range.count) || range.base < 1000 || range.count < 1 || end > 2 ** 31) {
    return `the sandbox uid range ${range.base}+${range.count} must be whole numbers, above 1000 and below 2^31`;
  }
  const read = (p: string) => { try { return readFileSync(p, 'utf8'); } catch { return ''; } };
  for (const [file, idField] of [[files.passwd, 2], [files.group, 2]] as const) {
    for (const line of read(file).split('\n')) {
      const f = line.split(':');
      const id = Number(f[idField]);
      if (f.length > idField && Number.isInteger(id) && id >= range.base && id < end) return `${file} has ${f[0]} with id ${id}, inside the sandbox uid range ${range.base}+${range.count}`;
    }
  }
  for (const file of [files.subuid, files.subgid]) {
    for (const line of read(file).split('\n')) {
      const [owner, start, count] = line.split(':');
      const s = Number(start);
      const c = Number(count);
      if (!owner || !Number.isInteger(s) || !Number.isInteger(c)) continue;
      if (s < end && s + c > range.base) return `${file} gives ${owner} ids ${s}+${c}, overlapping the sandbox uid range ${range.base}+${range.count}`;
    }
  }
  return null;
}

/** Options of the claim functions (tests point them at a temporary directory). */
export interface ClaimOptions { dir?: string; lockPath?: string }

function claimPath(dir: string, uid: number): string { return join(dir, String(uid)); }

function ownerOf(path: string): string | undefined {
  try { return readFileSync(path, 'utf8').trim(); } catch { return undefined; }
}

/**
 * Claims a free uid of the range for `owner` (an instance directory, which must exist). Probing starts at a hash of
 * the owner, so a claim usually costs one file; a claim whose owner directory is gone (a control plane killed
 * mid-start) is taken over. Serialized by a host-wide lock, so two installations never take the same stale claim.
 */
export async function claimUid(range: UidRange, owner: string, opts: ClaimOptions & { prefer?: number } = {}): Promise<number> {
  const dir = opts.dir ?? UID_CLAIMS_DIR;
  return withHostLock(opts.lockPath ?? CLAIMS_LOCK, async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // A preferred uid (the owner of a volume the instance mounts, issue #20) is taken if free: no chown needed then.
    const p = opts.prefer;
    if (p !== undefined && Number.isInteger(p) && p >= range.base && p < range.base + range.count) {
      const holder = ownerOf(claimPath(dir, p));
      if (holder === owner || holder === undefined || !existsSync(holder)) {
        writeFileSync(claimPath(dir, p), `${owner}\n`, { mode: 0o600 });
        return p;
      }
    }
    const start = createHash('sha256').update(owner).digest().readUInt32BE(0) % range.count;
    for (let i = 0; i < range.count; i++) {
      const uid = range.base + ((start + i) % range.count);
      const path = claimPath(dir, uid);
      const holder = ownerOf(path);
      if (holder === owner) return uid;
      if (holder !== undefined && existsSync(holder)) continue;
      writeFileSync(path, `${owner}\n`, { mode: 0o600 });
      return uid;
    }
    throw new Error(`every sandbox uid of ${range.base}+${range.count} is claimed`);
  });
}

/** Gives a uid back, if `owner` still holds it (a no-op otherwise). */
export function releaseUid(uid: number, owner: string, opts: ClaimOptions = {}): void {
  const path = claimPath(opts.dir ?? UID_CLAIMS_DIR, uid);
  if (ownerOf(path) === owner) rmSync(path, { force: true });
}

/** The uids claimed right now (tests and diagnostics). */
export function claimedUids(opts: ClaimOptions = {}): number[] {
  try { return readdirSync(opts.dir ?? UID_CLAIMS_DIR).map(Number).filter(Number.isInteger); } catch { return []; }
}

// The local volume driver (issue #20): each volume is an ext4 filesystem of exactly its size in a sparse file
// `<dataDir>/volumes/<id>.ext4`, loop-mounted (nodev,nosuid,discard) at `<dataDir>/volumes/mnt/<id>`, with a JSON
// record beside it written last (a volume without its record is an unfinished create, redone by the next create).
// Snapshots are sparse copies of the image, taken with the filesystem frozen (fsfreeze) so the copy is consistent,
// at `<dataDir>/snapshots/<id>.ext4` (+ record); a restore copies one back and grows it offline (resize2fs). A grow
// makes the image larger, has the loop device re-read it (losetup -c) and resizes the mounted ext4 online (with
// CAP_SYS_RESOURCE; without it, unmounted, and only while no instance holds the volume).
// Needs root, a loop device, e2fsprogs and util-linux; every program runs through sbin.ts with an argv array.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { program, runProgram } from '../sbin.ts';
import { RuntimeError } from '../errors.ts';
import type { SnapshotInfo, VolumeDriver, VolumeInfo } from './contract.ts';
import { KeyedSerial } from './serial.ts';

/** Ids are the control plane's UUIDs; anything else (a path, `..`) is refused before it reaches a file name. */
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The smallest volume: ext4 with a journal needs a few MiB of metadata. */
export const MIN_VOLUME_BYTES = 16 * 1024 * 1024;

/** Mount options of every volume: no device files, no setuid, freed blocks punched out of the sparse image. */
export const MOUNT_OPTIONS = 'nodev,nosuid,discard';

/** The programs the driver runs. */
const PROGRAMS = ['mkfs.ext4', 'dumpe2fs', 'mount', 'umount', 'losetup', 'fsfreeze', 'e2fsck', 'resize2fs', 'truncate', 'cp'];

/** What is written beside a volume's image. */
interface VolumeRecord { volumeId: string; sizeBytes: number; createdAt: string; fromSnapshotId?: string }

/** What is written beside a snapshot's image. */
type SnapshotRecord = SnapshotInfo & { createdAt: string };

function checkId(kind: string, id: string): void {
  if (typeof id !== 'string' || !ID.test(id)) throw new RuntimeError('invalid_spec', `${kind} id must be a UUID, got ${JSON.stringify(String(id).slice(0, 80))}`);
}

function readJson<T>(path: string): T | null {
  try { return JSON.parse(readFileSync(path, 'utf8')) as T; } catch { return null; }
}

/** Writes a file whole or not at all (temp file + rename). */
function writeAtomic(path: string, data: string): void {
  writeFileSync(`${path}.tmp`, data, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/** /proc/self/mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Whether `dir` is a mount point in this mount namespace. */
export function isMountPoint(dir: string): boolean {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => {
      const f = l.split(' ');
      return f.length > 4 && unescapeMountPath(f[4]!) === dir;
    });
  } catch { return false; }
}

function bin(name: string): string {
  const p = program(name);
  if (!p) throw new RuntimeError('unavailable', `${name} is not installed (apt-get install e2fsprogs util-linux mount coreutils)`);
  return p;
}

async function run(name: string, args: string[]): Promise<string> {
  return runProgram(bin(name), args);
}

function aborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new RuntimeError('failed', `${what} aborted`);
}

/** Options of the local driver. */
export interface LocalVolumeOptions {
  /** Pier's data directory: volumes live in `<dataDir>/volumes`, snapshots in `<dataDir>/snapshots`. */
  dataDir: string;
  /** One line per notable event (a thaw after a crash, an fsck); never data. */
  log?: (line: string) => void;
}

/** Volumes as ext4 images on loop devices under Pier's data directory. */
export class LocalVolumeDriver implements VolumeDriver {
  readonly name = 'local-ext4';
  readonly volumesDir: string;
  readonly mountsDir: string;
  readonly snapshotsDir: string;
  private readonly log: (line: string) => void;
  /** Operations on one id run one after the other (a create racing a mount of the same volume would mount twice). */
  private readonly serialized = new KeyedSerial();

  constructor(opts: LocalVolumeOptions) {
    this.volumesDir = join(opts.dataDir, 'volumes');
    this.mountsDir = join(this.volumesDir, 'mnt');
    this.snapshotsDir = join(opts.dataDir, 'snapshots');
    this.log = opts.log ?? (() => undefined);
  }

  private image(id: string): string { return join(this.volumesDir, `${id}.ext4`); }
  private record(id: string): string { return join(this.volumesDir, `${id}.json`); }
  private frozenMark(id: string): string { return join(this.volumesDir, `${id}.frozen`); }
  /** The host directory the runtimes bind into instances. */
  mountPoint(id: string): string { return join(this.mountsDir, id); }
  private snapImage(id: string): string { return join(this.snapshotsDir, `${id}.ext4`); }
  private snapRecord(id: string): string { return join(this.snapshotsDir, `${id}.json`); }

  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> { return this.serialized.run(id, fn); }

  async unavailable(): Promise<string | null> {
    if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'volumes need root (loop devices and mounts): run Pier as root';
    for (const p of PROGRAMS) if (!program(p)) return `${p} is not installed (apt-get install e2fsprogs util-linux mount coreutils)`;
    if (!existsSync('/dev/loop-control')) return 'no loop devices on this host (/dev/loop-control is missing: modprobe loop)';
    return null;
  }

  async create(volumeId: string, sizeBytes: number, opts: { fromSnapshotId?: string; signal?: AbortSignal } = {}): Promise<VolumeInfo> {
    checkId('volume', volumeId);
    if (opts.fromSnapshotId !== undefined) checkId('snapshot', opts.fromSnapshotId);
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < MIN_VOLUME_BYTES) {
      throw new RuntimeError('invalid_spec', `volume size must be a whole number of bytes, at least ${MIN_VOLUME_BYTES} (16 MiB), got ${sizeBytes}`);
    }
    return this.serial(volumeId, async () => {
      const existing = readJson<VolumeRecord>(this.record(volumeId));
      if (existing) {
        if (existing.sizeBytes !== sizeBytes) {
          throw new RuntimeError('conflict', `volume ${volumeId} already exists with ${existing.sizeBytes} bytes, not ${sizeBytes}`);
        }
        return this.mountLocked(volumeId, existing);
      }
      mkdirSync(this.volumesDir, { recursive: true, mode: 0o700 });
      this.checkSpace(sizeBytes);
      const tmp = `${this.image(volumeId)}.tmp`;
      rmSync(tmp, { force: true });
      try {
        if (opts.fromSnapshotId) await this.restoreInto(tmp, opts.fromSnapshotId, sizeBytes, opts.signal);
        else {
          writeFileSync(tmp, '', { mode: 0o600 });
          await run('truncate', ['-s', String(sizeBytes), tmp]);
          // A journal (the data must survive a crash of the host), no blocks reserved for root (the tenant gets it all).
          await run('mkfs.ext4', ['-q', '-F', '-m', '0', '-L', 'pier-volume', tmp, `${Math.floor(sizeBytes / 1024)}k`]);
        }
        aborted(opts.signal, `creating volume ${volumeId}`);
        renameSync(tmp, this.image(volumeId));
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      }
      const rec: VolumeRecord = { volumeId, sizeBytes, createdAt: new Date().toISOString(), ...(opts.fromSnapshotId ? { fromSnapshotId: opts.fromSnapshotId } : {}) };
      writeAtomic(this.record(volumeId), JSON.stringify(rec));
      return this.mountLocked(volumeId, rec);
    });
  }

  async grow(volumeId: string, sizeBytes: number): Promise<VolumeInfo> {
    checkId('volume', volumeId);
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < MIN_VOLUME_BYTES) {
      throw new RuntimeError('invalid_spec', `volume size must be a whole number of bytes, at least ${MIN_VOLUME_BYTES} (16 MiB), got ${sizeBytes}`);
    }
    return this.serial(volumeId, async () => {
      const rec = readJson<VolumeRecord>(this.record(volumeId));
      if (!rec) throw new RuntimeError('not_found', `volume ${volumeId} not found on this host`);
      if (sizeBytes < rec.sizeBytes) {
        throw new RuntimeError('invalid_spec', `volume ${volumeId} has ${rec.sizeBytes} bytes and cannot shrink to ${sizeBytes}: copy its data to a new, smaller volume instead`);
      }
      // Mounted first: ext4 grows online, so an instance writing meanwhile is never stopped (and a rebooted host's
      // volume is remounted as mount() would).
      const mounted = await this.mountLocked(volumeId, rec);
      if (sizeBytes === rec.sizeBytes) return mounted;
      const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
      this.checkSpace(sizeBytes - rec.sizeBytes, `growing volume ${volumeId} by ${gib(sizeBytes - rec.sizeBytes)} (to ${gib(sizeBytes)})`);
      const image = this.image(volumeId);
      const [loop] = await this.loopDevicesOf(image);
      if (!loop) throw new RuntimeError('failed', `volume ${volumeId} is mounted but no loop device backs its image ${image}`);
      // A grow to a larger size cut short by a crash after resize2fs (before the record) left a larger filesystem:
      // never shrink it back, and never truncate the image below what it holds.
      const head = await run('dumpe2fs', ['-h', image]).catch(() => '');
      const blocks = Number(/^Block count:\s+(\d+)/m.exec(head)?.[1] ?? 0) * Number(/^Block size:\s+(\d+)/m.exec(head)?.[1] ?? 0);
      if (blocks > sizeBytes) {
        throw new RuntimeError('conflict', `volume ${volumeId}'s filesystem already has ${blocks} bytes (an earlier, larger grow was cut short): grow it to at least that`);
      }
      if (statSync(image).size < sizeBytes) await run('truncate', ['-s', String(sizeBytes), image]);
      await run('losetup', ['-c', loop]); // the loop device re-reads its backing file's size
      const size = `${Math.floor(sizeBytes / 1024)}K`;
      let online = hasCapSysResource();
      if (online) {
        try {
          await run('resize2fs', [loop, size]); // online: the mounted filesystem grows in place, writers go on
        } catch (err) {
          if (!/Permission denied|Operation not permitted/.test((err as Error).message)) throw err;
          online = false; // a host (a user namespace, a seccomp profile) that refuses the resize ioctl after all
        }
      }
      if (!online) await this.growOffline(volumeId, rec, sizeBytes);
      // The record last: a crash before it leaves the old size recorded, and the next grow redoes the (idempotent) steps.
      const next: VolumeRecord = { ...rec, sizeBytes };
      writeAtomic(this.record(volumeId), JSON.stringify(next));
      this.log(`volume ${volumeId}: grown from ${rec.sizeBytes} to ${sizeBytes} bytes`);
      return this.info(next, this.mountPoint(volumeId));
    });
  }

  /**
   * The kernel resizes a mounted ext4 only for a process with CAP_SYS_RESOURCE. Without it the volume is grown
   * unmounted, which is safe only when nothing else holds the filesystem: the host's mount is taken off, and if a
   * loop device still backs the image an instance's mount namespace has it, so it is mounted again as it was and the
   * grow refused (`unavailable`) until no instance mounts the volume.
   */
  private async growOffline(volumeId: string, rec: VolumeRecord, sizeBytes: number): Promise<void> {
    const image = this.image(volumeId);
    const dir = this.mountPoint(volumeId);
    const refuse = (why: string) => new RuntimeError('unavailable', `cannot grow volume ${volumeId} while ${why}: this host does not let Pier resize a `
      + 'mounted filesystem (no CAP_SYS_RESOURCE), so it grows once no instance mounts it (stop or scale the service to 0, or run Pier with CAP_SYS_RESOURCE)');
    try {
      await run('umount', [dir]);
    } catch (err) {
      if (isMountPoint(dir)) throw refuse(`a host process has files open on it (${(err as Error).message})`);
    }
    if ((await this.loopDevicesOf(image)).length > 0) {
      await this.mountLocked(volumeId, rec);
      throw refuse('an instance mounts it');
    }
    try {
      await this.fsck(image); // resize2fs wants a freshly checked filesystem; -p repairs only what is safe
      await run('resize2fs', [image, `${Math.floor(sizeBytes / 1024)}K`]);
    } finally {
      await this.mountLocked(volumeId, rec);
    }
  }

  /**
   * Images are sparse: a volume takes host disk only as it fills. So that a full host disk never turns a tenant's
   * write into an I/O error inside a "half-empty" volume, a new volume must fit in what the host has free beyond
   * what the other volumes may still grow into. (A snapshot's blocks are allocated when taken and counted as used.)
   * A grow is held to the same rule for the bytes it adds (`what` names it in the refusal).
   */
  private checkSpace(sizeBytes: number, what?: string): void {
    let promised = 0;
    for (const f of readdirSync(this.volumesDir)) {
      if (!f.endsWith('.json') || !ID.test(f.slice(0, -5))) continue;
      const rec = readJson<VolumeRecord>(join(this.volumesDir, f));
      if (rec) promised += Math.max(0, rec.sizeBytes - storedBytes(this.image(rec.volumeId)));
    }
    const s = statfsSync(this.volumesDir);
    const free = s.bavail * s.bsize;
    if (sizeBytes + promised > free) {
      const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
      throw new RuntimeError('unavailable', `not enough disk on this host for ${what ?? `a ${gib(sizeBytes)} volume`}: ${gib(free)} free in ${this.volumesDir}, `
        + `${gib(promised)} of it already promised to the other volumes as they fill; free disk space or delete volumes`);
    }
  }

  /** Copies a snapshot's image to `target` and grows its filesystem to `sizeBytes`. */
  private async restoreInto(target: string, snapshotId: string, sizeBytes: number, signal?: AbortSignal): Promise<void> {
    const snap = readJson<SnapshotRecord>(this.snapRecord(snapshotId));
    if (!snap || !existsSync(this.snapImage(snapshotId))) throw new RuntimeError('not_found', `snapshot ${snapshotId} not found on this host`);
    if (sizeBytes < snap.sizeBytes) {
      throw new RuntimeError('invalid_spec', `a volume restored from snapshot ${snapshotId} must be at least its ${snap.sizeBytes} bytes, got ${sizeBytes}`);
    }
    await run('cp', ['--sparse=always', '--reflink=auto', this.snapImage(snapshotId), target]);
    aborted(signal, `restoring snapshot ${snapshotId}`);
    if (sizeBytes > snap.sizeBytes) {
      await run('truncate', ['-s', String(sizeBytes), target]);
      // resize2fs wants a checked filesystem; -p repairs only what is safe (a frozen copy is clean).
      await this.fsck(target);
      await run('resize2fs', ['-f', target, `${Math.floor(sizeBytes / 1024)}K`]);
    }
  }

  /** e2fsck -f -p; exit 1 (errors corrected) is success too. */
  private async fsck(image: string): Promise<void> {
    try {
      await run('e2fsck', ['-f', '-p', image]);
    } catch (err) {
      if (!/exit 1$/.test((err as Error).message)) throw err;
    }
  }

  async mount(volumeId: string): Promise<VolumeInfo> {
    checkId('volume', volumeId);
    return this.serial(volumeId, async () => {
      const rec = readJson<VolumeRecord>(this.record(volumeId));
      if (!rec) throw new RuntimeError('not_found', `volume ${volumeId} not found on this host`);
      return this.mountLocked(volumeId, rec);
    });
  }

  /** The loop devices backed by `image` right now (one when another mount namespace still holds the volume). */
  private async loopDevicesOf(image: string): Promise<string[]> {
    const out = await run('losetup', ['-n', '-O', 'NAME', '-j', image]).catch(() => '');
    return out.split('\n').map((s) => s.trim()).filter((s) => s.startsWith('/dev/'));
  }

  private async mountLocked(volumeId: string, rec: VolumeRecord): Promise<VolumeInfo> {
    const image = this.image(volumeId);
    const dir = this.mountPoint(volumeId);
    if (!existsSync(image)) throw new RuntimeError('failed', `volume ${volumeId}: its record is there but its image ${image} is missing`);
    if (existsSync(this.frozenMark(volumeId))) {
      // A snapshot was cut short (a crash while frozen): every write to the volume would hang until thawed.
      if (isMountPoint(dir)) await run('fsfreeze', ['-u', dir]).catch(() => undefined);
      rmSync(this.frozenMark(volumeId), { force: true });
      this.log(`volume ${volumeId}: thawed after an interrupted snapshot`);
    }
    if (!isMountPoint(dir)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // If an instance's mount namespace still holds the filesystem (its host mount was removed behind Pier's back),
      // mount the same loop device again: a second loop device over one image would be two writers, and corruption.
      const [loop] = await this.loopDevicesOf(image);
      const args = loop ? ['-t', 'ext4', '-o', MOUNT_OPTIONS, loop, dir] : ['-t', 'ext4', '-o', `loop,${MOUNT_OPTIONS}`, image, dir];
      try {
        await run('mount', args);
      } catch (err) {
        if (loop) throw err;
        // After a host crash the journal replays on mount; only real damage gets here. Repair what is safe, retry once.
        this.log(`volume ${volumeId}: mount failed (${(err as Error).message}); checking the filesystem`);
        await this.fsck(image);
        await run('mount', args);
      }
    }
    return this.info(rec, dir);
  }

  /**
   * `usedBytes` is the part of the size that can no longer be written: the size less what statfs says is available.
   * ext4's journal and tables count as used (2-15 % of a volume, docs/volumes.md), so a full volume reads as its size,
   * as a user who sees ENOSPC expects. Not mounted (after a reboot): the superblock's free block count instead.
   */
  private async info(rec: VolumeRecord, dir: string): Promise<VolumeInfo> {
    let available: number | undefined;
    if (isMountPoint(dir)) {
      const s = statfsSync(dir);
      available = s.bavail * s.bsize;
    } else {
      const head = await run('dumpe2fs', ['-h', this.image(rec.volumeId)]).catch(() => '');
      const free = /^Free blocks:\s+(\d+)/m.exec(head)?.[1];
      const bsize = /^Block size:\s+(\d+)/m.exec(head)?.[1];
      if (free && bsize) available = Number(free) * Number(bsize);
    }
    const usedBytes = available === undefined ? 0 : Math.max(0, Math.min(rec.sizeBytes, rec.sizeBytes - available));
    return { volumeId: rec.volumeId, sizeBytes: rec.sizeBytes, usedBytes, hostPath: dir };
  }

  async inspect(volumeId: string): Promise<VolumeInfo | null> {
    checkId('volume', volumeId);
    const rec = readJson<VolumeRecord>(this.record(volumeId));
    if (!rec || !existsSync(this.image(volumeId))) return null;
    return this.info(rec, this.mountPoint(volumeId));
  }

  async remove(volumeId: string): Promise<void> {
    checkId('volume', volumeId);
    return this.serial(volumeId, async () => {
      const dir = this.mountPoint(volumeId);
      if (existsSync(this.frozenMark(volumeId)) && isMountPoint(dir)) await run('fsfreeze', ['-u', dir]).catch(() => undefined);
      // A volume can be mounted more than once on its mount point (a mount() racing a restart): take them all off.
      for (let i = 0; i < 8 && isMountPoint(dir); i++) {
        try {
          await run('umount', [dir]);
        } catch {
          await run('umount', ['-l', dir]); // a host process still has a file open there: detach now, free when it lets go
        }
      }
      // Record first: without it the volume no longer exists for list() and inspect(), whatever else a crash leaves.
      rmSync(this.record(volumeId), { force: true });
      rmSync(this.image(volumeId), { force: true });
      rmSync(`${this.image(volumeId)}.tmp`, { force: true });
      rmSync(this.frozenMark(volumeId), { force: true });
      try { rmdirSync(dir); } catch { /* gone, or still a mount point (then not ours to delete) */ }
    });
  }

  async snapshot(volumeId: string, snapshotId: string, opts: { attached: boolean; signal?: AbortSignal }): Promise<SnapshotInfo> {
    checkId('volume', volumeId);
    checkId('snapshot', snapshotId);
    return this.serial(volumeId, async () => {
      const done = readJson<SnapshotRecord>(this.snapRecord(snapshotId));
      if (done && existsSync(this.snapImage(snapshotId))) {
        if (done.volumeId !== volumeId) throw new RuntimeError('conflict', `snapshot ${snapshotId} exists already, of volume ${done.volumeId}`);
        return toInfo(done);
      }
      const rec = readJson<VolumeRecord>(this.record(volumeId));
      if (!rec) throw new RuntimeError('not_found', `volume ${volumeId} not found on this host`);
      await this.mountLocked(volumeId, rec);
      aborted(opts.signal, `snapshot ${snapshotId}`);
      mkdirSync(this.snapshotsDir, { recursive: true, mode: 0o700 });
      const dir = this.mountPoint(volumeId);
      const tmp = `${this.snapImage(snapshotId)}.tmp`;
      rmSync(tmp, { force: true });
      // Frozen either way: freezing flushes every dirty block and the journal to the image, so the copy mounts clean.
      // With an instance attached its writes block for the copy's duration (the snapshot says 'frozen').
      writeFileSync(this.frozenMark(volumeId), snapshotId, { mode: 0o600 });
      await run('fsfreeze', ['-f', dir]);
      try {
        await run('cp', ['--sparse=always', '--reflink=auto', this.image(volumeId), tmp]);
      } catch (err) {
        rmSync(tmp, { force: true });
        throw err;
      } finally {
        await run('fsfreeze', ['-u', dir]);
        rmSync(this.frozenMark(volumeId), { force: true });
      }
      renameSync(tmp, this.snapImage(snapshotId));
      const snap: SnapshotRecord = {
        snapshotId, volumeId, sizeBytes: rec.sizeBytes, storedBytes: storedBytes(this.snapImage(snapshotId)),
        consistency: opts.attached ? 'frozen' : 'stopped', createdAt: new Date().toISOString(),
      };
      writeAtomic(this.snapRecord(snapshotId), JSON.stringify(snap));
      return toInfo(snap);
    });
  }

  async inspectSnapshot(snapshotId: string): Promise<SnapshotInfo | null> {
    checkId('snapshot', snapshotId);
    const rec = readJson<SnapshotRecord>(this.snapRecord(snapshotId));
    if (!rec || !existsSync(this.snapImage(snapshotId))) return null;
    return toInfo(rec);
  }

  async removeSnapshot(snapshotId: string): Promise<void> {
    checkId('snapshot', snapshotId);
    rmSync(this.snapRecord(snapshotId), { force: true });
    rmSync(this.snapImage(snapshotId), { force: true });
    rmSync(`${this.snapImage(snapshotId)}.tmp`, { force: true });
  }

  async list(): Promise<{ volumes: string[]; snapshots: string[] }> {
    const ids = (dir: string) => {
      try {
        return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).filter((id) => ID.test(id)).sort();
      } catch { return []; }
    };
    return { volumes: ids(this.volumesDir), snapshots: ids(this.snapshotsDir) };
  }

  /** Unmounts every volume of this data directory (tests, and an operator taking a host down); the data stays. */
  async unmountAll(): Promise<void> {
    for (const id of (await this.list()).volumes) {
      const dir = this.mountPoint(id);
      for (let i = 0; i < 8 && isMountPoint(dir); i++) await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
    }
  }
}

/** CAP_SYS_RESOURCE (bit 24) in this process's effective set: what the kernel asks of an online ext4 resize. */
function hasCapSysResource(): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex !== undefined && (BigInt(`0x${hex}`) & (1n << 24n)) !== 0n;
  } catch { return false; }
}

function storedBytes(path: string): number {
  try { return statSync(path).blocks * 512; } catch { return 0; }
}

function toInfo(r: SnapshotRecord): SnapshotInfo {
  return { snapshotId: r.snapshotId, volumeId: r.volumeId, storedBytes: r.storedBytes, sizeBytes: r.sizeBytes, consistency: r.consistency };
}

// Disk limits for Docker instances where the engine's storage driver cannot enforce `--storage-opt size` (overlay2 on
// ext4, the common case): each container's overlay2 layer directory (its `diff` upper dir and `work` dir) is moved onto
// an ext4 filesystem of exactly the instance type's disk, a sparse file on a loop device mounted over that directory
// between create and start. Writes past it fail with ENOSPC inside the container, as on a full disk. Needs root, the
// engine's data root in this mount namespace, `mkfs.ext4`, `mount`, `umount` (argv arrays only).
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { program, runProgram } from '../sbin.ts';

/** Runs a system program; its stdout is not needed here. */
async function run(file: string, args: string[]): Promise<void> {
  await runProgram(file, args);
}

/** What `GET /containers/{id}/json` says of a container's storage. */
export interface GraphDriver { Name: string; Data: Record<string, string> | null }

/** Times one step of attach() (StartSpans.span), or just runs it. */
type Span = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/** What an attached disk is, recorded beside its image so a restarted control plane can detach it. */
interface DiskRecord { layerDir: string; bytes: number }

/** Why per-instance disks cannot work with this engine from this process, or null when they can. */
export function upperDisksUnavailable(info: { Driver: string; DockerRootDir: string }): string | null {
  if (info.Driver !== 'overlay2') return `storage driver ${info.Driver} (per-instance disks need overlay2)`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not running as root';
  for (const p of ['mkfs.ext4', 'mount', 'umount']) if (!program(p)) return `${p} is not installed (apt-get install e2fsprogs mount)`;
  if (!existsSync(join(info.DockerRootDir, 'overlay2'))) return `the engine's data root ${info.DockerRootDir} is not visible here`;
  return null;
}

/** The overlay2 layer directory holding a container's upper and work dirs, or undefined if the layout is unexpected. */
export function layerDirOf(g: GraphDriver): string | undefined {
  const upper = g.Data?.UpperDir;
  const work = g.Data?.WorkDir;
  if (g.Name !== 'overlay2' || !upper || !work || !upper.startsWith('/')) return undefined;
  const dir = dirname(upper);
  return dirname(work) === dir && upper === join(dir, 'diff') ? dir : undefined;
}

/** mkfs.ext4 argv: populated from the layer directory (`-d`), no journal (the layer dies with the container), no reserve. */
export function mkfsArgs(image: string, layerDir: string, bytes: number): string[] {
  return ['-q', '-F', '-m', '0', '-O', '^has_journal', '-d', layerDir, image, `${Math.floor(bytes / 1024)}k`];
}

function mountedAt(dir: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);
}

/** Creates, mounts and removes the per-container disks (images under `dir`, one per container id). */
export class UpperDisks {
  constructor(private readonly dir: string) {}

  private image(containerId: string): string { return join(this.dir, `${containerId}.ext4`); }
  private record(containerId: string): string { return join(this.dir, `${containerId}.json`); }

  /** Moves a created (not yet started) container's layer onto a filesystem of `bytes`. */
  async attach(containerId: string, graph: GraphDriver, bytes: number, span: Span = (_n, fn) => fn()): Promise<void> {
    const layerDir = layerDirOf(graph);
    if (!layerDir) throw new Error(`unexpected overlay2 layout: ${JSON.stringify(graph.Data)}`);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const image = this.image(containerId);
    // Recorded first: a crash half-way leaves something detach() cleans up.
    writeFileSync(this.record(containerId), JSON.stringify({ layerDir, bytes } satisfies DiskRecord), { mode: 0o600 });
    const mode = statSync(layerDir).mode & 0o7777;
    // A new sparse file (in-process: no truncate(1) spawn on the start path).
    writeFileSync(image, '', { mode: 0o600 });
    truncateSync(image, bytes);
    await span('disk_mkfs', () => run(program('mkfs.ext4')!, mkfsArgs(image, layerDir, bytes)));
    await span('disk_mount', () => run(program('mount')!, ['-o', 'loop', image, layerDir]));
    chmodSync(layerDir, mode); // mkfs gives the root 0755; keep Docker's (the mounted root: no chmod(1) spawn)
  }

  /** Unmounts and deletes a container's disk (the container must not run); a no-op for a container without one. */
  async detach(containerId: string): Promise<void> {
    let rec: DiskRecord | undefined;
    try { rec = JSON.parse(readFileSync(this.record(containerId), 'utf8')) as DiskRecord; } catch { return; }
    if (mountedAt(rec.layerDir)) {
      try {
        await run(program('umount')!, [rec.layerDir]);
      } catch {
        await run(program('umount')!, ['-l', rec.layerDir]); // something still holds it (a copy out): detach lazily
      }
    }
    rmSync(this.image(containerId), { force: true });
    rmSync(this.record(containerId), { force: true });
  }

  /** Whether a container has a disk of Pier's. */
  has(containerId: string): boolean { return existsSync(this.record(containerId)); }

  /** Bytes used and free on a container's disk while it is mounted, and the size it was made with; or undefined. */
  usage(containerId: string): { usedBytes: number; sizeBytes: number; freeBytes: number } | undefined {
    let rec: DiskRecord;
    try { rec = JSON.parse(readFileSync(this.record(containerId), 'utf8')) as DiskRecord; } catch { return undefined; }
    if (!mountedAt(rec.layerDir)) return undefined;
    const s = statfsSync(rec.layerDir);
    return { usedBytes: (s.blocks - s.bfree) * s.bsize, sizeBytes: rec.bytes, freeBytes: s.bavail * s.bsize };
  }
}

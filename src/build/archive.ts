// Archive sources: an uploaded tar.gz (see src/api/routes-archives.ts) extracted into the build's source directory,
// then built exactly like a git checkout. GNU tar strips leading `/` and refuses `..` members, so nothing lands
// outside the target; ownership and modes from the archive are not trusted. What an archive may expand to is capped
// (a 1 MB upload of zeros once extracted to 1 GiB): the decompressed stream is counted before tar runs, and the
// extracted tree's apparent size after (a sparse member costs little in the stream but a lot once copied).
import { createReadStream, existsSync, mkdirSync, rmSync } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { INSTANCE_TYPES, instanceResources, DEFAULT_INSTANCE_TYPE } from '../domain/catalog.ts';
import type { DeploymentDefinition } from '../domain/types.ts';
import { archiveFile } from '../store/archives.ts';
import { runStep } from './exec.ts';

/** Where a builder finds archives by default: beside its work directory (<data-dir>/builds → <data-dir>/archives). */
export function defaultArchivesDir(workDir: string): string {
  return join(workDir, '..', 'archives');
}

/** The default cap of what one archive may extract to: the disk of the largest instance type. */
export const DEFAULT_MAX_EXTRACTED_BYTES = Math.max(...INSTANCE_TYPES.map((t) => instanceResources(t.id)?.diskBytes ?? 0));

/**
 * The cap for one deployment: the operator's setting (PIER_ARCHIVE_MAX_EXTRACTED_BYTES, default the largest
 * instance type's disk), and never more than the disk of the largest instance type the definition runs on.
 */
export function extractionLimit(def: Pick<DeploymentDefinition, 'instance_types'>, setting = DEFAULT_MAX_EXTRACTED_BYTES): number {
  const types = (def.instance_types ?? []).map((t) => t.type);
  const disks = (types.length ? types : [DEFAULT_INSTANCE_TYPE]).map((t) => instanceResources(t)?.diskBytes ?? DEFAULT_MAX_EXTRACTED_BYTES);
  return Math.min(setting, Math.max(...disks));
}

/** A byte count as people read it (2.5 GiB, 8 MiB). */
function size(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

function tooLarge(id: string, limit: number): Error {
  return new Error(`archive ${id} extracts to more than ${size(limit)}, the most a build may unpack (the instance type's disk, or `
    + 'PIER_ARCHIVE_MAX_EXTRACTED_BYTES): leave dependencies and build outputs out of it (pier deploy honours .gitignore and .dockerignore)');
}

/** Decompressed bytes of a gzip file, counting up to `limit + 1` at most; undefined when it is not valid gzip (tar says why). */
async function gunzippedSize(file: string, limit: number, signal: AbortSignal): Promise<number | undefined> {
  const source = createReadStream(file);
  const gunzip = createGunzip();
  let n = 0;
  try {
    for await (const chunk of source.pipe(gunzip) as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > limit || signal.aborted) break;
    }
    return n;
  } catch {
    return undefined;
  } finally {
    source.destroy();
    gunzip.destroy();
  }
}

/** The apparent size of every regular file under `dir`, stopping once past `limit`. */
async function treeSize(dir: string, limit: number): Promise<number> {
  let total = 0;
  const pending = [dir];
  while (pending.length && total <= limit) {
    const d = pending.pop()!;
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) pending.push(p);
      else if (e.isFile()) total += (await lstat(p)).size;
    }
  }
  return total;
}

/** Extracts archive `id` from `archivesDir` into `dest` (an existing empty directory), refusing beyond `maxBytes`. */
export async function extractArchive(
  archivesDir: string, id: string, dest: string, signal: AbortSignal, onLine: (l: string, s: 'stdout' | 'stderr') => void,
  maxBytes = DEFAULT_MAX_EXTRACTED_BYTES,
): Promise<void> {
  const file = archiveFile(archivesDir, id);
  if (!existsSync(file)) throw new Error(`archive ${id} was not uploaded (or was removed): upload it again with pier deploy`);
  onLine(`Extracting archive ${id}`, 'stdout');
  const streamed = await gunzippedSize(file, maxBytes, signal);
  if (streamed !== undefined && streamed > maxBytes) throw tooLarge(id, maxBytes);
  await runStep(['tar', '-x', '-z', '-f', file, '-C', dest, '--no-same-owner', '--no-same-permissions', '--no-overwrite-dir'], {
    cwd: dest, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, signal, onLine,
  });
  if (await treeSize(dest, maxBytes) > maxBytes) {
    rmSync(dest, { recursive: true, force: true });
    mkdirSync(dest);
    throw tooLarge(id, maxBytes);
  }
}

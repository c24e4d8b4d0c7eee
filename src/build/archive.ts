// Archive sources: an uploaded tar.gz (see src/api/routes-archives.ts) extracted into the build's source directory,
// then built exactly like a git checkout. GNU tar strips leading `/` and refuses `..` members, so nothing lands
// outside the target; ownership and modes from the archive are not trusted.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { archiveFile } from '../store/archives.ts';
import { runStep } from './exec.ts';

/** Where a builder finds archives by default: beside its work directory (<data-dir>/builds → <data-dir>/archives). */
export function defaultArchivesDir(workDir: string): string {
  return join(workDir, '..', 'archives');
}

/** Extracts archive `id` from `archivesDir` into `dest` (an existing empty directory). */
export async function extractArchive(
  archivesDir: string, id: string, dest: string, signal: AbortSignal, onLine: (l: string, s: 'stdout' | 'stderr') => void,
): Promise<void> {
  const file = archiveFile(archivesDir, id);
  if (!existsSync(file)) throw new Error(`archive ${id} was not uploaded (or was removed): upload it again with pier deploy`);
  onLine(`Extracting archive ${id}`, 'stdout');
  await runStep(['tar', '-x', '-z', '-f', file, '-C', dest, '--no-same-owner', '--no-same-permissions', '--no-overwrite-dir'], {
    cwd: dest, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, signal, onLine,
  });
}

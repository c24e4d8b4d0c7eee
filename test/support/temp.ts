// Temporary directories a test process removes when it exits, so a suite run by hand (`node --test FILE`) leaves
// nothing in /tmp either (scripts/run-tests.mjs also removes its whole per-run TMPDIR at the end of a run).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A new directory under the temp dir, named `<prefix>XXXXXX`, removed (with what is in it) when the process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (made.length === 0) process.once('exit', removeAll);
  made.push(dir);
  return dir;
}

function removeAll(): void {
  for (const dir of made.splice(0)) {
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* busy or not ours to remove: the runner's TMPDIR goes anyway */ }
  }
}

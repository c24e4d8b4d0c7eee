// Archive bombs (issue #16): a small upload must not unpack past its cap. Real tar.gz files made with GNU tar, the
// real extraction, and the real builder's error: a 64 MiB file of zeros (~64 KiB compressed) and a 64 MiB sparse
// file (a few KiB even before compression) against an 8 MiB cap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DEFAULT_MAX_EXTRACTED_BYTES, extractArchive, extractionLimit } from '../../src/build/archive.ts';
import { createBuilder } from '../../src/build/builder.ts';
import { instanceResources } from '../../src/domain/catalog.ts';
import { gitDeployment, memoryLogs } from '../build/helpers.ts';

const MiB = 1024 ** 2;

/** Writes `<dir>/archives/<id>.tar.gz` holding one file `name` of `bytes` bytes (zeros), sparse in the tar if asked. */
function bomb(dir: string, bytes: number, sparse = false): string {
  const id = randomUUID();
  const src = mkdtempSync(join(dir, 'src-'));
  writeFileSync(join(src, 'index.html'), 'hello\n');
  execFileSync('truncate', ['-s', String(bytes), join(src, 'zeros.bin')]);
  mkdirSync(join(dir, 'archives'), { recursive: true });
  execFileSync('tar', ['-c', '-z', ...(sparse ? ['--sparse'] : []), '-f', join(dir, 'archives', `${id}.tar.gz`), '-C', src, '.']);
  rmSync(src, { recursive: true, force: true });
  return id;
}

test('an archive that expands past the cap is refused before tar runs; a sparse member is caught after', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-bomb-'));
  try {
    const dense = bomb(dir, 64 * MiB);
    assert.ok(statSync(join(dir, 'archives', `${dense}.tar.gz`)).size < MiB, 'a small upload');
    const dest = mkdtempSync(join(dir, 'dest-'));
    const lines: string[] = [];
    await assert.rejects(
      extractArchive(join(dir, 'archives'), dense, dest, new AbortController().signal, (l) => lines.push(l), 8 * MiB),
      /archive .* extracts to more than 8 MiB, the most a build may unpack/,
    );
    assert.deepEqual(readdirSync(dest), [], 'nothing was written');

    const sparse = bomb(dir, 64 * MiB, true);
    const dest2 = mkdtempSync(join(dir, 'dest-'));
    await assert.rejects(extractArchive(join(dir, 'archives'), sparse, dest2, new AbortController().signal, () => {}, 8 * MiB), /extracts to more than 8 MiB/);
    assert.deepEqual(readdirSync(dest2), [], 'what was extracted is removed');

    // Under the cap it extracts as before.
    const dest3 = mkdtempSync(join(dir, 'dest-'));
    await extractArchive(join(dir, 'archives'), dense, dest3, new AbortController().signal, () => {}, 128 * MiB);
    assert.equal(statSync(join(dest3, 'zeros.bin')).size, 64 * MiB);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the cap: the operator setting, never above the disk of the definition\'s largest instance type', () => {
  const disk = (t: string) => instanceResources(t)!.diskBytes;
  assert.equal(DEFAULT_MAX_EXTRACTED_BYTES, Math.max(disk('5xlarge'), disk('4xlarge')));
  assert.equal(extractionLimit({}), disk('nano'));
  assert.equal(extractionLimit({ instance_types: [{ type: 'nano' }, { type: 'small', scopes: ['region:fra'] }] }), disk('small'));
  assert.equal(extractionLimit({ instance_types: [{ type: 'small' }] }, 8 * MiB), 8 * MiB);
});

test('the builder fails the deployment with that reason in its build log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-bomb-'));
  try {
    const id = bomb(dir, 64 * MiB);
    const logs = memoryLogs();
    const builder = createBuilder({ target: 'directory', workDir: join(dir, 'builds'), appendLogs: logs.sink, archiveMaxExtractedBytes: 8 * MiB });
    const d = gitDeployment({ repository: 'unused' });
    d.definition = { name: 'web', type: 'WEB', archive: { id, buildpack: {} }, instance_types: [{ type: 'nano' }] };
    await assert.rejects(builder.build(d, new AbortController().signal), /extracts to more than 8 MiB/);
    assert.match(logs.text(), /Build failed: archive .* extracts to more than 8 MiB/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

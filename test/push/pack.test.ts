// `pier deploy` packing: .gitignore and .dockerignore are both honoured, .git never ships, the result is a tar.gz.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packDirectory } from '../../src/cli/commands/deploy.ts';

test('packDirectory leaves out what .gitignore or .dockerignore exclude, and .git', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-pack-'));
  try {
    const files: Record<string, string> = {
      'index.html': 'hi', '.gitignore': 'secret.txt\nnode_modules/\n', '.dockerignore': 'notes.md\n',
      'secret.txt': 'x', 'notes.md': 'y', 'sub/secret.txt': 'z', 'sub/keep.js': 'k', 'node_modules/a/index.js': 'm', '.git/HEAD': 'ref',
    };
    for (const [p, text] of Object.entries(files)) { mkdirSync(join(dir, p, '..'), { recursive: true }); writeFileSync(join(dir, p), text); }
    const { data, files: count } = await packDirectory(dir);
    const out = join(dir, '..', `${dir.split('/').pop()}.tgz`);
    writeFileSync(out, data);
    const listed = execFileSync('tar', ['-tzf', out], { encoding: 'utf8' }).split('\n').filter(Boolean).map((p) => p.replace(/\/$/, '')).sort();
    rmSync(out);
    assert.deepEqual(listed, ['.dockerignore', '.gitignore', 'index.html', 'sub', 'sub/keep.js']);
    assert.equal(count, listed.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

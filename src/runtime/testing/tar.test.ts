import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTar } from './tar.ts';

test('the tar writer produces archives GNU tar extracts: files, modes, dirs, symlinks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-tar-test-'));
  try {
    const big = Buffer.alloc(1000, 7);
    writeFileSync(join(dir, 'ctx.tar'), createTar([
      { type: 'dir', path: 'bin' },
      { type: 'file', path: 'bin/tool', data: big, mode: 0o755 },
      { type: 'symlink', path: 'bin/alias', target: 'tool' },
      { type: 'file', path: 'README', data: 'hello\n' },
    ]));
    execFileSync('tar', ['-xf', 'ctx.tar'], { cwd: dir });
    assert.deepEqual(readFileSync(join(dir, 'bin/tool')), big);
    assert.equal(statSync(join(dir, 'bin/tool')).mode & 0o777, 0o755);
    assert.equal(readlinkSync(join(dir, 'bin/alias')), 'tool');
    assert.equal(readFileSync(join(dir, 'README'), 'utf8'), 'hello\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// What `pier deploy` and `pier function deploy` upload (#21 item 10): the directory packed by the `tar` npm package
// (no GNU tar flags, so macOS packs too) minus .git and what .gitignore or .dockerignore exclude. A secret listed in
// either file must never reach the archive; what is kept must extract with the server's tar as it was on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { packDirectory } from '../../src/cli/commands/deploy.ts';

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pier-pack-test-'));
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), content);
  }
  return dir;
}

/** Entries of a tar.gz as GNU tar lists them (numeric owners), and the archive extracted into a fresh directory. */
function unpack(data: Buffer): { names: string[]; verbose: string; out: string } {
  const out = mkdtempSync(join(tmpdir(), 'pier-pack-out-'));
  writeFileSync(join(out, '..', `${out.split('/').pop()}.tgz`), data);
  const file = join(out, '..', `${out.split('/').pop()}.tgz`);
  const names = execFileSync('tar', ['-t', '-z', '-f', file], { encoding: 'utf8' }).split('\n').filter(Boolean).map((n) => n.replace(/\/$/, '').replace(/^\.\//, ''));
  const verbose = execFileSync('tar', ['-t', '-v', '-z', '--numeric-owner', '-f', file], { encoding: 'utf8' });
  execFileSync('tar', ['-x', '-z', '-f', file, '-C', out]);
  rmSync(file);
  return { names, verbose, out };
}

test('secrets excluded by .gitignore or .dockerignore never reach the archive, whatever else re-includes', async () => {
  const dir = tree({
    '.gitignore': '.env*\n!.env.example\nnode_modules/\n*.pem\n',
    '.dockerignore': 'secrets\n!secrets/public.txt\n**/*.key\n',
    '.env': 'DB_PASSWORD=hunter2\n',
    '.env.production': 'DB_PASSWORD=prod\n',
    '.env.example': 'DB_PASSWORD=\n',
    'tls/server.pem': 'PRIVATE',
    'secrets/db.txt': 'hunter2',
    'secrets/public.txt': 'ok',
    'config/deep/api.key': 'KEY',
    'node_modules/left-pad/index.js': 'module.exports = 1',
    'src/node_modules.md': 'a file, kept',
    'src/index.js': 'console.log(1)',
    '.git/config': '[core]',
  });
  try {
    const { data, files } = await packDirectory(dir);
    const { names, out } = unpack(data);
    try {
      for (const secret of ['.env', '.env.production', 'tls/server.pem', 'secrets/db.txt', 'config/deep/api.key', 'node_modules', '.git']) {
        assert.ok(!names.includes(secret), `${secret} must not be uploaded (got ${names.join(', ')})`);
      }
      assert.ok(!names.some((n) => n.startsWith('node_modules/') || n.startsWith('.git/')));
      // No secret value anywhere in the bytes either.
      assert.ok(!gunzipSync(data).includes('hunter2'));
      for (const kept of ['.env.example', 'secrets/public.txt', 'src/index.js', 'src/node_modules.md', '.gitignore', '.dockerignore']) {
        assert.ok(names.includes(kept), `${kept} is uploaded`);
      }
      assert.equal(readFileSync(join(out, 'secrets/public.txt'), 'utf8'), 'ok');
      assert.equal(files, names.length);
    } finally { rmSync(out, { recursive: true, force: true }); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('the archive keeps modes, symlinks, long paths and odd names, owned by 0:0 without names', async () => {
  const long = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(80)}.txt`; // past ustar's 100-byte name field
  const dir = tree({ 'bin/run': '#!/bin/sh\necho hi\n', [long]: 'long', '@scope.txt': 'at', 'sp ace/ü.txt': 'utf8' });
  chmodSync(join(dir, 'bin/run'), 0o755);
  symlinkSync('run', join(dir, 'bin/start'));
  try {
    const { data } = await packDirectory(dir);
    const { names, verbose, out } = unpack(data);
    try {
      assert.ok(names.includes(long) && names.includes('@scope.txt') && names.includes('sp ace/ü.txt'), names.join(', '));
      assert.equal(lstatSync(join(out, 'bin/run')).mode & 0o777, 0o755);
      assert.equal(readlinkSync(join(out, 'bin/start')), 'run');
      assert.equal(readFileSync(join(out, long), 'utf8'), 'long');
      assert.equal(readFileSync(join(out, '@scope.txt'), 'utf8'), 'at');
      for (const line of verbose.trim().split('\n')) assert.match(line, /^\S+ 0\/0 /, `owned by 0:0: ${line}`);
    } finally { rmSync(out, { recursive: true, force: true }); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

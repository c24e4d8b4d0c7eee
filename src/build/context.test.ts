import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import * as tar from 'tar';
import { join } from 'node:path';
import { contextIgnore, listContext, tarContext, withPaths } from './context.ts';
import { tempDir } from '../../test/support/temp.ts';

function tree(files: Record<string, string>): string {
  const dir = tempDir('pier-ctx-');
  for (const [p, text] of Object.entries(files)) { mkdirSync(join(dir, p, '..'), { recursive: true }); writeFileSync(join(dir, p), text); }
  return dir;
}

test('a Dockerfile listed in .dockerignore is still sent, as Docker does', () => {
  const dir = tree({ Dockerfile: 'FROM x\n', 'docker/Prod.Dockerfile': 'FROM y\n', '.dockerignore': 'Dockerfile\ndocker/\n', 'a.txt': '' });
  const listed = listContext(dir, contextIgnore(dir));
  assert.ok(!listed.includes('Dockerfile'));
  assert.ok(withPaths(dir, listed, ['Dockerfile']).includes('Dockerfile'));
  const nested = withPaths(dir, listed, ['docker/Prod.Dockerfile']);
  assert.ok(nested.includes('docker') && nested.includes('docker/Prod.Dockerfile'), nested.join(','));
});

test('what a build wrote under an ignored bin/ is kept; paths leaving the context or missing are not', () => {
  const dir = tree({ '.gitignore': 'bin/\n', 'bin/app': 'ELF', 'bin/sub/tool': 'ELF', 'main.go': '' });
  const listed = listContext(dir, contextIgnore(dir));
  assert.deepEqual(listed.filter((p) => p.startsWith('bin')), []);
  const kept = withPaths(dir, listed, ['bin', '.pier/bin', '../etc']);
  assert.deepEqual(kept.filter((p) => p.startsWith('bin')).sort(), ['bin', 'bin/app', 'bin/sub', 'bin/sub/tool']);
  assert.ok(!kept.some((p) => p.includes('..') || p.startsWith('.pier')));
});

test('the context tar keeps modes exactly: a 1777 tmp stays 1777 (node-tar portable masked it to 1755), 0644 stays 0644', async () => {
  const dir = tree({ 'tmp/.keep': '', 'shared.txt': 'w', 'app.txt': 'a' });
  chmodSync(join(dir, 'tmp'), 0o1777);
  chmodSync(join(dir, 'shared.txt'), 0o666);
  chmodSync(join(dir, 'app.txt'), 0o644);
  const data = await tarContext(dir, ['tmp', 'shared.txt', 'app.txt']);
  const modes = new Map<string, number>();
  const owners = new Map<string, number | undefined>();
  const parser = new tar.Parser({ onReadEntry: (e) => { modes.set(e.path.replace(/\/$/, ''), e.mode! & 0o7777); owners.set(e.path.replace(/\/$/, ''), e.uid); e.resume(); } });
  const ended = new Promise((r) => parser.on('end', r));
  parser.end(data);
  await ended;
  assert.equal(modes.get('tmp'), 0o1777);
  assert.equal(modes.get('shared.txt'), 0o666);
  assert.equal(modes.get('app.txt'), 0o644);
  assert.ok(!owners.get('app.txt'), 'an ordinary entry stays portable (no uid)');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contextIgnore, listContext, withPaths } from './context.ts';

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pier-ctx-'));
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

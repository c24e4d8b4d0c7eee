import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkRefName, redactUrl, refToFetch, repositoryUrl } from './git.ts';
import { buildQuery } from './docker-build.ts';
import { sourceDir } from './builder.ts';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('repository forms: URLs kept, github shorthand becomes https, paths become absolute, options refused', () => {
  assert.equal(repositoryUrl('https://example.com/a.git'), 'https://example.com/a.git');
  assert.equal(repositoryUrl('file:///srv/r'), 'file:///srv/r');
  assert.equal(repositoryUrl('git@github.com:o/r.git'), 'git@github.com:o/r.git');
  assert.equal(repositoryUrl('github.com/o/r'), 'https://github.com/o/r');
  assert.equal(repositoryUrl('/srv/repo'), '/srv/repo');
  assert.throws(() => repositoryUrl('--upload-pack=evil'), /not a URL or path/);
});

test('ref to fetch: sha, then tag, then branch, else HEAD; bad names refused', () => {
  assert.equal(refToFetch({ repository: 'r', sha: 'abc1234', branch: 'main' }), 'abc1234');
  assert.equal(refToFetch({ repository: 'r', tag: 'v1', branch: 'main' }), 'refs/tags/v1');
  assert.equal(refToFetch({ repository: 'r', branch: 'feature/x' }), 'refs/heads/feature/x');
  assert.equal(refToFetch({ repository: 'r' }), 'HEAD');
  assert.throws(() => refToFetch({ repository: 'r', sha: 'zzz' }), /hexadecimal/);
  assert.throws(() => checkRefName('branch', '-x'), /not a valid ref/);
  assert.throws(() => checkRefName('branch', 'a..b'), /not a valid ref/);
});

test('credentials in URLs are redacted', () => {
  assert.equal(redactUrl('https://user:tok@example.com/r.git'), 'https://***@example.com/r.git');
});

test('engine build query carries the CPU and memory caps, no swap, and skip_cache', () => {
  const q = buildQuery({ tag: 't', cpu: 0.5, memoryBytes: 512, noCache: true, target: 'prod', buildArgs: { A: '1' } });
  assert.equal(q.cpuquota, 50_000);
  assert.equal(q.cpuperiod, 100_000);
  assert.equal(q.memory, 512);
  assert.equal(q.memswap, 512);
  assert.equal(q.nocache, 1);
  assert.equal(q.target, 'prod');
  assert.equal(q.buildargs, '{"A":"1"}');
  assert.equal(buildQuery({ tag: 't', cpu: 1, memoryBytes: 1 }).nocache, undefined);
});

test('workdir must stay inside the checkout', () => {
  const root = mkdtempSync(join(tmpdir(), 'pier-wd-'));
  mkdirSync(join(root, 'api'));
  assert.equal(sourceDir(root, 'api'), join(root, 'api'));
  assert.equal(sourceDir(root, '/api'), join(root, 'api'));
  assert.throws(() => sourceDir(root, '../etc'), /leaves the repository/);
  assert.throws(() => sourceDir(root, 'missing'), /not a directory/);
});

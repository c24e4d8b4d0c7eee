// .dockerignore parity with Docker itself (#21 item 10): the same context, with tricky rules, is built by the engine
// (`COPY . /ctx/` on the classic builder) and listed by Pier's listContext; the files Docker copies must be exactly
// the files Pier keeps. Needs the Docker engine; builds FROM scratch (no registry).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { contextIgnore, listContext } from '../../src/build/context.ts';

function haveDocker(): boolean {
  try { execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { stdio: 'ignore', timeout: 10_000 }); return true; } catch { return false; }
}

const RULES = [
  '# tricky rules',
  '*.log', '!important.log',
  'build/',
  '**/*.tmp',
  '/secrets',
  'docs/**/draft*', '!docs/keep/**',
  'node_modules',
  'vendor/*', '!vendor/keep',
  'a?c.txt', '[xy].md',
  './config/local.*',
  '.env*', '!.env.example',
  'docsfile/',
].join('\n');

const FILES = [
  'app.log', 'important.log', 'sub/app.log', 'build/out.js', 'src/build/x.js', 'x.tmp', 'a/b/c.tmp', 'secrets/key',
  'sub/secrets/key', 'docs/a/draft1.md', 'docs/a/b/draft3.md', 'docs/keep/draft2.md', 'docs/final.md',
  'node_modules/m/index.js', 'src/node_modules/n.js', 'vendor/a.js', 'vendor/keep/k.js', 'vendor/keep2/k.js',
  'abc.txt', 'abbc.txt', 'x.md', 'z.md', 'config/local.json', 'config/prod.json', '.env', '.env.prod', '.env.example',
  'docsfile', 'main.go',
];

test('Pier keeps exactly the files docker build copies for the same .dockerignore', { skip: haveDocker() ? false : 'no Docker engine', timeout: 120_000 }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-dockerignore-'));
  const tag = `pier-test/dockerignore-parity:${randomUUID().slice(0, 8)}`;
  let container = '';
  t.after(() => {
    if (container) { try { execFileSync('docker', ['rm', '-f', container], { stdio: 'ignore' }); } catch { /* gone */ } }
    try { execFileSync('docker', ['rmi', '-f', tag], { stdio: 'ignore' }); } catch { /* never built */ }
    rmSync(dir, { recursive: true, force: true });
  });
  for (const f of FILES) { mkdirSync(dirname(join(dir, f)), { recursive: true }); writeFileSync(join(dir, f), f); }
  writeFileSync(join(dir, '.dockerignore'), RULES + '\n');
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY . /ctx/\n');

  execFileSync('docker', ['build', '-q', '-t', tag, dir], { env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 90_000 });
  container = execFileSync('docker', ['create', tag, '/none'], { encoding: 'utf8' }).trim();
  const exported = execFileSync('sh', ['-c', 'docker export "$1" | tar -t', 'sh', container], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const dockerFiles = exported.split('\n').filter((l) => l.startsWith('ctx/') && !l.endsWith('/')).map((l) => l.slice(4))
    // Docker reads these two for the build and leaves them out of COPY only when the rules list them.
    .filter((p) => p !== 'Dockerfile' && p !== '.dockerignore').sort();
  const pierFiles = listContext(dir, contextIgnore(dir)).filter((p) => !lstatSync(join(dir, p)).isDirectory())
    .filter((p) => p !== 'Dockerfile' && p !== '.dockerignore').sort();
  assert.deepEqual(pierFiles, dockerFiles);
  // And the rules did something: secrets and the excluded env files are in neither.
  for (const gone of ['secrets/key', '.env', '.env.prod', 'app.log', 'docsfile', 'node_modules/m/index.js']) assert.ok(!dockerFiles.includes(gone), gone);
  for (const kept of ['important.log', 'docs/keep/draft2.md', 'vendor/keep/k.js', '.env.example', 'sub/secrets/key']) assert.ok(dockerFiles.includes(kept), kept);
});

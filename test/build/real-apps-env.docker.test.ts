// Build steps see the service's env, secrets resolved, through the build stage's env file: the build can use them,
// the log shows them redacted, and neither the env file nor a secret is left in the image (its files or its
// history). A .dockerignore listing the Dockerfile does not stop a Dockerfile build.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createBuilder } from '../../src/build/builder.ts';
import { DockerRuntime } from '../../src/runtime/docker/driver.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { ensureTestImage, TEST_IMAGE } from '../../src/runtime/testing/images.ts';
import { gitDeployment, gitRepo, memoryLogs, runAndFetch } from './helpers.ts';
import { tempDir } from '../support/temp.ts';

const engine = new DockerEngine();
const runtime = new DockerRuntime({ scope: `build-env-test-${process.pid}` });
const built: string[] = [];
const SECRET = 'sekrit-4c1d-value';

// runAndFetch's first fetch to a container that has just started can be left pending with no referenced handle
// (undici, bounded only by AbortSignal.timeout, whose timer is unreferenced): in a file whose first test starts
// there, node:test ends with 'Promise resolution is still pending'. A referenced timer keeps the loop alive
// meanwhile; no assertion depends on it.
let keepAlive: NodeJS.Timeout | undefined;
before(async () => { keepAlive = setInterval(() => {}, 60_000); await ensureTestImage(); });

after(async () => {
  clearInterval(keepAlive);
  for (const tag of built) await engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(tag)}`, { query: { force: 1 } }).catch(() => {});
});

test('the build sees plain and secret env; the log redacts the secret; the image keeps neither the env file nor the secret', async () => {
  const logs = memoryLogs();
  const builder = createBuilder({
    target: 'image', workDir: tempDir('pier-build-env-'), appendLogs: logs.sink, engine, cpu: 1, memoryBytes: 1024 ** 3,
    environment: async () => ({ env: { VITE_GREETING: 'bonjour', API_TOKEN: SECRET }, buildArgs: { VITE_GREETING: 'bonjour' }, secretValues: [SECRET] }),
  });
  const repo = gitRepo({
    'package.json': JSON.stringify({ name: 'envapp', version: '1.0.0', scripts: { build: 'node build.js', start: 'node server.js' } }),
    'build.js': 'const fs = require("fs");\nconsole.log("token at build time: " + process.env.API_TOKEN);\n' +
      'fs.writeFileSync("out.txt", process.env.VITE_GREETING + " secret-length=" + (process.env.API_TOKEN || "").length);\n',
    'server.js': 'const fs = require("fs");\nrequire("http").createServer((q, s) => s.end(fs.readFileSync("out.txt", "utf8") + ' +
      '" env-file=" + (fs.existsSync("/pier-build") || fs.existsSync("/app/.pier-build")) + " runtime-token=" + (process.env.API_TOKEN ? "set" : "unset"))).listen(process.env.PORT);\n',
  });
  // skip_cache: the build must run (and print) even when an identical one is in the engine's cache.
  const out = await builder.build(gitDeployment({ repository: repo }, { skip_cache: true }), new AbortController().signal);
  built.push(out.image);
  assert.equal(await runAndFetch(runtime, out.image), `bonjour secret-length=${SECRET.length} env-file=false runtime-token=unset`);
  assert.match(logs.text(), /token at build time: \*+/);
  assert.ok(!logs.text().includes(SECRET), 'the secret reached the build log');
  const history = JSON.stringify(await engine.jsonOrNull('GET', `/images/${encodeURIComponent(out.image)}/history`));
  assert.ok(!history.includes(SECRET) && !history.includes('API_TOKEN'), 'the secret is in the image history');
});

test('a Dockerfile that .dockerignore lists is still sent, as Docker does', async () => {
  const builder = createBuilder({ target: 'image', workDir: tempDir('pier-build-env-'), appendLogs: memoryLogs().sink, engine, cpu: 1, memoryBytes: 1024 ** 3 });
  const repo = gitRepo({
    Dockerfile: `FROM ${TEST_IMAGE}\nCOPY . /www/\nENTRYPOINT ["busybox", "httpd", "-f", "-p", "8000", "-h", "/www"]\n`,
    '.dockerignore': 'Dockerfile\n.dockerignore\n',
    'index.html': 'dockerfile kept\n',
  });
  const out = await builder.build(gitDeployment({ repository: repo, docker: {} }), new AbortController().signal);
  built.push(out.image);
  assert.equal((await runAndFetch(runtime, out.image)).trim(), 'dockerfile kept');
});

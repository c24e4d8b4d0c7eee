// Real builds on the Docker engine: Dockerfile (dockerignore, target, build args, branch), Node, Python, static and
// Procfile buildpacks; each built image is started with the docker runtime and must answer over HTTP.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createBuilder } from '../../src/build/builder.ts';
import { DockerRuntime } from '../../src/runtime/docker/driver.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { ensureTestImage, TEST_IMAGE } from '../../src/runtime/testing/images.ts';
import { gitDeployment, gitRepo, memoryLogs, revParse, runAndFetch } from './helpers.ts';
import { tempDir } from '../support/temp.ts';

const engine = new DockerEngine();
const runtime = new DockerRuntime({ scope: `build-test-${process.pid}` });
const workDir = tempDir('pier-builds-');
const built: string[] = [];

function builder(logs = memoryLogs(), timeoutMs?: number) {
  return createBuilder({ target: 'image', workDir, appendLogs: logs.sink, engine, timeoutMs, cpu: 1, memoryBytes: 1024 ** 3 });
}

before(async () => { await ensureTestImage(); });

test.after(async () => {
  for (const tag of built) await engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(tag)}`, { query: { force: 1 } }).catch(() => {});
});

test('Dockerfile: branch, target, build args, .dockerignore; commit recorded; the image serves', async () => {
  const repo = gitRepo({ 'README.md': 'main branch' }, 'first', {
    feature: {
      Dockerfile: [
        `FROM ${TEST_IMAGE} AS base`,
        'ARG GREETING=none',
        'COPY . /ctx/',
        'RUN test ! -e /ctx/secret.txt && test -e /ctx/kept.txt && echo "context ok"',
        'RUN mkdir -p /www && echo "greeting $GREETING" > /www/index.html',
        'FROM base AS prod',
        'ENTRYPOINT ["busybox", "httpd", "-f", "-p", "8000", "-h", "/www"]',
        'FROM base AS other',
        'RUN exit 1',
        '',
      ].join('\n'),
      '.dockerignore': 'secret.txt\n',
      'secret.txt': 'do not ship',
      'kept.txt': 'ship',
    },
  });
  const logs = memoryLogs();
  const d = gitDeployment({ repository: repo, branch: 'feature', docker: { target: 'prod' } }, { env: [{ key: 'GREETING', value: 'bonjour' }] });
  const out = await builder(logs).build(d, new AbortController().signal);
  built.push(out.image);
  assert.equal(out.commit?.sha, revParse(repo, 'feature'));
  assert.equal(out.commit?.message, 'commit on feature');
  assert.equal(out.commit?.author, 'Test Author');
  assert.match(logs.text(), /context ok/);
  assert.ok(logs.lines.every((l) => l.type === 'build' && l.deployment_id === d.id && l.service_id === d.service_id));
  assert.equal((await runAndFetch(runtime, out.image)).trim(), 'greeting bonjour');
});

test('Node buildpack: npm install of a local dependency, npm run build, npm start', async () => {
  const repo = gitRepo({
    'package.json': JSON.stringify({
      name: 'app', version: '1.0.0', scripts: { build: 'node build.js', start: 'node server.js' },
      dependencies: { greet: 'file:./greet' },
    }),
    'greet/package.json': JSON.stringify({ name: 'greet', version: '1.0.0', main: 'index.js' }),
    'greet/index.js': 'module.exports = () => "hello from node";\n',
    'build.js': 'require("fs").writeFileSync("built.txt", "built-at-build-time");\n',
    'server.js': 'const g = require("greet"); const fs = require("fs");\n' +
      'require("http").createServer((q, s) => s.end(g() + " " + fs.readFileSync("built.txt"))).listen(process.env.PORT);\n',
  });
  const logs = memoryLogs();
  const out = await builder(logs).build(gitDeployment({ repository: `file://${repo}` }), new AbortController().signal);
  built.push(out.image);
  assert.match(logs.text(), /Detected a node app/);
  assert.equal(await runAndFetch(runtime, out.image), 'hello from node built-at-build-time');
});

test('Python buildpack with a Procfile, static site, and a bare Procfile', async () => {
  const py = gitRepo({
    'requirements.txt': '# no dependencies\n',
    Procfile: 'web: python3 serve.py\n',
    'serve.py': 'import http.server, os\nclass H(http.server.BaseHTTPRequestHandler):\n' +
      '    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(b"hello from python")\n' +
      'http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()\n',
  });
  const site = gitRepo({ 'index.html': '<h1>static site</h1>\n' });
  const proc = gitRepo({ Procfile: 'web: mkdir -p /tmp/w && echo procfile-app > /tmp/w/index.html && exec busybox httpd -f -p $PORT -h /tmp/w\n' });
  const b = builder();
  const [a, s, p] = await Promise.all([py, site, proc].map((repo) => b.build(gitDeployment({ repository: repo }), new AbortController().signal)));
  built.push(a.image, s.image, p.image);
  assert.equal(await runAndFetch(runtime, a.image), 'hello from python');
  assert.equal((await runAndFetch(runtime, s.image)).trim(), '<h1>static site</h1>');
  assert.equal((await runAndFetch(runtime, p.image)).trim(), 'procfile-app');
});

test('a failing build rejects with its last log lines; nothing to run names the fix', async () => {
  const repo = gitRepo({ Dockerfile: `FROM ${TEST_IMAGE}\nRUN echo "compiling..." && echo "boom: missing semicolon" && exit 3\n` });
  await assert.rejects(builder().build(gitDeployment({ repository: repo, docker: {} }), new AbortController().signal),
    (e: Error) => /boom: missing semicolon/.test(e.message));
  const empty = gitRepo({ 'README.md': 'nothing here' });
  await assert.rejects(builder().build(gitDeployment({ repository: empty }), new AbortController().signal),
    (e: Error) => /nothing to run/.test(e.message) && /Procfile/.test(e.message) && /run_command/.test(e.message));
  await assert.rejects(builder().build(gitDeployment({ repository: empty, branch: 'nope' }), new AbortController().signal),
    /git fetch of refs\/heads\/nope failed/);
});

test('cancel and the time limit stop a running build', async () => {
  const repo = gitRepo({ Dockerfile: `FROM ${TEST_IMAGE}\nRUN echo "long step" && sleep 60\n` });
  const logs = memoryLogs();
  const abort = new AbortController();
  const started = Date.now();
  const p = builder(logs).build(gitDeployment({ repository: repo, docker: {} }, { skip_cache: true }), abort.signal);
  const deadline = Date.now() + 60_000;
  while (!/long step/.test(logs.text()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  abort.abort(new Error('deployment canceled'));
  await assert.rejects(p, /deployment canceled/);
  assert.ok(Date.now() - started < 55_000, 'the build did not wait for the 60 s step');
  await assert.rejects(builder(memoryLogs(), 1500).build(gitDeployment({ repository: repo, docker: {} }, { skip_cache: true }), new AbortController().signal),
    /build time limit reached/);
});

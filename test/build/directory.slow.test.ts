// Buildpack builds for the process runtime: a prepared directory with a launcher, started by the real process driver.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createBuilder } from '../../src/build/builder.ts';
import { ProcessRuntime } from '../../src/runtime/process/driver.ts';
import { gitDeployment, gitRepo, memoryLogs, runAndFetch, TEST_GO_STD_DIR } from './helpers.ts';
import { tempDir } from '../support/temp.ts';

const workDir = tempDir('pier-dir-builds-');
const runtime = new ProcessRuntime({ stateDir: tempDir('pier-dir-rt-') });
const builder = (logs = memoryLogs()) => createBuilder({ target: 'directory', workDir, appendLogs: logs.sink, goStdDir: TEST_GO_STD_DIR });

test('node app with a build script becomes a directory the process runtime serves', async () => {
  const repo = gitRepo({
    'package.json': JSON.stringify({ name: 'a', version: '1.0.0', scripts: { build: 'node build.js', start: 'node server.js' } }),
    'build.js': 'require("fs").writeFileSync("built.txt", "dir-built");\n',
    'server.js': 'require("http").createServer((q, s) => s.end("node " + require("fs").readFileSync("built.txt"))).listen(process.env.PORT);\n',
    '.gitignore': 'built.txt\n',
  });
  const out = await builder().build(gitDeployment({ repository: repo }), new AbortController().signal);
  assert.match(out.image, /^dir:/);
  assert.ok(existsSync(join(out.image.slice(4), '.pier/run')));
  assert.equal(await runAndFetch(runtime, out.image), 'node dir-built');
});

test('static site and run_command override in a directory', async () => {
  const site = await builder().build(gitDeployment({ repository: gitRepo({ 'index.html': 'dir static\n' }) }), new AbortController().signal);
  assert.equal((await runAndFetch(runtime, site.image)).trim(), 'dir static');
  const custom = await builder().build(gitDeployment({
    repository: gitRepo({ 'www/index.html': 'custom run\n' }),
    run_command: 'busybox httpd -f -p "$PORT" -h /app/www',
  }), new AbortController().signal);
  assert.equal((await runAndFetch(runtime, custom.image)).trim(), 'custom run');
});

test('Dockerfile builds are refused with the reason on the process runtime', async () => {
  const repo = gitRepo({ Dockerfile: 'FROM scratch\n' });
  await assert.rejects(builder().build(gitDeployment({ repository: repo, docker: {} }), new AbortController().signal), /need the docker runtime/);
});

test('go app is built with the host toolchain', { skip: !existsSync('/usr/local/go/bin/go') && !existsSync('/usr/bin/go') ? 'no go on this host' : false }, async () => {
  const repo = gitRepo({
    'go.mod': 'module example.com/app\n\ngo 1.21\n',
    'main.go': 'package main\nimport ("fmt"; "net/http"; "os")\nfunc main() {\n' +
      '\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello from go") })\n' +
      '\thttp.ListenAndServe(":"+os.Getenv("PORT"), nil)\n}\n',
  });
  const out = await builder().build(gitDeployment({ repository: repo }), new AbortController().signal);
  assert.equal(await runAndFetch(runtime, out.image), 'hello from go');
});

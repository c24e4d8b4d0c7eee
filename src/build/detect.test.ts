import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectPlan, hasRequirements, NothingToRunError, planDockerfile, planLauncher, procfileCommand, type FileView } from './detect.ts';

function view(files: Record<string, string>): FileView {
  return { exists: (p) => p in files, read: (p) => files[p] };
}

test('node: lockfile means npm ci, build script runs, start script wins', () => {
  const plan = detectPlan(view({
    'package.json': JSON.stringify({ scripts: { build: 'tsc', start: 'node dist/a.js' }, dependencies: { x: '1' } }),
    'package-lock.json': '{}',
  }), {}, 'image');
  assert.equal(plan.stack, 'node');
  assert.deepEqual(plan.installCommands, ['npm ci --no-audit --no-fund']);
  assert.deepEqual(plan.buildCommands, ['npm run build']);
  assert.equal(plan.runCommand, 'npm start');
  assert.deepEqual(plan.dependencyFiles, ['package.json', 'package-lock.json']);
});

test('node without dependencies installs nothing and runs main', () => {
  const plan = detectPlan(view({ 'package.json': '{"main":"srv.js"}', 'srv.js': '' }), {}, 'image');
  assert.deepEqual(plan.installCommands, []);
  assert.equal(plan.runCommand, 'node srv.js');
});

test('overrides: run_command beats Procfile, build_command replaces the build', () => {
  const files = view({ 'package.json': '{"scripts":{"build":"x","start":"y"}}', Procfile: 'web: node p.js\n' });
  assert.equal(detectPlan(files, {}, 'image').runCommand, 'node p.js');
  const plan = detectPlan(files, { runCommand: 'node r.js', buildCommand: 'make' }, 'image');
  assert.equal(plan.runCommand, 'node r.js');
  assert.deepEqual(plan.buildCommands, ['make']);
});

test('python: requirements installed (into .pydeps for directories), app.py detected', () => {
  const files = view({ 'requirements.txt': 'flask==3\n', 'app.py': '' });
  const img = detectPlan(files, {}, 'image');
  assert.equal(img.stack, 'python');
  assert.equal(img.runCommand, 'python3 app.py');
  assert.match(img.installCommands[0], /pip install .*-r requirements\.txt/);
  const dir = detectPlan(files, {}, 'directory');
  assert.match(dir.installCommands[0], /--target \.pydeps/);
  assert.equal(dir.runEnv.PYTHONPATH, '/app/.pydeps');
  assert.deepEqual(detectPlan(view({ 'requirements.txt': '# none\n', 'main.py': '' }), {}, 'image').installCommands, []);
});

test('go builds on the host, static sites are served by busybox httpd, Procfile alone runs', () => {
  const go = detectPlan(view({ 'go.mod': 'module x' }), {}, 'image');
  assert.equal(go.stack, 'go');
  assert.match(go.hostCommands[0], /^go build /);
  const site = detectPlan(view({ 'index.html': '<p>' }), {}, 'image');
  assert.equal(site.stack, 'static');
  assert.match(site.runCommand, /busybox httpd -f -p "\$\{PORT:-8000\}" -h \/app/);
  assert.equal(detectPlan(view({ Procfile: 'worker: ./w\nweb: ./s' }), { serviceType: 'WORKER' }, 'image').runCommand, './w');
});

test('nothing to run names the fix', () => {
  assert.throws(() => detectPlan(view({ 'README.md': '' }), {}, 'image'), (e: Error) =>
    e instanceof NothingToRunError && /Procfile/.test(e.message) && /run_command/.test(e.message) && /worker/.test(e.message));
  assert.throws(() => detectPlan(view({ 'requirements.txt': '' }), {}, 'image'), NothingToRunError);
});

test('procfile parsing and requirements', () => {
  assert.equal(procfileCommand('# c\nweb:  node a.js  \n', 'WEB'), 'node a.js');
  assert.equal(procfileCommand('release: x\nworker: y', 'WEB'), undefined);
  assert.equal(hasRequirements('\n# only comments\n'), false);
  assert.equal(hasRequirements('-e .\n'), true);
});

test('generated Dockerfile caches the install layer and runs the command in JSON form', () => {
  const plan = detectPlan(view({ 'package.json': '{"dependencies":{"a":"1"},"scripts":{"start":"node s.js"}}' }), {}, 'image');
  const df = planDockerfile(plan, 'pier-base/node:20').split('\n');
  assert.equal(df[0], 'FROM pier-base/node:20');
  const copyDeps = df.indexOf('COPY ["package.json","/app/"]');
  const install = df.findIndex((l) => l.startsWith('RUN') && l.includes('npm install'));
  const copyAll = df.indexOf('COPY . /app/');
  assert.ok(copyDeps > 0 && copyDeps < install && install < copyAll, df.join('\n'));
  assert.ok(df.includes('CMD ["/bin/sh","-c","exec npm start"]'));
});

test('launcher quotes the run command for sh', () => {
  const plan = detectPlan(view({ Procfile: `web: echo 'hi' && sleep 1` }), {}, 'directory');
  const text = planLauncher(plan);
  assert.match(text, /^#!\/bin\/sh\ncd \/app/);
  assert.ok(text.includes(`exec /bin/sh -c 'echo '\\''hi'\\'' && sleep 1'`), text);
});

test('exec only prefixes simple commands', async () => {
  const { execPrefixed } = await import('./detect.ts');
  assert.equal(execPrefixed('npm start'), 'exec npm start');
  assert.equal(execPrefixed('mkdir x && serve'), 'mkdir x && serve');
  assert.equal(execPrefixed('exec foo'), 'exec foo');
});

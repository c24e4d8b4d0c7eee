import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectPlan, hasRequirements, NothingToRunError, planDockerfile, planLauncher, procfileCommand, type FileView } from './detect.ts';

function view(files: Record<string, string>): FileView {
  return { exists: (p) => p in files, read: (p) => files[p] };
}

test('node: lockfile means npm ci with devDependencies, build script runs, dev packages pruned, start script wins', () => {
  const plan = detectPlan(view({
    'package.json': JSON.stringify({ scripts: { build: 'tsc', start: 'node dist/a.js' }, dependencies: { x: '1' }, devDependencies: { typescript: '5' } }),
    'package-lock.json': '{}',
    '.npmrc': 'registry=https://npm.example/\n',
  }), {}, 'image');
  assert.equal(plan.stack, 'node');
  assert.deepEqual(plan.installCommands, ['npm ci --include=dev --no-audit --no-fund']);
  assert.deepEqual(plan.buildCommands, ['npm run build']);
  assert.deepEqual(plan.pruneCommands, ['npm prune --omit=dev --no-audit --no-fund']);
  assert.equal(plan.runCommand, 'npm start');
  assert.deepEqual(plan.dependencyFiles, ['package.json', 'package-lock.json', '.npmrc']);
});

test('node: pnpm and yarn lockfiles pick their manager (version from packageManager); no devDependencies, no prune', () => {
  const pnpm = detectPlan(view({ 'package.json': JSON.stringify({ packageManager: 'pnpm@9.12.0', dependencies: { a: '1' }, devDependencies: { b: '1' }, scripts: { build: 'x', start: 'y' } }), 'pnpm-lock.yaml': '' }), {}, 'image');
  assert.deepEqual(pnpm.installCommands, ['npx --yes pnpm@9.12.0 install --frozen-lockfile --prod=false']);
  assert.deepEqual(pnpm.buildCommands, ['npx --yes pnpm@9.12.0 run build']);
  assert.deepEqual(pnpm.pruneCommands, ['npx --yes pnpm@9.12.0 prune --prod']);
  assert.ok(pnpm.dependencyFiles.includes('pnpm-lock.yaml'));
  const yarn = detectPlan(view({ 'package.json': JSON.stringify({ dependencies: { a: '1' }, scripts: { start: 'y' } }), 'yarn.lock': '# yarn lockfile v1\n' }), {}, 'image');
  assert.deepEqual(yarn.installCommands, ['npx --yes yarn@1 install --frozen-lockfile --production=false --non-interactive']);
  assert.deepEqual(yarn.pruneCommands, []);
  const berry = detectPlan(view({ 'package.json': JSON.stringify({ dependencies: { a: '1' }, scripts: { start: 'y' } }), 'yarn.lock': '__metadata:\n  version: 8\n' }), {}, 'image');
  assert.match(berry.installCommands[0], /^YARN_NODE_LINKER=node-modules npx --yes -p @yarnpkg\/cli-dist@4 yarn install --immutable$/);
  const pnp = detectPlan(view({ 'package.json': JSON.stringify({ dependencies: { a: '1' }, scripts: { start: 'y' } }), 'yarn.lock': '__metadata:\n', '.yarnrc.yml': 'nodeLinker: pnp\n' }), {}, 'image');
  assert.doesNotMatch(pnp.installCommands[0], /YARN_NODE_LINKER/);
  assert.equal(pnp.runEnv.NODE_OPTIONS, '--require /app/.pnp.cjs');
  assert.ok(pnp.dependencyFiles.includes('.yarnrc.yml'));
});

test('node: a Vite app without a start script serves its dist/ as a static site; with a Procfile it keeps node_modules', () => {
  const files = { 'package.json': JSON.stringify({ scripts: { build: 'vite build' }, devDependencies: { vite: '6' } }), 'package-lock.json': '{}' };
  const spa = detectPlan(view(files), {}, 'image');
  assert.match(spa.runCommand, /busybox httpd -f -p "\$\{PORT:-8000\}" -h \/app\/dist/);
  assert.deepEqual(spa.buildCommands, ['npm run build']);
  assert.deepEqual(spa.pruneCommands, ['rm -rf node_modules']);
  const own = detectPlan(view({ ...files, Procfile: 'web: npx vite preview --port $PORT\n' }), {}, 'image');
  assert.deepEqual(own.pruneCommands, ['npm prune --omit=dev --no-audit --no-fund']);
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

test('python: pyproject alone installs after the source; uv and poetry lockfiles are exported by their tool', () => {
  const proj = detectPlan(view({ 'pyproject.toml': '[project]\nname="x"\n', 'main.py': '' }), {}, 'image');
  assert.deepEqual(proj.installCommands, []);
  assert.match(proj.buildCommands[0], /pip install .* \.$/);
  const uv = detectPlan(view({ 'pyproject.toml': '', 'uv.lock': '', 'main.py': '' }), {}, 'image');
  assert.deepEqual(uv.dependencyFiles, ['pyproject.toml', 'uv.lock']);
  assert.match(uv.installCommands[0], /--target \.pier\/tools uv && \.pier\/tools\/bin\/uv export --frozen --no-dev/);
  assert.match(uv.installCommands[1], /pip install .*-r \.pier\/requirements\.txt/);
  const poetry = detectPlan(view({ 'pyproject.toml': '', 'poetry.lock': '', 'main.py': '' }), {}, 'directory');
  assert.match(poetry.installCommands[0], /poetry poetry-plugin-export && .*poetry export --only main/);
  assert.match(poetry.installCommands[1], /--target \.pydeps -r \.pier\/requirements\.txt/);
});

test('python: the requested version must be the one offered, and the error says how to fix it', () => {
  const ok = view({ 'requirements.txt': 'x\n', 'app.py': '', '.python-version': '3.11.4\n' });
  assert.equal(detectPlan(ok, { pythonVersion: '3.11' }, 'image').stack, 'python');
  assert.throws(() => detectPlan(view({ 'requirements.txt': 'x\n', 'app.py': '', 'runtime.txt': 'python-3.12.1\n' }), { pythonVersion: '3.11' }, 'image'),
    (e: Error) => /runtime\.txt asks for Python 3\.12/.test(e.message) && /offers only Python 3\.11/.test(e.message) && /change runtime\.txt to 3\.11/.test(e.message));
});

test('python: Django runs collectstatic when staticfiles has a STATIC_ROOT, and gunicorn serves the wsgi module', () => {
  const settings = "INSTALLED_APPS = ['django.contrib.staticfiles']\nSTATIC_ROOT = BASE_DIR / 'staticfiles'\n";
  const manage = "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n";
  const plan = detectPlan(view({ 'requirements.txt': 'django\ngunicorn\n', 'manage.py': manage, 'mysite/settings.py': settings }), {}, 'image');
  assert.deepEqual(plan.buildCommands, ['python3 manage.py collectstatic --noinput']);
  assert.equal(plan.runCommand, 'gunicorn mysite.wsgi --bind 0.0.0.0:${PORT:-8000}');
  const noRoot = detectPlan(view({ 'requirements.txt': 'django\n', 'manage.py': manage, 'mysite/settings.py': "INSTALLED_APPS = ['django.contrib.staticfiles']\n", Procfile: 'web: x' }), {}, 'image');
  assert.deepEqual(noRoot.buildCommands, []);
});

test('go builds on the host, static sites are served by busybox httpd, Procfile alone runs', () => {
  const go = detectPlan(view({ 'go.mod': 'module x' }), {}, 'image');
  assert.equal(go.stack, 'go');
  assert.match(go.hostCommands[0], /^go build .* -o \.pier\/bin\/app \.$/);
  const heroku = detectPlan(view({ 'go.mod': 'module x', Procfile: 'web: bin/x\n' }), {}, 'image');
  assert.deepEqual(heroku.hostCommands, ['go build -trimpath -o bin/ ./...']);
  assert.deepEqual(heroku.keepPaths, ['bin', '.pier/bin']);
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
  assert.equal(df[0], 'FROM pier-base/node:20 AS build');
  const buildFiles = df.indexOf('COPY [".pier-build/env",".pier-build/step",".pier-build/ca.crt","/pier-build/"]');
  const copyDeps = df.indexOf('COPY ["package.json","/app/"]');
  const install = df.findIndex((l) => l.startsWith('RUN ["/bin/sh","/pier-build/step"') && l.includes('npm install'));
  const copyAll = df.indexOf('COPY . /app/');
  const cleanup = df.indexOf('RUN ["/bin/rm","-rf","/app/.pier-build","/app/Dockerfile.pier"]');
  const final = df.indexOf('FROM pier-base/node:20');
  assert.ok(buildFiles > 0 && buildFiles < copyDeps && copyDeps < install && install < copyAll && copyAll < cleanup && cleanup < final, df.join('\n'));
  // The final stage takes /app only: the env file and the CA bundle stay in the build stage.
  assert.deepEqual(df.slice(final + 1).filter((l) => l.startsWith('COPY')), ['COPY --from=build /app /app']);
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

// Function detection: a handler file is a function only when the ordinary buildpack detection finds nothing to run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FileView } from '../detect.ts';
import { detectSource, findHandler } from './detect.ts';

function view(files: Record<string, string>): FileView {
  return { exists: (p) => p in files, read: (p) => files[p] };
}

test('handler files are functions in their language, with the wrapper as the run command', () => {
  const rows: [Record<string, string>, string, string, string][] = [
    [{ 'handler.ts': '' }, 'typescript', 'node', 'node /app/.pier/function/wrapper.mjs'],
    [{ 'handler.mjs': '' }, 'javascript', 'node', 'node /app/.pier/function/wrapper.mjs'],
    [{ 'handler.js': '', 'package.json': '{"dependencies":{"x":"1"}}' }, 'javascript', 'node', 'node /app/.pier/function/wrapper.mjs'],
    [{ 'handler.py': '', 'requirements.txt': 'requests\n' }, 'python', 'python', 'python3 /app/.pier/function/wrapper.py'],
  ];
  for (const [files, language, stack, run] of rows) {
    const { plan, fn } = detectSource(view(files), {}, 'directory');
    assert.equal(fn?.language, language, JSON.stringify(files));
    assert.equal(plan.stack, stack);
    assert.equal(plan.runCommand, run);
  }
  const py = detectSource(view({ 'handler.py': '', 'requirements.txt': 'requests\n' }), {}, 'directory').plan;
  assert.deepEqual(py.installCommands, ['python3 -m pip install --no-input --disable-pip-version-check --target .pydeps -r requirements.txt']);
  assert.equal(py.runEnv.PYTHONPATH, '/app/.pydeps');
  const node = detectSource(view({ 'handler.ts': '', 'package.json': '{"dependencies":{"x":"1"}}', 'package-lock.json': '{}' }), {}, 'image').plan;
  assert.deepEqual(node.installCommands, ['npm ci --omit=dev --no-audit --no-fund']);
});

test('ordinary apps with a handler file still build as before', () => {
  const rows: [Record<string, string>, string][] = [
    [{ 'handler.js': '', 'package.json': '{"scripts":{"start":"node server.js"}}' }, 'npm start'],
    [{ 'handler.js': '', 'index.js': '', 'package.json': '{}' }, 'node index.js'],
    [{ 'handler.py': '', 'app.py': '', 'requirements.txt': '' }, 'python3 app.py'],
    [{ 'handler.ts': '', Procfile: 'web: ./serve' }, './serve'],
    [{ 'handler.ts': '', 'index.html': '' }, 'busybox httpd -f -p "${PORT:-8000}" -h /app'],
  ];
  for (const [files, run] of rows) {
    const { plan, fn } = detectSource(view(files), {}, 'directory');
    assert.equal(fn, undefined, JSON.stringify(files));
    assert.equal(plan.runCommand, run);
  }
  assert.equal(detectSource(view({ 'handler.ts': '' }), { runCommand: './x' }, 'directory').fn, undefined);
});

test('no handler, a worker, or two handlers: nothing is guessed', () => {
  assert.throws(() => detectSource(view({ 'notes.txt': '' }), {}, 'directory'), /nothing to run/);
  assert.throws(() => detectSource(view({ 'handler.ts': '' }), { serviceType: 'WORKER' }, 'directory'), /nothing to run/);
  assert.throws(() => findHandler(view({ 'handler.ts': '', 'handler.py': '' })), /several function handlers \(handler\.ts, handler\.py\)/);
});

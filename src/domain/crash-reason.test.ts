import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { crashReason, type OutputLine } from './crash-reason.ts';

// Outputs captured from real crashes on Debian 12 (node v20, python 3.11, go 1.22 binary), paths rewritten to /app.
const fixture = (name: string): OutputLine[] =>
  readFileSync(new URL(`./testdata/crash/${name}`, import.meta.url), 'utf8').replace(/\n$/, '').split('\n').map((line) => ({ stream: 'stderr', line }));

test('crash reasons: the error and its first app frame, not the last line printed', () => {
  const table: [string, string][] = [
    ['node-syntax.txt', 'SyntaxError: Unexpected end of input (at /app/bad.js:3)'],
    ['node-throw.txt', "TypeError: Cannot read properties of undefined (reading 'port') (at boom ([eval]:1:24))"],
    ['node-module.txt', "Error: Cannot find module 'express' (at [eval]:1:1)"],
    ['node-esm.txt', "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/app/nope.js' imported from /app/esm.mjs"],
    ['node-addrinuse.txt', 'Error: listen EADDRINUSE: address already in use :::18931 (at [eval]:1:32)'],
    ['node-reject.txt', 'Error: db connection refused (at main ([eval]:1:30))'],
    ['node-esm-reject.txt', 'RangeError: bad size (at file:///app/[eval1]:1:22)'],
    ['py-value.txt', 'ValueError: bad port: abc (at <string>:3 in f)'],
    ['py-file.txt', "ValueError: invalid literal for int() with base 10: 'x' (at /app/app.py:2 in <module>)"],
    ['py-import.txt', "ModuleNotFoundError: No module named 'flaskx' (at <string>:1 in <module>)"],
    ['py-syntax.txt', 'SyntaxError: invalid syntax (at <string>:1)'],
    ['go-panic-err.txt', 'panic: dial tcp 10.0.0.5:5432: connect: connection refused (at main.main /app/main.go:18)'],
    ['go-deadlock.txt', 'fatal error: all goroutines are asleep - deadlock! (at main.main /app/main.go:15)'],
    ['go-panic.txt', 'panic: runtime error: index out of range [5] with length 2 (at main.handler /app/main.go:5)'],
  ];
  for (const [name, want] of table) assert.equal(crashReason(fixture(name)), want, name);
});

test('crash reasons: generic output gives the last stderr line that is not a banner', () => {
  const l = (stream: 'stdout' | 'stderr', line: string): OutputLine => ({ stream, line });
  assert.equal(crashReason([l('stderr', 'cannot bind :8000'), l('stdout', 'bye'), l('stderr', 'Node.js v20.20.2'), l('stderr', '')]), 'cannot bind :8000');
  assert.equal(crashReason([l('stdout', 'starting'), l('stdout', 'fatal: no config')]), 'fatal: no config');
  assert.equal(crashReason([l('stdout', '\x1b[31mred error\x1b[0m\r')]), 'red error');
  assert.equal(crashReason([]), '');
  assert.equal(crashReason([l('stderr', 'listen failed'), l('stderr', '}')]), 'listen failed');
  assert.equal(crashReason([l('stderr', 'Node.js v20.20.2')]), '');
  // A word ending in Error that is not an exception report stays a plain last line.
  assert.equal(crashReason([l('stderr', 'ConfigError: missing PORT'), l('stderr', 'shutting down')]), 'shutting down');
});

test("crash reasons: a function wrapper's closing sentence wins over the stack it printed above it", () => {
  const l = (line: string): OutputLine => ({ stream: 'stderr', line });
  const node = [l('Error: DATABASE_URL is not set'), l('    at file:///app/.pier/function/handler.mjs:2:7'),
    l('    at ModuleJob.run (node:internal/modules/esm/module_job:195:25)'), l('cannot load the function handler: DATABASE_URL is not set')];
  assert.equal(crashReason(node), 'cannot load the function handler: DATABASE_URL is not set');
  const py = [l('Traceback (most recent call last):'), l('  File "/app/handler.py", line 1, in <module>'), l('ModuleNotFoundError: No module named x'),
    l("cannot load the function handler: ModuleNotFoundError: No module named x")];
  assert.equal(crashReason(py), 'cannot load the function handler: ModuleNotFoundError: No module named x');
});

test('crash reasons: live crashes of node and python on this machine', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-crash-'));
  try {
    writeFileSync(join(dir, 'server.js'), 'const http = require("http");\nconst cfg = undefined;\nhttp.createServer().listen(cfg.port);\n');
    const node = spawnSync(process.execPath, [join(dir, 'server.js')], { encoding: 'utf8', timeout: 20_000 });
    const nodeLines = node.stderr.split('\n').map((line): OutputLine => ({ stream: 'stderr', line }));
    assert.match(nodeLines.filter((x) => x.line.trim()).at(-1)!.line, /^Node\.js v/);
    assert.equal(crashReason(nodeLines), `TypeError: Cannot read properties of undefined (reading 'port') (at Object.<anonymous> (${join(dir, 'server.js')}:3:32))`);
    let python = '';
    try { python = execFileSync('python3', ['--version'], { encoding: 'utf8' }) ? 'python3' : ''; } catch { /* no python: skip */ }
    if (python) {
      writeFileSync(join(dir, 'app.py'), 'import json\n\ndef load():\n    return json.loads("{")\n\nload()\n');
      const py = spawnSync(python, [join(dir, 'app.py')], { encoding: 'utf8', timeout: 20_000 });
      const reason = crashReason(py.stderr.split('\n').map((line): OutputLine => ({ stream: 'stderr', line })));
      assert.match(reason, /^json\.decoder\.JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 \(char 1\) \(at \S+decoder\.py:\d+ in raw_decode\)$/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

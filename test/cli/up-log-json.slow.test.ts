// `pier up` with PIER_LOG_FORMAT=json (#21 item 10): the server's lines are pino's JSON records on stderr, one a
// line, with the start-up messages and no token in them; the CLI's own "Pier is up" line stays text. Process runtime,
// API-only ports on any free port, a temp data dir; stopped by PID with SIGINT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/pier.mjs', import.meta.url));

test('pier up logs JSON records with PIER_LOG_FORMAT=json, secrets redacted', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-up-json-'));
  const token = `boot-${'x'.repeat(12)}-s3cret`;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir, PIER_LOG_FORMAT: 'json', PIER_TOKEN: token };
  const child = spawn(process.execPath, [BIN, 'up', '--data-dir', join(dir, 'data'), '--api-addr', '127.0.0.1:0', '--edge-addr', '127.0.0.1:0', '--tls-addr', 'off', '--runtime', 'process', '--no-setup'],
    { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c));
  child.stdout.on('data', (c: Buffer) => (err += c));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; }
    rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 60_000;
  while (!/Pier is up/.test(err) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  assert.match(err, /Pier is up: API http:\/\/127\.0\.0\.1:\d+/, err);
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
  assert.equal(child.exitCode, 0, err);

  const lines = err.split('\n').filter(Boolean);
  const records = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; name: string; time: number });
  assert.ok(records.length >= 3, err);
  for (const r of records) {
    assert.equal(r.name, 'pier');
    assert.equal(typeof r.time, 'number');
    assert.ok(!r.msg.startsWith('pier: '), r.msg);
  }
  assert.ok(records.some((r) => /^API listening on http:\/\/127\.0\.0\.1:\d+/.test(r.msg)), err);
  assert.ok(records.some((r) => /^runtime: process/.test(r.msg)), err);
  // The only non-JSON lines are the CLI's own (pier up's status), never the server's "pier: ..." lines.
  for (const l of lines.filter((x) => !x.startsWith('{'))) assert.doesNotMatch(l, /^pier: /, l);
  const credentials = JSON.parse(readFileSync(join(dir, 'data', 'credentials.json'), 'utf8')) as { token: string };
  assert.ok(!err.includes(credentials.token) && !err.includes(token), 'no token in the log');
});

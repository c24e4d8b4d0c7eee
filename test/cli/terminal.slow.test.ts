// The CLI through a real terminal (a pty from util-linux's `script`) and through a plain pipe: colours and the live
// status line appear only on the terminal. The fake API runs here; the CLI is the real bin/pier.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEP2_ID, DEP_ID, SVC_ID, deployment, lookupRoutes, service, startFakeApi, type FakeApi } from './harness.ts';

const BIN = fileURLToPath(new URL('../../bin/pier.mjs', import.meta.url));

/** Runs `pier <args>` on a pty (tty) or with piped output; resolves with everything it printed. */
function pier(api: FakeApi, args: string[], tty: boolean): Promise<string> {
  const env = { ...process.env, PIER_URL: api.url, PIER_TOKEN: 't', HOME: '/nonexistent-home', NO_COLOR: '', TERM: 'xterm', COLUMNS: '100' };
  delete (env as Record<string, string | undefined>).NO_COLOR;
  const argv = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // `script -qec CMD /dev/null` gives CMD a pty for stdin, stdout and stderr and copies what it prints to our pipe.
  const [cmd, cmdArgs] = tty ? ['script', ['-qec', argv, '/dev/null']] : [process.execPath, [BIN, ...args]];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd as string, cmdArgs as string[], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (out += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

test('logs are coloured on a terminal and plain through a pipe', async () => {
  const line = (msg: string, stream: string) => ({ msg, created_at: '2026-03-01T12:00:01Z', labels: { stream, instance_id: 'abcdef12', deployment_id: DEP_ID } });
  const api = await startFakeApi({
    ...lookupRoutes(),
    [`GET /v1/services/${SVC_ID}`]: { body: { service: service() } },
    'GET /v1/streams/logs/query': { body: { data: [line('boom', 'stderr'), line('hello', 'stdout')], pagination: {} } },
  });
  try {
    const onTty = await pier(api, ['services', 'logs', 'shop/web'], true);
    assert.match(onTty, /\x1b\[2m2026-03-01 12:00:01\.000\x1b\[0m \x1b\[\d+mabcdef12\x1b\[0m \x1b\[2mstdout\x1b\[0m hello/);
    assert.match(onTty, /\x1b\[31mboom\x1b\[0m/);
    const piped = await pier(api, ['services', 'logs', 'shop/web'], false);
    assert.equal(piped, '2026-03-01 12:00:01.000 abcdef12 stdout hello\n2026-03-01 12:00:01.000 abcdef12 stderr boom\n');
  } finally {
    await api.close();
  }
});

test('--wait on a terminal: build lines, a live status line redrawn in place, then the healthy service and URL', async () => {
  let seenBuild = false;
  let polls = 0;
  const api = await startFakeApi({
    ...lookupRoutes(),
    'POST /v1/services': { body: { service: service({ status: 'STARTING', latest_deployment_id: '', active_deployment_id: '' }) } },
    [`GET /v1/services/${SVC_ID}`]: () => ({ body: { service: service({ status: seenBuild ? 'HEALTHY' : 'STARTING', latest_deployment_id: DEP2_ID, active_deployment_id: DEP2_ID }) } }),
    // PROVISIONING for at least 1.5 s of polls (the status line redraws every 100 ms), HEALTHY once the build was sent.
    [`GET /v1/deployments/${DEP2_ID}`]: () => ({ body: { deployment: deployment({ id: DEP2_ID, status: seenBuild && polls++ > 0 ? 'HEALTHY' : 'PROVISIONING' }) } }),
  });
  api.onTail = (ws) => {
    ws.send(JSON.stringify({ result: { msg: '$ npm ci', created_at: '2026-03-01T12:00:01Z', labels: { type: 'build', stream: 'stdout' } } }));
    setTimeout(() => {
      ws.send(JSON.stringify({ result: { msg: 'added 12 packages', created_at: '2026-03-01T12:00:02Z', labels: { type: 'build', stream: 'stdout' } } }));
      setTimeout(() => (seenBuild = true), 1500);
    }, 300);
  };
  try {
    const out = await pier(api, ['services', 'create', 'web', '--app', 'shop', '--docker', 'nginx', '--wait', '--wait-timeout', '2m'], true);
    assert.match(out, /\r\x1b\[2K. PROVISIONING · \d+s · \$ npm ci/, 'the status line shows status, elapsed time and step');
    assert.ok((out.match(/\r\x1b\[2K. PROVISIONING/g) ?? []).length >= 3, 'it is redrawn in place while waiting');
    assert.match(out, /build \| \$ npm ci\r?\n/);
    assert.match(out, /build \| added 12 packages\r?\n/);
    assert.match(out, /deployment 44444444: HEALTHY\r?\n/);
    assert.match(out, /22222222 {3}shop {3}web {4}WEB {4}HEALTHY/);
    assert.match(out, /URL: http:\/\/shop\.localhost:8000\/\r?\n/);
  } finally {
    await api.close();
  }
});

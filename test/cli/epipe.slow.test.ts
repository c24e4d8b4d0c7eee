// `pier services logs ... | head -1` through a real pipe: the CLI must stop quietly when the reader goes away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DEP_ID, SVC_ID, lookupRoutes, service, startFakeApi } from './harness.ts';

const BIN = fileURLToPath(new URL('../../bin/pier.mjs', import.meta.url));

test('services logs | head -1 exits quietly, without EPIPE or a stack trace', async () => {
  // 400 KB of lines: far more than a pipe buffers, so writes go on after head has exited.
  const data = Array.from({ length: 2000 }, (_, i) => ({
    msg: `line ${i} ${'x'.repeat(200)}`, created_at: '2026-03-01T12:00:01Z', labels: { stream: 'stdout', instance_id: 'i1', deployment_id: DEP_ID },
  }));
  const api = await startFakeApi({
    ...lookupRoutes(),
    [`GET /v1/services/${SVC_ID}`]: { body: { service: service() } },
    'GET /v1/streams/logs/query': { body: { data, pagination: {} } },
  });
  try {
    const script = `"$NODE" "$BIN" services logs shop/web --raw | head -1; echo "status=\${PIPESTATUS[0]}" >&2`;
    // Not spawnSync: it would block this process's event loop, where the fake API answers.
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve) => {
      const child = spawn('bash', ['-c', script], {
        env: { ...process.env, NODE: process.execPath, BIN, PIER_URL: api.url, PIER_TOKEN: 't', HOME: '/nonexistent-home' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c));
      child.stderr.on('data', (c: Buffer) => (stderr += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.on('close', () => {
        clearTimeout(timer);
        resolve({ stdout, stderr });
      });
    });
    assert.match(r.stdout, /^line 1999 x+\n$/, 'head printed the first line (oldest first: the API answered newest first)');
    assert.doesNotMatch(r.stderr, /EPIPE|Error|at /);
    assert.match(r.stderr, /status=0\n$/);
  } finally {
    await api.close();
  }
});

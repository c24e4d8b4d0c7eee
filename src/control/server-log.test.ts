import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadLogFormat } from '../config.ts';
import { createServerLog, redactLine } from './server-log.ts';

function capture(format: 'text' | 'json', secrets?: string[]) {
  const lines: string[] = [];
  const log = createServerLog({ format, secrets, destination: { write: (t: string) => { lines.push(...t.split('\n').filter(Boolean)); } } });
  return { log, lines };
}

const TOKEN = 'pier_aErvwwLwQTiHn17gzuvpPRELIwpTz3ehqFU9rH9nJH0';

test('text (the terminal default): the one line pier up always printed', () => {
  const { log, lines } = capture('text');
  log('pier: API listening on http://127.0.0.1:7700');
  log('deployed: demo/hello v2: Healthy in was.');
  log('crashed: demo/hello instance 63574089: exited with code 1 after 924 ms: SyntaxError: Unexpected token');
  log.logger.error('store unreachable');
  assert.deepEqual(lines, [
    'pier: API listening on http://127.0.0.1:7700',
    'pier: deployed: demo/hello v2: Healthy in was.',
    'pier: crashed: demo/hello instance 63574089: exited with code 1 after 924 ms: SyntaxError: Unexpected token',
    'pier: error: store unreachable',
  ]);
});

test('PIER_LOG_FORMAT=json: one pino record a line, message without the prefix, trouble as warn', () => {
  const { log, lines } = capture('json');
  log('pier: edge listening on http://127.0.0.1:8000');
  log('deployment failed: demo/api v3: build failed');
  assert.equal(lines.length, 2);
  const [a, b] = lines.map((l) => JSON.parse(l));
  assert.equal(a.msg, 'edge listening on http://127.0.0.1:8000');
  assert.equal(a.level, 30);
  assert.equal(a.name, 'pier');
  assert.equal(typeof a.time, 'number');
  assert.equal(a.pid, process.pid);
  assert.equal(b.level, 40);
  assert.equal(b.msg, 'deployment failed: demo/api v3: build failed');
});

test('secrets are redacted in both formats: tokens, URL passwords, bearer credentials, known values, fields', () => {
  for (const format of ['text', 'json'] as const) {
    const { log, lines } = capture(format, ['hunter2-bootstrap-secret']);
    log(`pier: issued token ${TOKEN} for ops`);
    log('pier: store unreachable (PostgreSQL at postgres://pier:s3cr3t@10.0.0.5:5432/pier: timeout)');
    log('pier: upstream said Authorization: Bearer abcdefghijklmnop1234');
    log('pier: bootstrap token hunter2-bootstrap-secret accepted');
    log.logger.info({ token: TOKEN, password: 'p4ss', nested: { secret: 'x-secret-x' } }, 'structured');
    const all = lines.join('\n');
    for (const leaked of [TOKEN, 's3cr3t', 'abcdefghijklmnop1234', 'hunter2-bootstrap-secret', 'p4ss', 'x-secret-x']) {
      assert.ok(!all.includes(leaked), `${format}: ${leaked} leaked in:\n${all}`);
    }
    assert.match(all, /postgres:\/\/pier:\[redacted\]@10\.0\.0\.5:5432\/pier/);
    assert.match(all, /issued token pier_\[redacted\] for ops/);
  }
});

test('redactLine leaves ordinary lines alone', () => {
  for (const line of ['deployed: shop/web v12: Healthy in fra.', 'scrape pier_api_request_duration_seconds and pier_edge_route_requests_total', 'edge listening on http://127.0.0.1:8000 (apps answer at http://<app>-<org>.localhost:8000/)', 'git push to https://example.com/repo.git']) {
    assert.equal(redactLine(line), line);
  }
});

test('PIER_LOG_FORMAT is text by default, json on request, anything else an error naming the choices', () => {
  assert.equal(loadLogFormat({}), 'text');
  assert.equal(loadLogFormat({ PIER_LOG_FORMAT: 'JSON' }), 'json');
  assert.equal(loadLogFormat({ PIER_LOG_FORMAT: 'text' }), 'text');
  assert.throws(() => loadLogFormat({ PIER_LOG_FORMAT: 'yaml' }), /PIER_LOG_FORMAT must be text or json, got "yaml"/);
});

// Per-token rate limiting (token bucket, 429 rate_limit_error + Retry-After) and request body size limits (413).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { RateLimiter, RateLimitError } from '../../src/api/rate-limit.ts';
import { errorCodeOf } from '../../src/api/error-body.ts';
import { createApiServer } from '../../src/api/server.ts';
import { openStore } from '../../src/store/store.ts';
import { generateToken, insertOrganization, insertToken } from '../../src/store/organizations.ts';
import { startTestPier } from '../api/helpers.ts';

test('token bucket: burst, then 429 with a retry hint, refilled over time, buckets independent', () => {
  let now = 0;
  const rl = new RateLimiter({ ratePerSecond: 2, burst: 3 }, () => now);
  for (let i = 0; i < 3; i++) rl.take('a');
  assert.throws(() => rl.take('a'), (e: unknown) => e instanceof RateLimitError && e.status === 429 && e.code === 'rate_limit_error' && e.retryAfter === 1);
  rl.take('b');
  now += 500;
  rl.take('a');
  assert.throws(() => rl.take('a'), RateLimitError);
  now += 10_000;
  for (let i = 0; i < 3; i++) rl.take('a');
  assert.throws(() => rl.take('a'), RateLimitError);
  const off = new RateLimiter({ ratePerSecond: 0, burst: 0 }, () => now);
  for (let i = 0; i < 100; i++) off.take('a');
});

test('API answers 429 with Retry-After per token, other tokens unaffected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-rl-'));
  const store = await openStore({ dataDir: dir });
  const api = createApiServer({ store, rateLimit: { ratePerSecond: 0.01, burst: 3 }, logger: () => {} });
  try {
    const org = await insertOrganization(store.db, 'rl');
    const [t1, t2] = [generateToken(), generateToken()];
    await insertToken(store.db, org.id, 'one', t1);
    await insertToken(store.db, org.id, 'two', t2);
    const url = await api.listen(0);
    const get = (tok: string) => fetch(`${url}/v1/apps`, { headers: { authorization: `Bearer ${tok}` } });
    for (let i = 0; i < 3; i++) assert.equal((await get(t1)).status, 200);
    const limited = await get(t1);
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    const body = await limited.json() as { code: string; status: number };
    assert.equal(errorCodeOf(body), 'rate_limit_error');
    assert.equal(body.status, 429);
    assert.equal((await get(t2)).status, 200);
  } finally {
    await api.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('request bodies over 1 MiB get 413 payload_too_large and create nothing', async () => {
  const t = await startTestPier();
  try {
    const big = { name: 'big', padding: 'x'.repeat(1024 * 1024 + 10) };
    const r = await t.req('POST', '/v1/apps', big);
    assert.equal(r.status, 413);
    assert.equal(errorCodeOf(r.body), 'payload_too_large');
    const r2 = await t.req('POST', '/v1/credentials', { name: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(r2.status, 413);
    assert.equal((await t.req('GET', '/v1/apps')).body.apps.length, 0);
  } finally {
    await t.close();
  }
});

test('PIER_API_RATE_LIMIT configures the bucket', async () => {
  const { rateLimitFromEnv } = await import('../../src/config.ts');
  assert.deepEqual(rateLimitFromEnv({ PIER_API_RATE_LIMIT: '5/20' }), { ratePerSecond: 5, burst: 20 });
  assert.deepEqual(rateLimitFromEnv({ PIER_API_RATE_LIMIT: '0' }), { ratePerSecond: 0, burst: 0 });
  // Unset or malformed: no setting, so the API keeps DEFAULT_RATE_LIMIT.
  assert.equal(rateLimitFromEnv({}), undefined);
  assert.equal(rateLimitFromEnv({ PIER_API_RATE_LIMIT: 'lots' }), undefined);
});

test('the API holds at most maxConnections client connections; past it a new one is closed before any byte, and counted', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-conns-'));
  const store = await openStore({ dataDir: dir });
  const api = createApiServer({ store, maxConnections: 2, logger: () => {} });
  const held: Socket[] = [];
  try {
    const url = new URL(await api.listen(0));
    const open = () => new Promise<Socket>((resolve) => { const c = connect(Number(url.port), '127.0.0.1', () => resolve(c)); c.on('error', () => undefined); held.push(c); });
    // Two idle connections (a slow client that sends nothing) take the places.
    await open();
    await open();
    await new Promise((r) => setTimeout(r, 50));
    // The third is closed at once, with no answer.
    const third = await open();
    const answer = await new Promise<string>((resolve) => {
      let got = '';
      third.on('data', (d) => { got += d; });
      third.on('close', () => resolve(got));
      third.write('GET /health HTTP/1.1\r\nhost: x\r\n\r\n');
      setTimeout(() => resolve(`(still open after 3 s: ${got.slice(0, 40)})`), 3000);
    });
    assert.equal(answer, '');
    assert.match(await api.metrics.render(), /^pier_api_connections_dropped_total 1$/m, 'the drop is counted in /metrics');
    // Freed places are taken again.
    held[0]!.destroy();
    held[1]!.destroy();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await fetch(`${url.origin}/health`)).status, 200);
  } finally {
    for (const c of held) c.destroy();
    await api.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

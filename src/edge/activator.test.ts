// Sleeping apps: requests are held in a bounded queue, onWake is called once, and held requests are
// released when upstreams arrive, or answered 503 on timeout / overflow / wake failure.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEdge } from './edge.ts';
import { app, call, route, startUpstream, until, up } from './test-helpers.ts';

test('held requests are released when setRoutes delivers upstreams; onWake called once', async () => {
  const upstream = await startUpstream('awake');
  const wakes: string[] = [];
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test', onWake: async (id) => { wakes.push(id); } });
  try {
    edge.setRoutes([app('zz', [route('/', [])], { sleeping: true })]);
    const pending = [1, 2, 3].map((i) => call(edge.url, 'zz-acme.pier.test', `/r${i}`, { method: 'POST', body: `b${i}` }));
    await until(() => edge.metrics().apps['app-zz']?.held === 3);
    assert.deepEqual(wakes, ['app-zz']);
    edge.setRoutes([app('zz', [route('/', [up('z1', upstream.port)])], { sleeping: false })]);
    const results = await Promise.all(pending);
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200]);
    assert.deepEqual(results.map((r) => r.body).sort(), ['awake /r1', 'awake /r2', 'awake /r3']);
    assert.equal(edge.metrics().apps['app-zz'].held, 0);
    assert.deepEqual(wakes, ['app-zz']);
  } finally {
    await edge.close();
    await upstream.close();
  }
});

test('a held request times out with 503 and the next request asks for a wake-up again', async () => {
  const wakes: string[] = [];
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test', holdTimeoutMs: 30, onWake: async (id) => { wakes.push(id); } });
  try {
    edge.setRoutes([app('zz', [route('/', [], { serviceName: 'sleepy' })], { sleeping: true })]);
    const r = await call(edge.url, 'zz-acme.pier.test', '/');
    assert.equal(r.status, 503);
    assert.ok(r.headers['retry-after']);
    assert.match(r.body, /sleepy/);
    await call(edge.url, 'zz-acme.pier.test', '/');
    assert.deepEqual(wakes, ['app-zz', 'app-zz']);
  } finally {
    await edge.close();
  }
});

test('the hold queue is bounded: overflow gets 503 at once', async () => {
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test', holdQueueSize: 2, holdTimeoutMs: 5000, onWake: async () => undefined });
  try {
    edge.setRoutes([app('zz', [route('/', [])], { sleeping: true })]);
    const held = [call(edge.url, 'zz-acme.pier.test', '/1'), call(edge.url, 'zz-acme.pier.test', '/2')];
    await until(() => edge.metrics().apps['app-zz']?.held === 2);
    const over = await call(edge.url, 'zz-acme.pier.test', '/3');
    assert.equal(over.status, 503);
    assert.match(over.body, /too many/i);
    await edge.close();
    for (const r of await Promise.all(held)) assert.equal(r.status, 503);
  } finally {
    await edge.close();
  }
});

test('a failed wake-up answers the held requests with 503 naming the cause', async () => {
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test', onWake: async () => { throw new Error('no capacity'); } });
  try {
    edge.setRoutes([app('zz', [route('/', [])], { sleeping: true })]);
    const r = await call(edge.url, 'zz-acme.pier.test', '/');
    assert.equal(r.status, 503);
    assert.match(r.body, /no capacity/);
  } finally {
    await edge.close();
  }
});

test('a client that gives up while held leaves the queue', async () => {
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test', onWake: async () => undefined });
  try {
    edge.setRoutes([app('zz', [route('/', [])], { sleeping: true })]);
    const { request } = await import('node:http');
    const u = new URL(edge.url);
    const req = request({ host: u.hostname, port: u.port, path: '/', agent: false, headers: { host: 'zz-acme.pier.test' } });
    req.on('error', () => undefined);
    req.end();
    await until(() => edge.metrics().apps['app-zz']?.held === 1);
    req.destroy();
    await until(() => edge.metrics().apps['app-zz']?.held === 0);
  } finally {
    await edge.close();
  }
});

test('an app answered 503 (no instance, not sleeping) is held and woken as soon as the table says it sleeps', async () => {
  // Issue #16: the edge keeps no memory of the earlier 503s; what the control plane calls sleeping is woken.
  const upstream = await startUpstream('back');
  const wakes: string[] = [];
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test', onWake: async (id) => { wakes.push(id); } });
  try {
    edge.setRoutes([app('zz', [route('/', [], { serviceName: 'broken', serviceStatus: 'UNHEALTHY' })])]);
    const down = await call(edge.url, 'zz-acme.pier.test', '/');
    assert.equal(down.status, 503);
    assert.match(down.body, /broken has no healthy instance \(status UNHEALTHY\)/);
    assert.deepEqual(wakes, []);
    edge.setRoutes([app('zz', [route('/', [], { serviceName: 'broken', serviceStatus: 'UNHEALTHY' })], { sleeping: true })]);
    const pending = call(edge.url, 'zz-acme.pier.test', '/again');
    await until(() => edge.metrics().apps['app-zz']?.held === 1);
    assert.deepEqual(wakes, ['app-zz']);
    edge.setRoutes([app('zz', [route('/', [up('z1', upstream.port)])])]);
    const r = await pending;
    assert.equal(r.status, 200);
    assert.equal(r.body, 'back /again');
  } finally {
    await edge.close();
    await upstream.close();
  }
});

// Host and path routing, prefix stripping, the edge's own 404/503/401 pages and forwarding headers, over
// real HTTP against real upstreams on 127.0.0.1.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createEdge } from './edge.ts';
import type { AccessLogEntry, Edge } from './types.ts';
import { app, call, route, startUpstream, up, type TestUpstream } from './test-helpers.ts';

let edge: Edge;
let api: TestUpstream;
let web: TestUpstream;
const logs: AccessLogEntry[] = [];

before(async () => {
  api = await startUpstream('api');
  web = await startUpstream('web', (req, res) => {
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.setHeader('connection', 'keep-alive');
    res.writeHead(200, { 'content-type': 'text/plain', 'x-request-id': 'upstream-chose-this' });
    res.end(`web ${req.url}`);
  });
  edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test', accessLog: (e) => logs.push(e) });
  edge.setRoutes([
    app('shop', [route('/', [up('i-web', web.port)]), route('/api/', [up('i-api', api.port)])], { hosts: ['Shop.Example.com'] }),
    app('down', [route('/', [], { serviceName: 'backend', serviceStatus: 'UNHEALTHY' })]),
    app('locked', [route('/', [up('i-web2', web.port)], {
      basicAuths: [{ username: 'ann', password: 's3cret' }], apiKeys: ['key-123'],
    })]),
  ]);
});
after(async () => {
  await edge.close();
  await api.close();
  await web.close();
});

test('default host and custom hosts route to the app, case-insensitive, port ignored', async () => {
  assert.equal((await call(edge.url, 'shop-acme.pier.test', '/x')).body, 'web /x');
  assert.equal((await call(edge.url, 'SHOP-ACME.pier.test:8080', '/x')).body, 'web /x');
  assert.equal((await call(edge.url, 'shop.example.com', '/y')).body, 'web /y');
});

test('longest segment-aware prefix wins and is stripped; query kept', async () => {
  assert.equal((await call(edge.url, 'shop-acme.pier.test', '/api/list?a=1&b=2')).body, 'api /list?a=1&b=2');
  assert.equal((await call(edge.url, 'shop-acme.pier.test', '/api')).body, 'api /');
  assert.equal((await call(edge.url, 'shop-acme.pier.test', '/api?q=1')).body, 'api /?q=1');
  // `/apix` is not under `/api`: the root route takes it, unstripped.
  assert.equal((await call(edge.url, 'shop-acme.pier.test', '/apix')).body, 'web /apix');
});

test('unknown host: 404 page naming host and path, JSON when asked', async () => {
  const html = await call(edge.url, 'nope.pier.test', '/some/where?x=1');
  assert.equal(html.status, 404);
  assert.match(html.headers['content-type'] ?? '', /text\/html/);
  assert.match(html.body, /nope\.pier\.test/);
  assert.match(html.body, /\/some\/where/);
  const json = await call(edge.url, 'nope.pier.test', '/p', { headers: { accept: 'application/json' } });
  assert.equal(json.status, 404);
  const body = JSON.parse(json.body) as { code: string; message: string; request_id: string };
  assert.equal(body.code, 'no_route');
  assert.match(body.message, /nope\.pier\.test/);
  assert.equal(body.request_id, json.headers['x-request-id']);
});

test('known app without a matching route: 404 naming the path', async () => {
  const e = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    e.setRoutes([app('only', [route('/api', [up('i1', api.port)])])]);
    const r = await call(e.url, 'only-acme.pier.test', '/other');
    assert.equal(r.status, 404);
    assert.match(r.body, /\/other/);
  } finally {
    await e.close();
  }
});

test('route without upstream: 503 naming the service and its status, with retry-after', async () => {
  const r = await call(edge.url, 'down-acme.pier.test', '/');
  assert.equal(r.status, 503);
  assert.ok(r.headers['retry-after']);
  assert.match(r.body, /backend/);
  assert.match(r.body, /UNHEALTHY/);
});

test('forwarding headers: x-forwarded-*, x-request-id kept or generated, hop-by-hop removed', async () => {
  api.seen.length = 0;
  const r = await call(edge.url, 'shop-acme.pier.test', '/api/h', {
    headers: { 'x-forwarded-for': '10.1.1.1', 'x-request-id': 'client-id-1', 'keep-alive': 'timeout=5', 'x-custom': 'yes', connection: 'x-secret-hop', 'x-secret-hop': 'drop me' },
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-request-id'], 'client-id-1');
  const h = api.seen[0].headers;
  assert.equal(h['x-forwarded-for'], '10.1.1.1, 127.0.0.1');
  assert.equal(h['x-forwarded-host'], 'shop-acme.pier.test');
  assert.equal(h['x-forwarded-proto'], 'http');
  assert.equal(h['x-request-id'], 'client-id-1');
  assert.equal(h['x-custom'], 'yes');
  assert.equal(h.host, 'shop-acme.pier.test');
  assert.equal(h['keep-alive'], undefined);
  assert.equal(h['x-secret-hop'], undefined);

  const bad = await call(edge.url, 'shop-acme.pier.test', '/api/h', { headers: { 'x-request-id': 'bad id with spaces' } });
  assert.ok(bad.headers['x-request-id']);
  assert.notEqual(bad.headers['x-request-id'], 'bad id with spaces');
  assert.equal(api.seen.at(-1)!.headers['x-request-id'], bad.headers['x-request-id']);
});

test('response headers: duplicates kept, upstream hop-by-hop dropped, request id is the edge one', async () => {
  const r = await call(edge.url, 'shop-acme.pier.test', '/c', { headers: { 'x-request-id': 'rid-7' } });
  assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
  assert.equal(r.headers['x-request-id'], 'rid-7');
});

test('basic auth and API keys are checked at the edge', async () => {
  const host = 'locked-acme.pier.test';
  const none = await call(edge.url, host, '/');
  assert.equal(none.status, 401);
  assert.match(String(none.headers['www-authenticate']), /^Basic realm="locked"/);
  const wrong = await call(edge.url, host, '/', { headers: { authorization: 'Basic ' + Buffer.from('ann:nope').toString('base64') } });
  assert.equal(wrong.status, 401);
  const basic = await call(edge.url, host, '/', { headers: { authorization: 'Basic ' + Buffer.from('ann:s3cret').toString('base64') } });
  assert.equal(basic.status, 200);
  assert.equal((await call(edge.url, host, '/', { headers: { authorization: 'Bearer key-123' } })).status, 200);
  assert.equal((await call(edge.url, host, '/', { headers: { 'x-api-key': 'key-123' } })).status, 200);
  assert.equal((await call(edge.url, host, '/', { headers: { 'x-api-key': 'key-124' } })).status, 401);
});

test('access log entries carry the request facts', async () => {
  logs.length = 0;
  await call(edge.url, 'shop-acme.pier.test', '/api/logme?z=1', { headers: { 'x-request-id': 'log-1', 'x-pier-region': 'was' } });
  const e = logs.find((l) => l.request_id === 'log-1');
  assert.ok(e);
  assert.equal(e.host, 'shop-acme.pier.test');
  assert.equal(e.method, 'GET');
  assert.equal(e.path, '/api/logme?z=1');
  assert.equal(e.status, 200);
  assert.equal(e.upstream, `127.0.0.1:${api.port}`);
  assert.equal(e.region, 'was');
  assert.equal(e.bytes, 'api /logme?z=1'.length);
  assert.ok(e.duration_ms >= 0);
  assert.ok(!Number.isNaN(Date.parse(e.time)));
});

test('HEAD and POST with a body are forwarded', async () => {
  const echo = await startUpstream('echo', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.end(`${req.method} ${Buffer.concat(chunks).toString()}`);
    });
  });
  const e = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    e.setRoutes([app('echo', [route('/', [up('e1', echo.port)])])]);
    const r = await call(e.url, 'echo-acme.pier.test', '/', { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 201);
    assert.equal(r.body, 'POST hello');
    const h = await call(e.url, 'echo-acme.pier.test', '/', { method: 'HEAD' });
    assert.equal(h.status, 201);
    assert.equal(h.body, '');
  } finally {
    await e.close();
    await echo.close();
  }
});

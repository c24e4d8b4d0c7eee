// Streaming both ways without buffering, WebSocket upgrades (with the `ws` package), h2c upstreams and
// upstream keep-alive, over real sockets on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createH2cServer } from 'node:http2';
import { request } from 'node:http';
import { createHash } from 'node:crypto';
import { WebSocket, WebSocketServer } from 'ws';
import { createEdge } from './edge.ts';
import { app, call, route, startUpstream, until, up } from './test-helpers.ts';

test('large streamed upload reaches the upstream while the client is still sending', async () => {
  const chunk = Buffer.alloc(64 * 1024, 7);
  const total = 32 * chunk.length; // 2 MiB
  let firstByteSeenAt = -1;
  let clientSent = 0;
  const hash = createHash('sha256');
  const upstream = await startUpstream('sink', (req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => {
      if (firstByteSeenAt < 0) firstByteSeenAt = clientSent;
      n += c.length;
      hash.update(c);
    });
    req.on('end', () => res.end(`got ${n}`));
  });
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('up', [route('/', [up('u1', upstream.port)])])]);
    const u = new URL(edge.url);
    const expected = createHash('sha256');
    const body = await new Promise<string>((resolve, reject) => {
      const req = request({ host: u.hostname, port: u.port, method: 'PUT', path: '/file', agent: false, headers: { host: 'up-acme.pier.test', 'transfer-encoding': 'chunked' } }, (res) => {
        let s = '';
        res.on('data', (c: Buffer) => { s += c.toString(); });
        res.on('end', () => resolve(s));
      });
      req.on('error', reject);
      let i = 0;
      const pump = (): void => {
        if (i === 32) { req.end(); return; }
        i++;
        clientSent += chunk.length;
        expected.update(chunk);
        req.write(chunk);
        // Wait until the upstream saw this chunk before sending the next one: proves no buffering.
        void until(() => firstByteSeenAt >= 0 && firstByteSeenAt <= clientSent).then(pump, reject);
      };
      pump();
    });
    assert.equal(body, `got ${total}`);
    assert.equal(hash.digest('hex'), expected.digest('hex'));
    assert.equal(firstByteSeenAt, chunk.length, 'upstream saw data after the first client chunk');
  } finally {
    await edge.close();
    await upstream.close();
  }
});

test('chunked response is readable incrementally: each chunk arrives before the next is produced', async () => {
  let sendNext: () => void = () => undefined;
  const upstream = await startUpstream('stream', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let i = 0;
    sendNext = () => {
      i++;
      if (i <= 5) res.write(`data: ${i}\n\n`);
      if (i === 5) res.end();
    };
    sendNext();
  });
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('sse', [route('/', [up('s1', upstream.port)])])]);
    const u = new URL(edge.url);
    const got: string[] = await new Promise((resolve, reject) => {
      const parts: string[] = [];
      const req = request({ host: u.hostname, port: u.port, path: '/events', agent: false, headers: { host: 'sse-acme.pier.test' } }, (res) => {
        assert.equal(res.headers['transfer-encoding'], 'chunked');
        res.on('data', (c: Buffer) => {
          parts.push(c.toString());
          // The upstream only produces the next event after the client has read this one.
          sendNext();
        });
        res.on('end', () => resolve(parts));
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(got.join('').split('\n\n').filter(Boolean), ['data: 1', 'data: 2', 'data: 3', 'data: 4', 'data: 5']);
    assert.ok(got.length >= 5);
  } finally {
    await edge.close();
    await upstream.close();
  }
});

test('WebSocket upgrade is proxied both ways and counts as in flight until closed', async () => {
  const upstream = await startUpstream('ws-http');
  const wss = new WebSocketServer({ server: upstream.server });
  const seenPaths: string[] = [];
  wss.on('connection', (sock, req) => {
    seenPaths.push(req.url ?? '');
    sock.on('message', (m) => sock.send(`echo:${m.toString()}`));
  });
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('ws', [route('/socket', [up('w1', upstream.port)])])]);
    const ws = new WebSocket(`${edge.url.replace('http', 'ws')}/socket/chat?room=1`, { headers: { host: 'ws-acme.pier.test' } });
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const reply = new Promise<string>((resolve) => ws.once('message', (m) => resolve(m.toString())));
    ws.send('hi');
    assert.equal(await reply, 'echo:hi');
    assert.deepEqual(seenPaths, ['/chat?room=1']);
    assert.equal(edge.metrics().instances.w1.inFlight, 1);
    ws.close();
    await until(() => edge.metrics().instances.w1.inFlight === 0);
    // Unknown route: refused with a 404 before any upgrade.
    const bad = new WebSocket(`${edge.url.replace('http', 'ws')}/nope`, { headers: { host: 'ws-acme.pier.test' } });
    const status = await new Promise<number>((resolve) => bad.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    assert.equal(status, 404);
  } finally {
    wss.close();
    await edge.close();
    await upstream.close();
  }
});

test('h2c upstream: requests and bodies go over HTTP/2 cleartext', async () => {
  const seen: { path: string; xff: string; body: string }[] = [];
  const h2 = createH2cServer();
  h2.on('stream', (stream, headers) => {
    let body = '';
    stream.on('data', (c: Buffer) => { body += c.toString(); });
    stream.on('end', () => {
      seen.push({ path: String(headers[':path']), xff: String(headers['x-forwarded-for']), body });
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-proto': 'h2' });
      stream.end(`h2 ${headers[':method']} ${headers[':path']} ${body}`);
    });
  });
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  const port = (h2.address() as { port: number }).port;
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('grpc', [route('/rpc', [up('h1', port, 'fra', 'http2')])])]);
    const r = await call(edge.url, 'grpc-acme.pier.test', '/rpc/Say?x=1', { method: 'POST', body: 'payload' });
    assert.equal(r.status, 200);
    assert.equal(r.body, 'h2 POST /Say?x=1 payload');
    assert.equal(r.headers['x-proto'], 'h2');
    const g = await call(edge.url, 'grpc-acme.pier.test', '/rpc');
    assert.equal(g.body, 'h2 GET / ');
    assert.equal(seen[0].xff, '127.0.0.1');
    assert.equal(edge.metrics().instances.h1.requests, 2);
  } finally {
    await edge.close();
    await new Promise<void>((r) => h2.close(() => r()));
  }
});

test('h2c upstream refusing connections: retried on another upstream', async () => {
  const h2 = createH2cServer((req, res) => res.end('live h2'));
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  const port = (h2.address() as { port: number }).port;
  const { deadPort } = await import('./test-helpers.ts');
  const dead = await deadPort();
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('h2r', [route('/', [up('dead', dead, 'fra', 'http2'), up('live', port, 'fra', 'http2')])])]);
    for (let i = 0; i < 4; i++) assert.equal((await call(edge.url, 'h2r-acme.pier.test', '/')).body, 'live h2');
    assert.equal(edge.metrics().instances.dead.connectErrors, 1);
  } finally {
    await edge.close();
    await new Promise<void>((r) => h2.close(() => r()));
  }
});

test('upstream connections are kept alive and reused', async () => {
  const sockets = new Set<unknown>();
  const upstream = await startUpstream('ka', (req, res) => { sockets.add(req.socket); res.end('ok'); });
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('ka', [route('/', [up('k1', upstream.port)])])]);
    for (let i = 0; i < 20; i++) assert.equal((await call(edge.url, 'ka-acme.pier.test', '/')).body, 'ok');
    assert.equal(sockets.size, 1);
  } finally {
    await edge.close();
    await upstream.close();
  }
});

/** A GET through the edge with `headers`, answered with its body and the trailers the client got. */
function getWithTrailers(edgeUrl: string, host: string, path: string, headers: Record<string, string> = {}) {
  const u = new URL(edgeUrl);
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string; trailers: Record<string, string | undefined> }>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, agent: false, headers: { host, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, trailers: res.trailers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('trailers: an h2c upstream gets te: trailers when the client sent it (only then), and its trailers reach the client', async () => {
  const te: (string | undefined)[] = [];
  const h2 = createH2cServer();
  h2.on('stream', (stream, headers) => {
    te.push(headers.te as string | undefined);
    if (headers[':path'] === '/only-headers') {
      // gRPC's trailers-only answer: the status in the headers, END_STREAM on them.
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5' }, { endStream: true });
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'text/plain' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-sum': 'abc' }));
    stream.end('body');
  });
  await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
  const port = (h2.address() as { port: number }).port;
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('tr', [route('/', [up('h', port, 'fra', 'http2')])])]);
    const r = await getWithTrailers(edge.url, 'tr-acme.pier.test', '/x', { te: 'trailers', connection: 'te' });
    assert.equal(r.body, 'body');
    assert.equal(r.trailers['grpc-status'], '0');
    assert.equal(r.trailers['x-sum'], 'abc');
    assert.equal(r.headers['transfer-encoding'], 'chunked', 'trailers ride on a chunked answer');
    await getWithTrailers(edge.url, 'tr-acme.pier.test', '/y', { te: 'gzip', connection: 'te' });
    await getWithTrailers(edge.url, 'tr-acme.pier.test', '/z');
    assert.deepEqual(te, ['trailers', undefined, undefined], 'te: trailers passed on, any other te not');
    // A trailers-only answer reaches an HTTP/1.1 client with an empty body of known length (HAProxy in front then
    // ends its HTTP/2 client's stream with the headers).
    const only = await getWithTrailers(edge.url, 'tr-acme.pier.test', '/only-headers', { te: 'trailers', connection: 'te' });
    assert.equal(only.status, 200);
    assert.equal(only.headers['grpc-status'], '5');
    assert.equal(only.headers['content-length'], '0');
    assert.equal(only.body, '');
  } finally {
    await edge.close();
    await new Promise<void>((r) => h2.close(() => r()));
  }
});

test('trailers: an HTTP/1.1 upstream\'s chunked trailers reach the client, hop-by-hop ones dropped', async () => {
  const upstream = await startUpstream('t1', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-digest' });
    res.write('part');
    res.addTrailers({ 'x-digest': 'sha-1', connection: 'close' });
    res.end();
  });
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('t1', [route('/', [up('u', upstream.port)])])]);
    const r = await getWithTrailers(edge.url, 't1-acme.pier.test', '/');
    assert.equal(r.body, 'part');
    assert.equal(r.trailers['x-digest'], 'sha-1');
    assert.equal(r.trailers.connection, undefined);
  } finally {
    await edge.close();
    await upstream.close();
  }
});

test('trailers: an upstream sending a malformed trailer loses that answer only; the edge keeps serving', async () => {
  const { createServer: createTcpServer } = await import('node:net');
  // A tenant's app answering with a control character in a trailer value (the parser refuses it before Pier sees it).
  const evil = createTcpServer((c) => { c.on('data', () => c.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nx-bad: a\x01b\r\n\r\n')); });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  const good = await startUpstream('good');
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('evil', [route('/', [up('e', (evil.address() as { port: number }).port)])]), app('good', [route('/', [up('g', good.port)], { serviceId: 'svc-good' })])]);
    const bad = await getWithTrailers(edge.url, 'evil-acme.pier.test', '/').catch((e: Error) => e);
    assert.ok(bad instanceof Error || bad.trailers['x-bad'] === undefined, 'no malformed trailer reaches the client');
    for (let i = 0; i < 3; i++) assert.equal((await call(edge.url, 'good-acme.pier.test', '/x')).body, 'good /x');
  } finally {
    await edge.close();
    await good.close();
    await new Promise<void>((r) => evil.close(() => r()));
  }
});

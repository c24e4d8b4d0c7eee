// TLS at the edge with real clients and a real upstream, certificates from a local CA: SNI picks exact names
// before wildcards and refuses unknown names; HTTP/2 and HTTP/1.1 by ALPN reach the same routing; the https
// redirect and ACME HTTP-01 answers on plain HTTP; certificate swaps take effect for new handshakes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { WebSocket, WebSocketServer } from 'ws';
import { createEdge } from '../../src/edge/edge.ts';
import type { Edge, EdgeCertificate } from '../../src/edge/types.ts';
import { app, call, route, startUpstream, up, type TestUpstream } from '../../src/edge/test-helpers.ts';
import { loadOrCreateLocalCa, type LocalCa } from '../../src/certs/local-ca.ts';
import { h1, h2, handshake } from './tls-support.ts';

const DOMAIN = 'pier.localhost';
let dir: string;
let ca: LocalCa;
let wildcard: EdgeCertificate;
let exact: EdgeCertificate;
let custom: EdgeCertificate;
let upstream: TestUpstream;
let edge: Edge;
const bodies: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pier-edge-tls-'));
  ca = await loadOrCreateLocalCa(dir);
  wildcard = { names: [`*.${DOMAIN}`], ...await ca.issue([`*.${DOMAIN}`]) };
  exact = { names: [`shop-acme.${DOMAIN}`], ...await ca.issue([`shop-acme.${DOMAIN}`]) };
  custom = { names: ['www.example.test'], ...await ca.issue(['www.example.test']) };
  upstream = await startUpstream('web', (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(200, { 'content-type': 'text/plain', 'x-seen-proto': String(req.headers['x-forwarded-proto']), 'x-seen-host': String(req.headers.host) });
      res.end(`web ${req.method} ${req.url}${body ? ` ${body}` : ''}`);
    });
  });
  edge = await createEdge({ addr: '127.0.0.1:0', tlsAddr: '127.0.0.1:0', domain: DOMAIN });
  edge.setRoutes([
    app('shop', [route('/', [up('s1', upstream.port)])], { hosts: ['www.example.test'], httpsRedirect: true }),
    app('blog', [route('/', [up('b1', upstream.port)])]),
  ]);
  edge.setCertificates([wildcard, exact, custom]);
});

after(async () => {
  await edge.close();
  await upstream.close();
  rmSync(dir, { recursive: true, force: true });
});

const serialOf = (c: EdgeCertificate): string => new X509Certificate(c.certPem).serialNumber;

test('SNI: exact name before the wildcard, wildcard for one label only, unknown names and no SNI refused', async () => {
  assert.match(edge.tlsUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
  const shop = await handshake(edge.tlsUrl!, `shop-acme.${DOMAIN}`, ca.rootPem);
  assert.equal(shop.error, undefined);
  assert.equal(shop.cert?.serialNumber, serialOf(exact));
  const blog = await handshake(edge.tlsUrl!, `blog-acme.${DOMAIN}`, ca.rootPem);
  assert.equal(blog.cert?.serialNumber, serialOf(wildcard));
  // Names are matched case-insensitively.
  assert.equal((await handshake(edge.tlsUrl!, `BLOG-acme.${DOMAIN}`, ca.rootPem)).cert?.serialNumber, serialOf(wildcard));
  assert.equal((await handshake(edge.tlsUrl!, 'www.example.test', ca.rootPem)).cert?.serialNumber, serialOf(custom));
  // Never another app's certificate: the handshake itself fails with an alert.
  for (const name of ['a.b.pier.localhost', 'pier.localhost', 'unknown.example.org', '']) {
    const r = await handshake(edge.tlsUrl!, name, ca.rootPem);
    assert.equal(r.cert, undefined, `no certificate for "${name}"`);
    assert.equal(r.error, 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', `alert for "${name}"`);
  }
});

test('HTTP/2 by ALPN through to a real upstream, bodies without content-length, x-forwarded-proto https', async () => {
  const rs = await h2(edge.tlsUrl!, `blog-acme.${DOMAIN}`, ca.rootPem, [
    { path: '/post/1?x=1' },
    { path: '/upload', method: 'POST', body: 'hello over h2' },
    { path: '/two' },
  ]);
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
  assert.equal(rs[0].alpn, 'h2');
  assert.equal(rs[0].body, 'web GET /post/1?x=1');
  assert.equal(rs[1].body, 'web POST /upload hello over h2');
  assert.equal(rs[0].headers['x-seen-proto'], 'https');
  assert.equal(rs[0].headers['x-seen-host'], `blog-acme.${DOMAIN}:${new URL(edge.tlsUrl!).port}`);
  assert.ok(rs[0].headers['x-request-id']);
  // Cookies split into several HTTP/2 header fields reach an HTTP/1.1 upstream as one header.
  const [cookies] = await h2(edge.tlsUrl!, `blog-acme.${DOMAIN}`, ca.rootPem, [{ path: '/c', headers: { cookie: ['a=1', 'b=2'] } }]);
  assert.equal(cookies.status, 200);
  assert.equal(upstream.seen.at(-1)?.headers.cookie, 'a=1; b=2');
  // Edge pages work over HTTP/2 too.
  const [missing] = await h2(edge.tlsUrl!, `nope-acme.${DOMAIN}`, ca.rootPem, [{ path: '/' }]);
  assert.equal(missing.status, 404);
  assert.equal(missing.headers['x-pier-edge'], 'no_route');
});

test('HTTP/1.1 over TLS: same routing, x-forwarded-proto https, edge pages', async () => {
  const r = await h1(edge.tlsUrl!, `blog-acme.${DOMAIN}`, '/a?b=c', ca.rootPem, { method: 'PUT', body: 'h1 body' });
  assert.equal(r.alpn, 'http/1.1');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'web PUT /a?b=c h1 body');
  assert.equal(r.headers['x-seen-proto'], 'https');
  // A host covered by the wildcard but routed nowhere gets the edge's 404 page, over TLS.
  const missing = await h1(edge.tlsUrl!, `nope-acme.${DOMAIN}`, '/', ca.rootPem);
  assert.equal(missing.status, 404);
  assert.equal(missing.headers['x-pier-edge'], 'no_route');
});

test('https redirect: 308 for the app that asks, not for others, never over TLS', async () => {
  const tlsPort = new URL(edge.tlsUrl!).port;
  const r = await call(edge.url, `shop-acme.${DOMAIN}`, '/cart?item=2', { method: 'POST', body: 'x' });
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, `https://shop-acme.${DOMAIN}:${tlsPort}/cart?item=2`);
  // Custom domains of the app redirect to themselves.
  assert.equal((await call(edge.url, 'WWW.example.test:80', '/')).headers.location, `https://www.example.test:${tlsPort}/`);
  const blog = await call(edge.url, `blog-acme.${DOMAIN}`, '/cart');
  assert.equal(blog.status, 200);
  assert.equal(blog.headers['x-seen-proto'], 'http');
  const secure = await h1(edge.tlsUrl!, `shop-acme.${DOMAIN}`, '/cart', ca.rootPem);
  assert.equal(secure.status, 200);
  assert.equal(secure.body, 'web GET /cart');
  // WebSocket upgrades on plain HTTP are redirected too; over TLS they are proxied with x-forwarded-proto https.
  const plainWs = new WebSocket(`${edge.url.replace('http', 'ws')}/ws`, { headers: { host: `shop-acme.${DOMAIN}` } });
  const status = await new Promise<number>((resolve) => plainWs.once('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)));
  assert.equal(status, 308);
});

test('WebSocket over TLS (HTTP/1.1 upgrade) is proxied with x-forwarded-proto https', async () => {
  const wsUp = await startUpstream('ws');
  const wss = new WebSocketServer({ server: wsUp.server });
  wss.on('connection', (sock, req) => sock.send(`proto=${String(req.headers['x-forwarded-proto'])}`));
  const wsEdge = await createEdge({ addr: '127.0.0.1:0', tlsAddr: '127.0.0.1:0', domain: DOMAIN });
  try {
    wsEdge.setRoutes([app('live', [route('/', [up('w1', wsUp.port)])], { httpsRedirect: true })]);
    wsEdge.setCertificates([wildcard]);
    const port = new URL(wsEdge.tlsUrl!).port;
    // ws hands TLS options (servername, ca) through to tls.connect.
    const wsOptions = { headers: { host: `live-acme.${DOMAIN}` }, servername: `live-acme.${DOMAIN}`, ca: ca.rootPem };
    const ws = new WebSocket(`wss://127.0.0.1:${port}/socket`, wsOptions);
    const msg = await new Promise<string>((resolve, reject) => { ws.once('message', (m) => resolve(m.toString())); ws.once('error', reject); });
    assert.equal(msg, 'proto=https');
    ws.close();
  } finally {
    wss.close();
    await wsEdge.close();
    await wsUp.close();
  }
});

test('ACME HTTP-01: answered on plain HTTP for any host before routing, never redirected', async () => {
  edge.setAcmeChallenges({ tok1: 'tok1.thumbprint', tok2: 'tok2.thumbprint' });
  for (const host of [`shop-acme.${DOMAIN}`, 'unrouted.example.org', 'www.example.test']) {
    const r = await call(edge.url, host, '/.well-known/acme-challenge/tok1');
    assert.equal(r.status, 200, host);
    assert.equal(r.body, 'tok1.thumbprint');
    assert.equal(r.headers['content-type'], 'text/plain');
  }
  // An unknown token is the app's business (it may run its own ACME client): routed, not redirected.
  const other = await call(edge.url, `shop-acme.${DOMAIN}`, '/.well-known/acme-challenge/other');
  assert.equal(other.status, 200);
  assert.equal(other.body, 'web GET /.well-known/acme-challenge/other');
  // The set is replaced whole.
  edge.setAcmeChallenges({ tok2: 'tok2.thumbprint' });
  assert.equal((await call(edge.url, 'unrouted.example.org', '/.well-known/acme-challenge/tok1')).status, 404);
  assert.equal((await call(edge.url, 'unrouted.example.org', '/.well-known/acme-challenge/tok2')).body, 'tok2.thumbprint');
  edge.setAcmeChallenges({});
  assert.equal((await call(edge.url, 'unrouted.example.org', '/.well-known/acme-challenge/tok2')).status, 404);
});

test('setCertificates: a replaced certificate is presented on new handshakes, a removed name is refused, bad ones reported', async () => {
  const errors: string[][] = [];
  const e2 = await createEdge({ addr: '127.0.0.1:0', tlsAddr: '127.0.0.1:0', domain: DOMAIN, onCertificateError: (names) => errors.push(names) });
  try {
    const name = `swap-acme.${DOMAIN}`;
    const first = { names: [name], ...await ca.issue([name]) };
    const second = { names: [name], ...await ca.issue([name]) };
    e2.setCertificates([first]);
    assert.equal((await handshake(e2.tlsUrl!, name, ca.rootPem)).cert?.serialNumber, serialOf(first));
    // A certificate whose key does not match is skipped and reported; the good one still loads.
    e2.setCertificates([{ names: ['bad.example.test'], certPem: first.certPem, keyPem: second.keyPem }, second]);
    assert.deepEqual(errors, [['bad.example.test']]);
    assert.equal((await handshake(e2.tlsUrl!, name, ca.rootPem)).cert?.serialNumber, serialOf(second));
    assert.equal((await handshake(e2.tlsUrl!, 'bad.example.test', ca.rootPem)).error, 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
    e2.setCertificates([]);
    assert.equal((await handshake(e2.tlsUrl!, name, ca.rootPem)).error, 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
  } finally {
    await e2.close();
  }
});

test('no tlsAddr: no TLS listener, no redirect', async () => {
  const plain = await createEdge({ addr: '127.0.0.1:0', domain: DOMAIN });
  try {
    assert.equal(plain.tlsUrl, undefined);
    plain.setRoutes([app('shop', [route('/', [up('s1', upstream.port)])], { httpsRedirect: true })]);
    plain.setCertificates([wildcard]);
    assert.equal((await call(plain.url, `shop-acme.${DOMAIN}`, '/')).status, 200);
  } finally {
    await plain.close();
  }
});

test('curl --cacert: HTTP/2 over TLS and a clear failure for an unknown name', async (t) => {
  const curl = (args: string[]): Promise<{ code: number; out: string; err: string }> => new Promise((resolve) => {
    execFile('curl', args, { timeout: 20_000 }, (err, out, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, out, err: stderr }));
  });
  if ((await curl(['--version'])).code !== 0) return t.skip('curl is not installed');
  const rootFile = join(dir, 'root.crt');
  writeFileSync(rootFile, ca.rootPem);
  const port = new URL(edge.tlsUrl!).port;
  const host = `blog-acme.${DOMAIN}`;
  const ok = await curl(['-sS', '--http2', '--cacert', rootFile, '--resolve', `${host}:${port}:127.0.0.1`, '-w', ' %{http_version}', `https://${host}:${port}/c`]);
  assert.equal(ok.code, 0, ok.err);
  assert.equal(ok.out, 'web GET /c 2');
  const bad = await curl(['-sS', '--cacert', rootFile, '--resolve', `other.example.org:${port}:127.0.0.1`, `https://other.example.org:${port}/`]);
  assert.equal(bad.code, 35, `curl: ${bad.err}`); // CURLE_SSL_CONNECT_ERROR: the handshake failed
  assert.match(bad.err, /alert handshake failure/);
});

test('HTTP/2: a connection with no open stream is closed once idle (GOAWAY); a quiet open stream keeps it until it ends', async () => {
  const slow = await startUpstream('slow', (req, res) => {
    // Silent for several idle periods, then the answer.
    setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end(`slow ${req.url}`); }, 1500);
  });
  const e = await createEdge({ addr: '127.0.0.1:0', tlsAddr: '127.0.0.1:0', domain: DOMAIN, http2IdleTimeoutMs: 300 });
  const { connect: h2connect } = await import('node:http2');
  const { connect } = await import('node:tls');
  try {
    e.setRoutes([app('blog', [route('/', [up('b1', slow.port)])])]);
    e.setCertificates([wildcard]);
    const host = `blog-acme.${DOMAIN}`;
    const port = Number(new URL(e.tlsUrl!).port);
    const session = h2connect(`https://${host}:${port}`, {
      createConnection: () => connect({ host: '127.0.0.1', port, servername: host, ca: ca.rootPem, ALPNProtocols: ['h2'] }),
    });
    const goaways: number[] = [];
    session.on('goaway', () => goaways.push(Date.now()));
    const closed = new Promise<number>((r) => session.once('close', () => r(Date.now())));
    session.on('error', () => undefined);
    const t0 = Date.now();
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/quiet' });
      let b = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => { b += c; });
      stream.on('end', () => resolve(b));
      stream.on('error', reject);
    });
    const answeredAt = Date.now();
    assert.equal(body, 'slow /quiet', 'the quiet stream was answered, its session kept for it');
    assert.ok(answeredAt - t0 >= 1400, 'the answer took its time');
    // Nothing open any more: the edge closes the connection itself, with a GOAWAY first.
    const closedAt = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(0), 5000))]);
    assert.ok(closedAt > 0, 'the idle connection was closed by the edge');
    assert.ok(closedAt >= answeredAt, 'not before its stream ended');
    assert.ok(goaways.length > 0, 'told with a GOAWAY, not cut');
    // While the quiet stream was open the connection stayed usable: no GOAWAY before its answer.
    assert.ok(goaways[0]! >= answeredAt, `GOAWAY ${answeredAt - goaways[0]!} ms before the stream ended`);
  } finally {
    await e.close();
    await slow.close();
  }
});

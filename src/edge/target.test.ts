// Request targets and Host headers the way clients that do not normalise send them (RFC 9112 §3.2), over raw
// sockets to the edge on 127.0.0.1 (fetch and node's client would rewrite these), plus the pure parsers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { createEdge } from './edge.ts';
import { absoluteTarget, duplicateHost, malformedPercent } from './target.ts';
import { app, route, startUpstream, up } from './test-helpers.ts';

/** Sends `raw` on a fresh connection and returns everything the edge answered before closing (bounded: 5 s). */
function rawRequest(edgeUrl: string, raw: string): Promise<{ status: number; head: string; body: string }> {
  const u = new URL(edgeUrl);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => { sock.destroy(); reject(new Error('no complete answer within 5 s')); }, 5000);
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', (err) => { clearTimeout(timer); reject(err); });
    sock.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const cut = text.indexOf('\r\n\r\n');
      const head = text.slice(0, cut);
      const body = /\r\ntransfer-encoding: chunked/i.test(head) ? dechunk(text.slice(cut + 4)) : text.slice(cut + 4);
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), head, body });
    });
    sock.write(raw);
  });
}

function dechunk(s: string): string {
  let out = '';
  for (let i = 0; ;) {
    const eol = s.indexOf('\r\n', i);
    const size = parseInt(s.slice(i, eol), 16);
    if (!(size > 0)) return out;
    out += s.slice(eol + 2, eol + 2 + size);
    i = eol + 2 + size + 2;
  }
}

const req = (line: string, ...headers: string[]) => `${line}\r\n${[...headers, 'connection: close'].join('\r\n')}\r\n\r\n`;

test('absoluteTarget, malformedPercent and duplicateHost', () => {
  assert.deepEqual(absoluteTarget('http://h.example/p?q=1'), { authority: 'h.example', url: '/p?q=1' });
  assert.deepEqual(absoluteTarget('HTTPS://H:8443'), { authority: 'H:8443', url: '/' });
  assert.deepEqual(absoluteTarget('http://[::1]:80?x'), { authority: '[::1]:80', url: '/?x' });
  for (const bad of ['ftp://h/p', 'http://user@h/p', 'http:///p', 'h/p', 'http://h h/']) assert.equal(typeof absoluteTarget(bad), 'string', bad);
  assert.equal(malformedPercent('/a%20b?x=%ZZ'), false);
  for (const bad of ['/%ZZ', '/a%2', '/a%', '/%2?x', '/%g0']) assert.equal(malformedPercent(bad), true, bad);
  assert.equal(duplicateHost(['Host', 'a', 'x', 'y']), false);
  assert.equal(duplicateHost(['Host', 'a', 'HOST', 'b']), true);
});

test('the edge answers the odd targets itself and forwards absolute form as its path to the authority\'s app', async () => {
  const victim = await startUpstream('victim');
  const other = await startUpstream('other');
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([
      app('victim', [route('/', [up('v1', victim.port)])]),
      app('other', [route('/api', [up('o1', other.port)])]),
    ]);
    // Two Host headers: 400, nothing forwarded (a proxy and an app could pick different ones).
    const dup = await rawRequest(edge.url, req('GET / HTTP/1.1', 'Host: victim-acme.pier.test', 'Host: other-acme.pier.test'));
    assert.equal(dup.status, 400);
    assert.match(dup.head, /x-pier-edge: bad_request/);
    assert.match(dup.body, /more than one Host header/);

    // Absolute form: the target's authority wins over Host, and the upstream gets the path, not the URL.
    const abs = await rawRequest(edge.url, req('GET http://other-acme.pier.test/api/x?y=1 HTTP/1.1', 'Host: victim-acme.pier.test'));
    assert.equal(abs.status, 200);
    assert.equal(abs.body, 'other /x?y=1');
    assert.equal(other.seen.at(-1)!.headers.host, 'other-acme.pier.test');
    assert.equal(other.seen.at(-1)!.headers['x-forwarded-host'], 'other-acme.pier.test');
    const bare = await rawRequest(edge.url, req('GET http://victim-acme.pier.test HTTP/1.1', 'Host: x'));
    assert.equal(bare.body, 'victim /');
    const userinfo = await rawRequest(edge.url, req('GET http://u@victim-acme.pier.test/ HTTP/1.1', 'Host: victim-acme.pier.test'));
    assert.equal(userinfo.status, 400);

    // OPTIONS * asks about the server: the edge answers 200 with Allow, the app is never asked.
    const before = victim.seen.length;
    const star = await rawRequest(edge.url, req('OPTIONS * HTTP/1.1', 'Host: victim-acme.pier.test'));
    assert.equal(star.status, 200);
    assert.match(star.head, /allow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS/i);
    const starGet = await rawRequest(edge.url, req('GET * HTTP/1.1', 'Host: victim-acme.pier.test'));
    assert.equal(starGet.status, 400);

    // A malformed %-escape in the path is the client's error; in the query it is the app's business.
    const pct = await rawRequest(edge.url, req('GET /a%ZZ HTTP/1.1', 'Host: victim-acme.pier.test'));
    assert.equal(pct.status, 400);
    assert.match(pct.body, /not followed by two hex digits/);
    assert.equal(victim.seen.length, before, 'no odd target reached the app');
    const query = await rawRequest(edge.url, req('GET /list?offset=99999999999999999999&q=%ZZ HTTP/1.1', 'Host: victim-acme.pier.test'));
    assert.equal(query.status, 200);
    assert.equal(query.body, 'victim /list?offset=99999999999999999999&q=%ZZ');
    const fine = await rawRequest(edge.url, req('GET /a%20b HTTP/1.1', 'Host: victim-acme.pier.test'));
    assert.equal(fine.body, 'victim /a%20b');

    // The edge still serves afterwards.
    const after = await rawRequest(edge.url, req('GET /ok HTTP/1.1', 'Host: victim-acme.pier.test'));
    assert.equal(after.body, 'victim /ok');
  } finally {
    await edge.close();
    await victim.close();
    await other.close();
  }
});

test('WebSocket upgrades follow the same target rules', async () => {
  const upstream = await startUpstream('ws');
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('victim', [route('/', [up('v1', upstream.port)])])]);
    const upgrade = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='];
    const dup = await rawRequest(edge.url, `GET / HTTP/1.1\r\nHost: victim-acme.pier.test\r\nHost: x\r\n${upgrade.join('\r\n')}\r\n\r\n`);
    assert.equal(dup.status, 400);
    const pct = await rawRequest(edge.url, `GET /%ZZ HTTP/1.1\r\nHost: victim-acme.pier.test\r\n${upgrade.join('\r\n')}\r\n\r\n`);
    assert.equal(pct.status, 400);
    assert.equal(upstream.seen.length, 0);
  } finally {
    await edge.close();
    await upstream.close();
  }
});

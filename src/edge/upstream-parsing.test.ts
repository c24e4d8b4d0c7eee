// How the edge parses upstream responses, with raw TCP upstreams writing exact bytes: header lines ending in a bare
// LF are accepted as nginx accepts them (also on a kept-alive connection's next response); what is unsafe to guess
// (obs-fold, NUL in a header, a CR without LF, two different Content-Lengths, Content-Length with chunked) is a 502.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createEdge } from './edge.ts';
import { app, call, route, up } from './test-helpers.ts';

/** A TCP server answering every request head it reads with `reply` (keep-alive unless the reply closes). */
async function rawUpstream(reply: string, close: boolean): Promise<{ port: number; connections: () => number; stop: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => { /* the edge may reset a connection it refused to parse */ });
    let seen = '';
    s.on('data', (c: Buffer) => {
      seen += c.toString('latin1');
      while (seen.includes('\r\n\r\n')) {
        seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
        if (close) s.end(reply); else s.write(reply);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    stop: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

async function through(reply: string, opts: { close?: boolean; requests?: number } = {}) {
  const upstream = await rawUpstream(reply, opts.close ?? false);
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('raw', [route('/', [up('u1', upstream.port)])])]);
    const replies = [];
    for (let i = 0; i < (opts.requests ?? 1); i++) replies.push(await call(edge.url, 'raw-acme.pier.test', '/'));
    return { replies, connections: upstream.connections() };
  } finally {
    await edge.close();
    await upstream.stop();
  }
}

test('bare-LF header lines from an upstream are accepted, also on the next response of a kept-alive connection', async () => {
  const { replies, connections } = await through('HTTP/1.1 200 OK\nContent-Type: text/plain\nX-Cgi: yes\nContent-Length: 6\n\nhello\n', { requests: 3 });
  for (const r of replies) {
    assert.equal(r.status, 200);
    assert.equal(r.body, 'hello\n');
    assert.equal(r.headers['x-cgi'], 'yes');
    assert.equal(r.headers['content-type'], 'text/plain');
  }
  assert.equal(connections, 1, 'the three requests shared one upstream connection');
});

test('a CGI-style answer (bare LF, Status line, body until close) and mixed line endings are accepted', async () => {
  const cgi = await through('HTTP/1.0 404 Not Found\nContent-Type: text/html\n\n<p>no such page</p>\n', { close: true });
  assert.equal(cgi.replies[0]!.status, 404);
  assert.equal(cgi.replies[0]!.body, '<p>no such page</p>\n');
  const mixed = await through('HTTP/1.1 201 Created\r\nContent-Length: 2\nLocation: /x\r\n\nok');
  assert.equal(mixed.replies[0]!.status, 201);
  assert.equal(mixed.replies[0]!.headers.location, '/x');
  assert.equal(mixed.replies[0]!.body, 'ok');
});

test('unsafe upstream framing stays a 502: obs-fold, NUL, CR without LF, conflicting lengths', async () => {
  const unsafe: [string, string][] = [
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\nhi'],
    ['obs-fold with bare LF', 'HTTP/1.1 200 OK\nX-A: b\n c\nContent-Length: 2\n\nhi'],
    ['NUL in a header value', 'HTTP/1.1 200 OK\nX-A: b\0c\nContent-Length: 2\n\nhi'],
    ['CR without LF between headers', 'HTTP/1.1 200 OK\r\nX-A: b\rX-B: c\r\nContent-Length: 2\r\n\r\nhi'],
    ['CR without LF after the status line', 'HTTP/1.1 200 OK\rContent-Length: 2\r\n\r\nhi'],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\nContent-Length: 2\nContent-Length: 3\n\nhi!'],
    ['Content-Length and chunked', 'HTTP/1.1 200 OK\nContent-Length: 2\nTransfer-Encoding: chunked\n\n2\r\nhi\r\n0\r\n\r\n'],
    ['space before the colon', 'HTTP/1.1 200 OK\nX-A : b\nContent-Length: 2\n\nhi'],
  ];
  for (const [name, reply] of unsafe) {
    const { replies } = await through(reply);
    assert.equal(replies[0]!.status, 502, name);
    assert.doesNotMatch(replies[0]!.body, /^hi/, name);
  }
});

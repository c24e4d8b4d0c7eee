import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SOCKET_PATH_MAX, removeSocketLink, socketLink, socketPath } from './socket-path.ts';

test('a socket path that fits is used as it is; a deeper one is bound and reached through a short link', async () => {
  const base = mkdtempSync(join(tmpdir(), 'pier-sockpath-'));
  try {
    const links = join(base, 'l');
    assert.equal(socketPath('/var/lib/pier/edge-haproxy', 'admin.sock', true, links), '/var/lib/pier/edge-haproxy/admin.sock');
    assert.ok(!existsSync(links), 'a path that fits makes no link');
    const deep = join(base, 'd'.repeat(80), 'edge-haproxy');
    mkdirSync(deep, { recursive: true });
    assert.ok(Buffer.byteLength(join(deep, 'master.sock')) > SOCKET_PATH_MAX);
    const sock = socketPath(deep, 'master.sock', true, links);
    assert.ok(Buffer.byteLength(sock) <= SOCKET_PATH_MAX, sock);
    assert.equal(readlinkSync(join(sock, '..')), deep);
    assert.equal((lstatSync(links).mode & 0o777), 0o700, 'the link directory is its owner\'s alone');
    assert.equal(socketPath(deep, 'master.sock', false, links), sock, 'the same path every time (whoever recovers it finds it)');
    assert.equal(socketPath(deep, 'admin.sock', true, links), join(sock, '..', 'admin.sock'), 'one link per directory');
    // A stale link (to another directory) is repaired.
    rmSync(join(sock, '..'));
    symlinkSync(base, join(sock, '..'));
    assert.equal(socketPath(deep, 'master.sock', true, links), sock);
    assert.equal(readlinkSync(join(sock, '..')), deep);
    // Bound through the link, the socket file is in the directory, and a client reaches it the same way.
    const server = createServer((c) => c.end('hi'));
    await new Promise<void>((r, j) => { server.once('error', j); server.listen(sock, r); });
    try {
      assert.ok(lstatSync(join(deep, 'master.sock')).isSocket());
      const got = await new Promise<string>((r, j) => { const c = connect(sock); let b = ''; c.on('data', (d) => { b += d; }); c.on('end', () => r(b)); c.on('error', j); });
      assert.equal(got, 'hi');
    } finally {
      await new Promise((r) => server.close(r));
    }
    removeSocketLink(deep, 'master.sock', links);
    assert.ok(!existsSync(join(sock, '..')), 'the link is removed');
    assert.ok(existsSync(deep), 'and never the directory it named');
    assert.equal(socketLink('/short', 'a.sock', links), undefined);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('a link directory others may write, or that is not a directory, is refused with the fix', () => {
  const base = mkdtempSync(join(tmpdir(), 'pier-sockpath-'));
  try {
    const deep = join(base, 'd'.repeat(100));
    const open = join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    assert.throws(() => socketPath(deep, 'x.sock', true, open), /nobody else may write; remove it or fix its owner and mode/);
    const file = join(base, 'file');
    writeFileSync(file, '');
    assert.throws(() => socketPath(deep, 'x.sock', true, file));
    assert.throws(() => socketPath(deep, 'x.sock', true, join(base, 'l'.repeat(100))), /use a shorter link directory/);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

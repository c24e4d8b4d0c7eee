// The TCP proxy over real sockets on 127.0.0.1: bytes both ways and half-closes, the instance with the fewest open
// connections first, a refusing instance skipped, no instance = closed at once, listeners following the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { TcpProxy } from './tcp-proxy.ts';
import { app, deadPort, up } from './test-helpers.ts';
import { freePort } from '../../test/support/ports.ts';
import type { AppRoutes, Upstream } from './types.ts';

/** A TCP server answering each connection's whole input (after the client's end) with `<name>:<input>`, then ending. */
async function echo(name: string): Promise<{ port: number; open: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
    let got = '';
    c.on('data', (d) => { got += d; });
    c.on('end', () => c.end(`${name}:${got}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port, open: () => sockets.size,
    close: () => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(() => r())); },
  };
}

const table = (publicPort: number, upstreams: Upstream[]): AppRoutes[] => [app('db', [], { tcpProxies: [{ publicPort, serviceId: 's1', serviceName: 'db', port: 5432, upstreams }] })];

/** Sends `text`, half-closes, and resolves with everything the other side sent before it closed ('' when cut). */
function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const c = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    c.on('data', (d) => { got += d; });
    c.on('error', () => resolve(got));
    c.on('close', () => resolve(got));
    c.on('connect', () => c.end(text));
  });
}

test('tcp proxy: bytes both ways with a half-close; the least busy instance first; a refusing one skipped', async () => {
  const a = await echo('a');
  const b = await echo('b');
  const dead = await deadPort();
  const publicPort = await freePort();
  const proxy = new TcpProxy({ host: '127.0.0.1' });
  try {
    await proxy.setRoutes(table(publicPort, [up('a', a.port), up('b', b.port)]));
    assert.deepEqual(proxy.ports(), [publicPort]);
    assert.match(await exchange(publicPort, 'hello'), /^[ab]:hello$/);

    // One connection held open on some instance: the next goes to the other.
    const held = connect({ port: publicPort, host: '127.0.0.1' });
    await new Promise((r) => held.once('connect', r));
    for (let i = 0; i < 50 && a.open() + b.open() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const busy = a.open() === 1 ? 'a' : 'b';
    assert.equal(await exchange(publicPort, 'x'), `${busy === 'a' ? 'b' : 'a'}:x`);
    held.destroy();

    // A refusing instance is skipped for the next one, in the same connection.
    await proxy.setRoutes(table(publicPort, [up('dead', dead), up('b', b.port)]));
    for (let i = 0; i < 3; i++) assert.equal(await exchange(publicPort, `t${i}`), `b:t${i}`);
    const stats = proxy.stats()[0]!;
    assert.equal(stats.refused, 0);
    assert.equal(stats.accepted, 6, 'hello, the held one, x, and three through the refusing pair');
    assert.match(proxy.prometheus(), new RegExp(`^pier_tcp_proxy_connections_total\\{public_port="${publicPort}",service_id="s1"\\} 6$`, 'm'));

    // No instance (sleeping, starting, all refusing): the client's connection is closed at once, nothing sent.
    await proxy.setRoutes(table(publicPort, []));
    assert.equal(await exchange(publicPort, 'nobody'), '');
    await proxy.setRoutes(table(publicPort, [up('dead', dead)]));
    assert.equal(await exchange(publicPort, 'nobody'), '');
    assert.equal(proxy.stats()[0]!.refused, 2);
    assert.match(proxy.prometheus(), new RegExp(`^pier_tcp_proxy_refused_total\\{public_port="${publicPort}",service_id="s1"\\} 2$`, 'm'));

    // A port that leaves the table stops listening.
    await proxy.setRoutes([]);
    assert.deepEqual(proxy.ports(), []);
    const refused = await new Promise<boolean>((r) => { const c = connect(publicPort, '127.0.0.1'); c.on('connect', () => { c.destroy(); r(false); }); c.on('error', () => r(true)); });
    assert.ok(refused, 'nothing listens on the public port any more');
  } finally {
    await proxy.close();
    await a.close();
    await b.close();
  }
});

test('tcp proxy: a public port in use is reported and taken once it is free', async () => {
  const a = await echo('a');
  const squatter = createServer();
  await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
  const publicPort = (squatter.address() as { port: number }).port;
  const errors: string[] = [];
  const proxy = new TcpProxy({ host: '127.0.0.1', onError: (m) => errors.push(m) });
  try {
    await proxy.setRoutes(table(publicPort, [up('a', a.port)]));
    assert.deepEqual(proxy.ports(), []);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, new RegExp(`^TCP proxy port ${publicPort} \\(service db, port 5432\\) cannot listen on 127.0.0.1: .*EADDRINUSE.*; trying again in 5 s$`));
    await new Promise<void>((r) => squatter.close(() => r()));
    await proxy.setRoutes(table(publicPort, [up('a', a.port)]));
    assert.deepEqual(proxy.ports(), [publicPort]);
    assert.equal(await exchange(publicPort, 'late'), 'a:late');
  } finally {
    await proxy.close();
    await a.close();
  }
});

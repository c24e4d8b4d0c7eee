// The TCP proxy over real sockets on 127.0.0.1: bytes both ways and half-closes, the instance with the fewest open
// connections first, a refusing instance skipped, no instance = closed at once, listeners following the table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
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

/** Opens a connection through the proxy and resolves once the instance has it (so it counts as open). */
async function hold(port: number, server: { open: () => number }, before: number): Promise<Socket> {
  const c = connect({ port, host: '127.0.0.1' });
  c.on('error', () => undefined);
  await new Promise((r) => c.once('connect', r));
  for (let i = 0; i < 100 && server.open() <= before; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(server.open(), before + 1, 'the instance got the held connection');
  return c;
}

test('tcp proxy: connections are capped per public port and in all; past a cap a new one is closed at once', async () => {
  const a = await echo('a');
  const b = await echo('b');
  const portA = await freePort();
  const portB = await freePort();
  const proxy = new TcpProxy({ host: '127.0.0.1', limits: { maxConnectionsPerPort: 2, maxConnections: 3 } });
  const held: Socket[] = [];
  try {
    await proxy.setRoutes([
      app('one', [], { tcpProxies: [{ publicPort: portA, serviceId: 'sa', serviceName: 'one', port: 5432, upstreams: [up('a', a.port)] }] }),
      app('two', [], { tcpProxies: [{ publicPort: portB, serviceId: 'sb', serviceName: 'two', port: 5432, upstreams: [up('b', b.port)] }] }),
    ]);
    held.push(await hold(portA, a, 0), await hold(portA, a, 1));
    // The port's cap: the third is closed before it reaches the instance.
    assert.equal(await exchange(portA, 'third'), '');
    assert.equal(a.open(), 2);
    const statsA = () => proxy.stats().find((x) => x.publicPort === portA)!;
    assert.equal(statsA().limited, 1);
    assert.match(proxy.prometheus(), new RegExp(`^pier_tcp_proxy_limited_total\\{public_port="${portA}",service_id="sa"\\} 1$`, 'm'));
    // Another port still has room under the proxy's cap (3): one connection, then none.
    held.push(await hold(portB, b, 0));
    assert.equal(await exchange(portB, 'fourth'), '');
    assert.equal(proxy.stats().find((x) => x.publicPort === portB)!.limited, 1);
    // A connection that ends frees its place.
    held.shift()!.destroy();
    for (let i = 0; i < 100 && a.open() > 1; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await exchange(portA, 'again'), 'a:again');
    assert.equal(statsA().accepted, 3);
  } finally {
    for (const c of held) c.destroy();
    await proxy.close();
    await a.close();
    await b.close();
  }
});

test('tcp proxy: a connection with no byte either way for the idle timeout is closed; one in use is kept', async () => {
  const a = await echo('a');
  const publicPort = await freePort();
  const proxy = new TcpProxy({ host: '127.0.0.1', limits: { idleTimeoutMs: 300 } });
  try {
    await proxy.setRoutes(table(publicPort, [up('a', a.port)]));
    const idle = await hold(publicPort, a, 0);
    // Bounded: a connection never closed reads as 5 s, and fails the check below.
    const idleClosed = new Promise<number>((r) => {
      const t0 = Date.now();
      const t = setTimeout(() => r(5000), 5000);
      idle.on('close', () => { clearTimeout(t); r(Date.now() - t0); });
    });
    // A busy one: a byte every 100 ms for a second, three times the idle timeout.
    const busy = await hold(publicPort, a, 1);
    let busyClosed = false;
    busy.on('close', () => { busyClosed = true; });
    for (let i = 0; i < 10; i++) { busy.write('.'); await new Promise((r) => setTimeout(r, 100)); }
    const after = await idleClosed;
    assert.ok(after >= 250 && after < 1000, `closed after ${after} ms`);
    assert.equal(busyClosed, false, 'the connection in use stays open');
    // Its instance's side was closed too, and the close counted.
    for (let i = 0; i < 100 && a.open() > 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(a.open(), 1);
    assert.equal(proxy.stats()[0]!.idleClosed, 1);
    assert.match(proxy.prometheus(), new RegExp(`^pier_tcp_proxy_idle_closed_total\\{public_port="${publicPort}",service_id="s1"\\} 1$`, 'm'));
    busy.destroy();
  } finally {
    await proxy.close();
    await a.close();
  }
});

test('tcp proxy: an instance that neither accepts nor refuses is given up after 2 s for the next', async () => {
  // A listener that never accepts, its queue filled: the kernel then drops further SYNs, so a connect just waits.
  const py = spawn('python3', ['-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const fillers: Socket[] = [];
  const b = await echo('b');
  const publicPort = await freePort();
  const proxy = new TcpProxy({ host: '127.0.0.1' });
  try {
    const stuck = Number(await new Promise<string>((r) => py.stdout!.once('data', (d) => r(String(d).trim()))));
    for (let i = 0; i < 3; i++) { const c = connect({ port: stuck, host: '127.0.0.1' }); c.on('error', () => undefined); fillers.push(c); }
    await new Promise((r) => setTimeout(r, 100));
    await proxy.setRoutes(table(publicPort, [up('stuck', stuck), up('b', b.port)]));
    const t0 = Date.now();
    // Bounded: without the connect timeout the connect would wait for the kernel (minutes).
    const got = await Promise.race([exchange(publicPort, 'late'), new Promise<string>((r) => setTimeout(() => r('(still waiting after 6 s)'), 6000))]);
    assert.equal(got, 'b:late');
    const took = Date.now() - t0;
    assert.ok(took >= 1900 && took < 4000, `served by the next instance after ${took} ms`);
  } finally {
    for (const c of fillers) c.destroy();
    py.kill();
    await proxy.close();
    await b.close();
  }
});

test('tcp proxy: activity per instance (open connections, last opened or closed), forgotten once no table names it', async () => {
  const a = await echo('a');
  const publicPort = await freePort();
  const proxy = new TcpProxy({ host: '127.0.0.1' });
  try {
    await proxy.setRoutes(table(publicPort, [up('a', a.port)]));
    assert.deepEqual(proxy.activity(), {});
    const t0 = Date.now();
    const c = await hold(publicPort, a, 0);
    const during = proxy.activity().a!;
    assert.equal(during.open, 1);
    assert.ok(during.lastAt >= t0 && during.lastAt <= Date.now());
    await new Promise((r) => setTimeout(r, 30));
    const closedAt = Date.now();
    c.destroy();
    for (let i = 0; i < 100 && proxy.activity().a?.open !== 0; i++) await new Promise((r) => setTimeout(r, 10));
    const after = proxy.activity().a!;
    assert.equal(after.open, 0);
    assert.ok(after.lastAt >= closedAt, 'the close is the last activity');
    // Still named by the table: kept (the idle rule reads it); gone from every table: forgotten.
    await proxy.setRoutes(table(publicPort, [up('a', a.port)]));
    assert.ok(proxy.activity().a);
    await proxy.setRoutes(table(publicPort, []));
    assert.deepEqual(proxy.activity(), {});
  } finally {
    await proxy.close();
    await a.close();
  }
});

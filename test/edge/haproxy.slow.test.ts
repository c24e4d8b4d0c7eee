// The HAProxy data plane against a real haproxy (Debian's 2.6): routing by host and path prefix straight to the
// instances, a redeploy and a reload under a bounded keep-alive loop with zero failed requests, and a sleeping app
// that still wakes through the Node edge behind it. Skipped, with the reason, when haproxy is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHaproxyEdge, type HaproxyEdge } from '../../src/edge/haproxy/edge.ts';
import { app, call, route, startUpstream, up, type TestUpstream } from '../../src/edge/test-helpers.ts';
import type { AccessLogEntry, AppRoutes } from '../../src/edge/types.ts';
import { WebSocket, WebSocketServer } from 'ws';

const probe = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : 'haproxy is not installed (apt-get install haproxy)';

async function withEdge(
  fn: (edge: HaproxyEdge, nodeLog: AccessLogEntry[]) => Promise<void>, onWake?: (appId: string) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pier-haproxy-'));
  const nodeLog: AccessLogEntry[] = [];
  const errors: string[] = [];
  const edge = await createHaproxyEdge({
    addr: '127.0.0.1:0', domain: 'pier.test', dir, accessLog: (e) => nodeLog.push(e), onWake, onError: (m) => errors.push(m),
  });
  try {
    await fn(edge, nodeLog);
    assert.deepEqual(errors, []);
  } finally {
    await edge.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('routes by host and path prefix straight to the instances; misses and guarded routes go through the Node edge', { skip }, async () => {
  const web = await startUpstream('web');
  const api = await startUpstream('api');
  try {
    await withEdge(async (edge, nodeLog) => {
      edge.setRoutes([app('shop', [
        route('/', [up('w1', web.port)], { serviceId: 'web' }),
        route('/api', [up('a1', api.port)], { serviceId: 'api' }),
        route('/admin', [up('w1', web.port)], { serviceId: 'web', basicAuths: [{ username: 'u', password: 'p' }] }),
      ], { hosts: ['shop.example.com'] })]);
      await edge.settled();
      assert.equal((await call(edge.url, 'shop-acme.pier.test', '/api/items?x=1')).body, 'api /items?x=1');
      assert.equal((await call(edge.url, 'shop.example.com:8080', '/api')).body, 'api /');
      assert.equal((await call(edge.url, 'SHOP.example.com', '/apix')).body, 'web /apix');
      const served = await call(edge.url, 'shop.example.com', '/');
      assert.equal(served.body, 'web /');
      assert.equal(web.seen.at(-1)!.headers['x-forwarded-host'], 'shop.example.com');
      assert.equal(web.seen.at(-1)!.headers['x-forwarded-proto'], 'http');
      assert.match(String(web.seen.at(-1)!.headers['x-request-id']), /^[0-9a-f-]{36}$/);
      assert.equal(served.headers['x-request-id'], web.seen.at(-1)!.headers['x-request-id'], 'the answer names the request id');
      const mine = await call(edge.url, 'shop.example.com', '/', { headers: { 'x-request-id': 'abc-123' } });
      assert.equal(mine.headers['x-request-id'], 'abc-123');
      assert.equal(web.seen.at(-1)!.headers['x-request-id'], 'abc-123', 'a sane client request id is kept');
      assert.equal(nodeLog.length, 0, 'direct routes never touch the Node edge');
      // Guarded prefix, unknown host, and the Node edge's own paths: answered by the Node edge.
      assert.equal((await call(edge.url, 'shop.example.com', '/admin/x')).status, 401);
      assert.equal((await call(edge.url, 'nobody.example', '/')).status, 404);
      assert.equal((await call(edge.url, 'x', '/_pier/ready')).status, 200);
      assert.deepEqual(nodeLog.map((e) => e.status), [401, 404]);
      assert.equal(edge.reloads(), 1, 'one reload: the first backends');
      await edge.refreshMetrics!();
      const m = edge.metrics();
      assert.ok(m.routes['app-shop api /api']!.requests >= 2, 'HAProxy counters reach the route metrics');
      assert.ok(m.instances['a1']!.lastRequestAt !== null, 'and the instance metrics (scale-to-zero reads them)');
      assert.match(edge.prometheus(), /^pier_edge_route_requests_total\{app="app-shop",[^}]*route="\/api",code="2xx"\} [2-9]/m);
    });
  } finally {
    await web.close();
    await api.close();
  }
});

test('a redeploy and a reload under a bounded keep-alive loop fail no request', { skip }, async () => {
  const ups: TestUpstream[] = [];
  const start = async (name: string) => { const u = await startUpstream(name); ups.push(u); return u; };
  try {
    await withEdge(async (edge) => {
      const table = (ids: [string, TestUpstream][], extraApps: AppRoutes[] = []) =>
        [app('live', [route('/', ids.map(([id, u]) => up(id, u.port)), { serviceId: 'live' })]), ...extraApps];
      let v1 = await start('v1');
      edge.setRoutes(table([['i1', v1]]));
      await edge.settled();
      const reloadsBefore = edge.reloads();

      const u = new URL(edge.url);
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      let ok = 0;
      const failures: string[] = [];
      let stop = false;
      let phase = 'start';
      const deadline = Date.now() + 15_000;
      // Like browsers and curl (RFC 9112 §9.3.1), a GET that dies on a reused keep-alive connection before any answer
      // is sent once more on a new connection: a reload closes the old worker's idle connections, and one can be
      // closed while a request is already on the wire. Those retries are counted per phase; a second failure fails.
      const retried: string[] = [];
      const once = (retry: boolean): Promise<void> => new Promise<void>((resolve) => {
        const req = request({ host: u.hostname, port: u.port, path: '/', agent: retry ? agent : false, headers: { host: 'live-acme.pier.test' } }, (res) => {
          let body = '';
          res.on('data', (c) => { body += c; });
          res.on('end', () => { if (res.statusCode === 200 && /^v\d /.test(body)) ok++; else failures.push(`${phase}: ${res.statusCode} ${body.slice(0, 80)}`); resolve(); });
        });
        req.on('error', (err) => {
          if (retry && req.reusedSocket) { retried.push(phase); void once(false).then(resolve); return; }
          failures.push(`${phase}: ${err.message}`);
          resolve();
        });
        req.end();
      });
      const client = async () => {
        for (let i = 0; i < 5000 && !stop && Date.now() < deadline; i++) await once(true);
      };
      const clients = Array.from({ length: 8 }, client);
      const waitFor = async (n: number) => { const t = Date.now(); while (ok < n && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 10)); };

      // Two redeploys: the new instance joins (runtime API), the old one leaves, is drained, then stopped.
      for (const [oldId, newId] of [['i1', 'i2'], ['i2', 'i3']] as const) {
        phase = `add ${newId}`;
        await waitFor(ok + 200);
        const next = await start(newId.replace('i', 'v'));
        edge.setRoutes(table([[oldId, v1], [newId, next]]));
        await waitFor(ok + 200);
        phase = `remove ${oldId}`;
        edge.setRoutes(table([[newId, next]]));
        await edge.drain(oldId, 5000);
        phase = `close ${oldId}`;
        await v1.close();
        phase = 'closed';
        v1 = next;
      }
      const runtimeOnly = edge.reloads() === reloadsBefore;
      // A new app's backend: a reload through the master socket, with the loop still running.
      phase = 'reload';
      const other = await start('other');
      edge.setRoutes(table([['i3', v1]], [app('other', [route('/', [up('o1', other.port)], { serviceId: 'other' })])]));
      await edge.settled();
      await waitFor(ok + 300);
      stop = true;
      await Promise.all(clients);
      agent.destroy();

      assert.deepEqual(failures, []);
      assert.deepEqual(retried.filter((p) => p !== 'reload'), [], 'redeploys close no connection under a request');
      assert.ok(ok >= 1000, `the loop ran (${ok} requests)`);
      assert.ok(runtimeOnly, 'instances were swapped through the runtime API, without a reload');
      assert.equal(edge.reloads(), reloadsBefore + 1, 'the new backend took exactly one reload');
      assert.equal((await call(edge.url, 'other-acme.pier.test', '/x')).body, 'other /x');
      assert.equal((await call(edge.url, 'live-acme.pier.test', '/')).body, 'v3 /');
      console.log(`haproxy loop: ${ok} requests, ${failures.length} failed, ${retried.length} retried on a reused connection during the reload`);
    });
  } finally {
    for (const u of ups) await u.close();
  }
});

test('a sleeping app wakes through the Node edge, then is served by HAProxy', { skip }, async () => {
  const inst = await startUpstream('awake');
  try {
    let edgeRef: HaproxyEdge | undefined;
    const sleeping = app('nap', [route('/', [], { serviceId: 'nap' })], { sleeping: true });
    const awake = app('nap', [route('/', [up('n1', inst.port)], { serviceId: 'nap' })]);
    let wakes = 0;
    await withEdge(async (edge, nodeLog) => {
      edgeRef = edge;
      edge.setRoutes([sleeping]);
      await edge.settled();
      const held = await call(edge.url, 'nap-acme.pier.test', '/hello');
      assert.equal(held.status, 200);
      assert.equal(held.body, 'awake /hello');
      assert.equal(wakes, 1);
      assert.equal(nodeLog.length, 1, 'the held request went through the Node edge');
      await edge.settled();
      assert.equal((await call(edge.url, 'nap-acme.pier.test', '/again')).body, 'awake /again');
      assert.equal(nodeLog.length, 1, 'once awake, HAProxy serves it');
    }, async () => {
      wakes++;
      setTimeout(() => edgeRef!.setRoutes([awake]), 100);
    });
  } finally {
    await inst.close();
  }
});

test('a WebSocket on a direct route is tunnelled by HAProxy', { skip }, async () => {
  const wsUp = await startUpstream('ws');
  const wss = new WebSocketServer({ server: wsUp.server });
  let requestId = '';
  wss.on('connection', (sock, req) => {
    requestId = String(req.headers['x-request-id']);
    sock.on('message', (m) => sock.send(`echo ${String(m)}`));
  });
  try {
    await withEdge(async (edge) => {
      edge.setRoutes([app('chat', [route('/ws', [up('c1', wsUp.port)], { serviceId: 'chat' })])]);
      await edge.settled();
      const client = new WebSocket(`${edge.url.replace('http', 'ws')}/ws/room`, { headers: { host: 'chat-acme.pier.test' } });
      const answer = await new Promise<string>((resolve, reject) => {
        client.once('open', () => client.send('hi'));
        client.once('message', (m) => resolve(String(m)));
        client.once('error', reject);
        setTimeout(() => reject(new Error('no WebSocket answer within 5 s')), 5000).unref();
      });
      client.close();
      assert.equal(answer, 'echo hi');
      assert.match(requestId, /^[0-9a-f-]{36}$/, 'HAProxy (not the Node edge) forwarded the upgrade');
    });
  } finally {
    wss.close();
    await wsUp.close();
  }
});

// The HAProxy data plane against a real haproxy (Debian's 2.6): routing by host and path prefix straight to the
// instances, a redeploy and a reload under a bounded keep-alive loop with zero failed requests, a scale-up and back
// without any reload, HAProxy restarted after a kill -9, and a sleeping app that still wakes through the Node edge
// behind it; a route over several regions with the edge's own region preferred and failover to the others, and with
// client addresses mapped to regions; HTTPS with SNI terminated by HAProxy (h1 and h2, a wrong name refused, a replaced certificate served).
// Skipped, with the reason, when haproxy is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHaproxyEdge, type HaproxyEdge, type HaproxyEdgeOptions } from '../../src/edge/haproxy/edge.ts';
import { loadOrCreateLocalCa } from '../../src/certs/local-ca.ts';
import { h1, h2, handshake } from './tls-support.ts';
import { socketCommand } from '../../src/edge/haproxy/process.ts';
import { app, call, route, slowThenBurst, startUpstream, up, type TestUpstream } from '../../src/edge/test-helpers.ts';
import type { AccessLogEntry, AppRoutes } from '../../src/edge/types.ts';
import { socketPath } from '../../src/socket-path.ts';
import { LATENCY_BUCKETS_MS } from '../../src/edge/metrics.ts';
import { WebSocket, WebSocketServer } from 'ws';

const probe = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : 'haproxy is not installed (apt-get install haproxy)';

/** What a test may look at besides the edge: its directory (sockets) and the errors it reported (a test that expects
 * some takes them out; any left fail the test, also ones reported while the edge closes). */
interface EdgeCtx { dir: string; errors: string[] }

async function withEdge(
  fn: (edge: HaproxyEdge, nodeLog: AccessLogEntry[], ctx: EdgeCtx) => Promise<void>, onWake?: (appId: string) => Promise<void>,
  extra: Partial<HaproxyEdgeOptions> = {},
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pier-haproxy-'));
  const nodeLog: AccessLogEntry[] = [];
  const errors: string[] = [];
  const edge = await createHaproxyEdge({
    addr: '127.0.0.1:0', domain: 'pier.test', dir, accessLog: (e) => nodeLog.push(e), onWake, onError: (m) => errors.push(m), ...extra,
  });
  let passed = false;
  try {
    await fn(edge, nodeLog, { dir, errors });
    passed = true;
  } finally {
    await edge.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (passed) assert.deepEqual(errors, [], 'no error reported, and closing the edge is not a death');
}

/** A bounded loop of GETs for `host` (8 clients, keep-alive unless `fresh`), counting answers and failures per phase. */
function loadLoop(edge: HaproxyEdge, host: string, opts: { fresh?: boolean; clients?: number; ms?: number } = {}) {
  const u = new URL(edge.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const st = { ok: 0, phase: 'start', stop: false, failures: [] as { phase: string; at: number; what: string }[], bodies: new Map<string, number>() };
  const deadline = Date.now() + (opts.ms ?? 15_000);
  const once = (): Promise<void> => new Promise<void>((resolve) => {
    const req = request({ host: u.hostname, port: u.port, path: '/', agent: opts.fresh ? false : agent, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => {
        if (res.statusCode === 200) { st.ok++; const who = body.split(' ')[0]!; st.bodies.set(who, (st.bodies.get(who) ?? 0) + 1); }
        else st.failures.push({ phase: st.phase, at: Date.now(), what: `${res.statusCode} ${body.slice(0, 80)}` });
        resolve();
      });
    });
    req.on('error', (err) => {
      st.failures.push({ phase: st.phase, at: Date.now(), what: err.message });
      setTimeout(resolve, 5); // connection refused while HAProxy is down: do not spin
    });
    req.end();
  });
  const client = async () => { for (let i = 0; i < 5000 && !st.stop && Date.now() < deadline; i++) await once(); };
  const clients = Array.from({ length: opts.clients ?? 8 }, client);
  return {
    st,
    /** Wait (at most 5 s) until `n` more requests were answered. */
    async more(n: number) { const want = st.ok + n, t = Date.now(); while (st.ok < want && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 10)); },
    async end() { st.stop = true; await Promise.all(clients); agent.destroy(); },
  };
}

const workerPid = async (dir: string) => Number(/^Pid: (\d+)$/m.exec(await socketCommand(socketPath(dir, 'admin.sock'), 'show info'))?.[1]);

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

test('a rise on a watched route HAProxy serves is reported, with the counters that show it; an unwatched one never is', { skip }, async () => {
  const web = await startUpstream('web');
  const reports: { serviceId: string; counted: number }[] = [];
  let edgeRef: HaproxyEdge | undefined;
  try {
    await withEdge(async (edge, nodeLog) => {
      edgeRef = edge;
      edge.setRoutes([
        app('busy', [route('/', [up('b1', web.port)], { serviceId: 'svc-busy', loadWatch: { max: 3, perSecond: 5 } })]),
        app('plain', [route('/', [up('p1', web.port)], { serviceId: 'svc-plain' })]),
      ]);
      await edge.settled();
      // Two requests per second on the watched route: inside its target; then both routes back to back.
      const slow = await slowThenBurst(edge.url, 'busy-acme.pier.test', 'plain-acme.pier.test', reports, 5000);
      assert.equal(slow, 0, JSON.stringify(reports));
      assert.ok(reports.length > 0, 'the rise was reported');
      assert.ok(reports.every((r) => r.serviceId === 'svc-busy'), JSON.stringify(reports));
      assert.ok(reports[0]!.counted > 3, `the counters at the report hold the rise (${reports[0]!.counted} requests)`);
      assert.equal(nodeLog.length, 0, 'HAProxy served them all');
    }, undefined, { onLoad: (serviceId) => reports.push({ serviceId, counted: edgeRef!.metrics().instances.b1?.requests ?? 0 }) });
  } finally {
    await web.close();
  }
});

test('latency histograms count the requests HAProxy serves, per route and per instance, across a reload', { skip }, async () => {
  // One instance answers at once, the other after 30 ms: their requests land in the (0, 2 ms] and (25, 50] ms
  // buckets (a loaded test box may push a fast one up a bucket or two, never past 25 ms nor a slow one out of its own).
  const fast = await startUpstream('fast');
  const slow = await startUpstream('slow', (req, res) => { setTimeout(() => { res.writeHead(200); res.end(`slow ${req.url}`); }, 30); });
  try {
    await withEdge(async (edge, nodeLog) => {
      edge.setRoutes([app('lat', [route('/fast', [up('f1', fast.port)], { serviceId: 'fast' }), route('/slow', [up('s1', slow.port)], { serviceId: 'slow' })])]);
      await edge.settled();
      for (let i = 0; i < 20; i++) assert.equal((await call(edge.url, 'lat-acme.pier.test', '/fast')).status, 200);
      for (let i = 0; i < 10; i++) assert.equal((await call(edge.url, 'lat-acme.pier.test', '/slow')).status, 200);
      assert.equal(nodeLog.length, 0, 'HAProxy served every request itself');
      await edge.refreshMetrics!();
      const bucket = (ms: number) => LATENCY_BUCKETS_MS.findIndex((le) => ms <= le);
      const check = (fastN: number, slowN: number) => {
        const m = edge.metrics();
        const fr = m.routes['app-lat fast /fast']!, sr = m.routes['app-lat slow /slow']!;
        assert.equal(fr.buckets.counts.reduce((a, b) => a + b, 0), fastN, 'every fast request counted once');
        assert.equal(fr.buckets.counts.slice(bucket(25)).reduce((a, b) => a + b, 0), 0, 'no fast request past 25 ms');
        assert.equal(sr.buckets.counts[bucket(50)], slowN, 'the slow ones in (25, 50] ms');
        assert.equal(sr.buckets.counts.reduce((a, b) => a + b, 0), slowN);
        assert.ok(sr.latencyMs.p50 > 25 && sr.latencyMs.p50 <= 50, `slow p50 ${sr.latencyMs.p50} ms`);
        assert.ok(sr.sumMs >= 25 * slowN && sr.sumMs <= 100 * slowN, `summed ${sr.sumMs} ms for ${slowN} requests of 30 ms`);
        assert.equal(m.instances['s1']!.buckets.counts[bucket(50)], slowN, 'and on the instance that answered');
        assert.equal(m.instances['f1']!.buckets.counts.reduce((a, b) => a + b, 0), fastN);
        assert.match(edge.prometheus(), new RegExp(`^pier_edge_route_request_duration_seconds_count\\{app="app-lat",[^}]*route="/slow"\\} ${slowN}$`, 'm'));
        assert.match(edge.prometheus(), new RegExp(`^pier_edge_route_request_duration_seconds_bucket\\{app="app-lat",[^}]*route="/slow",le="0.025"\\} 0$`, 'm'));
      };
      check(20, 10);
      await edge.refreshMetrics!();
      check(20, 10); // a second read adds nothing
      // Reads that overlap count what grew once.
      for (let i = 0; i < 2; i++) assert.equal((await call(edge.url, 'lat-acme.pier.test', '/slow')).status, 200);
      await Promise.all([edge.refreshMetrics!(), edge.refreshMetrics!(), edge.refreshMetrics!()]);
      check(20, 12);

      // A new backend reloads HAProxy (fresh stick tables): the counts go on from where they were.
      const other = await startUpstream('other');
      try {
        const reloads = edge.reloads();
        edge.setRoutes([app('lat', [
          route('/fast', [up('f1', fast.port)], { serviceId: 'fast' }), route('/slow', [up('s1', slow.port)], { serviceId: 'slow' }),
          route('/other', [up('o1', other.port)], { serviceId: 'other' }),
        ])]);
        await edge.settled();
        assert.equal(edge.reloads(), reloads + 1, 'the new backend reloaded HAProxy');
        for (let i = 0; i < 5; i++) assert.equal((await call(edge.url, 'lat-acme.pier.test', '/slow')).status, 200);
        await edge.refreshMetrics!();
        check(20, 17);
      } finally {
        await other.close();
      }
    });
  } finally {
    await fast.close();
    await slow.close();
  }
});

test('a redeploy and a reload under a bounded keep-alive loop fail no request', { skip }, async () => {
  const ups: TestUpstream[] = [];
  const start = async (name: string) => { const u = await startUpstream(name); ups.push(u); return u; };
  try {
    await withEdge(async (edge, _log, { dir }) => {
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
      // A GET that dies on a reused keep-alive connection before any answer is sent once more on a new connection, as
      // browsers and curl do (RFC 9112 §9.3.1), and counted: a reload's old worker that closed its idle connections
      // at once could close one under a request already on the wire. With idle-close-on-response it answers the next
      // request and closes after it, so none may need that retry; a second failure fails too.
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
      // A new service: one reload (HAProxy 2.6 cannot add a backend at run time).
      phase = 'new service';
      const worker = await workerPid(dir);
      const other = await start('other');
      const withOther = [app('other', [route('/', [up('o1', other.port)], { serviceId: 'other' })])];
      edge.setRoutes(table([['i3', v1]], withOther));
      await edge.settled();
      assert.equal((await call(edge.url, 'other-acme.pier.test', '/x')).body, 'other /x');
      const newServiceReloads = edge.reloads() - reloadsBefore;
      const newServiceWorker = await workerPid(dir);
      // A new backend behind a prefix (stripped in its own backend): a reload through the master socket, loop running.
      phase = 'reload';
      const api = await start('api');
      edge.setRoutes(table([['i3', v1]], [app('other', [route('/', [up('o1', other.port)], { serviceId: 'other' }), route('/api', [up('p1', api.port)], { serviceId: 'api' })])]));
      await edge.settled();
      await waitFor(ok + 300);
      stop = true;
      await Promise.all(clients);
      agent.destroy();

      assert.deepEqual(failures, []);
      assert.deepEqual(retried, [], 'neither redeploys nor reloads close a connection under a request');
      assert.ok(ok >= 1000, `the loop ran (${ok} requests)`);
      assert.ok(runtimeOnly, 'instances were swapped through the runtime API, without a reload');
      assert.equal(newServiceReloads, 1, 'a new service took one reload');
      assert.notEqual(newServiceWorker, worker, 'a new HAProxy worker served it');
      assert.equal(edge.reloads(), reloadsBefore + 2, 'the new prefixed backend took exactly one more reload');
      assert.equal((await call(edge.url, 'other-acme.pier.test', '/x')).body, 'other /x');
      assert.equal((await call(edge.url, 'other-acme.pier.test', '/api/y')).body, 'api /y');
      assert.equal((await call(edge.url, 'live-acme.pier.test', '/')).body, 'v3 /');
      console.log(`haproxy loop: ${ok} requests, ${failures.length} failed, ${retried.length} retried on a reused connection`);
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

test('streaming both ways on a direct route: HAProxy buffers neither an upload nor a chunked response', { skip }, async () => {
  const chunk = Buffer.alloc(64 * 1024, 7);
  let upstreamGot = 0;
  let sendNext: () => void = () => undefined;
  const upstream = await startUpstream('stream', (req, res) => {
    if (req.method === 'PUT') {
      req.on('data', (c: Buffer) => { upstreamGot += c.length; });
      req.on('end', () => res.end(`got ${upstreamGot}`));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    let i = 0;
    sendNext = () => { i++; if (i <= 5) res.write(`data: ${i}\n\n`); if (i === 5) res.end(); };
    sendNext();
  });
  try {
    await withEdge(async (edge, nodeLog) => {
      edge.setRoutes([app('pipe', [route('/', [up('p1', upstream.port)])])]);
      await edge.settled();
      const u = new URL(edge.url);
      const host = 'pipe-acme.pier.test';
      // Upload: the next 64 KiB chunk is written only once the upstream has received every byte sent so far.
      const uploaded = await new Promise<string>((resolve, reject) => {
        const req = request({ host: u.hostname, port: u.port, method: 'PUT', path: '/file', agent: false, headers: { host, 'transfer-encoding': 'chunked' } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => { body += c.toString(); });
          res.on('end', () => resolve(body));
        });
        req.on('error', reject);
        let sent = 0;
        const pump = async (): Promise<void> => {
          for (let i = 0; i < 16; i++) {
            req.write(chunk);
            sent += chunk.length;
            const t = Date.now();
            while (upstreamGot < sent) {
              if (Date.now() - t > 5000) throw new Error(`the upstream got ${upstreamGot} of ${sent} bytes within 5 s: the upload is held back`);
              await new Promise((r) => setTimeout(r, 5));
            }
          }
          req.end();
        };
        pump().catch((err) => { req.destroy(); reject(err); });
      });
      assert.equal(uploaded, `got ${16 * chunk.length}`);
      // Response: the upstream writes the next event only after the client has read the previous one.
      const events = await new Promise<string[]>((resolve, reject) => {
        const parts: string[] = [];
        const req = request({ host: u.hostname, port: u.port, path: '/events', agent: false, headers: { host } }, (res) => {
          res.on('data', (c: Buffer) => { parts.push(c.toString()); sendNext(); });
          res.on('end', () => resolve(parts));
        });
        req.on('error', reject);
        req.setTimeout(10_000, () => req.destroy(new Error('the event stream stalled for 10 s: the response is held back')));
        req.end();
      });
      assert.deepEqual(events.join('').split('\n\n').filter(Boolean), ['data: 1', 'data: 2', 'data: 3', 'data: 4', 'data: 5']);
      assert.equal(nodeLog.length, 0, 'HAProxy carried both streams itself, not the Node edge behind it');
    });
  } finally {
    await upstream.close();
  }
});

test('instances in several regions: HAProxy prefers the edge\'s region, another region named goes to the Node edge, a dead instance fails over to the other region', { skip }, async () => {
  const fra = await startUpstream('fra');
  const was = await startUpstream('was');
  const sin = await startUpstream('sin');
  let fra2: TestUpstream | undefined;
  try {
    await withEdge(async (edge, nodeLog) => {
      const table = (geo: [string, TestUpstream, string][]) => [
        app('geo', [route('/', geo.map(([id, u, region]) => up(id, u.port, region)), { serviceId: 'geo' })]),
        // No instance in the edge's region: every instance serves (the Node edge's rule: no preference applies).
        app('far', [route('/', [up('w9', was.port, 'was'), up('s9', sin.port, 'sin')], { serviceId: 'far' })]),
      ];
      edge.setRoutes(table([['f1', fra, 'fra'], ['w1', was, 'was']]));
      await edge.settled();
      const who = async (host: string, headers?: Record<string, string>) => {
        const r = await call(edge.url, host, '/', headers ? { headers } : {});
        assert.equal(r.status, 200, r.body);
        return r.body.split(' ')[0];
      };
      for (let i = 0; i < 10; i++) assert.equal(await who('geo-acme.pier.test'), 'fra');
      assert.equal(await who('geo-acme.pier.test', { 'x-pier-region': 'fra' }), 'fra');
      assert.equal(nodeLog.length, 0, 'HAProxy served them');
      // Another region named: the Node edge answers, from that region.
      assert.equal(await who('geo-acme.pier.test', { 'x-pier-region': 'was' }), 'was');
      assert.equal(nodeLog.length, 1);
      const far = new Set<string>();
      for (let i = 0; i < 10; i++) far.add(await who('far-acme.pier.test'));
      assert.deepEqual([...far].sort(), ['sin', 'was']);
      assert.equal(nodeLog.length, 1, 'HAProxy served the far app');
      const reloads = edge.reloads();

      // The edge's instance dies before the control plane knows: its first failed connection takes it out, the
      // request goes to the other region, and so do the next ones; nothing fails.
      await fra.close();
      for (let i = 0; i < 10; i++) assert.equal(await who('geo-acme.pier.test'), 'was');
      assert.equal(nodeLog.length, 1, 'HAProxy failed over itself');
      // The control plane takes it out, then a new instance in the edge's region comes: runtime API only, and it is
      // preferred again at once.
      edge.setRoutes(table([['w1', was, 'was']]));
      await edge.settled();
      assert.equal(await who('geo-acme.pier.test'), 'was');
      fra2 = await startUpstream('fra2');
      edge.setRoutes(table([['f2', fra2, 'fra'], ['w1', was, 'was']]));
      await edge.settled();
      for (let i = 0; i < 5; i++) assert.equal(await who('geo-acme.pier.test'), 'fra2');
      assert.equal(edge.reloads(), reloads, 'no reload after the first table');
      assert.equal(nodeLog.length, 1);
    }, undefined, { region: 'fra' });
  } finally {
    await fra.close(); // again if the test closed it (a second close resolves too)
    await was.close();
    await sin.close();
    await fra2?.close();
  }
});

test('client addresses mapped to regions: HAProxy serves its own region\'s clients, others go to the Node edge, which maps each request\'s client (not HAProxy\'s address)', { skip }, async () => {
  const fra = await startUpstream('fra');
  const was = await startUpstream('was');
  const sin = await startUpstream('sin');
  try {
    await withEdge(async (edge, nodeLog) => {
      edge.setRoutes([app('geo', [route('/', [up('f1', fra.port, 'fra'), up('w1', was.port, 'was'), up('s1', sin.port, 'sin')], { serviceId: 'geo' })])]);
      await edge.settled();
      // One request from a loopback address of the test's choice: who answered.
      const from = async (localAddress: string, headers: Record<string, string> = {}) => {
        const r = await call(edge.url, 'geo-acme.pier.test', '/', { headers, localAddress });
        assert.equal(r.status, 200, r.body);
        return r.body.split(' ')[0];
      };
      const lastXff = (u: TestUpstream) => u.seen.at(-1)!.headers['x-forwarded-for'];
      // 127.0.0.3 maps to the edge's region: HAProxy answers from it, and names the client.
      for (let i = 0; i < 5; i++) assert.equal(await from('127.0.0.3'), 'fra');
      assert.equal(nodeLog.length, 0, 'HAProxy served them');
      assert.equal(lastXff(fra), '127.0.0.3');
      // 127.0.0.2 maps to another region: the Node edge answers from it, the client's address taken from HAProxy's
      // x-forwarded-for (its socket's peer is HAProxy, 127.0.0.1, which maps to sin), not appended again.
      assert.equal(await from('127.0.0.2'), 'was');
      assert.equal(nodeLog.length, 1);
      assert.equal(lastXff(was), '127.0.0.2');
      // First match wins: 127.0.0.1 falls in 127.0.0.0/8 (sin), after the /32 ranges.
      assert.equal(await from('127.0.0.1'), 'sin');
      assert.equal(nodeLog.length, 2);
      // The header names the client's region before the address does: here the edge's own, so HAProxy answers.
      assert.equal(await from('127.0.0.2', { 'x-pier-region': 'fra' }), 'fra');
      assert.equal(nodeLog.length, 2);
      // A client's own x-forwarded-for is kept in front of the address HAProxy saw, and never decides the region.
      assert.equal(await from('127.0.0.2', { 'x-forwarded-for': '127.0.0.3' }), 'was');
      assert.equal(lastXff(was), '127.0.0.3, 127.0.0.2');
    }, undefined, {
      region: 'fra',
      regionMap: [{ cidr: '127.0.0.2/32', region: 'was' }, { cidr: '127.0.0.3', region: 'fra' }, { cidr: '127.0.0.0/8', region: 'sin' }],
    });
  } finally {
    await fra.close();
    await was.close();
    await sin.close();
  }
});

test('a scale-up from 1 to 3 instances and back under a bounded keep-alive loop: no failed request, no reload', { skip }, async () => {
  const ups = await Promise.all(['u1', 'u2', 'u3'].map((n) => startUpstream(n)));
  try {
    await withEdge(async (edge, _log, { dir }) => {
      const table = (n: number) => [app('scale', [route('/', ups.slice(0, n).map((u, i) => up(`i${i + 1}`, u.port)), { serviceId: 'scale' })])];
      edge.setRoutes(table(1));
      await edge.settled();
      const before = { reloads: edge.reloads(), master: edge.dataplane().masterPid, worker: await workerPid(dir) };
      const loop = loadLoop(edge, 'scale-acme.pier.test');
      await loop.more(200);
      loop.st.phase = 'up to 3';
      edge.setRoutes(table(3));
      await edge.settled();
      const atThree = new Map(loop.st.bodies);
      await loop.more(600);
      const onThree = ['u1', 'u2', 'u3'].map((n) => (loop.st.bodies.get(n) ?? 0) - (atThree.get(n) ?? 0));
      loop.st.phase = 'down to 1';
      edge.setRoutes(table(1));
      await edge.drain('i2', 5000);
      await edge.drain('i3', 5000);
      loop.st.phase = 'closed u2, u3';
      await ups[1]!.close();
      await ups[2]!.close();
      await loop.more(200);
      await loop.end();

      assert.deepEqual(loop.st.failures, []);
      assert.ok(onThree.every((n) => n > 0), `all three instances served once scaled up (${onThree.join(', ')})`);
      assert.equal(edge.reloads(), before.reloads, 'no reload');
      assert.equal(edge.dataplane().masterPid, before.master, 'the same HAProxy master');
      assert.equal(await workerPid(dir), before.worker, 'the same worker (a reload would start a new one)');
      console.log(`haproxy scale 1→3→1: ${loop.st.ok} requests, 0 failed, per instance on three: ${onThree.join('/')}`);
    });
  } finally {
    await ups[0]!.close();
  }
});

test('HAProxy killed with SIGKILL is restarted with the current table, logged once, and serves again', { skip }, async () => {
  const a = await startUpstream('a');
  const b = await startUpstream('b');
  try {
    await withEdge(async (edge, _log, { errors }) => {
      const table = (...us: [string, TestUpstream][]) => [app('sup', [route('/', us.map(([id, u]) => up(id, u.port)), { serviceId: 'sup' })])];
      edge.setRoutes(table(['a1', a]));
      await edge.settled();
      const master = edge.dataplane().masterPid!;
      const loop = loadLoop(edge, 'sup-acme.pier.test', { fresh: true, clients: 2, ms: 12_000 });
      await loop.more(50);
      loop.st.phase = 'killed';
      const killedAt = Date.now();
      process.kill(master, 'SIGKILL');
      const until = async (what: string, ok: () => boolean) => {
        for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
        assert.ok(ok(), what);
      };
      await until('the death is noticed within 5 s', () => !edge.dataplane().up);
      assert.match(edge.prometheus(), /^pier_edge_haproxy_up 0$/m);
      // A table arriving while HAProxy is down is what the restart starts with.
      edge.setRoutes(table(['a1', a], ['b1', b]));
      await until('restarted within 5 s', () => edge.dataplane().restarts === 1 && edge.dataplane().up);
      const okAtRestart = loop.st.ok;
      await loop.more(1);
      const servedAgainMs = Date.now() - killedAt;
      const bBefore = loop.st.bodies.get('b') ?? 0;
      loop.st.phase = 'restarted';
      await loop.more(100);
      await loop.end();

      assert.ok(loop.st.ok > okAtRestart, 'served again');
      assert.ok(servedAgainMs < 5000, `served again ${servedAgainMs} ms after the kill (the restart waits 100 ms; measured 360-690 ms)`);
      assert.deepEqual(loop.st.failures.filter((f) => f.phase !== 'killed'), [], 'no failure before the kill or after the restart');
      assert.ok(loop.st.failures.every((f) => /ECONNREFUSED|ECONNRESET|socket hang up/.test(f.what)), 'the outage refuses connections');
      assert.ok((loop.st.bodies.get('b') ?? 0) > bBefore, 'the restart serves the table set while HAProxy was down');
      const d = edge.dataplane();
      assert.notEqual(d.masterPid, master);
      assert.equal(d.restarts, 1);
      assert.match(edge.prometheus(), /^pier_edge_haproxy_up 1$/m);
      assert.match(edge.prometheus(), /^pier_edge_haproxy_restarts_total 1$/m);
      assert.equal((await call(edge.url, 'x', '/_pier/ready')).status, 200);
      // Exactly one log line for the death: pid, signal, and the restart with its backoff.
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(errors[0]!, new RegExp(`^haproxy \\(master pid ${master}\\) died after [0-9.]+ s up \\(signal SIGKILL\\); .*restart 1 in 100 ms with the current route table$`));
      errors.length = 0;
      console.log(`haproxy kill -9: served again ${servedAgainMs} ms after the kill; ${loop.st.failures.length} requests refused meanwhile, ${loop.st.ok} answered`);
    });
  } finally {
    await a.close();
    await b.close();
  }
});

test('HTTPS: HAProxy terminates TLS with SNI (exact, then wildcard; h1 and h2), refuses an unknown name, serves a replaced certificate', { skip }, async () => {
  const web = await startUpstream('web');
  const caDir = mkdtempSync(join(tmpdir(), 'pier-haproxy-ca-'));
  try {
    const ca = await loadOrCreateLocalCa(caDir);
    const wildcard = { names: ['*.pier.test'], ...await ca.issue(['*.pier.test']) };
    const exact = { names: ['shop-acme.pier.test'], ...await ca.issue(['shop-acme.pier.test']) };
    const serial = (c: { certPem: string }) => new X509Certificate(c.certPem).serialNumber;
    await withEdge(async (edge, nodeLog, { dir }) => {
      assert.ok(edge.tlsUrl !== undefined && edge.tlsUrl !== edge.nodeUrl);
      edge.setCertificates([exact, wildcard]);
      edge.setRoutes([
        app('shop', [route('/', [up('w1', web.port)], { serviceId: 'web' })]),
        app('safe', [route('/', [up('w1', web.port)], { serviceId: 'web' })], { httpsRedirect: true }),
      ]);
      await edge.settled();
      const h = await h1(edge.tlsUrl!, 'shop-acme.pier.test', '/a?x=1', ca.rootPem);
      assert.equal(h.body, 'web /a?x=1');
      assert.equal(h.serial, serial(exact), 'the exact name wins over the wildcard');
      assert.equal(web.seen.at(-1)!.headers['x-forwarded-proto'], 'https');
      const [r2] = await h2(edge.tlsUrl!, 'shop-acme.pier.test', ca.rootPem, [{ path: '/h2' }]);
      assert.equal(r2!.alpn, 'h2');
      assert.equal(r2!.body, 'web /h2');
      assert.equal(web.seen.at(-1)!.headers['x-forwarded-proto'], 'https');
      assert.equal(nodeLog.length, 0, 'h1 and h2 over TLS served by HAProxy, not the Node edge');
      // A Node-only route (HTTPS redirect) over HTTPS reaches the Node edge as HTTPS: served, not redirected again.
      const safe = await h1(edge.tlsUrl!, 'safe-acme.pier.test', '/s', ca.rootPem);
      assert.equal(safe.status, 200);
      assert.equal(safe.serial, serial(wildcard), 'no exact certificate: the wildcard');
      assert.equal(nodeLog.length, 1, 'through the Node edge');
      assert.equal((await handshake(edge.tlsUrl!, 'other.example', ca.rootPem)).cert, undefined, 'an unknown name fails the handshake');
      const pems = readdirSync(join(dir, 'certs'));
      assert.equal(pems.length, 2);
      assert.equal(statSync(join(dir, 'certs')).mode & 0o777, 0o700);
      for (const f of pems) assert.equal(statSync(join(dir, 'certs', f)).mode & 0o777, 0o600);
      // A renewed certificate for the same name is what new handshakes get.
      // A renewed certificate and a new custom domain's: through the runtime API, no reload, the same worker.
      const renewed = { names: ['shop-acme.pier.test'], ...await ca.issue(['shop-acme.pier.test']) };
      const custom = { names: ['shop.example.com'], ...await ca.issue(['shop.example.com']) };
      const reloads = edge.reloads();
      const worker = await workerPid(dir);
      edge.setRoutes([app('shop', [route('/', [up('w1', web.port)], { serviceId: 'web' })], { hosts: ['shop.example.com'] })]);
      edge.setCertificates([renewed, wildcard, custom]);
      await edge.settled();
      assert.equal((await h1(edge.tlsUrl!, 'shop-acme.pier.test', '/r', ca.rootPem)).serial, serial(renewed));
      const viaCustom = await h1(edge.tlsUrl!, 'shop.example.com', '/c', ca.rootPem);
      assert.equal(viaCustom.serial, serial(custom));
      assert.equal(viaCustom.body, 'web /c');
      assert.equal(edge.reloads(), reloads, 'certificate changes take no reload');
      assert.equal(await workerPid(dir), worker, 'the same HAProxy worker');
      assert.equal(readdirSync(join(dir, 'certs')).length, 3, 'the replaced bundle is removed');
      // Removed: the name fails the handshake again (strict SNI), still without a reload.
      edge.setCertificates([renewed, wildcard]);
      await edge.settled();
      assert.equal((await handshake(edge.tlsUrl!, 'shop.example.com', ca.rootPem)).cert, undefined);
      assert.equal(edge.reloads(), reloads);
      assert.ok(!readFileSync(join(dir, 'haproxy.cfg'), 'utf8').includes('PRIVATE KEY'), 'keys only in the PEM bundles');
    }, undefined, { tlsAddr: '127.0.0.1:0' });
  } finally {
    await web.close();
    rmSync(caDir, { recursive: true, force: true });
  }
});

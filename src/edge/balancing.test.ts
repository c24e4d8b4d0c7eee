// Load balancing, passive ejection with connect-phase retries, region preference and failover, and
// draining, over real HTTP against real upstreams on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createEdge } from './edge.ts';
import { app, call, deadPort, route, sleep, startUpstream, until, up } from './test-helpers.ts';

test('least outstanding requests: a busy upstream gets no new requests while another is idle', async () => {
  let releaseSlow: () => void = () => undefined;
  const slowGate = new Promise<void>((r) => { releaseSlow = r; });
  const slow = await startUpstream('slow', (_req, res) => { void slowGate.then(() => res.end('slow')); });
  const fast = await startUpstream('fast');
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('lb', [route('/', [up('slow', slow.port), up('fast', fast.port)])])]);
    // Occupy both once so each has been used, then keep the slow one busy.
    const pending = [call(edge.url, 'lb-acme.pier.test', '/a'), call(edge.url, 'lb-acme.pier.test', '/b')];
    await until(() => slow.seen.length === 1 && fast.seen.length >= 1);
    for (let i = 0; i < 10; i++) assert.match((await call(edge.url, 'lb-acme.pier.test', `/n${i}`)).body, /^fast /);
    assert.equal(slow.seen.length, 1);
    releaseSlow();
    await Promise.all(pending);
  } finally {
    await edge.close();
    await slow.close();
    await fast.close();
  }
});

test('requests spread over idle upstreams', async () => {
  const a = await startUpstream('a');
  const b = await startUpstream('b');
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('rr', [route('/', [up('a', a.port), up('b', b.port)])])]);
    for (let i = 0; i < 20; i++) await call(edge.url, 'rr-acme.pier.test', '/');
    assert.ok(a.seen.length >= 5 && b.seen.length >= 5, `a=${a.seen.length} b=${b.seen.length}`);
  } finally {
    await edge.close();
    await a.close();
    await b.close();
  }
});

test('refused connection: retried on another upstream, and the dead one is ejected', async () => {
  const live = await startUpstream('live');
  const dead = await deadPort();
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('ej', [route('/', [up('dead', dead), up('live', live.port)])])]);
    for (let i = 0; i < 10; i++) {
      const r = await call(edge.url, 'ej-acme.pier.test', '/p', { method: 'POST', body: `n${i}` });
      assert.equal(r.status, 200, r.body);
    }
    assert.equal(live.seen.length, 10);
    // Ejected after the first refusal: later requests go straight to the live one.
    assert.equal(edge.metrics().instances.dead.connectErrors, 1);
    assert.equal(edge.metrics().instances.live.requests, 10);
  } finally {
    await edge.close();
    await live.close();
  }
});

test('every upstream refusing: 502 page after the bounded tries', async () => {
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test', maxTries: 2 });
  try {
    edge.setRoutes([app('gone', [route('/', [up('d1', await deadPort()), up('d2', await deadPort()), up('d3', await deadPort())])])]);
    const r = await call(edge.url, 'gone-acme.pier.test', '/');
    assert.equal(r.status, 502);
    assert.match(r.body, /refused|failed/);
  } finally {
    await edge.close();
  }
});

test('a request that reached the upstream is never retried', async () => {
  let hits = 0;
  const crash = await startUpstream('crash', (req) => { hits++; req.socket.destroy(); });
  const other = await startUpstream('other');
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('nr', [route('/', [up('crash', crash.port)]), route('/o', [up('other', other.port)])])]);
    const r = await call(edge.url, 'nr-acme.pier.test', '/', { method: 'POST', body: 'once' });
    assert.equal(r.status, 502);
    assert.equal(hits, 1);
  } finally {
    await edge.close();
    await crash.close();
    await other.close();
  }
});

test('a bodiless GET whose connection is cut before any answer is sent once more: to another instance, else the same one, never twice', async () => {
  let crashHits = 0;
  const crash = await startUpstream('crash', (req) => { crashHits++; req.socket.destroy(); });
  const other = await startUpstream('other');
  let flakyHits = 0;
  const flaky = await startUpstream('flaky', (req, res) => { if (++flakyHits === 1) req.socket.destroy(); else res.end('flaky ok'); });
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([
      app('two', [route('/', [up('crash', crash.port), up('other', other.port)])]),
      app('one', [route('/', [up('flaky', flaky.port)])]),
      app('dead', [route('/', [up('crash', crash.port)])]),
    ]);
    // Two instances: whichever is picked first, the answer comes from the one that answers.
    for (let i = 0; i < 4; i++) assert.match((await call(edge.url, 'two-acme.pier.test', `/g${i}`)).body, /^other /);
    assert.ok(crashHits >= 1, 'the cutting instance was tried');
    // One instance that cut the first connection: the same request again on a fresh connection.
    const r = await call(edge.url, 'one-acme.pier.test', '/');
    assert.deepEqual([r.status, r.body, flakyHits], [200, 'flaky ok', 2]);
    // One instance that always cuts: one retry, then 502 (bounded).
    crashHits = 0;
    const d = await call(edge.url, 'dead-acme.pier.test', '/');
    assert.deepEqual([d.status, crashHits], [502, 2]);
    // A POST is never re-sent (it may have had an effect).
    crashHits = 0;
    const p = await call(edge.url, 'dead-acme.pier.test', '/', { method: 'POST', body: 'once' });
    assert.deepEqual([p.status, crashHits], [502, 1]);
  } finally {
    await edge.close();
    await crash.close();
    await other.close();
    await flaky.close();
  }
});

test('region: header, then address map, then default; failover when the region has nothing healthy', async () => {
  const fra = await startUpstream('fra');
  const was = await startUpstream('was');
  const edge = await createEdge({
    addr: '127.0.0.1:0', domain: 'pier.test', region: 'fra', regionHeader: 'x-client-region',
    regionMap: [{ cidr: '127.0.0.0/8', region: 'was' }],
  });
  try {
    edge.setRoutes([app('geo', [route('/', [up('f1', fra.port, 'fra'), up('w1', was.port, 'was')])])]);
    for (let i = 0; i < 4; i++) assert.match((await call(edge.url, 'geo-acme.pier.test', '/', { headers: { 'x-client-region': 'fra' } })).body, /^fra /);
    // No header: 127.0.0.1 maps to `was`.
    for (let i = 0; i < 4; i++) assert.match((await call(edge.url, 'geo-acme.pier.test', '/')).body, /^was /);
    // Region with no instance: any healthy one elsewhere.
    assert.equal((await call(edge.url, 'geo-acme.pier.test', '/', { headers: { 'x-client-region': 'sin' } })).status, 200);
    // The local region's only instance refuses: fail over to the other region.
    await fra.close();
    for (let i = 0; i < 3; i++) {
      const r = await call(edge.url, 'geo-acme.pier.test', '/', { headers: { 'x-client-region': 'fra' } });
      assert.match(r.body, /^was /);
    }
  } finally {
    await edge.close();
    await was.close();
  }
});

test('default region is used when neither header nor map names one', async () => {
  const par = await startUpstream('par');
  const sin = await startUpstream('sin');
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test', region: 'par' });
  try {
    edge.setRoutes([app('d', [route('/', [up('p', par.port, 'par'), up('s', sin.port, 'sin')])])]);
    for (let i = 0; i < 4; i++) assert.match((await call(edge.url, 'd-acme.pier.test', '/')).body, /^par /);
  } finally {
    await edge.close();
    await par.close();
    await sin.close();
  }
});

test('drain: removed upstream gets no new requests, its slow in-flight request completes, drain resolves after it', async () => {
  let finishSlow: () => void = () => undefined;
  const gate = new Promise<void>((r) => { finishSlow = r; });
  const old = await startUpstream('old', (req, res) => {
    if (req.url === '/slow') void gate.then(() => res.end('old slow done'));
    else res.end('old');
  });
  const neu = await startUpstream('new');
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('dr', [route('/', [up('old', old.port)])])]);
    const slowReq = call(edge.url, 'dr-acme.pier.test', '/slow');
    await until(() => old.seen.length === 1);
    edge.setRoutes([app('dr', [route('/', [up('new', neu.port)])])]);
    let drained = false;
    const draining = edge.drain('old', 5000).then(() => { drained = true; });
    for (let i = 0; i < 3; i++) assert.match((await call(edge.url, 'dr-acme.pier.test', '/x')).body, /^new /);
    assert.equal(old.seen.length, 1);
    await sleep(20);
    assert.equal(drained, false);
    finishSlow();
    assert.equal((await slowReq).body, 'old slow done');
    await draining;
    assert.equal(drained, true);
    // Nothing in flight: resolves at once; a stuck one resolves at the timeout.
    await edge.drain('old', 10);
    await edge.drain('never-seen', 10);
  } finally {
    await edge.close();
    await old.close();
    await neu.close();
  }
});

test('drain resolves at its timeout when the request never finishes', async () => {
  const stuck = createServer(() => undefined);
  await new Promise<void>((r) => stuck.listen(0, '127.0.0.1', r));
  const port = (stuck.address() as { port: number }).port;
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('st', [route('/', [up('stuck', port)])])]);
    const pending = call(edge.url, 'st-acme.pier.test', '/').catch(() => null);
    await until(() => edge.metrics().instances.stuck?.inFlight === 1);
    edge.setRoutes([]);
    await edge.drain('stuck', 50);
    assert.equal(edge.metrics().instances.stuck.inFlight, 1);
    await edge.close();
    await pending;
  } finally {
    stuck.closeAllConnections();
    stuck.close();
  }
});

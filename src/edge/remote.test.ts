// The remote-edge feed end to end on loopback: the API's GET /v1/pier/edge/routes (operator only, ETag, long-poll)
// over a real Pier API (no platform components: the test publishes tables as the composition root would), and a
// remote edge that follows it, prefers its region, and keeps serving its last table while the API has none.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPier, type TestPier } from '../../test/api/helpers.ts';
import { generateToken, insertToken } from '../store/organizations.ts';
import { createRemoteEdge, type RemoteEdge } from './remote.ts';
import { app, call, route, startUpstream, up, type TestUpstream } from './test-helpers.ts';
import type { AppRoutes } from './types.ts';

let t: TestPier;
let fra: TestUpstream;
let was: TestUpstream;

before(async () => {
  t = await startTestPier();
  fra = await startUpstream('fra');
  was = await startUpstream('was');
});

after(async () => {
  await t.close();
  await fra.close();
  await was.close();
});

const table = (ups: ReturnType<typeof up>[]): AppRoutes[] => [app('shop', [route('/', ups, { serviceId: 'svc-shop' })], { hosts: ['shop.example'] })];

async function until<T>(what: string, fn: () => Promise<T | false | undefined> | T | false | undefined, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 10_000; i++) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

test('edge routes: operator only; 409 before a table; ETag, If-None-Match and long-poll', async () => {
  const feed = t.pier.routeFeed;
  assert.equal((await t.req('GET', '/v1/pier/edge/routes', undefined, null)).status, 401);
  assert.equal((await t.req('GET', '/v1/pier/edge/routes', undefined, await t.otherOrgToken())).status, 403);
  const readOnly = generateToken();
  await insertToken(t.pier.store.db, t.organizationId, 'ro', readOnly, { readOnly: true });
  assert.equal((await t.req('GET', '/v1/pier/edge/routes', undefined, readOnly)).status, 403, 'a read-only token is no operator');
  assert.equal((await t.req('GET', '/v1/pier/edge/routes')).status, 409, 'no table published yet');
  assert.equal((await t.req('GET', '/v1/pier/edge/routes?region=Not_A_Region')).status, 400);
  assert.equal((await t.req('GET', '/v1/pier/edge/routes?timeout=26')).status, 400);

  feed.publish(table([up('i-fra', fra.port, 'fra')]));
  const r1 = await fetch(`${t.url}/v1/pier/edge/routes?region=fra`, { headers: { authorization: `Bearer ${t.token}` } });
  assert.equal(r1.status, 200);
  const b1 = await r1.json() as { etag: string; domain: string; apps: AppRoutes[] };
  assert.equal(r1.headers.get('etag'), b1.etag);
  assert.equal(b1.domain, 'localhost');
  assert.deepEqual(b1.apps, table([up('i-fra', fra.port, 'fra')]));

  // Same content again: same ETag, no wake-up; If-None-Match answers 304.
  feed.publish(table([up('i-fra', fra.port, 'fra')]));
  const r2 = await fetch(`${t.url}/v1/pier/edge/routes`, { headers: { authorization: `Bearer ${t.token}`, 'if-none-match': b1.etag } });
  assert.equal(r2.status, 304);

  // A long-poll on the current ETag answers 304 when nothing changes within its timeout...
  const idle = await t.req('GET', `/v1/pier/edge/routes?wait=${encodeURIComponent(b1.etag)}&timeout=1`);
  assert.equal(idle.status, 304);
  // ...and the new table as soon as it changes; a stale ETag gets the current table at once.
  const pending = t.req<{ etag: string; apps: AppRoutes[] }>('GET', `/v1/pier/edge/routes?region=fra&wait=${encodeURIComponent(b1.etag)}&timeout=25`);
  await new Promise((r) => setTimeout(r, 50));
  feed.publish(table([up('i-was', was.port, 'was')]));
  const changed = await pending;
  assert.equal(changed.status, 200);
  assert.notEqual(changed.body.etag, b1.etag);
  assert.equal(changed.body.apps[0]!.routes[0]!.upstreams[0]!.instanceId, 'i-was');
  const stale = await t.req<{ etag: string }>('GET', `/v1/pier/edge/routes?wait=${encodeURIComponent(b1.etag)}`);
  assert.equal(stale.status, 200);
  assert.equal(stale.body.etag, changed.body.etag);

  const seen = await t.req<{ edges: { region: string; current: boolean }[] }>('GET', '/v1/pier/edge/edges');
  assert.deepEqual(seen.body.edges.map((e) => [e.region, e.current]), [['fra', true]]);
});

test('remote edge: follows the table, prefers its region, keeps serving while the API has no table', async () => {
  const feed = t.pier.routeFeed;
  feed.publish(table([up('i-fra', fra.port, 'fra'), up('i-was', was.port, 'was')]));
  const lines: string[] = [];
  let remote: RemoteEdge | undefined;
  try {
    remote = await createRemoteEdge({
      api: t.url, token: t.token, addr: '127.0.0.1:0', region: 'fra', log: (l) => lines.push(l), retry: { minMs: 20, maxMs: 100 },
    });
    await remote.firstTable;
    const url = remote.url;
    // Its own region first: every request goes to fra while fra is up.
    for (let i = 0; i < 5; i++) assert.equal((await call(url, 'shop.example', '/x')).body, 'fra /x');

    // fra leaves the table (its instance was lost): the edge follows within one long-poll round trip.
    feed.publish(table([up('i-was', was.port, 'was')]));
    await until('the edge routes to was', async () => (await call(url, 'shop.example', '/')).body === 'was /');

    // The API loses its table (e.g. this control plane stopped leading): the edge says so and keeps serving.
    feed.clear();
    await until('the edge notices', () => remote!.apiUnreachable());
    assert.ok(lines.some((l) => /unreachable \(HTTP 409.*serving the last route table/.test(l)), lines.join('\n'));
    for (let i = 0; i < 3; i++) assert.equal((await call(url, 'shop.example', '/')).body, 'was /');

    // A table again: the edge recovers and takes it.
    feed.publish(table([up('i-fra', fra.port, 'fra')]));
    await until('the edge routes to fra again', async () => (await call(url, 'shop.example', '/')).body === 'fra /');
    assert.equal(remote.apiUnreachable(), false);
    assert.ok(lines.some((l) => /API reachable again/.test(l)), lines.join('\n'));
    assert.equal((await call(url, 'other.example', '/')).status, 404, 'unknown hosts are not served');
  } finally {
    await remote?.close();
  }
});

test('remote edge: a request for a sleeping app is held while the control plane wakes it, then served', async () => {
  const feed = t.pier.routeFeed;
  feed.publish([app('shop', [route('/', [])], { hosts: ['shop.example'], sleeping: true })]);
  const woken: string[] = [];
  // Waking is asynchronous, as in the controller: the table with an upstream arrives a little later.
  feed.onWake = (appId) => {
    woken.push(appId);
    setTimeout(() => feed.publish(table([up('i-fra', fra.port, 'fra')])), 100);
  };
  const ro = generateToken();
  await insertToken(t.pier.store.db, t.organizationId, 'ro-wake', ro, { readOnly: true });
  assert.equal((await t.req('POST', '/v1/pier/edge/wake', { app_id: 'app-shop' }, ro)).status, 403, 'operators only');
  assert.equal((await t.req('POST', '/v1/pier/edge/wake', { app_id: '../x' })).status, 400);
  let remote: RemoteEdge | undefined;
  try {
    remote = await createRemoteEdge({ api: t.url, token: t.token, addr: '127.0.0.1:0', region: 'fra', log: () => {}, retry: { minMs: 20, maxMs: 100 } });
    await remote.firstTable;
    const held = await call(remote.url, 'shop.example', '/wake');
    assert.equal(held.status, 200);
    assert.equal(held.body, 'fra /wake');
    assert.deepEqual(woken, ['app-shop']);
  } finally {
    feed.onWake = undefined;
    await remote?.close();
  }
  assert.equal((await t.req('POST', '/v1/pier/edge/wake', { app_id: 'app-shop' })).status, 409, 'no controller: ask the leader');
});

test('remote edge: binds before its first table, answers 503 "no route table yet" (never 404) and gives up cleanly', async () => {
  const ctl = new AbortController();
  const lines: string[] = [];
  // Changed behaviour: the edge used to wait for a table before listening; now it binds at once (issue #25).
  const remote = await createRemoteEdge({
    api: 'http://127.0.0.1:9', token: 'x', addr: '127.0.0.1:0', region: 'fra', log: (l) => lines.push(l), retry: { minMs: 20, maxMs: 50 }, signal: ctl.signal,
  });
  try {
    await until('the first failure is logged', () => lines.some((l) => /unreachable/.test(l)));
    const r = await fetch(`${remote.url}/anything`, { headers: { host: 'shop.example' } });
    assert.equal(r.status, 503);
    assert.equal(r.headers.get('retry-after'), '1');
    assert.match(await r.text(), /no route table yet/);
    assert.equal((await fetch(`${remote.url}/_pier/ready`)).status, 503);
    assert.equal(remote.ready(), false);
    ctl.abort();
    await assert.rejects(remote.firstTable, /closed before its first route table/);
    assert.equal(lines.filter((l) => /unreachable/.test(l)).length, 1, 'a run of failures is logged once');
  } finally {
    await remote.close();
  }
});

test('remote edge: skips a dead URL, follows a follower\'s leader_url to the leader, says so once, then is ready', async () => {
  const feed = t.pier.routeFeed;
  feed.publish(table([up('i-fra', fra.port, 'fra')]));
  // A follower as the API answers it: 409 naming the leader in the ErrorInfo detail.
  const { createServer } = await import('node:http');
  let asked = 0;
  const follower = createServer((_req, res) => {
    asked++;
    const body = JSON.stringify({ code: 9, message: 'not the leader', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'invalid_state', domain: 'pier', metadata: { leader_url: t.url } }] });
    res.writeHead(409, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => follower.listen(0, '127.0.0.1', r));
  const followerUrl = `http://127.0.0.1:${(follower.address() as { port: number }).port}`;
  const lines: string[] = [];
  let remote: RemoteEdge | undefined;
  try {
    remote = await createRemoteEdge({
      api: `http://127.0.0.1:9,${followerUrl}`, token: t.token, addr: '127.0.0.1:0', region: 'fra', log: (l) => lines.push(l), retry: { minMs: 20, maxMs: 100 },
    });
    await remote.firstTable;
    assert.equal(remote.apiUrl(), t.url);
    assert.ok(asked >= 1, 'the follower was asked');
    assert.equal(lines.filter((l) => l.includes(`following the leader at ${t.url}`)).length, 1, lines.join('\n'));
    assert.equal((await call(remote.url, 'shop.example', '/')).body, 'fra /');
    const ready = await fetch(`${remote.url}/_pier/ready`);
    assert.equal(ready.status, 200);
  } finally {
    await remote?.close();
    await new Promise((r) => follower.close(r));
  }
});

test('remote edge: while a live control plane says "not the leader" (an election under way) it polls at the shortest period, not backing off', async () => {
  const feed = t.pier.routeFeed;
  feed.publish(table([up('i-fra', fra.port, 'fra')]));
  // A follower naming a dead leader 12 times (the old leader's lease not expired yet), then the leader itself.
  const { createServer, request } = await import('node:http');
  let asked = 0;
  const plane = createServer((req, res) => {
    if (++asked <= 12) {
      const body = JSON.stringify({ code: 9, message: 'not the leader', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'invalid_state', domain: 'pier', metadata: { leader_url: 'http://127.0.0.1:9' } }] });
      res.writeHead(409, { 'content-type': 'application/json' }).end(body);
      return;
    }
    // Now it leads: relay to the real API.
    const u = new URL(t.url);
    const up2 = request({ host: u.hostname, port: u.port, path: req.url, headers: req.headers }, (r) => { res.writeHead(r.statusCode ?? 502, r.headers); r.pipe(res); });
    up2.on('error', () => res.destroy());
    up2.end();
  });
  await new Promise<void>((r) => plane.listen(0, '127.0.0.1', r));
  const planeUrl = `http://127.0.0.1:${(plane.address() as { port: number }).port}`;
  let remote: RemoteEdge | undefined;
  try {
    // minMs 20, maxMs 10 s: backing off through 12 rounds would take far beyond the wait below.
    remote = await createRemoteEdge({ api: planeUrl, token: t.token, addr: '127.0.0.1:0', region: 'fra', log: () => {}, retry: { minMs: 20, maxMs: 10_000 } });
    await until('the table once the control plane leads', () => remote!.ready(), 5_000);
    assert.ok(asked > 12);
    assert.equal((await call(remote.url, 'shop.example', '/')).body, 'fra /');
  } finally {
    await remote?.close();
    await new Promise((r) => plane.close(r));
  }
});

test('remote edge: serves the table\'s TCP proxy ports on its own host, its region\'s instances first', async () => {
  const { freePort } = await import('../../test/support/ports.ts');
  const { connect } = await import('node:net');
  const publicPort = await freePort();
  const tcpTable = (ups: ReturnType<typeof up>[]): AppRoutes[] => [app('db', [], { tcpProxies: [{ publicPort, serviceId: 's-db', serviceName: 'db', port: 5432, upstreams: ups }] })];
  // Raw bytes through the proxy (the upstreams speak HTTP; the proxy does not look).
  const rawGet = () => new Promise<string>((resolve) => {
    const c = connect(publicPort, '127.0.0.1');
    let got = '';
    c.on('connect', () => c.write('GET /raw HTTP/1.0\r\nHost: x\r\n\r\n'));
    c.on('data', (d) => { got += d; });
    c.on('error', () => resolve(got));
    c.on('close', () => resolve(got));
  });
  t.pier.routeFeed.publish(tcpTable([up('i-was', was.port, 'was'), up('i-fra', fra.port, 'fra')]));
  const remote = await createRemoteEdge({ api: t.url, token: t.token, addr: '127.0.0.1:0', region: 'fra', log: () => {}, retry: { minMs: 20, maxMs: 100 } });
  try {
    await remote.firstTable;
    const bodies = await until('the TCP proxy port answers', async () => {
      const r = await rawGet();
      return r ? r : undefined;
    });
    assert.match(bodies, /\r\n\r\nfra \/raw$/, 'its own region first');
    for (let i = 0; i < 3; i++) assert.match(await rawGet(), /fra \/raw$/);
    // fra leaves the table: the other region's instance takes the connections.
    t.pier.routeFeed.publish(tcpTable([up('i-was', was.port, 'was')]));
    await until('was answers through the TCP proxy', async () => /was \/raw$/.test(await rawGet()));
  } finally {
    await remote.close();
  }
  assert.equal(await rawGet(), '', 'closed with the edge');
});

test('remote edge: posts its traffic to the control plane (operators only, validated), where it is merged for the autoscaler and the charts', async () => {
  const feed = t.pier.routeFeed;
  feed.publish(table([up('i-fra', fra.port, 'fra')]));
  const ro = generateToken();
  await insertToken(t.pier.store.db, t.organizationId, 'ro-traffic', ro, { readOnly: true });
  const good = { region: 'fra', edge_id: 'x1', instances: {}, apps: {}, tcp: {} };
  assert.equal((await t.req('POST', '/v1/pier/edge/traffic', good, ro)).status, 403, 'operators only');
  // Another organization's full token cannot report traffic (it would keep our services awake or scale them up).
  const seenBefore = feed.traffic.edgesSeen().length;
  const other = await t.otherOrgToken();
  // Nor inflate a service's charts (per-service counters).
  const forged = {
    ...good, edge_id: 'forged', instances: { 'i-fra': { in_flight: 50, requests: 1000, sum_ms: 0, counts: new Array(16).fill(0) } }, load: ['svc-x'],
    services: { 'svc-shop': { requests: 1000, bytes: 1, sum_ms: 0, counts: new Array(16).fill(0) } },
  };
  const shopBefore = feed.traffic.services().get('svc-shop');
  assert.equal((await t.req('POST', '/v1/pier/edge/traffic', forged, other)).status, 403);
  // A second post of the same edge would add its growth (the first is a baseline): refused too.
  const grown = { ...forged, services: { 'svc-shop': { requests: 2000, bytes: 2, sum_ms: 0, counts: new Array(16).fill(0) } } };
  assert.equal((await t.req('POST', '/v1/pier/edge/traffic', grown, other)).status, 403);
  assert.equal(feed.traffic.edgesSeen().length, seenBefore, 'nothing recorded');
  assert.deepEqual(feed.traffic.services().get('svc-shop'), shopBefore, 'no service counters taken');
  const bad = await t.req<any>('POST', '/v1/pier/edge/traffic', { ...good, instances: { i1: { requests: -3 } } });
  assert.equal(bad.status, 400);
  assert.ok(bad.body.fields.some((f: { field: string }) => f.field === 'instances.i1.requests'), JSON.stringify(bad.body));
  const badLoad = await t.req<any>('POST', '/v1/pier/edge/traffic', { ...good, load: ['../x'] });
  assert.equal(badLoad.status, 400);
  assert.deepEqual(badLoad.body.fields.map((f: { field: string }) => f.field), ['load']);
  let remote: RemoteEdge | undefined;
  try {
    remote = await createRemoteEdge({ api: t.url, token: t.token, addr: '127.0.0.1:0', region: 'fra', log: () => {}, retry: { minMs: 20, maxMs: 100 }, trafficIntervalMs: 50 });
    await remote.firstTable;
    // Its first report sets the baseline; what it serves after that reaches the control plane's counters.
    await until('the edge reported', () => feed.traffic.edgesSeen().some((e) => e.region === 'fra' && e.edgeId !== 'x1'));
    const before = feed.traffic.merge(undefined)?.instances['i-fra']?.requests ?? 0;
    const serviceBefore = feed.traffic.services().get('svc-shop')?.requests ?? 0;
    for (let i = 0; i < 5; i++) assert.equal((await call(remote.url, 'shop.example', '/n')).body, 'fra /n');
    await until('five requests counted', () => (feed.traffic.merge(undefined)?.instances['i-fra']?.requests ?? 0) - before === 5);
    // The same five in the service's counters the console's charts are sampled from.
    await until('five requests for the service', () => (feed.traffic.services().get('svc-shop')?.requests ?? 0) - serviceBefore === 5);
    const last = feed.traffic.merge(undefined)!.instances['i-fra']!.lastRequestAt!;
    assert.ok(Date.now() - Date.parse(last) < 5000, last);
  } finally {
    await remote?.close();
  }
});

test('remote edge: a load rise on a watched route is posted at once with the service named; the leader samples with the rise counted', async () => {
  const feed = t.pier.routeFeed;
  feed.publish([app('busy', [route('/', [up('i-busy', fra.port, 'fra')], { serviceId: 'svc-busy', loadWatch: { max: 3, perSecond: 5 } })], { hosts: ['busy.example'] })]);
  const seen: { serviceId: string; counted: number }[] = [];
  let remote: RemoteEdge | undefined;
  try {
    const known = feed.traffic.edgesSeen().length;
    remote = await createRemoteEdge({ api: t.url, token: t.token, addr: '127.0.0.1:0', region: 'fra', log: () => {}, retry: { minMs: 20, maxMs: 100 }, trafficIntervalMs: 3000 });
    await remote.firstTable;
    // Its first post (the baseline) comes after one interval; the next periodic one 3 s after that.
    await until('the edge\'s first post', () => feed.traffic.edgesSeen().length > known, 10_000);
    const before = feed.traffic.merge(undefined)?.instances['i-busy']?.requests ?? 0;
    feed.onLoad = (serviceId) => seen.push({ serviceId, counted: (feed.traffic.merge(undefined)?.instances['i-busy']?.requests ?? 0) - before });
    const t0 = Date.now();
    for (let round = 0; round < 20 && seen.length === 0; round++) {
      await Promise.all(Array.from({ length: 10 }, () => call(remote!.url, 'busy.example', '/')));
      await new Promise((r) => setTimeout(r, 50));
    }
    await until('the rise reached the leader', () => seen.length > 0);
    assert.equal(seen[0]!.serviceId, 'svc-busy');
    assert.ok(Date.now() - t0 < 1500, `posted at once, not at the next 3 s round (${Date.now() - t0} ms)`);
    assert.ok(seen[0]!.counted > 3, `the counters the leader holds at the report show the rise (${seen[0]!.counted} requests)`);
  } finally {
    feed.onLoad = undefined;
    await remote?.close();
  }
});

// A regional edge (`pier edge`, src/edge/remote.ts) on HAProxy, against a real Pier API and a real haproxy: it binds
// before its first table (503 "no route table yet", /_pier/ready 503); a one-region route is served by HAProxy straight
// to the instance (the Node edge behind it sees nothing); a two-region route is served by HAProxy preferring the
// edge's own region (a request naming the other region goes to the Node edge) and fails over when that region leaves
// the table; a sleeping app is held and woken through the
// API; HAProxy's private directory is gone after close; `pier edge` picks HAProxy where installed and says so. Skipped, with the
// reason, when haproxy is not installed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { startTestPier, type TestPier } from '../api/helpers.ts';
import { createRemoteEdge, type RemoteEdge } from '../../src/edge/remote.ts';
import type { HaproxyEdge } from '../../src/edge/haproxy/edge.ts';
import { app, call, route, startUpstream, up, type TestUpstream } from '../../src/edge/test-helpers.ts';
import type { AccessLogEntry } from '../../src/edge/types.ts';
import type { CliIO } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';
import { until } from '../support/until.ts';

const probe = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
const skip = probe.status === 0 ? false : 'haproxy is not installed (apt-get install haproxy)';
const HAPROXY = { dataplane: 'haproxy' as const, auto: false };

let t: TestPier;
let fra: TestUpstream;
let was: TestUpstream;

before(async () => {
  if (skip) return;
  t = await startTestPier();
  fra = await startUpstream('fra');
  was = await startUpstream('was');
});

after(async () => {
  if (skip) return;
  await t.close();
  await fra.close();
  await was.close();
});

test('regional edge on HAProxy: 503 before its table; one-region and two-region routes by HAProxy, with region preference and failover', { skip, timeout: 60_000 }, async () => {
  const feed = t.pier.routeFeed;
  feed.clear();
  const lines: string[] = [];
  const nodeLog: AccessLogEntry[] = [];
  let remote: RemoteEdge | undefined;
  try {
    remote = await createRemoteEdge({
      api: t.url, token: t.token, addr: '127.0.0.1:0', region: 'fra', log: (l) => lines.push(l), retry: { minMs: 20, maxMs: 100 },
      dataplane: HAPROXY, edge: { accessLog: (e) => nodeLog.push(e) },
    });
    assert.equal(remote.dataplane, 'haproxy');
    assert.ok(lines.some((l) => /listening on http:\/\/127\.0\.0\.1:\d+ \(data plane: haproxy, Node edge behind it\)/.test(l)), lines.join('\n'));
    const url = remote.url;
    const early = await call(url, 'shop.example', '/');
    assert.equal(early.status, 503, 'no table yet: 503, never 404');
    assert.match(early.body, /no route table yet/);
    assert.equal((await call(url, 'x', '/_pier/ready')).status, 503);

    // Each app its own service (a service's routes are one backend in HAProxy, whatever app names its host).
    feed.publish([
      app('shop', [route('/', [up('i-fra', fra.port, 'fra')])], { hosts: ['shop.example'] }),
      app('world', [route('/', [up('w-fra', fra.port, 'fra'), up('w-was', was.port, 'was')], { serviceId: 'world' })], { hosts: ['world.example'] }),
    ]);
    await remote.firstTable;
    await (remote.edge as HaproxyEdge).settled();
    assert.equal((await call(url, 'x', '/_pier/ready')).status, 200);
    nodeLog.length = 0;
    for (let i = 0; i < 5; i++) assert.equal((await call(url, 'shop.example', '/s')).body, 'fra /s');
    assert.equal(nodeLog.length, 0, `HAProxy served the one-region route itself; the Node edge saw ${nodeLog.length}`);
    for (let i = 0; i < 5; i++) assert.equal((await call(url, 'world.example', '/w')).body, 'fra /w', 'its own region first');
    assert.equal(nodeLog.length, 0, 'HAProxy served the two-region route itself, preferring its own region');
    // A client naming the other region: the Node edge answers, from that region.
    assert.equal((await call(url, 'world.example', '/w', { headers: { 'x-pier-region': 'was' } })).body, 'was /w');
    assert.equal(nodeLog.filter((e) => e.host === 'world.example').length, 1, 'another region named went through the Node edge');

    // fra leaves the two-region app (its instance was lost): the edge follows and serves it from was.
    feed.publish([
      app('shop', [route('/', [up('i-fra', fra.port, 'fra')])], { hosts: ['shop.example'] }),
      app('world', [route('/', [up('w-was', was.port, 'was')], { serviceId: 'world' })], { hosts: ['world.example'] }),
    ]);
    await until('the edge serves world from was', async () => (await call(url, 'world.example', '/')).body === 'was /', 10_000, 20);

    // HAProxy's files live in a private directory of this edge, removed at close.
    const pid = (remote.edge as HaproxyEdge).dataplane().masterPid!;
    const dir = /-S\0([^\0]+)\/master\.sock/.exec(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))?.[1];
    assert.ok(dir && existsSync(dir) && (statSync(dir).mode & 0o777) === 0o700, `HAProxy (pid ${pid}) runs on a private directory: ${dir}`);
    await remote.close();
    assert.ok(!existsSync(dir), `${dir} removed at close`);
  } finally {
    await remote?.close();
  }
});

test('regional edge on HAProxy: a sleeping app is held while the control plane wakes it, then served by HAProxy', { skip, timeout: 60_000 }, async () => {
  const feed = t.pier.routeFeed;
  feed.publish([app('shop', [route('/', [])], { hosts: ['shop.example'], sleeping: true })]);
  const woken: string[] = [];
  feed.onWake = (appId) => {
    woken.push(appId);
    setTimeout(() => feed.publish([app('shop', [route('/', [up('i-fra', fra.port, 'fra')])], { hosts: ['shop.example'] })]), 100);
  };
  const nodeLog: AccessLogEntry[] = [];
  let remote: RemoteEdge | undefined;
  try {
    remote = await createRemoteEdge({
      api: t.url, token: t.token, addr: '127.0.0.1:0', region: 'fra', log: () => {}, retry: { minMs: 20, maxMs: 100 },
      dataplane: HAPROXY, edge: { accessLog: (e) => nodeLog.push(e) },
    });
    await remote.firstTable;
    const held = await call(remote.url, 'shop.example', '/wake');
    assert.equal(held.status, 200);
    assert.equal(held.body, 'fra /wake');
    assert.deepEqual(woken, ['app-shop']);
    assert.equal(nodeLog.length, 1, 'the held request went through the Node edge (the activator)');
    await (remote.edge as HaproxyEdge).settled();
    assert.equal((await call(remote.url, 'shop.example', '/after')).body, 'fra /after');
    assert.equal(nodeLog.length, 1, 'once awake, HAProxy serves it');
  } finally {
    feed.onWake = undefined;
    await remote?.close();
  }
});

test('pier edge picks HAProxy where installed (PIER_EDGE_DATAPLANE unset), says so and serves', { skip, timeout: 60_000 }, async () => {
  t.pier.routeFeed.publish([app('shop', [route('/', [up('i1', fra.port, 'fra')])], { hosts: ['shop.example'] })]);
  const out: string[] = [];
  const handlers = new Set<() => void>();
  const io: Partial<CliIO> = {
    stdout: (s) => { out.push(s); }, stderr: (s) => { out.push(s); },
    env: { HOME: '/nonexistent', PIER_TOKEN: t.token, PATH: process.env.PATH },
    readFile: () => { throw new Error('no files'); },
    onInterrupt: (h) => { handlers.add(h); return () => { handlers.delete(h); }; },
  };
  // Unset PIER_EDGE_DATAPLANE with haproxy on PATH: auto picks HAProxy.
  const exit = main(['edge', '--api', t.url, '--addr', '127.0.0.1:0', '--region', 'fra'], io);
  const url = await until('pier edge serving', async () => /serving on (http:\/\/\S+)/.exec(out.join(''))?.[1], 20_000, 20);
  assert.match(out.join(''), /\(data plane: haproxy, Node edge behind it\)/);
  assert.equal((await call(url, 'shop.example', '/a')).body, 'fra /a');
  for (const h of [...handlers]) h();
  assert.equal(await exit, 0);
  assert.match(out.join(''), /pier edge: stopped/);
});

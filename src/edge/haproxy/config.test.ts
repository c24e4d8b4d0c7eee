// The HAProxy data plane's pure part: which routes HAProxy serves itself, the host+path map, the config text, the
// runtime API commands (or reload) a new table takes, and the restart backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { app, route, up } from '../test-helpers.ts';
import { LATENCY_BUCKETS_MS } from '../metrics.ts';
import {
  LATENCY_KEYS, NODE_BACKEND, REGIONAL_MARK, addressGroups, regionPreference, NODE_TLS_BACKEND, backendName, haproxyThreads, latencyKey, latencyTableCommands, renderLatencyMap, planCertRuntime, nodeOnlyReason, planCertificates, planHaproxy, planRuntime, renderConfig, renderMap, restartDelay, slotCount,
  slotsForConfig, type BackendSlots,
} from './config.ts';

const one = (id: string, port: number) => [up(id, port, 'fra')];

test('direct routes get one backend each and segment-aware map keys, longest first, under the default host too', () => {
  const plan = planHaproxy([
    app('shop', [route('/', one('i1', 9001)), route('/api/', one('i2', 9002), { serviceId: 'svc-api' })], { hosts: ['Shop.Example.com'] }),
  ], 'pier.test');
  assert.deepEqual([...plan.backends.keys()].sort(), [backendName('svc/', 8000, '/'), backendName('svc-api', 8000, '/api')].sort());
  const api = plan.backends.get(backendName('svc-api', 8000, '/api'))!;
  assert.equal(api.prefix, '/api');
  assert.deepEqual(api.servers, [{ instanceId: 'i2', host: '127.0.0.1', port: 9002, region: 'fra' }]);
  assert.deepEqual(api.routeKeys, ['app-shop svc-api /api']);
  assert.deepEqual(plan.map, [
    ['shop-acme.pier.test/api/', backendName('svc-api', 8000, '/api')],
    ['shop.example.com/api/', backendName('svc-api', 8000, '/api')],
    ['shop-acme.pier.test/', backendName('svc/', 8000, '/')],
    ['shop.example.com/', backendName('svc/', 8000, '/')],
  ]);
  assert.equal(renderMap(plan.map).split('\n')[0], `shop-acme.pier.test/api/ ${backendName('svc-api', 8000, '/api')}`);
});

test('what HAProxy cannot do stays on the Node edge', () => {
  const ok = route('/', one('i1', 9001));
  assert.equal(nodeOnlyReason(app('a', [ok]), ok), null);
  assert.match(nodeOnlyReason(app('a', [ok], { sleeping: true }), ok)!, /sleeping/);
  assert.match(nodeOnlyReason(app('a', [ok], { httpsRedirect: true }), ok)!, /HTTPS/);
  const auth = route('/', one('i1', 9001), { basicAuths: [{ username: 'u', password: 'p' }] });
  assert.match(nodeOnlyReason(app('a', [auth]), auth)!, /auth/);
  const none = route('/', []);
  assert.match(nodeOnlyReason(app('a', [none]), none)!, /no healthy instance/);
  const h2 = route('/', [up('i1', 9001, 'fra', 'http2')]);
  assert.match(nodeOnlyReason(app('a', [h2]), h2)!, /h2c/);
  const regions = route('/', [up('i1', 9001, 'fra'), up('i2', 9002, 'was')]);
  assert.match(nodeOnlyReason(app('a', [regions]), regions)!, /regions/);
  assert.equal(nodeOnlyReason(app('a', [regions]), regions, { region: 'fra', header: 'x-pier-region' }), null, 'with a region preference HAProxy serves it');
  const named = route('/', [{ ...up('i1', 9001), host: 'web.internal' }]);
  assert.match(nodeOnlyReason(app('a', [named]), named)!, /host name/);
  const odd = route('/a b', one('i1', 9001));
  assert.match(nodeOnlyReason(app('a', [odd]), odd)!, /special characters/);
});

test('a Node-only prefix is claimed in the map, so a shorter direct prefix never bypasses its auth', () => {
  const plan = planHaproxy([
    app('shop', [route('/', one('i1', 9001)), route('/admin', one('i2', 9002), { apiKeys: ['k'] })]),
  ], 'pier.test');
  assert.deepEqual(plan.map, [['shop-acme.pier.test/admin/', NODE_BACKEND], ['shop-acme.pier.test/', backendName('svc/', 8000, '/')]]);
  assert.equal(plan.backends.size, 1);
});

test('a sleeping app or one without instances has no map line (a miss goes to the Node edge, which wakes it)', () => {
  const plan = planHaproxy([
    app('sleepy', [route('/', one('i1', 9001))], { sleeping: true }),
    app('empty', [route('/', [])]),
  ], 'pier.test');
  assert.deepEqual(plan.map, []);
  assert.equal(plan.backends.size, 0);
});

test('the last app holding a host wins, as in the Node edge', () => {
  const plan = planHaproxy([
    app('one', [route('/', one('i1', 9001), { serviceId: 's1' })], { hosts: ['shared.example'] }),
    app('two', [route('/', one('i2', 9002), { serviceId: 's2' })], { hosts: ['shared.example'] }),
  ], 'pier.test');
  assert.deepEqual(plan.map.find(([k]) => k === 'shared.example/'), ['shared.example/', backendName('s2', 8000, '/')]);
});

test('slots leave room to double before a reload', () => {
  assert.equal(slotCount(0), 4);
  assert.equal(slotCount(2), 4);
  assert.equal(slotCount(3), 8);
  assert.equal(slotCount(9), 20);
});

test('the config names the Node edge as default, strips prefixes in their backend and writes unused slots disabled', () => {
  const cfg = renderConfig({
    bind: '127.0.0.1:8080', nodeEdge: '127.0.0.1:9000', adminSocket: '/d/admin.sock', mapFile: '/d/routes.map',
    backends: [{ name: 'b1', prefix: '/api', slots: [{ instanceId: 'i1', host: '10.0.0.2', port: 80 }, { instanceId: null, host: '127.0.0.1', port: 1 }] },
      { name: 'b2', prefix: '/', slots: [{ instanceId: 'i2', host: 'fd00::2', port: 80 }] }],
  });
  assert.match(cfg, /^ {2}bind 127\.0\.0\.1:8080$/m);
  assert.match(cfg, /^ {2}default_backend pier_node_edge$/m);
  assert.match(cfg, /^ {2}server node 127\.0\.0\.1:9000$/m);
  assert.match(cfg, /map_beg\(\/d\/routes\.map\)/);
  assert.match(cfg, /^backend b1\n {2}balance leastconn\n {2}http-request set-path %\[path,regsub\(\^\/api\/\?,\/\)\]$/m);
  assert.match(cfg, /^ {2}server s1 10\.0\.0\.2:80$/m);
  assert.match(cfg, /^ {2}server s2 127\.0\.0\.1:1 disabled$/m);
  assert.match(cfg, /^ {2}server s1 \[fd00::2\]:80$/m);
  assert.doesNotMatch(cfg.slice(cfg.indexOf('backend b2')), /set-path/);
});

test('latency: a bucket map in microseconds matching the Node edge\'s bounds, a stick table per backend sized for its slots', () => {
  assert.equal(renderLatencyMap().split('\n')[0], '0:500 0');
  assert.equal(renderLatencyMap().split('\n')[1], '501:1000 1');
  assert.match(renderLatencyMap(), /^10001:25000 5$/m);
  assert.match(renderLatencyMap(), /^10000001:30000000 14\n$/m);
  assert.equal(renderLatencyMap().trim().split('\n').length, LATENCY_BUCKETS_MS.length - 1, 'the +Inf bucket is the default');
  assert.deepEqual(latencyKey(LATENCY_KEYS * 3 + 5), { slot: 2, bucket: 5 });
  assert.deepEqual(latencyKey(LATENCY_KEYS + 15), { slot: 0, bucket: 15 });
  assert.equal(latencyKey(7), null, 'no server has id 0');
  const base = {
    bind: '127.0.0.1:8080', nodeEdge: '127.0.0.1:9000', adminSocket: '/d/admin.sock', mapFile: '/d/routes.map',
    backends: [{ name: 'b1', prefix: '/', slots: [{ instanceId: 'i1', host: '10.0.0.2', port: 80 }, { instanceId: null, host: '127.0.0.1', port: 1 }] }],
  };
  assert.doesNotMatch(renderConfig(base), /stick-table|track-sc/);
  const cfg = renderConfig({ ...base, latencyMap: '/d/latency.map' });
  assert.match(cfg, new RegExp(`^ {2}stick-table type integer size ${3 * LATENCY_KEYS} store gpc0$`, 'm'));
  assert.match(cfg, /^ {2}http-response set-var\(txn\.pier_b\) date\(0,us\),sub\(txn\.pier_t0\),map_int\(\/d\/latency\.map,15\)$/m);
  assert.match(cfg, /^ {2}http-response track-sc0 srv_id,mul\(16\),add\(txn\.pier_b\)$/m);
  // The frontends count nothing: the Node edge's requests are counted by the Node edge.
  assert.doesNotMatch(cfg.slice(0, cfg.indexOf('backend ')), /track-sc|pier_t0/);
  // Reading the tables: a few backends in one call; a thousand split into calls that fit HAProxy's command buffer.
  assert.deepEqual(latencyTableCommands(['b1', 'b2']), ['show table b1;show table b2']);
  assert.deepEqual(latencyTableCommands([]), []);
  const many = Array.from({ length: 1000 }, (_, i) => backendName(`svc-${i}-0123456789abcdef`, 8000, '/'));
  const calls = latencyTableCommands(many);
  assert.ok(calls.length > 1 && calls.every((c) => c.length <= 8000), `${calls.length} calls`);
  assert.deepEqual(calls.join(';').split(';'), many.map((n) => `show table ${n}`), 'every backend once, in order');
});

test('certificates: one PEM bundle per certificate, a crt-list naming its SNI filters, the first holder of a name keeps it', () => {
  const c = (names: string[], id: string) => ({ names, certPem: `-----CERT ${id}-----\n`, keyPem: `-----KEY ${id}-----` });
  const { files, crtList } = planCertificates([
    c(['*.Pier.Test', 'shop.example.'], 'wild'), c(['shop.example', 'www.example'], 'two'), c(['shop.example'], 'dup'),
    c(['bad name'], 'odd'), c(['shop.example [verify none]', 'x.example\n/etc/shadow y.example'], 'injected'),
  ], '/d/certs');
  assert.equal(files.length, 2, 'a certificate with no name left is not written');
  assert.equal(files[0]!.pem, '-----CERT wild-----\n-----KEY wild-----\n', 'chain, then key');
  assert.match(files[0]!.file, /^c-[0-9a-f]{24}\.pem$/);
  assert.equal(crtList, `/d/certs/${files[0]!.file} *.pier.test shop.example\n/d/certs/${files[1]!.file} www.example\n`);
  assert.deepEqual(planCertificates([c(['*.pier.test', 'shop.example'], 'wild')], '/d/certs').files[0]!.file, files[0]!.file, 'same content, same file');
  assert.deepEqual(planCertificates([], '/d/certs'), { files: [], entries: [], crtList: '' });
});

test('with TLS, an HTTPS frontend routes as the HTTP one (x-forwarded-proto https, h2 counted as origin-form) and falls back to the Node edge over TLS', () => {
  const base = { bind: '127.0.0.1:8080', nodeEdge: '127.0.0.1:9000', adminSocket: '/d/admin.sock', mapFile: '/d/routes.map', backends: [] };
  assert.doesNotMatch(renderConfig(base), /ssl|edge_tls/);
  const cfg = renderConfig({ ...base, tls: { bind: '[::1]:8443', crtList: '/d/certs.list', nodeEdgeTls: '127.0.0.1:9443' } });
  const tls = cfg.slice(cfg.indexOf('frontend edge_tls'), cfg.indexOf(`\nbackend ${NODE_BACKEND}\n`));
  assert.match(tls, /^ {2}bind \[::1\]:8443 ssl crt-list \/d\/certs\.list strict-sni alpn h2,http\/1\.1$/m);
  assert.match(tls, /^ {2}http-request set-header x-forwarded-proto https if/m);
  assert.match(tls, /^ {2}http-request set-var\(txn\.p\) path if plain one_host !pct !node_path \|\| h2 one_host !pct !node_path$/m);
  assert.match(tls, /map_beg\(\/d\/routes\.map\)/);
  assert.match(tls, new RegExp(`^ {2}default_backend ${NODE_TLS_BACKEND}$`, 'm'));
  const http = cfg.slice(cfg.indexOf('frontend edge\n'), cfg.indexOf('frontend edge_tls'));
  assert.match(http, /x-forwarded-proto http if/);
  assert.match(http, new RegExp(`^ {2}default_backend ${NODE_BACKEND}$`, 'm'));
  assert.match(cfg, new RegExp(`^backend ${NODE_TLS_BACKEND}\n {2}server node_tls 127\.0\.0\.1:9443 ssl verify none sni ssl_fc_sni alpn http/1\.1$`, 'm'));
});

test('threads: one per CPU, plain HTTP accepted on all but one, TLS on all; low-latency scheduling always', () => {
  assert.deepEqual(haproxyThreads(1), { total: 1, http: 1 });
  assert.deepEqual(haproxyThreads(2), { total: 2, http: 1 });
  assert.deepEqual(haproxyThreads(8), { total: 8, http: 7 });
  assert.deepEqual(haproxyThreads(0), { total: 1, http: 1 });
  const base = { bind: '127.0.0.1:8080', nodeEdge: '127.0.0.1:9000', adminSocket: '/d/admin.sock', mapFile: '/d/routes.map', backends: [] };
  const tls = { bind: '127.0.0.1:8443', crtList: '/d/certs.list', nodeEdgeTls: '127.0.0.1:9443' };
  const two = renderConfig({ ...base, tls, threads: haproxyThreads(2) });
  assert.match(two, /^ {2}tune\.sched\.low-latency on$/m);
  assert.match(two, /^ {2}nbthread 2$/m);
  assert.match(two, /^ {2}bind 127\.0\.0\.1:8080 thread 1$/m);
  assert.match(two, /^ {2}bind 127\.0\.0\.1:8443 ssl crt-list \/d\/certs\.list strict-sni alpn h2,http\/1\.1$/m, 'TLS on every thread');
  assert.match(renderConfig({ ...base, threads: haproxyThreads(4) }), /^ {2}bind 127\.0\.0\.1:8080 thread 1-3$/m);
  const dflt = renderConfig(base);
  assert.doesNotMatch(dflt, /nbthread|thread 1/, 'without threads, HAProxy\'s own default');
  assert.match(dflt, /^ {2}tune\.sched\.low-latency on$/m);
});

const ups = (...ports: number[]) => ports.map((p, i) => up(`i${i + 1}`, p, 'fra'));
const planOf = (...ports: number[]) => planHaproxy([app('web', [route('/', ups(...ports))])], 'pier.test');
const WEB = backendName('svc/', 8000, '/');

test('a scale-up and back within the slots is runtime API commands only, instances keeping their slots', () => {
  let have = slotsForConfig(planOf(9001), new Map());
  assert.deepEqual(have.get(WEB)!.slots.map((s) => s.instanceId), ['i1', null, null, null]);
  const upTo3 = planRuntime(have, planOf(9001, 9002, 9003));
  assert.equal(upTo3.reload, null);
  if (upTo3.reload !== null) return;
  assert.deepEqual(upTo3.before, [
    `set server ${WEB}/s2 addr 127.0.0.1 port 9002`, `set server ${WEB}/s2 state ready`,
    `set server ${WEB}/s3 addr 127.0.0.1 port 9003`, `set server ${WEB}/s3 state ready`,
  ]);
  assert.deepEqual(upTo3.after, []);
  have = upTo3.backends;
  // Back to i1 only: the others leave (maint) after the map, and their slots are free again.
  const downTo1 = planRuntime(have, planOf(9001));
  assert.equal(downTo1.reload, null);
  if (downTo1.reload !== null) return;
  assert.deepEqual(downTo1.before, []);
  assert.deepEqual(downTo1.after, [`set server ${WEB}/s2 state maint`, `set server ${WEB}/s3 state maint`]);
  assert.deepEqual(downTo1.backends.get(WEB)!.slots.map((s) => s.instanceId), ['i1', null, null, null]);
  // Nothing changed: nothing to send.
  const same = planRuntime(downTo1.backends, planOf(9001));
  assert.deepEqual(same.reload === null && [...same.before, ...same.after], []);
});

test('an instance replaced by another in one table (a fast redeploy): the newcomer takes another slot, never the one sent to maint after the map', () => {
  const have = slotsForConfig(planOf(9001), new Map());
  const next = planHaproxy([app('web', [route('/', [up('v2', 9002, 'fra')])])], 'pier.test');
  const step = planRuntime(have, next);
  assert.equal(step.reload, null);
  if (step.reload !== null) return;
  assert.deepEqual(step.before, [`set server ${WEB}/s2 addr 127.0.0.1 port 9002`, `set server ${WEB}/s2 state ready`]);
  assert.deepEqual(step.after, [`set server ${WEB}/s1 state maint`]);
  assert.deepEqual(step.backends.get(WEB)!.slots.map((s) => s.instanceId), [null, 'v2', null, null]);
  // The next change may reuse the freed slot.
  const third = planRuntime(step.backends, planHaproxy([app('web', [route('/', [up('v2', 9002, 'fra'), up('v3', 9003, 'fra')])])], 'pier.test'));
  assert.deepEqual(third.reload === null && third.before, [`set server ${WEB}/s1 addr 127.0.0.1 port 9003`, `set server ${WEB}/s1 state ready`]);
  // Every slot taken or left in this change: a reload, not a newcomer under a pending maint.
  const four = planRuntime(have, planOf(9001, 9002, 9003, 9004));
  assert.equal(four.reload, null);
  const full = four.backends;
  assert.deepEqual(full.get(WEB)!.slots.map((s) => s.instanceId), ['i1', 'i2', 'i3', 'i4']);
  const swapped = planHaproxy([app('web', [route('/', ['w1', 'w2', 'w3', 'w4'].map((id, k) => up(id, 9101 + k, 'fra')))])], 'pier.test');
  assert.match(String(planRuntime(full, swapped).reload), /needs 4 slots, has 4/);
});

test('an instance that moves is readdressed in its slot; the applied state is never mutated', () => {
  const have = slotsForConfig(planOf(9001), new Map());
  const before = structuredClone(have);
  const moved = planRuntime(have, planOf(9009));
  assert.equal(moved.reload, null);
  assert.deepEqual(moved.reload === null && moved.before, [`set server ${WEB}/s1 addr 127.0.0.1 port 9009`, `set server ${WEB}/s1 state ready`]);
  assert.deepEqual(have, before);
});

test('a new backend, outgrown slots or an earlier failure reload; a backend no route uses any more is emptied at run time', () => {
  const have = slotsForConfig(planOf(9001), new Map());
  assert.match(String(planRuntime(have, planOf(9001, 9002, 9003, 9004, 9005)).reload), /needs 5 slots, has 4/);
  const grown = planRuntime(have, planOf(9001, 9002, 9003, 9004, 9005));
  assert.deepEqual(grown.backends.get(WEB)!.slots.map((s) => s.instanceId), ['i1', 'i2', 'i3', 'i4', 'i5', null, null, null, null, null, null, null]);
  assert.match(String(planRuntime(have, planOf(9001), true).reload), /failed halfway/);
  const other = planHaproxy([app('web', [route('/', ups(9001), { serviceId: 'other' })])], 'pier.test');
  assert.equal(planRuntime(have, other).reload, `new backend ${backendName('other', 8000, '/')}`);
  const prefixed = planHaproxy([app('web', [route('/', ups(9001)), route('/api', ups(9002), { serviceId: 'api' })])], 'pier.test');
  assert.equal(planRuntime(have, prefixed).reload, `new backend ${backendName('api', 8000, '/api')}`);
  const gone = planRuntime(have, planHaproxy([], 'pier.test'));
  assert.equal(gone.reload, null);
  assert.deepEqual(gone.reload === null && gone.after, [`set server ${WEB}/s1 state maint`]);
  assert.deepEqual(gone.backends.get(WEB)!.slots.map((s) => s.instanceId), [null, null, null, null], 'kept in the config until a reload');
});

test('a config for a reload or a restart keeps each instance in its slot and never shrinks a backend', () => {
  const have: Map<string, BackendSlots> = new Map([[WEB, { name: WEB, prefix: '/', slots: [
    { instanceId: null, host: '127.0.0.1', port: 9001 }, { instanceId: 'i2', host: '127.0.0.1', port: 9002 },
    ...Array.from({ length: 6 }, () => ({ instanceId: null, host: '127.0.0.1', port: 1 })),
  ] }]]);
  const next = slotsForConfig(planOf(9001, 9002), have);
  assert.deepEqual(next.get(WEB)!.slots.map((s) => s.instanceId), ['i1', 'i2', null, null, null, null, null, null]);
});

test('restart backoff: 100 ms, doubling to 5 s, back to 100 ms after 30 s up', () => {
  const waits: number[] = [];
  let last: number | null = null;
  for (let i = 0; i < 8; i++) waits.push((last = restartDelay(last, 50)));
  assert.deepEqual(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  assert.equal(restartDelay(5000, 29_999), 5000);
  assert.equal(restartDelay(5000, 30_000), 100);
});

test('certificates change through the runtime API: new bundles loaded and listed before old lines and bundles go', () => {
  const a = { file: 'c-a.pem', names: ['a.example'] };
  const a2 = { file: 'c-a2.pem', names: ['a.example'] };
  const b = { file: 'c-b.pem', names: ['b.example', '*.b.example'] };
  const steps = planCertRuntime('/d', '/d.list', [a, b], [a2, b], [{ file: 'c-a2.pem', pem: 'CERT\n\nKEY\n' }, { file: 'c-b.pem', pem: 'B' }]);
  assert.deepEqual(steps, [
    { cmd: 'new ssl cert /d/c-a2.pem' },
    { cmd: 'set ssl cert /d/c-a2.pem', payload: 'CERT\nKEY' },
    { cmd: 'commit ssl cert /d/c-a2.pem', expect: 'Success!' },
    { cmd: 'add ssl crt-list /d.list', payload: '/d/c-a2.pem a.example', expect: 'Success!' },
    { cmd: 'del ssl crt-list /d.list /d/c-a.pem' },
    { cmd: 'del ssl cert /d/c-a.pem' },
  ]);
  assert.deepEqual(planCertRuntime('/d', '/d.list', [a, b], [a, b], []), [], 'nothing changed');
  // The same bundle with other names, or on two lines: a reload.
  assert.equal(planCertRuntime('/d', '/d.list', [a], [{ ...a, names: ['x.example'] }], []), null);
  assert.equal(planCertRuntime('/d', '/d.list', [], [a, { ...a, names: ['y.example'] }], []), null);
});

test('region preference: only plain tokens; an address map becomes ordered groups of ranges, or none when a range is not plain', () => {
  assert.deepEqual(regionPreference('fra', 'X-Pier-Region'), { region: 'fra', header: 'x-pier-region' });
  assert.equal(regionPreference('fra west', 'x-pier-region'), undefined);
  assert.equal(regionPreference('fra', 'x pier'), undefined);
  assert.deepEqual(regionPreference('fra', 'x-pier-region', [{ cidr: '10.0.0.0/8', region: 'was' }]),
    { region: 'fra', header: 'x-pier-region', away: [{ cidrs: ['10.0.0.0/8'], away: true }] });
  // Anything HAProxy's config could not hold as one range: no preference (multi-region routes stay on the Node edge).
  for (const cidr of ['10.0.0.0/8 or', '10.0.0.0/33', '10.0.0.0/8/1', 'fe80::/129', 'example.com/8', '10.0.0.0/x', '10.0.0.0/8\nlisten'])
    assert.equal(regionPreference('fra', 'x-pier-region', [{ cidr, region: 'was' }]), undefined, cidr);
  // First match wins, as RegionMap: neighbours merged, a range of the edge's region before another region's kept (it
  // shadows it), ranges of the edge's region after the last other one dropped (no match means the edge's region).
  assert.deepEqual(addressGroups([
    { cidr: '10.1.0.0/16', region: 'fra' }, { cidr: '10.0.0.0/8', region: 'was' }, { cidr: '192.168.0.0/16', region: 'sin' },
    { cidr: '2001:db8::/32', region: 'fra' }, { cidr: '172.16.0.1', region: 'fra' },
  ], 'fra'), [{ cidrs: ['10.1.0.0/16'], away: false }, { cidrs: ['10.0.0.0/8', '192.168.0.0/16'], away: true }]);
  assert.deepEqual(addressGroups([{ cidr: '::1', region: 'was' }], 'fra'), [{ cidrs: ['::1/128'], away: true }]);
});

test('the address rules: ordered src rules setting txn.away, only without the region header, chunked to fit a config line', () => {
  const away = Array.from({ length: 30 }, (_, i) => ({ cidr: `10.${i}.0.0/16`, region: 'was' }));
  const pref = regionPreference('fra', 'x-pier-region', [{ cidr: '10.1.2.0/24', region: 'fra' }, ...away])!;
  const cfg = renderConfig({ bind: '127.0.0.1:80', nodeEdge: '127.0.0.1:81', adminSocket: '/a', mapFile: '/m', backends: [], regions: pref });
  const rules = cfg.split('\n').filter((l) => l.includes('txn.away'));
  assert.deepEqual(rules.map((l) => l.trim().replace(/\{ src .*\}/, '{ src … }')), [
    'http-request set-var(txn.away) int(0) if regional !named !{ var(txn.away) -m found } { src … }',
    'http-request set-var(txn.away) int(1) if regional !named !{ var(txn.away) -m found } { src … }',
    'http-request set-var(txn.away) int(1) if regional !named !{ var(txn.away) -m found } { src … }',
    'http-request unset-var(txn.be) if regional { var(txn.away) -m int 1 }',
  ]);
  assert.match(rules[0]!, /\{ src 10\.1\.2\.0\/24 \}$/);
  assert.equal(rules[1]!.match(/10\.\d+\.0\.0\/16/g)!.length + rules[2]!.match(/10\.\d+\.0\.0\/16/g)!.length, 30);
  assert.ok(rules.every((l) => l.length < 2048), 'each rule fits a config line');
  // In the frontend's order: the header rule, the address rules, then the mark stripped.
  const at = (needle: string) => cfg.indexOf(needle);
  assert.ok(at('unset-var(txn.be) if regional named') < at('set-var(txn.away)'));
  assert.ok(at('-m int 1 }') < at('set-var(txn.be) var(txn.be),field(2,:)'));
  assert.doesNotMatch(renderConfig({ bind: '127.0.0.1:80', nodeEdge: '127.0.0.1:81', adminSocket: '/a', mapFile: '/m', backends: [], regions: regionPreference('fra', 'x-pier-region') }), /txn\.away/);
});

test('a route whose instances span regions: the edge\'s region active (checked), the others backup, one reload to group, then runtime API only', () => {
  const pref = { region: 'fra', header: 'x-pier-region' };
  const plan = (...ups: [string, number, string][]) => planHaproxy([app('geo', [route('/', ups.map(([id, port, region]) => up(id, port, region)))])], 'pier.test', pref);
  const B = backendName('svc/', 8000, '/');
  // One region: a plain backend, a plain map line.
  const single = plan(['f1', 9001, 'fra']);
  assert.equal(single.backends.get(B)!.regional, false);
  assert.deepEqual(single.map, [['geo-acme.pier.test/', B]]);
  let have = slotsForConfig(single, new Map());
  assert.equal(have.get(B)!.backupFrom, undefined);
  // A second region: the map line is marked, and the backend needs its groups: one reload.
  const two = plan(['f1', 9001, 'fra'], ['w1', 9002, 'was']);
  assert.deepEqual(two.map, [['geo-acme.pier.test/', `${REGIONAL_MARK}${B}`]]);
  const step = planRuntime(have, two);
  assert.match(String(step.reload), /several regions/);
  have = step.backends;
  assert.equal(have.get(B)!.backupFrom, 4);
  assert.deepEqual(have.get(B)!.slots.map((s) => s.instanceId), ['f1', null, null, null, 'w1', null, null, null], 'f1 kept its slot');
  const cfg = renderConfig({ bind: '127.0.0.1:80', nodeEdge: '127.0.0.1:81', adminSocket: '/a', mapFile: '/m', backends: [...have.values()], regions: pref });
  const be = cfg.slice(cfg.indexOf(`backend ${B}`));
  assert.match(be, /option allbackups/);
  assert.match(be, /server s1 127\.0\.0\.1:9001 check inter 2s fall 1 rise 1 observe layer4 error-limit 1 on-error mark-down\n/);
  assert.match(be, /server s2 127\.0\.0\.1:1 disabled check /);
  assert.match(be, /server s5 127\.0\.0\.1:9002 backup\n/);
  assert.match(be, /server s6 127\.0\.0\.1:1 disabled backup\n/);
  // The frontend: a marked backend is stripped, or (another region named) the request goes to the Node edge.
  assert.match(cfg, /acl regional var\(txn\.be\) -m beg r:\n/);
  assert.match(cfg, /acl named req\.fhdr\(x-pier-region\) -m found\n/);
  assert.match(cfg, /http-request unset-var\(txn\.be\) if regional named !\{ req\.fhdr\(x-pier-region,-1\) -m str fra \}\n/);
  assert.match(cfg, /http-request set-var\(txn\.be\) var\(txn\.be\),field\(2,:\) if regional\n/);
  // Another instance in each region: runtime API only, each in its group; the active one forced up.
  const four = planRuntime(have, plan(['f1', 9001, 'fra'], ['f2', 9003, 'fra'], ['w1', 9002, 'was'], ['w2', 9004, 'was']));
  assert.equal(four.reload, null);
  if (four.reload !== null) return;
  assert.deepEqual(four.before, [
    `set server ${B}/s2 addr 127.0.0.1 port 9003`, `set server ${B}/s2 state ready`, `set server ${B}/s2 health up`,
    `set server ${B}/s6 addr 127.0.0.1 port 9004`, `set server ${B}/s6 state ready`,
  ]);
  // The edge's region empties: its slots go to maint (the backups take every request), the backend keeps its groups.
  const away = planRuntime(four.backends, plan(['w1', 9002, 'was'], ['w2', 9004, 'was']));
  assert.equal(away.reload, null);
  if (away.reload !== null) return;
  assert.deepEqual(away.after, [`set server ${B}/s1 state maint`, `set server ${B}/s2 state maint`]);
  assert.equal(away.backends.get(B)!.backupFrom, 4);
  // Without a preference (a region name HAProxy cannot hold), nothing changes: the route stays on the Node edge (no map line).
  assert.deepEqual(planHaproxy([app('geo', [route('/', [up('f1', 9001, 'fra'), up('w1', 9002, 'was')])])], 'pier.test').map, []);
  assert.doesNotMatch(renderConfig({ bind: '127.0.0.1:80', nodeEdge: '127.0.0.1:81', adminSocket: '/a', mapFile: '/m', backends: [] }), /regional/);
});

// Remote edges' traffic for the autoscaler: sums that only grow across reports and edge restarts, added to the
// in-process edge's counters; in-flight, held and open counts only from edges heard from lately; the wire form
// read back with every bad field named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LATENCY_BUCKETS_MS } from './metrics.ts';
import { FRESH_MS, parseTrafficReport, RemoteTraffic, trafficReportToWire, type InstanceReport, type TrafficReport } from './remote-traffic.ts';
import type { EdgeMetrics } from './types.ts';

const counts = (n: number) => LATENCY_BUCKETS_MS.map((_, k) => (k === 3 ? n : 0));
const inst = (requests: number, inFlight = 0, lastRequestAt: number | null = null): InstanceReport =>
  ({ inFlight, requests, sumMs: requests * 4, counts: counts(requests), lastRequestAt });
const report = (edgeId: string, instances: Record<string, InstanceReport>, extra: Partial<TrafficReport> = {}): TrafficReport =>
  ({ region: 'fra', edgeId, etag: '"t1"', instances, apps: {}, services: {}, tcp: {}, ...extra });

test('sums grow by each report\'s delta: the first report of an edge is a baseline, a restarted edge does not pull them back', () => {
  const t = new RemoteTraffic();
  const now = 1_000_000;
  t.report(report('e1', { i1: inst(100, 2, now - 5) }), now);
  let m = t.merge(undefined, now)!;
  assert.equal(m.instances.i1!.requests, 0, 'what the edge counted before this control plane heard from it is not new traffic');
  assert.equal(m.instances.i1!.inFlight, 2);
  assert.equal(m.instances.i1!.lastRequestAt, new Date(now - 5).toISOString());
  t.report(report('e1', { i1: inst(110), i2: inst(3) }), now + 1000);
  m = t.merge(undefined, now + 1000)!;
  assert.equal(m.instances.i1!.requests, 10);
  assert.equal(m.instances.i1!.sumMs, 40);
  assert.equal(m.instances.i1!.buckets.counts[3], 10);
  assert.equal(m.instances.i2!.requests, 3, 'a new instance on a known edge: all of it is new');
  // The edge restarts (a new id, counters from zero): a baseline again, then its growth adds up.
  t.report(report('e2', { i1: inst(1) }), now + 2000);
  t.report(report('e2', { i1: inst(6) }), now + 3000);
  assert.equal(t.merge(undefined, now + 3000)!.instances.i1!.requests, 15);
});

test('merged with the in-process edge\'s counters; in-flight, held and open connections only from fresh edges', () => {
  const t = new RemoteTraffic();
  const now = 5_000_000;
  const local: EdgeMetrics = {
    instances: { i1: { inFlight: 1, requests: 50, byStatus: { '2xx': 50 }, bytes: 10, latencyMs: { p50: 1, p95: 2, p99: 3 }, buckets: { le: LATENCY_BUCKETS_MS, counts: counts(50) }, sumMs: 100, connectErrors: 0, lastRequestAt: new Date(now - 10_000).toISOString() } },
    routes: {}, apps: { a1: { lastRequestAt: null, held: 0, requests: 50 } }, tcp: { i1: { open: 0, lastAt: now - 20_000 } },
  };
  t.report(report('e1', { i1: inst(0) }, { apps: { a1: { held: 0, requests: 0, lastRequestAt: null } } }), now - 1000);
  t.report(report('e1', { i1: inst(7, 3, now - 100) }, { apps: { a1: { held: 2, requests: 7, lastRequestAt: now - 100 } }, tcp: { i1: { open: 1, lastAt: now - 500 } } }), now);
  const m = t.merge(local, now)!;
  assert.equal(m.instances.i1!.requests, 57);
  assert.equal(m.instances.i1!.inFlight, 4);
  assert.equal(m.instances.i1!.buckets.counts[3], 57);
  assert.equal(m.instances.i1!.lastRequestAt, new Date(now - 100).toISOString());
  assert.deepEqual(m.apps.a1, { held: 2, requests: 57, lastRequestAt: new Date(now - 100).toISOString() });
  assert.deepEqual(m.tcp!.i1, { open: 1, lastAt: now - 500 });
  assert.equal(local.instances.i1!.requests, 50, 'the local snapshot is left as it was');
  // The edge goes quiet: its sums and last moments stay, its in-flight, held and open counts no longer do.
  const later = t.merge(local, now + FRESH_MS + 1)!;
  assert.equal(later.instances.i1!.requests, 57);
  assert.equal(later.instances.i1!.inFlight, 1);
  assert.equal(later.apps.a1!.held, 0);
  assert.deepEqual(later.tcp!.i1, { open: 0, lastAt: now - 500 });
  // Nothing reported at all: the local snapshot itself.
  assert.equal(new RemoteTraffic().merge(local, now), local);
});

test('the wire form reads back; every bad field is named', () => {
  const r = report('abc123', { 'i-1': inst(5, 1, 1234) }, { apps: { 'a-1': { held: 1, requests: 5, lastRequestAt: null } }, tcp: { 'i-1': { open: 2, lastAt: 99 } } });
  const back = parseTrafficReport(JSON.parse(JSON.stringify(trafficReportToWire(r))));
  assert.deepEqual(back.errors, []);
  assert.deepEqual(back.report, r);
  const bad = parseTrafficReport({
    region: 'Frankfurt!', edge_id: '', instances: { 'i 1': {}, i2: { in_flight: -1, requests: 'x', sum_ms: 0, counts: [1, 2] } }, tcp: [],
  });
  assert.equal(bad.report, undefined);
  assert.deepEqual(bad.errors.map((e) => e.field), ['region', 'edge_id', 'instances.i 1', 'instances.i2.counts', 'instances.i2.in_flight', 'instances.i2.requests', 'tcp']);
  assert.deepEqual(parseTrafficReport([]).errors, [{ field: 'body', description: 'must be a traffic report object' }]);
});

test('a drain waits for the remote edges to report from the current table, then for their requests on the instance, bounded', async () => {
  const t = new RemoteTraffic();
  let current = '"t1"';
  t.report(report('e1', { i1: inst(10, 2) }));
  assert.equal(t.inFlight('i1'), 2);
  assert.equal(await t.drained('i1', 120, () => current), false, 'still in flight after the time given');
  setTimeout(() => t.report(report('e1', { i1: inst(12, 0) })), 100);
  const t0 = Date.now();
  assert.equal(await t.drained('i1', 5000, () => current), true);
  assert.ok(Date.now() - t0 < 1000);
  // A new table (the instance left it): nothing in flight as last reported, but from the old table; the edge's
  // report from the new one decides.
  current = '"t2"';
  assert.equal(await t.drained('i1', 120, () => current), false, 'no report from the new table yet');
  setTimeout(() => t.report(report('e1', { i1: inst(12, 0) }, { etag: '"t2"' })), 100);
  assert.equal(await t.drained('i1', 5000, () => current), true);
  assert.equal(await t.drained('other', 10, () => current), true, 'nothing in flight on an instance no edge reported');
});

test('a report leaves out what the edge never served', async () => {
  const { trafficReport } = await import('./remote-traffic.ts');
  const zero = { inFlight: 0, requests: 0, byStatus: {}, bytes: 0, latencyMs: { p50: 0, p95: 0, p99: 0 }, buckets: { le: LATENCY_BUCKETS_MS, counts: counts(0) }, sumMs: 0, connectErrors: 0, lastRequestAt: null };
  const m: EdgeMetrics = {
    instances: { idle: zero, busy: { ...zero, requests: 4, sumMs: 8, buckets: { le: LATENCY_BUCKETS_MS, counts: counts(4) } }, waiting: { ...zero, inFlight: 1 } },
    routes: {}, apps: { quiet: { held: 0, requests: 0, lastRequestAt: null }, held: { held: 2, requests: 0, lastRequestAt: null } },
  };
  const r = trafficReport('fra', 'e1', '"t"', m, {});
  assert.deepEqual(Object.keys(r.instances).sort(), ['busy', 'waiting']);
  assert.deepEqual(Object.keys(r.apps), ['held']);
});

test('per service, the edges\' route counters add up for the charts: a baseline first, then growth, across edges and restarts', async () => {
  const { trafficReport } = await import('./remote-traffic.ts');
  const zero = { inFlight: 0, requests: 0, byStatus: {}, bytes: 0, latencyMs: { p50: 0, p95: 0, p99: 0 }, buckets: { le: LATENCY_BUCKETS_MS, counts: counts(0) }, sumMs: 0, connectErrors: 0, lastRequestAt: null };
  const route = (serviceId: string, requests: number, bytes: number) =>
    ({ ...zero, appId: 'a1', serviceId, path: '/', requests, bytes, sumMs: requests * 2, buckets: { le: LATENCY_BUCKETS_MS, counts: counts(requests) } });
  // Two routes of one service at one edge, summed into its report; a service with no request is left out.
  const m = (n: number): EdgeMetrics => ({ instances: {}, apps: {}, routes: { 'a1 s1 /': route('s1', n, n * 10), 'a1 s1 /api': route('s1', n, n * 5), 'a1 s2 /': route('s2', 0, 0) } });
  const first = trafficReport('fra', 'e1', '"t"', m(10), {});
  assert.deepEqual(first.services, { s1: { requests: 20, bytes: 150, sumMs: 40, counts: counts(20) } });
  const t = new RemoteTraffic();
  t.report(first, 1000);
  assert.equal(t.services().get('s1')!.requests, 0, 'an edge\'s first report is its baseline');
  t.report(trafficReport('fra', 'e1', '"t"', m(15), {}), 2000);
  assert.deepEqual(t.services().get('s1'), { requests: 10, bytes: 75, counts: counts(10) });
  // Another region's edge: its own baseline, then its growth adds to the same service.
  t.report(trafficReport('was', 'w1', '"t"', m(100), {}), 2000);
  t.report(trafficReport('was', 'w1', '"t"', m(104), {}), 3000);
  assert.equal(t.services().get('s1')!.requests, 18);
  // The first edge restarts under a new id: counting from zero again never pulls the sum back.
  t.report(trafficReport('fra', 'e2', '"t"', m(1), {}), 4000);
  t.report(trafficReport('fra', 'e2', '"t"', m(2), {}), 5000);
  assert.equal(t.services().get('s1')!.requests, 20);
  assert.equal(t.services().get('s2'), undefined);
  // On the wire and back; an edge older than the field sends none, and that is no error.
  const back = parseTrafficReport(JSON.parse(JSON.stringify(trafficReportToWire(first))));
  assert.deepEqual(back.report!.services, first.services);
  const old = trafficReportToWire(first) as Record<string, unknown>;
  delete old.services;
  assert.deepEqual(parseTrafficReport(old).report!.services, {});
  const bad = parseTrafficReport({ ...trafficReportToWire(first), services: { 's 1': {}, s2: { requests: -1, bytes: 0, sum_ms: 0, counts: [1] } } });
  assert.deepEqual(bad.errors.map((e) => e.field).sort(), ['services.s 1', 'services.s2.counts', 'services.s2.requests']);
});

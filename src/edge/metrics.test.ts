// Counters per route, instance and app through real requests; histogram quantiles, merging and the
// Prometheus text format as pure functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEdge } from './edge.ts';
import { LATENCY_BUCKETS_MS, mergeMetrics, quantile, renderPrometheus, Traffic } from './metrics.ts';
import { app, call, route, startUpstream, up } from './test-helpers.ts';

test('metrics count requests by status class per route, instance and app', async () => {
  const upstream = await startUpstream('m', (req, res) => {
    res.statusCode = req.url === '/boom' ? 500 : 200;
    res.end('x'.repeat(10));
  });
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: 'pier.test' });
  try {
    edge.setRoutes([app('m', [route('/', [up('i1', upstream.port)], { serviceId: 'svc-1' })])]);
    const before = Date.now();
    for (let i = 0; i < 3; i++) await call(edge.url, 'm-acme.pier.test', '/ok');
    await call(edge.url, 'm-acme.pier.test', '/boom');
    const m = edge.metrics();
    const r = m.routes['app-m svc-1 /'];
    assert.equal(r.requests, 4);
    assert.deepEqual([r.appName, r.serviceName], ['m', 'webroot']);
    assert.equal(r.byStatus['2xx'], 3);
    assert.equal(r.byStatus['5xx'], 1);
    assert.equal(r.inFlight, 0);
    assert.equal(r.bytes, 40);
    assert.ok(r.latencyMs.p99 >= r.latencyMs.p50);
    assert.equal(m.instances.i1.requests, 4);
    assert.equal(m.instances.i1.inFlight, 0);
    assert.equal(m.apps['app-m'].requests, 4);
    assert.ok(Date.parse(m.apps['app-m'].lastRequestAt!) >= before - 5);
    const text = edge.prometheus();
    assert.match(text, /pier_edge_route_requests_total\{app="app-m",app_name="m",service="svc-1",service_name="webroot",route="\/",code="2xx"\} 3/);
    assert.match(text, /pier_edge_instance_requests_total\{instance="i1",code="5xx"\} 1/);
    assert.match(text, /pier_edge_instance_request_duration_seconds_count\{instance="i1"\} 4/);
    assert.match(text, /pier_edge_route_request_duration_seconds_bucket\{app="app-m",app_name="m",service="svc-1",service_name="webroot",route="\/",le="\+Inf"\} 4/);
  } finally {
    await edge.close();
    await upstream.close();
  }
});

test('quantiles interpolate inside buckets', () => {
  const t = new Traffic();
  for (let i = 0; i < 100; i++) t.observe(200, i < 90 ? 0.8 : 40, 0);
  // 90 in (0.5, 1], 10 in (25, 50].
  assert.ok(quantile(t.counts, 0.5) > 0.5 && quantile(t.counts, 0.5) <= 1);
  assert.ok(quantile(t.counts, 0.99) > 25 && quantile(t.counts, 0.99) <= 50);
  assert.equal(quantile(new Traffic().counts, 0.5), 0);
  const inf = new Traffic();
  inf.observe(200, 1e9, 0);
  assert.equal(quantile(inf.counts, 0.5), LATENCY_BUCKETS_MS.at(-2));
});

test('merging worker snapshots sums counters and keeps the latest request time', () => {
  const a = new Traffic();
  const b = new Traffic();
  a.observe(200, 1, 5);
  b.observe(404, 3, 7);
  a.lastRequestAt = 1000;
  b.lastRequestAt = 2000;
  const snap = (t: Traffic) => ({ instances: { i: t.snapshot() }, routes: {}, apps: { x: { lastRequestAt: t.snapshot().lastRequestAt, held: 1, requests: t.requests } } });
  const m = mergeMetrics([snap(a), snap(b)]);
  assert.equal(m.instances.i.requests, 2);
  assert.equal(m.instances.i.byStatus['4xx'], 1);
  assert.equal(m.instances.i.bytes, 12);
  assert.equal(m.apps.x.held, 2);
  assert.equal(m.apps.x.lastRequestAt, new Date(2000).toISOString());
  assert.match(renderPrometheus(m), /pier_edge_app_held_requests\{app="x"\} 2/);
  // Connections a worker closed at its cap: summed; a worker that dropped none reports nothing.
  assert.match(renderPrometheus(m), /^pier_edge_connections_dropped_total 0$/m);
  const dropped = mergeMetrics([{ ...snap(a), connectionsDropped: 2 }, snap(b), { ...snap(b), connectionsDropped: 3 }]);
  assert.match(renderPrometheus(dropped), /^pier_edge_connections_dropped_total 5$/m);
});

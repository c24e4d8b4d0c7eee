import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EdgeMetrics, RouteMetrics } from '../edge/types.ts';
import { quantile, serviceCounters, trafficBetween, type ServiceCounters } from './traffic.ts';

const LE = [1, 10, 100, Infinity];

function route(serviceId: string, requests: number, bytes: number, counts: number[]): RouteMetrics {
  return {
    appId: 'app', serviceId, path: '/', inFlight: 0, requests, byStatus: {}, bytes, latencyMs: { p50: 0, p95: 0, p99: 0 },
    buckets: { le: LE, counts }, sumMs: 0, connectErrors: 0, lastRequestAt: null,
  };
}

test('serviceCounters sums every route of a service and keeps services apart', () => {
  const m: EdgeMetrics = {
    instances: {}, apps: {},
    routes: { 'a s1 /': route('s1', 3, 30, [1, 2, 0, 0]), 'a s1 /api': route('s1', 2, 20, [0, 0, 2, 0]), 'a s2 /': route('s2', 1, 5, [0, 1, 0, 0]) },
  };
  const c = serviceCounters(m);
  assert.deepEqual(c.get('s1'), { requests: 5, bytes: 50, counts: [1, 2, 2, 0], le: LE });
  assert.deepEqual(c.get('s2'), { requests: 1, bytes: 5, counts: [0, 1, 0, 0], le: LE });
});

test('trafficBetween turns counter deltas into rates and interval quantiles', () => {
  const prev: ServiceCounters = { requests: 10, bytes: 1000, counts: [10, 0, 0, 0], le: LE };
  const cur: ServiceCounters = { requests: 30, bytes: 5000, counts: [10, 10, 10, 0], le: LE };
  const t = trafficBetween(prev, cur, 10_000);
  assert.equal(t.requestsPerSecond, 2);
  assert.equal(t.bytesOutPerSecond, 400);
  // Only the 20 new requests count: half in (1,10], half in (10,100]; the old fast ones are not in this interval.
  assert.equal(t.p50, 10);
  assert.equal(t.p90, 82);
  assert.equal(t.p99, 98.2);
  assert.equal(t.max, 100);
});

test('an idle interval has zero rates and no latency', () => {
  const c: ServiceCounters = { requests: 4, bytes: 40, counts: [4, 0, 0, 0], le: LE };
  const t = trafficBetween(c, { ...c, counts: c.counts.slice() }, 5000);
  assert.deepEqual(t, { requestsPerSecond: 0, bytesOutPerSecond: 0 });
});

test('a counter that went down (edge restart) counts from zero, never negative', () => {
  const prev: ServiceCounters = { requests: 100, bytes: 9000, counts: [100, 0, 0, 0], le: LE };
  const cur: ServiceCounters = { requests: 5, bytes: 50, counts: [0, 5, 0, 0], le: LE };
  const t = trafficBetween(prev, cur, 1000);
  assert.equal(t.requestsPerSecond, 5);
  assert.equal(t.bytesOutPerSecond, 50);
  assert.equal(t.max, 10);
});

test('quantile reports the lower bound of the +Inf bucket, also when JSON turned it into null', () => {
  assert.equal(quantile([0, 0, 0, 3], LE, 0.5), 100);
  assert.equal(quantile([0, 0, 0, 3], [1, 10, 100, null as unknown as number], 0.99), 100);
  assert.equal(quantile([0, 0, 0, 0], LE, 0.5), 0);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantileOf, sampleRegion, type Counters } from './sample.ts';

const LE = [10, 100, 1000, Infinity];
const c = (requests: number, sumMs: number, counts: number[], inFlight = 0): Counters => ({ requests, sumMs, inFlight, buckets: { le: LE, counts } });

test('rates, Little-law concurrency and latency quantiles come from counter deltas over the region', () => {
  const previous = { a: c(100, 1000, [100, 0, 0, 0]), b: c(50, 500, [50, 0, 0, 0]) };
  const current = { a: c(300, 21_000, [100, 200, 0, 0]), b: c(150, 10_500, [50, 100, 0, 0], 2) };
  const s = sampleRegion({ atMs: 2000, elapsedMs: 2000, instances: ['a', 'b'], previous, current, quantiles: [95] });
  assert.equal(s.rps, 150); // 300 new requests in 2 s
  assert.equal(s.concurrency, 15); // 30 000 ms of request time in 2 000 ms of wall time
  assert.equal(s.instances, 2);
  assert.ok(s.latency![95] > 10 && s.latency![95] <= 100);
});

test('in-flight requests count when they exceed what finished (long requests)', () => {
  const s = sampleRegion({ atMs: 1, elapsedMs: 1000, instances: ['a'], previous: { a: c(0, 0, [0, 0, 0, 0]) }, current: { a: c(0, 0, [0, 0, 0, 0], 7) } });
  assert.equal(s.concurrency, 7);
  assert.equal(s.latency, undefined);
});

test('a reset counter counts from zero; a missing instance counts nothing; usage is averaged', () => {
  const s = sampleRegion({
    atMs: 1, elapsedMs: 1000, instances: ['a', 'gone'], previous: { a: c(500, 5000, [500, 0, 0, 0]) }, current: { a: c(10, 100, [10, 0, 0, 0]) },
    usage: { a: { cpu: 40, mem: 10 }, gone: { cpu: 60, mem: 30 } },
  });
  assert.equal(s.rps, 10);
  assert.deepEqual([s.cpu, s.mem], [50, 20]);
});

test('quantiles interpolate inside a bucket; +Inf reports its floor', () => {
  assert.equal(quantileOf(LE, [0, 10, 0, 0], 0.5), 55);
  assert.equal(quantileOf(LE, [0, 0, 0, 4], 0.95), 1000);
  assert.equal(quantileOf(LE, [0, 0, 0, 0], 0.95), 0);
});

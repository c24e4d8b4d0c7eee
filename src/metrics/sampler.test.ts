import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance } from '../domain/types.ts';
import type { EdgeMetrics } from '../edge/types.ts';
import { openSqlite, type Db } from '../store/db.ts';
import { queryMetricSamples, type MetricSample } from '../store/metrics.ts';
import { migrate } from '../store/migrations.ts';
import { createMetricsSampler } from './sampler.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const LE = [10, 100, Infinity];

function instance(id: string, serviceId: string, allocation = `rt-${id}`): Instance {
  return { id, service_id: serviceId, organization_id: 'org', region: 'fra', allocation_id: allocation } as Instance;
}

function edgeWith(requests: number, bytes: number, counts: number[]): EdgeMetrics {
  return {
    instances: {}, apps: {},
    routes: {
      'app s1 /': {
        appId: 'app', serviceId: 's1', path: '/', inFlight: 0, requests, byStatus: {}, bytes, latencyMs: { p50: 0, p95: 0, p99: 0 },
        buckets: { le: LE, counts }, sumMs: 0, connectErrors: 0, lastRequestAt: null,
      },
    },
  };
}

async function setup(): Promise<Db> {
  const db = openSqlite(':memory:');
  await migrate(db);
  return db;
}

async function read(db: Db, name: string, f: { serviceId?: string; instanceId?: string } = { serviceId: 's1' }): Promise<MetricSample[]> {
  return queryMetricSamples(db, { organizationId: 'org', name, ...f, startMs: 0, endMs: T0 + 86_400_000 * 30 });
}

test('a tick records CPU, memory and instance count; traffic starts at the second tick', async (t) => {
  const db = await setup();
  t.after(() => db.close());
  let now = T0;
  let edge = edgeWith(100, 1000, [100, 0, 0]);
  let refreshed = 0;
  const sampler = createMetricsSampler({
    db, now: () => now,
    instances: async () => [instance('i1', 's1'), instance('i2', 's1'), instance('i3', 's2'), instance('pending', 's1', '')],
    stats: async (rt) => {
      if (rt === 'rt-i3') throw new Error('gone');
      return { cpuPercent: rt === 'rt-i1' ? 12.5 : 50, memoryBytes: 1024, memoryLimitBytes: 0 };
    },
    edge: () => ({ metrics: () => edge, refreshMetrics: async () => { refreshed++; } }),
  });
  await sampler.sampleOnce();
  const cpu = await read(db, 'CPU_TOTAL_PERCENT');
  assert.deepEqual(cpu.map((s) => [s.instance_id, s.value, s.region, s.ts]), [['i1', 12.5, 'fra', T0], ['i2', 50, 'fra', T0]]);
  assert.equal((await read(db, 'MEM_RSS', { instanceId: 'i2' }))[0]?.value, 1024);
  // The instance without a workload yet is not counted; i3's failed stats leave only a gap in its own series.
  assert.deepEqual((await read(db, 'INSTANCE_COUNT')).map((s) => [s.instance_id, s.value]), [['', 2]]);
  assert.deepEqual((await read(db, 'INSTANCE_COUNT', { serviceId: 's2' })).map((s) => s.value), [1]);
  assert.deepEqual(await read(db, 'CPU_TOTAL_PERCENT', { serviceId: 's2' }), []);
  assert.deepEqual(await read(db, 'HTTP_THROUGHPUT'), [], 'one snapshot gives no rate');

  now = T0 + 10_000;
  edge = edgeWith(150, 6000, [100, 40, 10]);
  await sampler.sampleOnce();
  assert.equal(refreshed, 2);
  const rate = await read(db, 'HTTP_THROUGHPUT');
  assert.deepEqual(rate.map((s) => [s.instance_id, s.ts, s.value]), [['', T0 + 10_000, 5]]);
  assert.equal((await read(db, 'PUBLIC_DATA_TRANSFER_OUT'))[0]?.value, 500);
  assert.equal((await read(db, 'HTTP_RESPONSE_TIME_50P'))[0]?.value, 10 + 90 * (25 - 0) / 40);
  assert.equal((await read(db, 'HTTP_RESPONSE_TIME_MAX'))[0]?.value, 100);

  now = T0 + 20_000;
  await sampler.sampleOnce();
  const idle = await read(db, 'HTTP_THROUGHPUT');
  assert.deepEqual(idle.map((s) => s.value), [5, 0]);
  assert.equal((await read(db, 'HTTP_RESPONSE_TIME_99P')).length, 1, 'no latency point for an idle interval');
});

test('samples past retention are pruned', async (t) => {
  const db = await setup();
  t.after(() => db.close());
  let now = T0;
  const sampler = createMetricsSampler({
    db, now: () => now, retentionMs: 3_600_000,
    instances: async () => [instance('i1', 's1')],
    stats: async () => ({ cpuPercent: 1, memoryBytes: 1, memoryLimitBytes: 0 }),
    edge: () => undefined,
  });
  await sampler.sampleOnce();
  now = T0 + 1_800_000;
  await sampler.sampleOnce();
  assert.equal((await read(db, 'CPU_TOTAL_PERCENT')).length, 2);
  now = T0 + 3_600_000 + 1_000;
  await sampler.sampleOnce();
  assert.deepEqual((await read(db, 'CPU_TOTAL_PERCENT')).map((s) => s.ts), [T0 + 1_800_000, T0 + 3_601_000]);
});

test('start() samples at once and stop() ends the loop', async (t) => {
  const db = await setup();
  t.after(() => db.close());
  let calls = 0;
  let first!: () => void;
  const sampled = new Promise<void>((r) => { first = r; });
  const sampler = createMetricsSampler({
    db, intervalMs: 3_600_000,
    instances: async () => { calls++; first(); return []; },
    stats: async () => ({ cpuPercent: 0, memoryBytes: 0, memoryLimitBytes: 0 }),
    edge: () => undefined,
  });
  sampler.start();
  await sampled;
  await sampler.stop();
  assert.equal(calls, 1);
});

test('requests regional edges served count in the service\'s charts: beside the in-process edge\'s, and alone', async (t) => {
  const { LATENCY_BUCKETS_MS } = await import('../edge/metrics.ts');
  const db = await setup();
  t.after(() => db.close());
  const hist = (n: number) => LATENCY_BUCKETS_MS.map((_, k) => (k === 2 ? n : 0));
  let now = T0;
  let local = 0;
  let remote = new Map([['s1', { requests: 0, bytes: 0, counts: hist(0) }], ['s2', { requests: 0, bytes: 0, counts: hist(0) }]]);
  const edge = (): EdgeMetrics => ({
    instances: {}, apps: {},
    routes: { 'app s1 /': { appId: 'app', serviceId: 's1', path: '/', inFlight: 0, requests: local, byStatus: {}, bytes: local * 10, latencyMs: { p50: 0, p95: 0, p99: 0 }, buckets: { le: LATENCY_BUCKETS_MS, counts: hist(local) }, sumMs: 0, connectErrors: 0, lastRequestAt: null } },
  });
  const sampler = createMetricsSampler({
    db, now: () => now, stats: async () => ({ cpuPercent: 1, memoryBytes: 1, memoryLimitBytes: 0 }),
    instances: async () => [instance('i1', 's1'), instance('i2', 's2')],
    edge: () => ({ metrics: edge }), remoteServices: () => remote,
  });
  await sampler.sampleOnce();
  now = T0 + 10_000;
  local = 100;
  remote = new Map([['s1', { requests: 50, bytes: 500, counts: hist(50) }], ['s2', { requests: 30, bytes: 60, counts: hist(30) }]]);
  await sampler.sampleOnce();
  // s1: 100 requests at the in-process edge and 50 at regional edges in 10 s; s2 was served only by regional edges.
  assert.deepEqual((await read(db, 'HTTP_THROUGHPUT')).map((s) => s.value), [15]);
  assert.deepEqual((await read(db, 'PUBLIC_DATA_TRANSFER_OUT')).map((s) => s.value), [150]);
  assert.deepEqual((await read(db, 'HTTP_THROUGHPUT', { serviceId: 's2' })).map((s) => s.value), [3]);
  assert.equal((await read(db, 'HTTP_RESPONSE_TIME_MAX', { serviceId: 's2' }))[0]?.value, LATENCY_BUCKETS_MS[2]);
});

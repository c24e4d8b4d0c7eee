import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetricSample } from '../store/metrics.ts';
import { parseStep, toSeries } from './series.ts';

test('parseStep accepts Koyeb durations and seconds, refuses the rest', () => {
  assert.equal(parseStep('5m'), 300_000);
  assert.equal(parseStep('1h'), 3_600_000);
  assert.equal(parseStep('15s'), 15_000);
  for (const bad of ['', '0m', '5', 'm', '1d', '-1m', '1.5m', '5 m x']) assert.equal(parseStep(bad), undefined, bad);
});

const T0 = Date.parse('2026-01-01T00:00:00Z');

function s(name: string, instance: string, offsetS: number, value: number): MetricSample {
  return { organization_id: 'o', service_id: 'svc', instance_id: instance, region: instance ? 'fra' : '', name, ts: T0 + offsetS * 1000, value };
}

test('toSeries averages per step, one series per instance, labelled', () => {
  const out = toSeries([s('CPU_TOTAL_PERCENT', 'i2', 5, 50), s('CPU_TOTAL_PERCENT', 'i1', 0, 10), s('CPU_TOTAL_PERCENT', 'i1', 30, 20),
    s('CPU_TOTAL_PERCENT', 'i1', 65, 7)], T0, 60_000);
  assert.deepEqual(out, [
    { labels: { service_id: 'svc', instance_id: 'i1', region: 'fra' }, samples: [
      { timestamp: '2026-01-01T00:00:00.000Z', value: 15 }, { timestamp: '2026-01-01T00:01:00.000Z', value: 7 }] },
    { labels: { service_id: 'svc', instance_id: 'i2', region: 'fra' }, samples: [{ timestamp: '2026-01-01T00:00:00.000Z', value: 50 }] },
  ]);
});

test('toSeries keeps peaks for MAX and instance counts, and puts service-wide series first', () => {
  const max = toSeries([s('HTTP_RESPONSE_TIME_MAX', '', 0, 5), s('HTTP_RESPONSE_TIME_MAX', '', 10, 250)], T0, 60_000);
  assert.deepEqual(max, [{ labels: { service_id: 'svc' }, samples: [{ timestamp: '2026-01-01T00:00:00.000Z', value: 250 }] }]);
  const count = toSeries([s('INSTANCE_COUNT', '', 0, 1), s('INSTANCE_COUNT', '', 10, 2), s('INSTANCE_COUNT', '', 20, 1)], T0, 60_000);
  assert.equal(count[0]!.samples[0]!.value, 2);
  const mixed = toSeries([s('MEM_RSS', 'i1', 0, 1), s('MEM_RSS', '', 0, 2)], T0, 60_000);
  assert.deepEqual(mixed.map((m) => m.labels.instance_id), [undefined, 'i1']);
});

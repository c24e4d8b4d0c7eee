import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderVolumeMetrics } from './volumes.ts';

test('volume usage renders as Prometheus gauges with escaped labels, nothing without volumes', () => {
  assert.equal(renderVolumeMetrics([]), '');
  const text = renderVolumeMetrics([{ id: 'v1', name: 'da"ta', organization_id: 'o', region: 'was', used_bytes: 1024, total_bytes: 1e9, full: false }]);
  assert.match(text, /^# TYPE pier_volume_used_bytes gauge$/m);
  assert.match(text, /^pier_volume_used_bytes\{volume_id="v1",volume="da\\"ta",organization_id="o",region="was"\} 1024$/m);
  assert.match(text, /^pier_volume_size_bytes\{.*\} 1000000000$/m);
  assert.match(text, /^pier_volume_full\{.*\} 0$/m);
});

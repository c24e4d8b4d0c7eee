import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiMetrics } from './metrics.ts';

test('/metrics carries the Node process metrics under prom-client\'s names, in valid exposition text', async () => {
  const text = new ApiMetrics().render();
  const value = (name: string): number => {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
    assert.ok(m, `${name} in:\n${text}`);
    return Number(m[2]);
  };
  assert.ok(value('process_cpu_user_seconds_total') > 0);
  assert.ok(value('process_cpu_system_seconds_total') >= 0);
  assert.ok(Math.abs(value('process_start_time_seconds') - (Date.now() / 1000 - process.uptime())) < 5);
  assert.ok(value('process_resident_memory_bytes') > 1024 * 1024);
  assert.ok(value('nodejs_heap_size_used_bytes') <= value('nodejs_heap_size_total_bytes'));
  assert.ok(value('nodejs_external_memory_bytes') > 0);
  assert.ok(value('nodejs_active_resources_total') >= 0);
  assert.ok(value('nodejs_eventloop_lag_p99_seconds') >= 0);
  assert.equal(value('nodejs_version_info'), 1);
  assert.match(text, new RegExp(`nodejs_version_info\\{version="${process.version}"\\} 1`));
  // Every line is a comment or `name{labels} number`; every family is declared once.
  for (const line of text.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+-]+|\w+(\{[^}]*\})? NaN)$/, line);
  const types = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  assert.equal(new Set(types).size, types.length);
});

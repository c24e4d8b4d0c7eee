import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiMetrics } from './metrics.ts';
import { processRegistry } from './process-metrics.ts';

test('/metrics carries the Node process metrics under prom-client\'s names, in valid exposition text', async () => {
  const metrics = new ApiMetrics();
  // prom-client counts CPU time from when its collector was registered: the process-wide registry is made on first
  // use (a render), so a first render right after the spin below read ~0 (CI, once). Register first, then spend some
  // CPU (bounded), so "> 0" below says the counter counts what was spent since.
  processRegistry();
  const before = process.cpuUsage().user;
  const deadline = Date.now() + 2000;
  while (process.cpuUsage().user - before < 20_000 && Date.now() < deadline) Math.sqrt(Math.random());
  const text = await metrics.render();
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
  // prom-client adds major, minor and patch labels after version.
  assert.match(text, new RegExp(`nodejs_version_info\\{version="${process.version}",major="${process.versions.node.split('.')[0]}"[^}]*\\} 1`));
  // Every line is a comment or `name{labels} number`; every family is declared once.
  for (const line of text.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+-]+|\w+(\{[^}]*\})? NaN)$/, line);
  const types = text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
  assert.equal(new Set(types).size, types.length);
});

test('API requests are counted by method, route and status, durations summed; extra gauges; registries are separate', async () => {
  const m = new ApiMetrics();
  m.observe('GET', '/v1/apps', 200, 0.25);
  m.observe('GET', '/v1/apps', 200, 0.5);
  m.observe('POST', '/v1/services/{id}', 400, 0.125);
  const text = await m.render({ pier_reconcile_queue_depth: 7 });
  assert.match(text, /^# TYPE pier_api_requests_total counter$/m);
  assert.match(text, /^pier_api_requests_total\{method="GET",route="\/v1\/apps",status="200"\} 2$/m);
  assert.match(text, /^pier_api_requests_total\{method="POST",route="\/v1\/services\/\{id\}",status="400"\} 1$/m);
  assert.match(text, /^# TYPE pier_api_request_duration_seconds summary$/m);
  assert.match(text, /^pier_api_request_duration_seconds_sum\{method="GET",route="\/v1\/apps"\} 0\.75$/m);
  assert.match(text, /^pier_api_request_duration_seconds_count\{method="GET",route="\/v1\/apps"\} 2$/m);
  assert.doesNotMatch(text, /quantile=/);
  assert.match(text, /^pier_process_resident_memory_bytes \d+$/m);
  assert.match(text, /^pier_process_heap_used_bytes \d+$/m);
  assert.match(text, /^# TYPE pier_reconcile_queue_depth gauge$/m);
  assert.match(text, /^pier_reconcile_queue_depth 7$/m);
  // A gauge the platform no longer hands in disappears instead of repeating its last value.
  assert.doesNotMatch(await m.render({}), /^pier_reconcile_queue_depth \d/m);
  assert.doesNotMatch(await new ApiMetrics().render(), /^pier_api_requests_total\{/m);
});

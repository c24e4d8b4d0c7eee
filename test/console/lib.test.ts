// The console's pure browser modules, run in node: field paths, form collection, error placement, formatting,
// public URL, log parameters, metric columns and the fallback definition diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';

// The modules are plain browser JavaScript (no build step); import them untyped.
const lib = (name: string) => import(new URL(`../../src/console/static/js/lib/${name}.js`, import.meta.url).href);
const paths = await lib('paths');
const format = await lib('format');
const urls = await lib('urls');
const metrics = await lib('metrics');
const diff = await lib('diff');

test('collectEntries builds a definition from path-named inputs, skipping blanks and compacting rows', () => {
  const out = paths.collectEntries([
    { field: 'name', value: ' web ' },
    { field: 'definition.docker.image', value: 'nginx' },
    { field: 'definition.docker.command', value: '   ' },
    { field: 'definition.docker.args', value: '-g\ndaemon off;\n', kind: 'lines' },
    { field: 'definition.ports[0].port', value: '8080', kind: 'number' },
    { field: 'definition.ports[2].port', value: '9090', kind: 'number' },
    { field: 'definition.env[0].key', value: 'X' },
    { field: 'definition.env[0].value', value: '  spaced  ', kind: 'raw' },
    { field: 'definition.regions[*]', value: 'fra' },
    { field: 'definition.regions[*]', value: 'was' },
    { field: 'definition.skip_cache', value: false, kind: 'bool' },
    { field: 'definition.docker.privileged', value: true, kind: 'bool' },
    { field: 'definition.scalings[0].targets[*].average_cpu.value', value: '', kind: 'number' },
    { field: 'definition.scalings[0].targets[*rt].requests_response_time.value', value: '300', kind: 'number' },
    { field: 'definition.scalings[0].targets[*].requests_per_second.value', value: '50', kind: 'number' },
    { field: 'definition.scalings[0].targets[*rt].requests_response_time.quantile', value: '95', kind: 'number' },
    { field: 'definition.health_checks[0].tcp.port', value: 'eighty', kind: 'number' },
  ]);
  assert.deepEqual(out, {
    name: 'web',
    definition: {
      docker: { image: 'nginx', args: ['-g', 'daemon off;'], privileged: true },
      ports: [{ port: 8080 }, { port: 9090 }],
      env: [{ key: 'X', value: '  spaced  ' }],
      regions: ['fra', 'was'],
      scalings: [{ targets: [{ requests_response_time: { value: 300, quantile: 95 } }, { requests_per_second: { value: 50 } }] }],
      // Unparsable numbers go to the API as typed so its validation names the field.
      health_checks: [{ tcp: { port: 'eighty' } }],
    },
  });
});

test("collectEntries keeps a blank 'keep' field (a source's image) so the API's error names it", () => {
  assert.deepEqual(paths.collectEntries([
    { field: 'definition.docker.image', value: '  ', kind: 'keep' },
    { field: 'definition.docker.command', value: '' },
  ]), { definition: { docker: { image: '' } } });
  assert.deepEqual(paths.collectEntries([{ field: 'definition.docker.image', value: ' nginx ', kind: 'keep' }]), { definition: { docker: { image: 'nginx' } } });
});

test('matchFieldPath finds the input for an API field error, or its nearest enclosing section', () => {
  const fields = ['name', 'definition.docker.image', 'definition.ports', 'definition.ports[0].port', 'definition.scalings[0].targets',
    'definition.scalings[0].targets[*rt].requests_response_time.value', 'definition.regions'];
  assert.equal(paths.matchFieldPath('definition.ports[0].port', fields), 'definition.ports[0].port');
  assert.equal(paths.matchFieldPath('definition.ports[3].protocol', fields), 'definition.ports');
  assert.equal(paths.matchFieldPath('definition.scalings[0].targets[1].requests_response_time.value', fields),
    'definition.scalings[0].targets[*rt].requests_response_time.value');
  assert.equal(paths.matchFieldPath('definition.scalings[0].targets[2]', fields), 'definition.scalings[0].targets');
  assert.equal(paths.matchFieldPath('definition.regions[0]', fields), 'definition.regions');
  assert.equal(paths.matchFieldPath('app_id', fields), undefined);
  assert.equal(paths.fieldMatches('a.b[*].c', 'a.b[12].c'), true);
  assert.equal(paths.fieldMatches('a.b[*].c', 'a.b[x].c'), false);
  assert.equal(paths.fieldMatches('a.b[*].c', 'a.bb[1].c'), false);
});

test('setPath and getPath agree', () => {
  const o = {};
  paths.setPath(o, 'a.b[1].c', 3);
  assert.equal(paths.getPath(o, 'a.b[1].c'), 3);
  assert.equal(paths.getPath(o, 'a.x.y'), undefined);
});

test('relativeTime', () => {
  const now = Date.parse('2025-01-01T12:00:00Z');
  assert.equal(format.relativeTime('2025-01-01T11:59:58Z', now), 'just now');
  assert.equal(format.relativeTime('2025-01-01T11:59:00Z', now), '1 minute ago');
  assert.equal(format.relativeTime('2025-01-01T09:00:00Z', now), '3 hours ago');
  assert.equal(format.relativeTime('2025-01-03T12:00:00Z', now), 'in 2 days');
  assert.equal(format.relativeTime(null, now), '');
  assert.equal(format.relativeTime('garbage', now), '');
});

test('statusTone covers every status name of the reference', () => {
  const all = ['STARTING', 'HEALTHY', 'DEGRADED', 'UNHEALTHY', 'DELETING', 'DELETED', 'PAUSING', 'PAUSED', 'RESUMING',
    'PENDING', 'PROVISIONING', 'SCHEDULED', 'CANCELING', 'CANCELED', 'ALLOCATING', 'STOPPING', 'STOPPED', 'ERRORING', 'ERROR',
    'STASHED', 'SLEEPING', 'UNKNOWN', 'RUNNING', 'FAILED', 'COMPLETED', 'ABORTED'];
  for (const s of all) assert.ok(['ok', 'warn', 'bad', 'progress', 'idle'].includes(format.statusTone(s)), s);
  assert.equal(format.statusTone('HEALTHY'), 'ok');
  assert.equal(format.statusTone('ERROR'), 'bad');
  assert.equal(format.statusTone('DEGRADED'), 'warn');
  assert.equal(format.formatBytes(1536), '1.5 KiB');
});

test('describeTrigger', () => {
  assert.equal(format.describeTrigger({ metadata: {} }), 'manual');
  assert.equal(format.describeTrigger({ metadata: { trigger: { type: 'GIT', actor: 'SYSTEM', git: { branch: 'main', sha: 'abcdef123456' } } } }), 'git by system main@abcdef1');
  assert.equal(format.describeTrigger({ metadata: { trigger: { type: 'RESUME', actor: 'USER' } } }), 'resume by user');
});

test('publicUrl: auto-assigned domain with the edge port; none for workers and private services', () => {
  const app = { name: 'shop', domains: [{ type: 'AUTOASSIGNED', name: 'shop-acme.pier.localhost' }] };
  const web = { type: 'WEB', routes: [{ path: '/', port: 8000 }] };
  const info = { domain: 'pier.localhost', edge_url: 'http://127.0.0.1:8080' };
  assert.equal(urls.publicUrl({ app, definition: web, info }), 'http://shop-acme.pier.localhost:8080/');
  assert.equal(urls.publicUrl({ app, definition: web, info: {} }), 'http://shop-acme.pier.localhost/');
  assert.equal(urls.publicUrl({ app: { name: 'shop', domains: [] }, definition: web, info, organizationName: 'acme' }), 'http://shop-acme.pier.localhost:8080/');
  assert.equal(urls.publicUrl({ app: { name: 'shop', domains: [] }, definition: web, info }), undefined);
  assert.equal(urls.publicUrl({ app, definition: { type: 'WORKER' }, info }), undefined);
  assert.equal(urls.publicUrl({ app, definition: { type: 'WEB', routes: [] }, info }), undefined);
  assert.equal(urls.publicUrl({ app, definition: { type: 'WEB', routes: [{ path: '/api', port: 1 }] }, info }), 'http://shop-acme.pier.localhost:8080/api');
});

test('log parameters and the tail websocket URL', () => {
  const p = urls.logParams({ type: 'build', serviceId: 's', deploymentId: 'd', text: 'boom', limit: 10, streams: ['stdout', 'stderr'] });
  assert.equal(p.toString(), 'type=build&service_id=s&deployment_id=d&text=boom&limit=10&streams=stdout&streams=stderr');
  assert.equal(urls.tailUrl({ protocol: 'https:', host: 'pier.example:8443' }, new URLSearchParams('type=runtime')),
    'wss://pier.example:8443/v1/streams/logs/tail?type=runtime');
});

test('metric replies become aligned uPlot columns; instances are counted per timestamp', () => {
  const reply = [
    { labels: { instance_id: 'aaaaaaaa-1' }, samples: [{ timestamp: '2025-01-01T00:00:00Z', value: 1 }, { timestamp: '2025-01-01T00:01:00Z', value: 2 }] },
    { labels: { instance_id: 'bbbbbbbb-2' }, samples: [{ timestamp: '2025-01-01T00:01:00Z', value: 5 }] },
  ];
  const t0 = Date.parse('2025-01-01T00:00:00Z') / 1000;
  assert.deepEqual(metrics.toColumns(reply), [[t0, t0 + 60], [1, 2], [null, 5]]);
  assert.deepEqual(metrics.instanceCounts(reply), [[t0, t0 + 60], [1, 2]]);
  assert.deepEqual(metrics.toColumns([]), [[]]);
  assert.equal(metrics.seriesLabel(reply[0], 'x'), 'aaaaaaaa');
  assert.equal(metrics.seriesLabel({ labels: {} }, 'x'), 'x');
  const t = new Date(2026, 0, 2, 3, 4, 5).getTime() / 1000;
  assert.equal(metrics.timeLabel(t, 900), '03:04:05');
  assert.equal(metrics.timeLabel(t, 3600), '03:04');
  assert.equal(metrics.timeLabel(t, 7 * 86400), '01-02 03:04');
});

test('fallback diff lists changed leaves; API lines are classified by sign', () => {
  const changes = diff.definitionChanges({ docker: { image: 'a' }, ports: [{ port: 1 }] }, { docker: { image: 'b' }, ports: [{ port: 1 }], env: [] });
  assert.deepEqual(changes, [{ path: 'docker.image', before: 'a', after: 'b' }, { path: 'env', before: undefined, after: [] }]);
  assert.deepEqual(diff.diffRows({ changes }), [
    { sign: '-', text: '- docker.image: "a"' }, { sign: '+', text: '+ docker.image: "b"' }, { sign: '+', text: '+ env: []' }]);
  assert.deepEqual(diff.diffRows({ lines: ['- a', '+ b', '  c'] }).map((r: { sign: string }) => r.sign), ['-', '+', ' ']);
  assert.deepEqual(diff.diffRows({}), []);
});

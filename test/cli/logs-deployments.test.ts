import { test } from 'node:test';
import { formatLogEntry, wantsColour } from '../../src/cli/log-format.ts';
import assert from 'node:assert/strict';
import { DEP2_ID, DEP_ID, NOW, SVC_ID, deployment, lookupRoutes, run, service, startFakeApi } from './harness.ts';

const entry = (msg: string, at: string, deploymentId = DEP_ID) => ({ msg, created_at: at, labels: { stream: 'stdout', instance_id: 'i1', deployment_id: deploymentId } });
/** The prefixed form of a line printed by entry(). */
const line = (msg: string, at: string) => `${at.replace('T', ' ').replace('Z', '.000')} i1       stdout ${msg}`;

test('services logs queries newest first and prints oldest first; filters map to query params', async () => {
  const api = await startFakeApi({
    ...lookupRoutes(),
    [`GET /v1/services/${SVC_ID}`]: { body: { service: service() } },
    'GET /v1/streams/logs/query': { body: { data: [entry('second', '2026-03-01T12:00:02Z'), entry('first', '2026-03-01T12:00:01Z')], pagination: {} } },
  });
  try {
    const r = await run(api, ['services', 'logs', 'shop/web']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${line('first', '2026-03-01T12:00:01Z')}\n${line('second', '2026-03-01T12:00:02Z')}\n`);
    assert.equal(api.lines().at(-1), `GET /v1/streams/logs/query?type=runtime&service_id=${SVC_ID}&deployment_id=${DEP_ID}&order=desc`,
      "only the current deployment's lines by default");
    const all = await run(api, ['services', 'logs', 'shop/web', '--all-deployments', '--raw']);
    assert.equal(all.stdout, 'first\nsecond\n', '--raw prints the bare messages');
    assert.equal(api.lines().at(-1), `GET /v1/streams/logs/query?type=runtime&service_id=${SVC_ID}&order=desc`);

    const f = await run(api, ['svc', 'logs', SVC_ID, '-t', 'build', '--since', '10m', '--text-search', 'err', '--instance', 'i1', '--order', 'asc', '--raw']);
    assert.equal(f.code, 0, f.stderr);
    assert.equal(f.stdout, 'second\nfirst\n', 'an explicit --order prints in the order the API returned');
    const q = api.requests.at(-1)!.query;
    assert.deepEqual(q, { type: 'build', service_id: SVC_ID, instance_id: 'i1', start: new Date(NOW - 600_000).toISOString(), text: 'err', order: 'asc' });

    const json = await run(api, ['svc', 'logs', SVC_ID, '-o', 'json']);
    assert.deepEqual(json.stdout.trim().split('\n').map((l) => JSON.parse(l).msg), ['first', 'second']);

    for (const bad of [['-t', 'app'], ['--regex-search', 'a', '--text-search', 'b'], ['--since', 'yesterday'], ['--order', 'up'], ['--start-time', 'noon']]) {
      const r2 = await run(api, ['svc', 'logs', SVC_ID, ...bad]);
      assert.equal(r2.code, 2, bad.join(' '));
    }
  } finally {
    await api.close();
  }
});

test('logs -f streams websocket frames, authenticating with the Bearer subprotocol', async () => {
  const api = await startFakeApi({ ...lookupRoutes(), [`GET /v1/services/${SVC_ID}`]: { body: { service: service() } } });
  let protocolHeader: string | undefined;
  let url = '';
  api.onTail = (ws, req) => {
    protocolHeader = req.headers['sec-websocket-protocol'];
    url = req.url ?? '';
    ws.send(JSON.stringify({ result: entry('hello', '2026-03-01T12:00:01Z') }));
    ws.send('not json');
    ws.send(JSON.stringify({ result: entry('world', '2026-03-01T12:00:02Z') }));
    ws.close();
  };
  try {
    const r = await run(api, ['services', 'logs', SVC_ID, '-f', '--regex-search', 'w.*', '--raw']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'hello\nworld\n');
    // ws joins the offered subprotocols with ','; the header is an HTTP list, so 'Bearer,tok' equals 'Bearer, tok'.
    assert.deepEqual(protocolHeader?.split(/,\s*/), ['Bearer', 'tok-123']);
    assert.equal(url, `/v1/streams/logs/tail?type=runtime&service_id=${SVC_ID}&regex=w.*`);
  } finally {
    await api.close();
  }
});

test('logs -f: an error frame fails the command; Ctrl-C ends it cleanly', async () => {
  const api = await startFakeApi({ ...lookupRoutes(), [`GET /v1/services/${SVC_ID}`]: { body: { service: service() } } });
  try {
    api.onTail = (ws) => ws.send(JSON.stringify({ error: { code: 5, message: 'service not found' } }));
    const bad = await run(api, ['svc', 'logs', SVC_ID, '--tail']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, 'error: log stream error: service not found\n');

    let fire: () => void = () => {};
    api.onTail = (ws) => {
      ws.send(JSON.stringify({ result: entry('line', '2026-03-01T12:00:01Z') }));
      setTimeout(() => fire(), 20);
    };
    const r = await run(api, ['svc', 'logs', SVC_ID, '-f', '--raw'], { interrupt: (f) => (fire = f) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'line\n');
  } finally {
    await api.close();
  }
});

test('services logs during or after a failed rollout shows the serving and the latest deployment, merged by time', async () => {
  const api = await startFakeApi({
    ...lookupRoutes(),
    [`GET /v1/services/${SVC_ID}`]: { body: { service: service({ active_deployment_id: DEP_ID, latest_deployment_id: DEP2_ID }) } },
    'GET /v1/streams/logs/query': (req) => ({
      body: {
        data: req.query.deployment_id === DEP_ID
          ? [entry('old 3', '2026-03-01T12:00:03Z'), entry('old 1', '2026-03-01T12:00:01Z')]
          : [entry('new crash', '2026-03-01T12:00:02Z', DEP2_ID)],
        pagination: {},
      },
    }),
  });
  try {
    const r = await run(api, ['services', 'logs', 'shop/web', '--raw']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'old 1\nnew crash\nold 3\n');
    assert.deepEqual(api.requests.filter((q) => q.path === '/v1/streams/logs/query').map((q) => q.query.deployment_id), [DEP_ID, DEP2_ID]);
  } finally {
    await api.close();
  }
});

test('logs -f keeps the current deployments across a rollout and drops the previous one once replaced', async () => {
  // The service is at DEP (active); a rollout to DEP2 starts, then DEP2 becomes active and DEP is retired.
  let svc = service();
  const api = await startFakeApi({ ...lookupRoutes(), [`GET /v1/services/${SVC_ID}`]: () => ({ body: { service: svc } }) });
  let fire: () => void = () => {};
  api.onTail = (ws) => {
    const send = (msg: string, dep: string) => ws.send(JSON.stringify({ result: entry(msg, '2026-03-01T12:00:01Z', dep) }));
    send('old serving', DEP_ID);
    svc = service({ latest_deployment_id: DEP2_ID });
    send('new starting', DEP2_ID);
    setTimeout(() => {
      svc = service({ active_deployment_id: DEP2_ID, latest_deployment_id: DEP2_ID });
      send('old SIGTERM noise', DEP_ID);
      send('new serving', DEP2_ID);
      setTimeout(() => fire(), 30);
    }, 30);
  };
  let t = NOW;
  try {
    const r = await run(api, ['svc', 'logs', SVC_ID, '-f', '--raw'], { interrupt: (f) => (fire = f), now: () => (t += 1000) });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'old serving\nnew starting\nnew serving\n');
    const all = await run(api, ['svc', 'logs', SVC_ID, '-f', '--raw', '--all'], { interrupt: (f) => (fire = f) });
    assert.equal(all.stdout, 'old serving\nnew starting\nold SIGTERM noise\nnew serving\n');
  } finally {
    await api.close();
  }
});

test('log lines are coloured on a terminal only, each instance in its own colour, stderr in red', () => {
  const e = { msg: 'boom', created_at: '2026-03-01T12:00:01.5Z', labels: { stream: 'stderr', instance_id: 'abcdef123456' } };
  assert.equal(formatLogEntry(e, { colour: false, raw: false }), '2026-03-01 12:00:01.500 abcdef12 stderr boom');
  const coloured = formatLogEntry(e, { colour: true, raw: false });
  assert.match(coloured, /\x1b\[31mboom\x1b\[0m$/);
  assert.equal(coloured.replace(/\x1b\[[0-9;]*m/g, ''), '2026-03-01 12:00:01.500 abcdef12 stderr boom');
  assert.equal(formatLogEntry({ ...e, labels: { type: 'build', stream: 'stdout' } }, { colour: false, raw: false }), '2026-03-01 12:00:01.500 build    stdout boom');
  assert.equal(formatLogEntry({ ...e, labels: { stream: 'koyeb', instance_id: 'abcdef12' } }, { colour: false, raw: false }), '2026-03-01 12:00:01.500 abcdef12 pier   boom',
    "Pier's own lines (Koyeb's stream name) are labelled pier");
  assert.equal(wantsColour(true, {}), true);
  assert.equal(wantsColour(true, { NO_COLOR: '1' }), false);
  assert.equal(wantsColour(false, {}), false);
});

test('deployments list filters by service; describe shows the definition and the diff against the parent', async () => {
  const child = deployment({ id: DEP2_ID, parent_id: DEP_ID, version: '2' });
  const api = await startFakeApi({
    ...lookupRoutes(),
    'GET /v1/deployments': { body: { deployments: [child, deployment()], count: 2 } },
    [`GET /v1/deployments/${DEP2_ID}`]: { body: { deployment: child } },
    [`GET /v1/deployments/${DEP2_ID}/diff`]: { body: { changes: [], lines: ['+ env[B]: "2"'] } },
  });
  try {
    const list = await run(api, ['deployments', 'list', '--service', 'shop/web']);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(api.lines().at(-1), `GET /v1/deployments?service_id=${SVC_ID}&limit=100&offset=0`);
    assert.match(list.stdout, /^ID {9}SERVICE {3}VERSION {3}STATUS {4}MESSAGES {3}REGIONS {3}CREATED\n44444444 {3}web {7}2 {9}HEALTHY {3}- {10}was {7}10m ago\n/);

    const d = await run(api, ['d', 'describe', '44444444']);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(api.lines().at(-1), `GET /v1/deployments/${DEP2_ID}/diff?against=${DEP_ID}`);
    assert.match(d.stdout, /Definition:\n {2}name: web\n/);
    assert.match(d.stdout, /Changes since 33333333:\n {2}\+ env\[B\]: "2"\n$/);

    const diff = await run(api, ['deployment', 'diff', DEP2_ID, '--against', '33333333']);
    assert.equal(diff.stdout, '+ env[B]: "2"\n');
    assert.equal(api.lines().at(-1), `GET /v1/deployments/${DEP2_ID}/diff?against=${DEP_ID}`);
  } finally {
    await api.close();
  }
});

test('deployments cancel, regional deployments and instances lists', async () => {
  const rd = { id: '55555555-eeee-4eee-8eee-000000000005', region: 'was', deployment_id: DEP_ID, status: 'HEALTHY', messages: [], created_at: '2026-03-01T12:00:00Z' };
  const inst = { id: '66666666-ffff-4fff-8fff-000000000006', service_id: SVC_ID, status: 'HEALTHY', region: 'was', datacenter: 'local', messages: ['Instance is healthy.'], created_at: '2026-03-01T12:00:00Z' };
  const api = await startFakeApi({
    ...lookupRoutes(),
    [`POST /v1/deployments/${DEP_ID}/cancel`]: { body: {} },
    'GET /v1/regional_deployments': { body: { regional_deployments: [rd], count: 1 } },
    'GET /v1/instances': { body: { instances: [inst], count: 1 } },
    [`GET /v1/instances/${inst.id}`]: { body: { instance: inst } },
  });
  try {
    assert.equal((await run(api, ['d', 'cancel', DEP_ID])).stdout, `Deployment ${DEP_ID} is canceling.\n`);
    const rds = await run(api, ['rd', 'list', '--deployment', DEP_ID]);
    assert.equal(api.lines().at(-1), `GET /v1/regional_deployments?deployment_id=${DEP_ID}&limit=100&offset=0`);
    assert.match(rds.stdout, /55555555 {3}was {6}33333333 {5}HEALTHY/);
    const is = await run(api, ['instances', 'list', '--service', 'shop/web']);
    assert.equal(api.lines().at(-1), `GET /v1/instances?service_id=${SVC_ID}&limit=100&offset=0`);
    assert.match(is.stdout, /66666666 {3}22222222 {3}HEALTHY {3}was {6}local {8}Instance is healthy\./);
    const desc = await run(api, ['i', 'describe', '66666666']);
    assert.match(desc.stdout, /Datacenter: +local/);
  } finally {
    await api.close();
  }
});

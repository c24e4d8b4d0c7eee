import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startTestPier, createApp, createService, webDefinition, type TestPier } from './helpers.ts';
import { appendLogLines, type LogLine } from '../../src/store/logs.ts';

let t: TestPier;
before(async () => { t = await startTestPier(); });
after(async () => { await t.close(); });

test('secrets: values never returned except by reveal; names unique; registry passwords hidden', async () => {
  const created = await t.req('POST', '/v1/secrets', { name: 'db-url', type: 'SIMPLE', value: 'postgres://u:p@h/db' });
  assert.equal(created.status, 200);
  const id = created.body.secret.id;
  assert.equal(created.body.secret.value, undefined);
  assert.equal(JSON.stringify((await t.req('GET', '/v1/secrets')).body).includes('postgres://'), false);
  assert.equal(JSON.stringify((await t.req('GET', `/v1/secrets/${id}`)).body).includes('postgres://'), false);
  assert.deepEqual((await t.req('POST', `/v1/secrets/${id}/reveal`, {})).body, { value: 'postgres://u:p@h/db' });
  assert.equal((await t.req('POST', '/v1/secrets', { name: 'db-url', value: 'x' })).status, 409);
  const upd = await t.req('PATCH', `/v1/secrets/${id}`, { value: 'new' });
  assert.equal(upd.status, 200);
  assert.deepEqual((await t.req('POST', `/v1/secrets/${id}/reveal`, {})).body, { value: 'new' });

  const reg = await t.req('POST', '/v1/secrets', {
    name: 'hub', type: 'REGISTRY', docker_hub_registry: { username: 'me', password: 's3cret' },
  });
  assert.equal(reg.status, 200);
  assert.deepEqual(reg.body.secret.docker_hub_registry, { username: 'me' });
  assert.deepEqual((await t.req('POST', `/v1/secrets/${reg.body.secret.id}/reveal`, {})).body.value, { username: 'me', password: 's3cret' });
  const raw = await t.pier.store.db.all<{ data: string; encrypted_value: string }>('SELECT data, encrypted_value FROM secrets');
  assert.ok(raw.every((r) => !r.data.includes('s3cret') && !r.encrypted_value.includes('s3cret')));

  const missing = await t.req('POST', '/v1/secrets', { name: 'empty', type: 'SIMPLE' });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.fields[0].field, 'value');
  const other = await t.otherOrgToken();
  assert.equal((await t.req('POST', `/v1/secrets/${id}/reveal`, {}, other)).status, 404);
  assert.deepEqual((await t.req('DELETE', `/v1/secrets/${id}`)).body, {});
  assert.equal((await t.req('GET', `/v1/secrets/${id}`)).status, 404);
});

function line(service: any, msg: string, at: Date, stream: LogLine['stream'] = 'stdout'): LogLine {
  return {
    organization_id: service.organization_id, app_id: service.app_id, service_id: service.id,
    deployment_id: service.latest_deployment_id, regional_deployment_id: 'rd', instance_id: 'inst-1', region: 'fra',
    type: 'runtime', stream, msg, created_at: at.toISOString(),
  };
}

test('logs query filters by service, stream, text and regex, with pagination', async () => {
  const appId = await createApp(t, 'logs');
  const s = await createService(t, appId, 'talker');
  const base = Date.now() - 60_000;
  const lines = Array.from({ length: 5 }, (_, i) => line(s, `hello ${i}`, new Date(base + i * 1000), i === 4 ? 'stderr' : 'stdout'));
  await appendLogLines(t.pier.store.db, lines, t.pier.store.logBus);
  const q = (qs: string) => t.req('GET', `/v1/streams/logs/query?service_id=${s.id}&${qs}`);
  const page = await q('limit=2');
  assert.deepEqual(page.body.data.map((e: any) => e.msg), ['hello 4', 'hello 3']);
  assert.equal(page.body.pagination.has_more, true);
  assert.equal(page.body.data[0].labels.service_id, s.id);
  assert.equal(page.body.data[0].labels.stream, 'stderr');
  const next = await q(`limit=10&end=${encodeURIComponent(page.body.pagination.next_end)}`);
  assert.ok(next.body.data.some((e: any) => e.msg === 'hello 0'));
  assert.deepEqual((await q('streams=stderr')).body.data.map((e: any) => e.msg), ['hello 4']);
  assert.deepEqual((await q('text=lo 2')).body.data.map((e: any) => e.msg), ['hello 2']);
  assert.deepEqual((await q('regex=hello%20[13]&order=asc')).body.data.map((e: any) => e.msg), ['hello 1', 'hello 3']);
  assert.equal((await q('regex=(')).status, 400);
  assert.equal((await t.req('GET', '/v1/streams/logs/query')).status, 400);
  const other = await t.otherOrgToken();
  assert.equal((await t.req('GET', `/v1/streams/logs/query?service_id=${s.id}`, undefined, other)).body.data.length, 0);
});

test('logs tail websocket: Bearer subprotocol auth, backlog then live lines', async () => {
  const appId = await createApp(t, 'tail');
  const s = await createService(t, appId, 'tailed');
  await appendLogLines(t.pier.store.db, [line(s, 'old line', new Date(Date.now() - 5000))], t.pier.store.logBus);
  const wsUrl = `${t.url.replace('http', 'ws')}/v1/streams/logs/tail?service_id=${s.id}`;

  const denied = new WebSocket(wsUrl, ['Bearer', 'pier_wrong']);
  const status = await new Promise<number>((resolve) => {
    denied.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    denied.on('error', () => resolve(-1));
  });
  assert.equal(status, 401);

  const ws = new WebSocket(wsUrl, ['Bearer', t.token]);
  const got: string[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tail timed out with ${JSON.stringify(got)}`)), 5000);
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      got.push(frame.result.msg);
      if (got.length === 1) void appendLogLines(t.pier.store.db, [line(s, 'new line', new Date())], t.pier.store.logBus);
      if (got.length === 2) { clearTimeout(timer); resolve(); }
    });
    ws.on('error', reject);
  });
  await new Promise<void>((resolve, reject) => { ws.on('open', () => resolve()); ws.on('error', reject); });
  assert.equal(ws.protocol, 'Bearer');
  await done;
  ws.close();
  assert.deepEqual(got, ['old line', 'new line']);
});

test('logs tail: a line published again after the backlog (relayed from another control plane) is not sent twice', async () => {
  const appId = await createApp(t, 'tail-dup');
  const s = await createService(t, appId, 'tailed');
  const old = line(s, 'in the backlog', new Date(Date.now() - 2000));
  await appendLogLines(t.pier.store.db, [old], t.pier.store.logBus);
  const ws = new WebSocket(`${t.url.replace('http', 'ws')}/v1/streams/logs/tail?service_id=${s.id}`, ['Bearer', t.token]);
  const got: string[] = [];
  ws.on('message', (data) => { got.push(JSON.parse(String(data)).result.msg); });
  await new Promise<void>((resolve, reject) => { ws.on('open', () => resolve()); ws.on('error', reject); });
  for (let i = 0; i < 200 && got.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
  // The backlog's line arrives once more on the bus (as a relay catching up would send it), then a new one.
  t.pier.store.logBus.publish(old);
  const fresh = line(s, 'after the backlog', new Date());
  await appendLogLines(t.pier.store.db, [fresh], t.pier.store.logBus);
  for (let i = 0; i < 200 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  // Once a newer line came, the backlog is no longer looked at: an equal line later is a new one.
  t.pier.store.logBus.publish({ ...old });
  for (let i = 0; i < 200 && got.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
  ws.close();
  assert.deepEqual(got, ['in the backlog', 'after the backlog', 'in the backlog']);
});

test('logs tail: another organization\'s tail never gets our lines, whoever publishes them (the collector or a follower\'s relay)', async () => {
  const appId = await createApp(t, 'tail-other');
  const s = await createService(t, appId, 'private');
  const other = await t.otherOrgToken();
  const url = `${t.url.replace('http', 'ws')}/v1/streams/logs/tail?service_id=${s.id}`;
  const open = (token: string) => new Promise<{ ws: WebSocket; got: string[]; status?: number }>((resolve) => {
    const ws = new WebSocket(url, ['Bearer', token]);
    const got: string[] = [];
    ws.on('message', (data) => { got.push(String(data)); });
    ws.on('open', () => resolve({ ws, got }));
    ws.on('unexpected-response', (_req, res) => resolve({ ws, got, status: res.statusCode ?? 0 }));
    ws.on('error', () => undefined);
  });
  const theirs = await open(other);
  const ours = await open(t.token);
  // Published on the bus as the relay does it, and appended as the collector does.
  t.pier.store.logBus.publish(line(s, 'secret relayed line', new Date()));
  await appendLogLines(t.pier.store.db, [line(s, 'secret collected line', new Date())], t.pier.store.logBus);
  for (let i = 0; i < 200 && ours.got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 100));
  theirs.ws.close();
  ours.ws.close();
  assert.equal(ours.got.length, 2, 'our own tail got both (the lines were delivered)');
  assert.ok(theirs.status === undefined || theirs.status >= 400, `refused or silent, not ${theirs.status}`);
  assert.deepEqual(theirs.got.filter((m) => m.includes('secret')), [], 'not a line of ours');
});

test('secrets: deployments record the secret versions they use; an update names the services to redeploy', async () => {
  const s = await t.req('POST', '/v1/secrets', { name: 'api-key', type: 'SIMPLE', value: 'k-1' });
  assert.equal(s.status, 200);
  const appId = await createApp(t, 'versions');
  const svc = await createService(t, appId, 'web', webDefinition({ env: [{ key: 'API_KEY', secret: 'api-key' }, { key: 'PLAIN', value: 'x' }] }));
  const first = (await t.req('GET', `/v1/deployments?service_id=${svc.id}`)).body.deployments[0];
  assert.deepEqual(first.metadata.pier.secret_versions, { 'api-key': 1 });
  assert.equal(JSON.stringify(first).includes('k-1'), false);

  const upd = await t.req('PATCH', `/v1/secrets/${s.body.secret.id}`, { value: 'k-2' });
  assert.equal(upd.status, 200);
  assert.deepEqual(upd.body.services_using.map((u: { service_id: string }) => u.service_id), [svc.id]);
  assert.equal(JSON.stringify(upd.body).includes('k-2'), false);

  const re = await t.req('POST', `/v1/services/${svc.id}/redeploy`, {});
  assert.equal(re.status, 200);
  const second = (await t.req('GET', `/v1/deployments?service_id=${svc.id}`)).body.deployments[0];
  assert.notEqual(second.id, first.id);
  assert.deepEqual(second.metadata.pier.secret_versions, { 'api-key': 2 });
});

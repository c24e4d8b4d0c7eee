// Replays, against a real Pier, the requests that koyeb-cli's source shows it makes beyond plain CRUD (name
// resolution paging, newest-deployment look-up for `services update`, docker image verification, `describe`'s
// instance query, the logs WebSocket), so Pier is held to them even where the CLI binary cannot be installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { startCompatPier, type CompatPier } from './pier.ts';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function call(pier: CompatPier, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${pier.apiUrl}${path}`, {
    method,
    // Like the Go client: JSON body with Content-Type, Bearer token.
    headers: { authorization: `Bearer ${pier.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // Keep the text: the assertion message shows it.
  }
  return { status: res.status, json };
}

function expect200(r: { status: number; json: unknown }, what: string): any {
  assert.equal(r.status, 200, `${what} -> ${r.status} ${JSON.stringify(r.json)}`);
  return r.json;
}

test('requests the koyeb CLI makes, replayed against a real Pier', async (t) => {
  const pier = await startCompatPier();
  t.after(() => pier.close());
  const region = (expect200(await call(pier, 'GET', '/v1/catalog/regions'), 'list regions').regions as { id: string }[])[0].id;
  const appIds: string[] = [];
  for (const name of ['wire-a', 'wire-b']) appIds.push(expect200(await call(pier, 'POST', '/v1/apps', { name }), 'create app').app.id);
  const definition = {
    name: 'web', type: 'WEB', docker: { image: pier.image }, regions: [region],
    ports: [{ port: pier.port, protocol: 'http' }], routes: [{ port: pier.port, path: '/' }],
    scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }],
  };
  const service = expect200(await call(pier, 'POST', '/v1/services', { app_id: appIds[0], definition }), 'create service').service;

  await t.test('ids are UUID v4 (the CLI only takes v4 UUIDs as ids; anything else is resolved as a name)', () => {
    for (const id of [...appIds, service.id, service.latest_deployment_id]) assert.match(id, UUID_V4);
  });
  await t.test('name resolution pages with limit/offset until offset >= count', async () => {
    const first = expect200(await call(pier, 'GET', '/v1/apps?limit=1&offset=0'), 'apps page 1');
    const second = expect200(await call(pier, 'GET', '/v1/apps?limit=1&offset=1'), 'apps page 2');
    assert.equal(first.count, 2);
    assert.equal(first.apps.length, 1);
    assert.equal(second.apps.length, 1);
    assert.deepEqual(new Set([first.apps[0].id, second.apps[0].id]), new Set(appIds));
    const services = expect200(await call(pier, 'GET', '/v1/services?limit=100&offset=0'), 'services page');
    assert.equal(services.count, 1);
    assert.equal(services.services[0].app_id, appIds[0]);
  });
  await t.test('GET /v1/docker-helper/verify answers {success: true} for a usable image', async () => {
    const r = expect200(await call(pier, 'GET', `/v1/docker-helper/verify?image=${encodeURIComponent(pier.image)}`), 'verify');
    assert.equal(r.success, true);
  });
  await t.test('services update: limit=1 deployments list is the newest, and its definition PUTs back as is', async () => {
    const newest = expect200(await call(pier, 'GET', `/v1/deployments?limit=1&service_id=${service.id}`), 'limit=1');
    assert.equal(newest.deployments[0].id, service.latest_deployment_id);
    const updated = expect200(
      await call(pier, 'PUT', `/v1/services/${service.id}`, { definition: newest.deployments[0].definition }),
      'PUT the returned definition',
    ).service;
    assert.notEqual(updated.latest_deployment_id, service.latest_deployment_id);
    const again = expect200(await call(pier, 'GET', `/v1/deployments?limit=1&service_id=${service.id}`), 'limit=1 again');
    assert.equal(again.deployments[0].id, updated.latest_deployment_id);
  });
  await t.test("services describe's instance query (repeated statuses) answers a list", async () => {
    const statuses = ['ALLOCATING', 'STARTING', 'HEALTHY', 'UNHEALTHY', 'STOPPING'].map((s) => `statuses=${s}`).join('&');
    const r = expect200(await call(pier, 'GET', `/v1/instances?${statuses}&service_id=${service.id}`), 'instances');
    assert.ok(Array.isArray(r.instances));
  });
  await t.test('logs tail WebSocket accepts `Sec-WebSocket-Protocol: Bearer, <token>` and closes normally', async () => {
    const url = `${pier.apiUrl.replace(/^http/, 'ws')}/v1/streams/logs/tail?type=runtime&service_id=${service.id}`;
    // ws sends the two subprotocols as one header `Sec-WebSocket-Protocol: Bearer, <token>`, byte for byte what
    // gorilla/websocket sends for the CLI's header.
    const ws = new WebSocket(url, ['Bearer', pier.token]);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no WebSocket open within 5 s')), 5000);
      ws.on('open', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.on('unexpected-response', (_req, res) => {
        clearTimeout(timer);
        reject(new Error(`upgrade refused: HTTP ${res.statusCode}`));
      });
      ws.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    // Echoing `Bearer` as the chosen subprotocol is what browsers (and the pier CLI's ws client) require back.
    assert.equal(ws.protocol, 'Bearer');
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.close(1000);
    assert.equal(await closed, 1000);
  });
  await t.test('logs tail frames decode as the CLI reads them: {result: {created_at, msg, labels}}', async () => {
    // koyeb-cli (pkg/koyeb/logs.go) unmarshals each frame into {Result: {CreatedAt time.Time, Msg, Labels{...}}};
    // time.Time takes RFC 3339 only. The service created above logs "starting on port" once its instance runs.
    const url = `${pier.apiUrl.replace(/^http/, 'ws')}/v1/streams/logs/tail?type=runtime&service_id=${service.id}`;
    const ws = new WebSocket(url, ['Bearer', pier.token]);
    try {
      const frame = await new Promise<any>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no log frame within 60 s')), 60_000);
        ws.on('message', (data) => {
          clearTimeout(timer);
          resolve(JSON.parse(String(data)));
        });
        ws.on('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
        ws.on('error', reject);
      });
      assert.equal(typeof frame.result?.msg, 'string', JSON.stringify(frame));
      assert.match(frame.result.created_at, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/);
      const labels = frame.result.labels;
      assert.equal(labels.type, 'runtime');
      assert.equal(labels.service_id, service.id);
      assert.equal(labels.app_id, appIds[0]);
      // `koyeb` is the platform's own stream (system lines such as "Instance created"), as on Koyeb.
      assert.ok(['stdout', 'stderr', 'koyeb'].includes(labels.stream), `stream ${labels.stream}`);
      assert.ok(labels.organization_id && labels.instance_id, JSON.stringify(labels));
    } finally {
      ws.terminate();
    }
  });
  await t.test('the same WebSocket without a token is refused', async () => {
    const ws = new WebSocket(`${pier.apiUrl.replace(/^http/, 'ws')}/v1/streams/logs/tail?service_id=${service.id}`);
    const outcome = await new Promise<string>((resolve) => {
      ws.on('open', () => resolve('open'));
      ws.on('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`));
      ws.on('error', () => resolve('error'));
    });
    ws.terminate();
    assert.notEqual(outcome, 'open');
  });
});

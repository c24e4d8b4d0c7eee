import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { errorCodeOf } from '../../src/api/error-body.ts';
import { startTestPier, createApp, createService, webDefinition, type TestPier } from './helpers.ts';

let t: TestPier;
before(async () => { t = await startTestPier(); });
after(async () => { await t.close(); });

test('health needs no token; /v1 needs a valid one', async () => {
  assert.deepEqual(await t.req('GET', '/health', undefined, null), { status: 200, body: { status: 'ok' } });
  const none = await t.req('GET', '/v1/apps', undefined, null);
  assert.equal(none.status, 401);
  assert.equal(none.body.code, 'authentication_error');
  assert.equal((await t.req('GET', '/v1/apps', undefined, 'pier_wrong')).status, 401);
  const ok = await t.req('GET', '/v1/apps');
  assert.equal(ok.status, 200);
});

test('unknown /v1 paths answer 501 not_implemented', async () => {
  // Volumes are served since #20; instance snapshots are still Koyeb paths Pier does not serve.
  const r = await t.req('GET', '/v1/instance_snapshots');
  assert.equal(r.status, 501);
  // 501 is not a status Koyeb's spec declares: google.rpc.Status (gRPC UNIMPLEMENTED), Pier's code in details.
  assert.deepEqual(r.body, {
    code: 12, message: 'GET /v1/instance_snapshots is not implemented by Pier', status: 501, fields: [],
    details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'not_implemented', domain: 'pier', metadata: {} }],
  });
});

test('apps CRUD with unique names and field errors', async () => {
  const created = await t.req('POST', '/v1/apps', { name: 'shop' });
  assert.equal(created.status, 200);
  const app = created.body.app;
  assert.equal(app.name, 'shop');
  assert.equal(app.organization_id, t.organizationId);
  assert.match(app.domains[0].name, /^shop-pier\.localhost$/);

  const dup = await t.req('POST', '/v1/apps', { name: 'shop' });
  assert.equal(dup.status, 409);
  assert.equal(errorCodeOf(dup.body), 'already_exists');
  assert.equal(dup.body.code, 6, 'a 409 is google.rpc.Status: gRPC ALREADY_EXISTS');
  assert.equal(dup.body.fields[0].field, 'name');

  const bad = await t.req('POST', '/v1/apps', { name: 'Bad_Name' });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, 'invalid_argument');
  assert.equal(bad.body.fields[0].field, 'name');

  assert.equal((await t.req('GET', `/v1/apps/${app.id}`)).body.app.id, app.id);
  const renamed = await t.req('PATCH', `/v1/apps/${app.id}`, { name: 'store' });
  assert.equal(renamed.status, 200);
  assert.equal(renamed.body.app.name, 'store');
  assert.equal(renamed.body.app.version, '2');
  assert.match(renamed.body.app.domains[0].name, /^store-pier\./);

  const listed = await t.req('GET', '/v1/apps?name=store');
  assert.deepEqual(listed.body.apps.map((a: any) => a.id), [app.id]);

  assert.deepEqual((await t.req('DELETE', `/v1/apps/${app.id}`)).body, {});
  assert.equal((await t.req('GET', `/v1/apps/${app.id}`)).body.app.status, 'DELETING');
  const events = await t.req('GET', `/v1/app_events?app_id=${app.id}`);
  assert.deepEqual(events.body.events.map((e: any) => e.type), ['deleting', 'updated', 'created']);
  assert.equal(events.body.events[0].app_id, app.id);
});

test('another organization sees 404 for our resources and nothing in lists', async () => {
  const appId = await createApp(t, 'private-app');
  const service = await createService(t, appId, 'api');
  const other = await t.otherOrgToken();
  for (const path of [`/v1/apps/${appId}`, `/v1/services/${service.id}`, `/v1/deployments/${service.latest_deployment_id}`]) {
    const r = await t.req('GET', path, undefined, other);
    assert.equal(r.status, 404, path);
    assert.equal(r.body.code, 'unknown_resource');
  }
  assert.equal((await t.req('DELETE', `/v1/apps/${appId}`, undefined, other)).status, 404);
  assert.equal((await t.req('GET', '/v1/apps', undefined, other)).body.count, 0);
  assert.equal((await t.req('GET', `/v1/deployments?service_id=${service.id}`, undefined, other)).body.deployments.length, 0);
  const cross = await t.req('POST', '/v1/services', { app_id: appId, name: 'web', definition: webDefinition() }, other);
  assert.equal(cross.status, 404);
});

test('pagination: limit, offset, count, has_next; limit above 100 is refused', async () => {
  for (const n of [1, 2, 3, 4, 5]) await createApp(t, `page-${n}`);
  const first = await t.req('GET', '/v1/apps?limit=2&offset=0');
  assert.equal(first.body.apps.length, 2);
  assert.equal(first.body.limit, 2);
  assert.equal(first.body.has_next, true);
  const total = first.body.count;
  const seen = new Set<string>();
  for (let offset = 0; offset < total; offset += 2) {
    const page = await t.req('GET', `/v1/apps?limit=2&offset=${offset}`);
    for (const a of page.body.apps) seen.add(a.id);
    assert.equal(page.body.has_next, offset + page.body.apps.length < total);
  }
  assert.equal(seen.size, total);
  const tooMany = await t.req('GET', '/v1/apps?limit=101');
  assert.equal(tooMany.status, 400);
  assert.equal(tooMany.body.fields[0].field, 'limit');
});

test('bodies over 1 MiB are refused with 413; bad JSON with 400', async () => {
  const big = await t.req('POST', '/v1/apps', { name: 'x'.repeat(1024 * 1024 + 10) });
  assert.equal(big.status, 413);
  assert.equal(errorCodeOf(big.body), 'payload_too_large');
  const res = await fetch(`${t.url}/v1/apps`, { method: 'POST', headers: { authorization: `Bearer ${t.token}` }, body: '{nope' });
  assert.equal(res.status, 400);
});

test('catalog, metrics and the OpenAPI document', async () => {
  const regions = await t.req('GET', '/v1/catalog/regions');
  assert.ok(regions.body.regions.some((r: any) => r.id === 'fra'));
  assert.equal((await t.req('GET', '/v1/catalog/regions/fra')).body.region.id, 'fra');
  assert.equal((await t.req('GET', '/v1/catalog/regions/nowhere')).status, 404);
  assert.equal((await t.req('GET', '/v1/catalog/instances/nano')).body.instance.id, 'nano');
  assert.ok((await t.req('GET', '/v1/catalog/datacenters')).body.datacenters.length > 0);

  const metrics = await t.req('GET', '/metrics', undefined, null);
  assert.equal(metrics.status, 200);
  assert.match(metrics.body, /pier_api_requests_total\{method="GET",route="\/v1\/catalog\/regions\/\{id\}",status="200"\} 1/);
  assert.match(metrics.body, /pier_process_resident_memory_bytes \d+/);

  const doc = await t.req('GET', '/v1/openapi.json', undefined, null);
  assert.equal(doc.status, 200);
  assert.equal(doc.body.swagger, '2.0');
  assert.equal(doc.body.paths['/v1/services'].post.operationId, 'CreateService');
  assert.ok(doc.body.definitions.Service);
  assert.equal(doc.body.paths['/v1/volumes'].post.operationId, 'CreatePersistentVolume');
  assert.equal(doc.body.paths['/v1/instance_snapshots'], undefined);
  assert.equal(doc.body.paths['/v1/deployments/{id}/diff'].get['x-pier'], true);
});

test('docker-helper verify checks image syntax for the koyeb CLI', async () => {
  assert.deepEqual((await t.req('GET', '/v1/docker-helper/verify?image=nginx:1.27')).body, { success: true, reason: '', code: 'UNKNOWN' });
  const bad = (await t.req('GET', '/v1/docker-helper/verify?image=Not%20An%20Image')).body;
  assert.equal(bad.success, false);
  assert.equal(bad.code, 'MALFORMED');
});

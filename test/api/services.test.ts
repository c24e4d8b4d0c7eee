import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPier, createApp, createService, webDefinition, type TestPier } from './helpers.ts';
import { errorCodeOf } from '../../src/api/error-body.ts';
import { updateService } from '../../src/store/services.ts';
import { updateDeployment } from '../../src/store/deployments.ts';

let t: TestPier;
let appId: string;
before(async () => { t = await startTestPier(); appId = await createApp(t, 'flows'); });
after(async () => { await t.close(); });

/** A web definition routed at `/<name>`: services of the one shared app must not serve the same prefix. */
const routed = (name: string, over: Record<string, unknown> = {}) => webDefinition({ routes: [{ port: 8080, path: `/${name}` }], ...over });

async function count(table: string): Promise<number> {
  const row = await t.pier.store.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`);
  return Number(row?.n);
}

test('create writes service STARTING, deployment v1 PENDING and one regional deployment per region', async () => {
  const service = await createService(t, appId, 'web', webDefinition({ regions: ['fra', 'was'] }));
  assert.equal(service.status, 'STARTING');
  assert.equal(service.type, 'WEB');
  const d = (await t.req('GET', `/v1/deployments/${service.latest_deployment_id}`)).body.deployment;
  assert.deepEqual([d.status, d.version, d.parent_id, d.service_id], ['PENDING', '1', '', service.id]);
  assert.deepEqual(d.metadata.trigger, { type: 'UNKNOWN_TYPE', actor: 'USER' });
  assert.equal(d.definition.name, 'web');
  const rds = (await t.req('GET', `/v1/regional_deployments?deployment_id=${d.id}`)).body.regional_deployments;
  assert.deepEqual(rds.map((r: any) => [r.region, r.status, r.definition.region]).sort(), [['fra', 'PENDING', 'fra'], ['was', 'PENDING', 'was']]);
  const rd = (await t.req('GET', `/v1/regional_deployments/${rds[0].id}`)).body.regional_deployment;
  assert.equal(rd.deployment_id, d.id);
  assert.equal(rd.definition.instance_type, 'nano');
  const events = (await t.req('GET', `/v1/service_events?service_id=${service.id}`)).body.events;
  assert.deepEqual(events.map((e: any) => e.type), ['created']);
});

test('validation errors are 400 with field paths and write nothing; dry_run writes nothing', async () => {
  const before = [await count('services'), await count('deployments'), await count('events')];
  const r = await t.req('POST', '/v1/services', {
    app_id: appId, name: 'Bad Name', definition: { docker: {}, ports: [{ port: 99999, protocol: 'http' }] },
  });
  assert.equal(r.status, 400);
  assert.equal(r.body.code, 'invalid_argument');
  const fields = r.body.fields.map((f: any) => f.field);
  assert.ok(fields.includes('name'), JSON.stringify(fields));
  assert.ok(fields.some((f: string) => f.startsWith('definition.docker.image')), JSON.stringify(fields));
  assert.ok(fields.some((f: string) => f.startsWith('definition.ports[0]')), JSON.stringify(fields));

  const dry = await t.req('POST', '/v1/services?dry_run=true', { app_id: appId, name: 'dry', definition: routed('dry') });
  assert.equal(dry.status, 200);
  assert.equal(dry.body.service.name, 'dry');
  assert.deepEqual([await count('services'), await count('deployments'), await count('events')], before);
  assert.equal((await t.req('GET', `/v1/services?app_id=${appId}&name=dry`)).body.services.length, 0);

  const dup = await t.req('POST', '/v1/services', { app_id: appId, name: 'web', definition: webDefinition() });
  assert.equal(dup.status, 409);
  assert.equal(dup.body.fields[0].field, 'name');
});

test('update, save_only, redeploy and rollback build an immutable, linked chain', async () => {
  const s = await createService(t, appId, 'chain');
  const v1 = s.latest_deployment_id;
  const def2 = routed('chain', { env: [{ key: 'GREETING', value: 'bonjour' }] });

  const dryUpdate = await t.req('PUT', `/v1/services/${s.id}?dry_run=true`, { definition: def2 });
  assert.equal(dryUpdate.status, 200);
  assert.equal((await t.req('GET', `/v1/deployments?service_id=${s.id}`)).body.count, 1);

  const up = await t.req('PUT', `/v1/services/${s.id}`, { definition: def2 });
  assert.equal(up.status, 200);
  const v2 = up.body.service.latest_deployment_id;
  assert.notEqual(v2, v1);
  const d2 = (await t.req('GET', `/v1/deployments/${v2}`)).body.deployment;
  assert.deepEqual([d2.version, d2.parent_id, d2.status], ['2', v1, 'PENDING']);
  const d1 = (await t.req('GET', `/v1/deployments/${v1}`)).body.deployment;
  assert.equal(d1.child_id, v2);
  assert.equal(d1.definition.env[0].value, 'hello', 'the past definition is untouched');
  const diff = (await t.req('GET', `/v1/deployments/${v2}/diff`)).body;
  assert.equal(diff.against, v1);
  assert.ok(diff.changes.length > 0);
  assert.ok(diff.lines.some((l: string) => l.includes('GREETING')), JSON.stringify(diff.lines));

  const stash = await t.req('PATCH', `/v1/services/${s.id}`, { definition: routed('chain', { env: [{ key: 'GREETING', value: 'hola' }] }), save_only: true });
  assert.equal(stash.status, 200);
  assert.equal(stash.body.service.latest_deployment_id, v2, 'a stash does not move latest_deployment_id');
  const list = (await t.req('GET', `/v1/deployments?service_id=${s.id}`)).body.deployments;
  assert.deepEqual(list.map((d: any) => [d.version, d.status]), [['3', 'STASHED'], ['2', 'PENDING'], ['1', 'PENDING']]);
  assert.equal((await t.req('GET', `/v1/regional_deployments?deployment_id=${list[0].id}`)).body.count, 0);

  const re = await t.req('POST', `/v1/services/${s.id}/redeploy`, {});
  assert.equal(re.status, 200);
  assert.deepEqual([re.body.deployment.version, re.body.deployment.parent_id], ['4', v2]);
  assert.equal(re.body.deployment.definition.env[0].value, 'bonjour');
  assert.equal(re.body.deployment.metadata.pier.action, 'redeploy');

  const back = await t.req('POST', `/v1/services/${s.id}/redeploy`, { deployment_id: v1 });
  assert.equal(back.status, 200);
  const d5 = back.body.deployment;
  assert.deepEqual([d5.version, d5.parent_id], ['5', re.body.deployment.id]);
  assert.equal(d5.definition.env[0].value, 'hello');
  assert.deepEqual(d5.metadata.pier, { action: 'rollback', source_deployment_id: v1, secret_versions: {} });
  const against = (await t.req('GET', `/v1/deployments/${d5.id}/diff?against=${v1}`)).body;
  assert.deepEqual(against.changes, []);
  assert.equal((await t.req('GET', `/v1/services/${s.id}`)).body.service.latest_deployment_id, d5.id);

  const other = await createService(t, appId, 'other');
  const wrong = await t.req('POST', `/v1/services/${s.id}/redeploy`, { deployment_id: other.latest_deployment_id });
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.fields[0].field, 'deployment_id');
});

test('cancel only before instances run', async () => {
  const s = await createService(t, appId, 'cancel-me');
  const id = s.latest_deployment_id;
  assert.deepEqual((await t.req('POST', `/v1/deployments/${id}/cancel`)).body, {});
  assert.equal((await t.req('GET', `/v1/deployments/${id}`)).body.deployment.status, 'CANCELING');
  const again = await t.req('POST', `/v1/deployments/${id}/cancel`);
  assert.equal(again.status, 409);
  assert.equal(errorCodeOf(again.body), 'invalid_state');
  assert.match(again.body.message, /CANCELING/);
  await updateDeployment(t.pier.store.db, (await createService(t, appId, 'running')).latest_deployment_id, { status: 'HEALTHY' });
  const running = (await t.req('GET', '/v1/deployments?statuses=HEALTHY')).body.deployments[0];
  const r = await t.req('POST', `/v1/deployments/${running.id}/cancel`);
  assert.equal(r.status, 409);
  assert.match(r.body.message, /HEALTHY/);
});

test('pause, resume and delete follow the service status machine', async () => {
  const s = await createService(t, appId, 'lifecycle');
  assert.deepEqual((await t.req('POST', `/v1/services/${s.id}/pause`)).body, {});
  assert.equal((await t.req('GET', `/v1/services/${s.id}`)).body.service.status, 'PAUSING');
  const early = await t.req('POST', `/v1/services/${s.id}/resume`);
  assert.equal(early.status, 409);
  assert.match(early.body.message, /PAUSING/);

  await updateService(t.pier.store.db, s.id, { status: 'PAUSED' }); // what the reconcilers do once instances stop
  assert.deepEqual((await t.req('POST', `/v1/services/${s.id}/resume`)).body, {});
  const resumed = (await t.req('GET', `/v1/services/${s.id}`)).body.service;
  assert.equal(resumed.status, 'RESUMING');
  const d = (await t.req('GET', `/v1/deployments/${resumed.latest_deployment_id}`)).body.deployment;
  assert.deepEqual([d.version, d.metadata.trigger.type, d.parent_id], ['2', 'RESUME', s.latest_deployment_id]);

  assert.deepEqual((await t.req('DELETE', `/v1/services/${s.id}`)).body, {});
  assert.equal((await t.req('GET', `/v1/services/${s.id}`)).body.service.status, 'DELETING');
  assert.equal((await t.req('DELETE', `/v1/services/${s.id}`)).status, 200, 'delete is idempotent');
  const upd = await t.req('PUT', `/v1/services/${s.id}`, { definition: routed('lifecycle') });
  assert.equal(upd.status, 409);
  const types = (await t.req('GET', `/v1/service_events?service_id=${s.id}&order=asc`)).body.events.map((e: any) => e.type);
  assert.deepEqual(types, ['created', 'pausing', 'resuming', 'deleting']);
});

test('manual scaling: put, get, delete, validation', async () => {
  const s = await createService(t, appId, 'scaled');
  assert.deepEqual((await t.req('GET', `/v1/services/${s.id}/scale`)).body, { scalings: [] });
  assert.deepEqual((await t.req('PUT', `/v1/services/${s.id}/scale`, { scalings: [{ scopes: ['region:fra'], instances: 3 }] })).body, {});
  assert.deepEqual((await t.req('GET', `/v1/services/${s.id}/scale`)).body, { scalings: [{ scopes: ['region:fra'], instances: 3 }] });
  const replicas = (await t.req('GET', `/v1/deployment/${s.latest_deployment_id}/scaling`)).body.replicas;
  assert.deepEqual(replicas.map((r: any) => [r.region, r.replica_index]), [['fra', 0], ['fra', 1], ['fra', 2]]);
  const bad = await t.req('PUT', `/v1/services/${s.id}/scale`, { scalings: [{ scopes: ['region:tyo'], instances: -1 }] });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.fields.map((f: any) => f.field).sort(), ['scalings[0].instances', 'scalings[0].scopes[0]']);
  assert.deepEqual((await t.req('DELETE', `/v1/services/${s.id}/scale`)).body, {});
  assert.deepEqual((await t.req('GET', `/v1/services/${s.id}/scale`)).body, { scalings: [] });
});

test('deleting an app marks its services DELETING', async () => {
  const a = await createApp(t, 'doomed');
  const s = await createService(t, a, 'inside');
  await t.req('DELETE', `/v1/apps/${a}`);
  assert.equal((await t.req('GET', `/v1/services/${s.id}`)).body.service.status, 'DELETING');
  assert.equal((await t.req('GET', `/v1/services?app_id=${a}`)).body.services.length, 1, 'DELETING services are still listed');
  const again = await t.req('POST', '/v1/apps', { name: 'doomed' });
  assert.equal(again.status, 409, 'a DELETING app still holds its name');
});

test('list filters: types, statuses, app_id', async () => {
  const a = await createApp(t, 'filters');
  await createService(t, a, 'front');
  await createService(t, a, 'jobs', { type: 'WORKER', docker: { image: 'busybox' }, regions: ['fra'] });
  const workers = (await t.req('GET', `/v1/services?app_id=${a}&types=WORKER`)).body.services;
  assert.deepEqual(workers.map((s: any) => s.name), ['jobs']);
  const both = (await t.req('GET', `/v1/services?app_id=${a}&statuses=STARTING&statuses=HEALTHY`)).body;
  assert.equal(both.count, 2);
  const deps = (await t.req('GET', `/v1/deployments?app_id=${a}&statuses=PENDING`)).body;
  assert.equal(deps.count, 2);
});

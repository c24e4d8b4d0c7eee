// POST /v1/compose on a real Pier (SQLite, no runtime): one document creates an app and its services in one
// transaction, applying it again creates no deployment, a changed service gets exactly one new deployment, and a bad
// document is refused whole with errors naming each field's path in the file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { errorCodeOf } from '../../src/api/error-body.ts';
import { startTestPier, type TestPier } from './helpers.ts';

let t: TestPier;
before(async () => { t = await startTestPier(); });
after(async () => { await t.close(); });

const web = (image = 'nginx:1.27') => ({
  definition: {
    name: 'web', type: 'WEB', docker: { image }, regions: ['fra'], ports: [{ port: 8000 }], routes: [{ port: 8000, path: '/' }],
    instance_types: [{ scopes: ['region:fra'], type: 'nano' }], scalings: [{ scopes: ['region:fra'], min: 1, max: 1 }],
  },
});
const worker = {
  definition: { name: 'pinger', type: 'WORKER', docker: { image: 'busybox', command: 'sh', args: ['-c', 'sleep 3600'] }, regions: ['fra'] },
};
const deploymentsOf = async (serviceId: string) => (await t.req('GET', `/v1/deployments?service_id=${serviceId}`)).body.deployments as any[];

test('compose creates the app and its services; the same file again changes nothing; a change deploys once', async () => {
  const doc = { app: { name: 'mesh' }, services: [web(), worker] };
  const first = await t.req('POST', '/v1/compose', doc);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body.app.name, 'mesh');
  assert.deepEqual(first.body.services.map((s: any) => [s.name, s.type, s.app_id]), [['web', 'WEB', first.body.app.id], ['pinger', 'WORKER', first.body.app.id]]);
  assert.deepEqual(first.body.pier, { created: ['web', 'pinger'], updated: [], unchanged: [], app_created: true });
  const [webSvc, pinger] = first.body.services;
  assert.ok(webSvc.latest_deployment_id);

  const again = await t.req('POST', '/v1/compose', doc);
  assert.equal(again.status, 200);
  assert.deepEqual(again.body.pier, { created: [], updated: [], unchanged: ['web', 'pinger'], app_created: false });
  assert.equal(again.body.app.id, first.body.app.id);
  assert.equal((await deploymentsOf(webSvc.id)).length, 1);
  assert.equal((await deploymentsOf(pinger.id)).length, 1);
  assert.equal(again.body.services[0].latest_deployment_id, webSvc.latest_deployment_id);

  const changed = await t.req('POST', '/v1/compose', { app: { name: 'mesh' }, services: [web('nginx:1.28'), worker] });
  assert.equal(changed.status, 200);
  assert.deepEqual(changed.body.pier, { created: [], updated: ['web'], unchanged: ['pinger'], app_created: false });
  const deps = await deploymentsOf(webSvc.id);
  assert.equal(deps.length, 2);
  assert.equal(deps[0].definition.docker.image, 'nginx:1.28');
  assert.equal(deps[0].parent_id, webSvc.latest_deployment_id);
  assert.equal(changed.body.services[0].latest_deployment_id, deps[0].id);
  assert.equal((await deploymentsOf(pinger.id)).length, 1);

  // Traceability: one activity per service written plus the compose itself; nothing for the no-op apply.
  const acts = (await t.req('GET', '/v1/activities?limit=10')).body.activities.map((a: any) => `${a.verb} ${a.object.type} ${a.object.name}`);
  assert.deepEqual(acts.slice(0, 2), ['composed app mesh', 'updated service web']);
  assert.deepEqual(acts.slice(2, 6), ['composed app mesh', 'created service pinger', 'created service web', 'created app mesh']);
});

test('a bad document is refused whole: every error names its path, nothing is written', async () => {
  const r = await t.req('POST', '/v1/compose', {
    app: { name: 'Bad Name' },
    services: [
      web(),
      { definition: { name: 'web', docker: { image: 'busybox' }, ports: [{ port: 70000 }] } },
      { definition: { type: 'WORKER' }, depends_on: ['web'] },
    ],
  });
  assert.equal(r.status, 400);
  assert.equal(errorCodeOf(r.body), 'invalid_argument');
  const fields = r.body.fields.map((f: any) => f.field);
  for (const f of ['app.name', 'services[1].definition.name', 'services[1].definition.ports[0].port', 'services[2].depends_on', 'services[2].definition.name']) {
    assert.ok(fields.includes(f), `${f} in ${JSON.stringify(fields)}`);
  }
  assert.match(r.body.fields.find((f: any) => f.field === 'services[1].definition.name').description, /also declared by services\[0\]/);
  assert.equal(r.body.fields.some((f: any) => f.field.startsWith('services[0]')), false);

  // A conflict found while writing (a route another service of the app already holds) rolls everything back.
  const half = await t.req('POST', '/v1/compose', {
    app: { name: 'mesh' },
    services: [{ definition: { ...worker.definition, name: 'extra' } }, { definition: { ...web().definition, name: 'web2' } }],
  });
  assert.equal(half.status, 409, JSON.stringify(half.body));
  assert.match(half.body.message, /^services\[1\] \(web2\): /);
  const names = (await t.req('GET', '/v1/services?limit=100')).body.services.map((s: any) => s.name);
  assert.equal(names.includes('extra'), false, 'the first service of a refused document is not written');
  assert.equal((await t.req('GET', '/v1/apps?name=Bad%20Name')).body.apps.length, 0);
});

test('compose is per organization and needs a writing token', async () => {
  const other = await t.otherOrgToken();
  const r = await t.req('POST', '/v1/compose', { app: { name: 'mesh' }, services: [worker] }, other);
  assert.equal(r.status, 200);
  assert.equal(r.body.pier.app_created, true, 'the other organization gets its own app "mesh"');
  const ro = (await t.req('POST', '/v1/credentials', { name: 'reader', read_only: true })).body.credential.token;
  assert.equal((await t.req('POST', '/v1/compose', { app: { name: 'mesh' }, services: [worker] }, ro)).status, 403);
});

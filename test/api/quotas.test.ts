// Quotas and usage on a real Pier (SQLite, no runtime): the operator sets an organization's quotas; every write past
// one is refused with 403 quota_exceeded naming the quota, the would-be value and the limit, before anything is
// written; usage is integrated from instance rows (never a runtime) and listed per month, app, service, region and
// instance type.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { errorCodeOf } from '../../src/api/error-body.ts';
import { nextUsage, sampleUsage } from '../../src/control/usage.ts';
import { insertInstance, updateInstance } from '../../src/store/instances.ts';
import type { Instance } from '../../src/domain/types.ts';
import { startTestPier, type TestPier } from './helpers.ts';

let t: TestPier;
before(async () => { t = await startTestPier(); });
after(async () => { await t.close(); });

const worker = (name: string, max: number, extra: Record<string, unknown> = {}) => ({
  name, definition: { type: 'WORKER', docker: { image: 'busybox' }, regions: ['fra'], instance_types: [{ type: 'nano' }], scalings: [{ min: 1, max }], ...extra },
});

test('operator sets quotas; each write past one is refused before anything is written', async () => {
  const tenant = await t.otherOrgToken();
  const orgId = (await t.req('GET', '/v1/account/organization', undefined, tenant)).body.organization.id as string;
  assert.deepEqual((await t.req('GET', `/v1/organizations/${orgId}/quotas`, undefined, tenant)).body, { quotas: {} });
  // Another organization's quotas are not the tenant's to read; the operator reads and sets anyone's.
  assert.equal((await t.req('GET', `/v1/organizations/${t.organizationId}/quotas`, undefined, tenant)).status, 404);
  assert.equal((await t.req('PUT', `/v1/pier/organizations/${orgId}/quotas`, { quotas: { apps: '9' } }, tenant)).status, 403);
  const bad = await t.req('PUT', `/v1/pier/organizations/${orgId}/quotas`, { quotas: { apps: -1, regions: ['mars'], gpus: 1 } });
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body.fields.map((f: any) => f.field).sort(), ['quotas.apps', 'quotas.gpus', 'quotas.regions[0]']);
  const set = await t.req('PUT', `/v1/pier/organizations/${orgId}/quotas`, {
    quotas: { apps: '1', services: 2, regions: ['fra'], instance_types: ['nano'], max_instances_by_type: { nano: '3' }, memory_mb: '768' },
  });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  assert.deepEqual((await t.req('GET', `/v1/organizations/${orgId}/quotas`, undefined, tenant)).body.quotas, {
    apps: '1', services: '2', memory_mb: '768', instance_types: ['nano'], regions: ['fra'], max_instances_by_type: { nano: '3' },
  });

  const appId = (await t.req('POST', '/v1/apps', { name: 'q-one' }, tenant)).body.app.id as string;
  const second = await t.req('POST', '/v1/apps', { name: 'q-two' }, tenant);
  assert.equal(second.status, 403);
  assert.equal(errorCodeOf(second.body), 'quota_exceeded');
  assert.match(second.body.message, /quota apps exceeded: this would make 2 apps, the limit is 1; ask the operator to raise it/);
  assert.deepEqual(second.body.fields, [{ field: 'quotas.apps', description: 'would be 2, limit 1' }]);
  assert.equal((await t.req('GET', '/v1/apps', undefined, tenant)).body.apps.length, 1);

  const svc = async (body: Record<string, unknown>) => t.req('POST', '/v1/services', { app_id: appId, ...body }, tenant);
  const wrongRegion = await svc(worker('w-was', 1, { regions: ['was'] }));
  assert.equal(wrongRegion.status, 403);
  assert.match(wrongRegion.body.message, /region was is not allowed for this organization \(allowed: fra\)/);
  const wrongType = await svc(worker('w-small', 1, { instance_types: [{ type: 'small' }] }));
  assert.match(wrongType.body.message, /instance type small is not allowed/);

  const first = await svc(worker('w1', 2));
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const tooMany = await svc(worker('w2', 2));
  assert.equal(tooMany.status, 403);
  assert.match(tooMany.body.message, /quota memory_mb exceeded: this would make 1024 MB of memory at maximum scale, the limit is 768/);
  assert.match(tooMany.body.message, /quota max_instances_by_type\.nano exceeded: this would make 4 nano instances/);
  assert.equal((await svc(worker('w2', 1))).status, 200);
  const third = await svc(worker('w3', 1));
  assert.match(third.body.message, /quota services exceeded: this would make 3 services, the limit is 2/);

  // Scaling an existing service up, by a new definition or a manual scale, is refused; no deployment is written.
  const s1 = first.body.service;
  const up = await t.req('PATCH', `/v1/services/${s1.id}`, { definition: worker('w1', 3).definition }, tenant);
  assert.equal(up.status, 403);
  assert.equal((await t.req('GET', `/v1/deployments?service_id=${s1.id}`, undefined, tenant)).body.deployments.length, 1);
  assert.equal((await t.req('PUT', `/v1/services/${s1.id}/scale`, { scalings: [{ instances: 3 }] }, tenant)).status, 403);
  // Within the quota it goes through (max 2 → 1 frees a nano).
  assert.equal((await t.req('PATCH', `/v1/services/${s1.id}`, { definition: worker('w1', 1).definition }, tenant)).status, 200);

  // Compose is checked the same way, and a refused document writes none of its services.
  const composed = await t.req('POST', '/v1/compose', { app: { name: 'q-one' }, services: [worker('w4', 1), worker('w5', 1)] }, tenant);
  assert.equal(composed.status, 403);
  assert.match(composed.body.message, /^services\[0\] \(w4\): quota services exceeded/);
  assert.deepEqual(composed.body.fields.map((f: any) => f.field), ['quotas.services']);

  // The operator lifts the limits; the same write now succeeds. Other organizations were never limited.
  assert.equal((await t.req('PUT', `/v1/pier/organizations/${orgId}/quotas`, { quotas: {} })).status, 200);
  assert.equal((await svc(worker('w3', 1))).status, 200);
  // Per app: q-one holds 3 services; a limit of 3 per app refuses a fourth, whatever the organization's total.
  assert.equal((await t.req('PUT', `/v1/pier/organizations/${orgId}/quotas`, { quotas: { services_by_app: '3' } })).status, 200);
  const perApp = await svc(worker('w4', 1));
  assert.equal(perApp.status, 403);
  assert.match(perApp.body.message, /quota services_by_app exceeded: this would make 4 services in this app, the limit is 3/);
  assert.equal((await t.req('PUT', `/v1/pier/organizations/${orgId}/quotas`, { quotas: {} })).status, 200);
  assert.equal((await t.req('POST', '/v1/apps', { name: 'q-admin-1' })).status, 200);
  assert.equal((await t.req('POST', '/v1/apps', { name: 'q-admin-2' })).status, 200);
});

const T0 = Date.parse('2026-11-30T23:58:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function instanceRow(over: Partial<Instance>): Instance {
  return {
    id: 'i-1', created_at: at(0), updated_at: at(0), organization_id: 'org', app_id: 'app', service_id: 'svc',
    regional_deployment_id: 'rd', allocation_id: '', type: 'nano', replica_index: 0, region: 'fra', datacenter: 'fra',
    hypervisor: 'fake', status: 'HEALTHY', messages: [], started_at: at(0), succeeded_at: null, terminated_at: null,
    xyz_deployment_id: 'dep', ...over,
  } as Instance;
}

test('usage integrates running time from instance rows: restarts and sleep are not counted, marks advance by whole seconds', () => {
  let row = nextUsage(undefined, instanceRow({}), T0 + 10_500)!;
  assert.equal(row.duration_seconds, 10);
  assert.equal(row.sampled_at, at(10));
  assert.equal(nextUsage(row, instanceRow({}), T0 + 10_900), undefined, 'less than a second more: nothing to write');
  row = nextUsage(row, instanceRow({}), T0 + 30_000)!;
  assert.equal(row.duration_seconds, 30);
  // Asleep at 40 s (its row's updated_at): closed there.
  row = nextUsage(row, instanceRow({ status: 'SLEEPING', updated_at: at(40) }), T0 + 100_000)!;
  assert.deepEqual([row.duration_seconds, row.terminated_at], [40, at(40)]);
  assert.equal(nextUsage(row, instanceRow({ status: 'SLEEPING', updated_at: at(40) }), T0 + 200_000), undefined);
  // Woken at 300 s: counts again from its new start, not from when it fell asleep.
  row = nextUsage(row, instanceRow({ started_at: at(300) }), T0 + 310_000)!;
  assert.deepEqual([row.duration_seconds, row.terminated_at], [50, null]);
  // Stopped at 320 s, seen later: counted up to its terminated_at.
  row = nextUsage(row, instanceRow({ status: 'STOPPED', terminated_at: at(320) }), T0 + 400_000)!;
  assert.deepEqual([row.duration_seconds, row.terminated_at], [60, at(320)]);
});

test('GET /v1/usages and /v1/usages/details list what the sampler recorded, per month, with CSV', async () => {
  const appId = (await t.req('POST', '/v1/apps', { name: 'metered' })).body.app.id as string;
  const service = (await t.req('POST', '/v1/services', { app_id: appId, ...worker('meter', 1) })).body.service;
  const db = t.pier.store.db;
  const regional = (await t.req('GET', `/v1/regional_deployments?deployment_id=${service.latest_deployment_id}`)).body.regional_deployments[0];
  const common = {
    organization_id: t.organizationId, app_id: appId, service_id: service.id, xyz_deployment_id: service.latest_deployment_id, regional_deployment_id: regional.id,
  };
  await insertInstance(db, instanceRow({ ...common, id: 'use-a', started_at: at(0) }));
  await insertInstance(db, instanceRow({ ...common, id: 'use-b', type: 'small', region: 'fra', started_at: at(60) }));
  await sampleUsage(db, T0 + 60_000);
  await updateInstance(db, 'use-b', { status: 'STOPPED', terminated_at: at(180) });
  await sampleUsage(db, T0 + 240_000); // December starts at 120 s: a ran 0-240 s, b 60-180 s, half of each in November

  const window = `starting_time=${encodeURIComponent('2026-11-01T00:00:00Z')}&ending_time=${encodeURIComponent('2027-01-01T00:00:00Z')}`;
  const usage = await t.req('GET', `/v1/usages?${window}`);
  assert.equal(usage.status, 200, JSON.stringify(usage.body));
  const periods = usage.body.usage.periods;
  assert.deepEqual(Object.keys(periods), ['2026-11', '2026-12']);
  const regionsOf = (p: string) => periods[p].apps.find((a: any) => a.app_id === appId)?.services[0].regions;
  assert.deepEqual(regionsOf('2026-11'), { fra: { instances: { nano: { duration_seconds: 120 }, small: { duration_seconds: 60 } } } });
  assert.deepEqual(regionsOf('2026-12'), { fra: { instances: { nano: { duration_seconds: 120 }, small: { duration_seconds: 60 } } } });
  assert.equal(periods['2026-12'].apps[0].app_name, 'metered');

  const details = await t.req('GET', `/v1/usages/details?${window}`);
  assert.deepEqual(details.body.usage_details.map((d: any) => [d.instance_id, d.instance_type, d.duration_seconds, d.service_name, d.terminated_at]), [
    ['use-a', 'nano', 240, 'meter', null], ['use-b', 'small', 120, 'meter', at(180)],
  ]);
  assert.equal(details.body.count, 2);
  const csv = await fetch(`${t.url}/v1/usages/details?${window}`, { headers: { authorization: `Bearer ${t.token}`, accept: 'text/csv' } });
  assert.match(csv.headers.get('content-type') ?? '', /^text\/csv/);
  const lines = (await csv.text()).trim().split('\n');
  assert.equal(lines[0], 'instance_id,app_id,app_name,service_id,service_name,region,instance_type,duration_seconds,started_at,terminated_at');
  assert.equal(lines.length, 3);
  // Another organization has no usage; a malformed window names its field.
  const other = await t.otherOrgToken();
  assert.deepEqual((await t.req('GET', `/v1/usages/details?${window}`, undefined, other)).body.usage_details, []);
  const badWindow = await t.req('GET', '/v1/usages?starting_time=yesterday');
  assert.equal(badWindow.status, 400);
  assert.deepEqual(badWindow.body.fields.map((f: any) => f.field), ['starting_time']);
});

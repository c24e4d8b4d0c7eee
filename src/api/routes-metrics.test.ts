import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Instance } from '../domain/types.ts';
import { insertInstance } from '../store/instances.ts';
import { appendMetricSamples, type MetricSample } from '../store/metrics.ts';
import { listRegionalDeploymentsOf } from '../store/regional-deployments.ts';
import { createApp, createService, startTestPier, type TestPier } from '../../test/api/helpers.ts';

let t: TestPier;
let serviceId: string;
const instanceId = '6c3c7a56-0a51-4d7e-9a55-0a3b3d7c2f11';
const end = Date.parse('2026-01-01T01:00:00Z');

function sample(name: string, instance: string, minutesBeforeEnd: number, value: number, org = t.organizationId): MetricSample {
  return { organization_id: org, service_id: serviceId, instance_id: instance, region: instance ? 'fra' : '', name, ts: end - minutesBeforeEnd * 60_000, value };
}

before(async () => {
  t = await startTestPier();
  const appId = await createApp(t, 'metrics');
  const service = await createService(t, appId, 'web');
  serviceId = service.id;
  const [rd] = await listRegionalDeploymentsOf(t.pier.store.db, service.latest_deployment_id);
  const now = new Date().toISOString();
  await insertInstance(t.pier.store.db, {
    id: instanceId, created_at: now, updated_at: now, organization_id: t.organizationId, app_id: appId, service_id: serviceId,
    regional_deployment_id: rd!.id, allocation_id: 'alloc-1', type: 'nano', replica_index: 0, region: 'fra', datacenter: '',
    hypervisor: 'docker', status: 'HEALTHY', messages: [], started_at: now, succeeded_at: null, terminated_at: null,
    xyz_deployment_id: service.latest_deployment_id,
  } as Instance);
  await appendMetricSamples(t.pier.store.db, [
    sample('HTTP_THROUGHPUT', '', 50, 2), sample('HTTP_THROUGHPUT', '', 49, 4), sample('HTTP_THROUGHPUT', '', 20, 10),
    sample('HTTP_THROUGHPUT', '', 90, 99), // before the window
    sample('CPU_TOTAL_PERCENT', instanceId, 10, 30), sample('CPU_TOTAL_PERCENT', 'other-instance', 10, 70),
  ]);
});
after(async () => { await t?.close(); });

const window = `start=2026-01-01T00:00:00Z&end=2026-01-01T01:00:00Z`;

test('GET /v1/streams/metrics buckets a service series by step', async () => {
  const r = await t.req('GET', `/v1/streams/metrics?service_id=${serviceId}&name=HTTP_THROUGHPUT&${window}&step=5m`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { metrics: [{ labels: { service_id: serviceId }, samples: [
    { timestamp: '2026-01-01T00:10:00.000Z', value: 3 }, { timestamp: '2026-01-01T00:40:00.000Z', value: 10 },
  ] }] });
});

test('per-instance metrics come one series per instance; instance_id narrows to one', async () => {
  const all = await t.req('GET', `/v1/streams/metrics?service_id=${serviceId}&name=CPU_TOTAL_PERCENT&${window}&step=1h`);
  assert.deepEqual(all.body.metrics.map((m: any) => [m.labels.instance_id, m.samples[0].value]), [[instanceId, 30], ['other-instance', 70]]);
  const one = await t.req('GET', `/v1/streams/metrics?instance_id=${instanceId}&name=CPU_TOTAL_PERCENT&${window}&step=1h`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.body.metrics.map((m: any) => m.labels.instance_id), [instanceId]);
  const none = await t.req('GET', `/v1/streams/metrics?service_id=${serviceId}&name=MEM_RSS&${window}`);
  assert.deepEqual(none.body, { metrics: [] });
});

test('another organization sees neither the service nor the instance', async () => {
  const other = await t.otherOrgToken();
  const s = await t.req('GET', `/v1/streams/metrics?service_id=${serviceId}&name=HTTP_THROUGHPUT`, undefined, other);
  assert.equal(s.status, 404);
  assert.equal(s.body.code, 'unknown_resource');
  const i = await t.req('GET', `/v1/streams/metrics?instance_id=${instanceId}&name=CPU_TOTAL_PERCENT`, undefined, other);
  assert.equal(i.status, 404);
  assert.equal((await t.req('GET', `/v1/streams/metrics?service_id=${serviceId}&name=HTTP_THROUGHPUT`, undefined, null)).status, 401);
});

test('bad queries are 400 with the field named', async () => {
  const cases: [string, string][] = [
    [`service_id=${serviceId}`, 'name'],
    [`service_id=${serviceId}&name=UNKNOWN`, 'name'],
    ['name=MEM_RSS', 'service_id'],
    [`service_id=${serviceId}&name=MEM_RSS&step=5d`, 'step'],
    [`service_id=${serviceId}&name=MEM_RSS&step=1s&start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z`, 'step'],
    [`service_id=${serviceId}&name=MEM_RSS&start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z`, 'start'],
    [`service_id=${serviceId}&name=MEM_RSS&start=yesterday`, 'start'],
  ];
  for (const [q, field] of cases) {
    const r = await t.req('GET', `/v1/streams/metrics?${q}`);
    assert.equal(r.status, 400, q);
    assert.equal(r.body.fields?.[0]?.field, field, q);
  }
});

// Validates API replies against Koyeb's own schemas (the reference spec, read at test time, never copied).
// Pier-documented deviation: unset timestamps are JSON null (Koyeb's clients accept null), so date-time strings
// are allowed to be null here. Core resources are checked with additionalProperties:false to catch misnamed fields.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { startTestPier, createApp, createService, webDefinition, type TestPier } from './helpers.ts';
import { insertInstance } from '../../src/store/instances.ts';
import { listRegionalDeploymentsOf } from '../../src/store/regional-deployments.ts';
import { appendEvent } from '../../src/store/events.ts';
import type { Instance } from '../../src/domain/types.ts';

const repoRoot = new URL('../..', import.meta.url).pathname;
// The reference lives beside the repository (../shared/reference) on the team's machines; a clone elsewhere on the
// same machine finds it through PIER_REFERENCE_DIR or the workplace's fixed path.
const specCandidates = [
  ...(process.env.PIER_REFERENCE_DIR ? [resolve(process.env.PIER_REFERENCE_DIR, 'koyeb-api-v1-core.json')] : []),
  resolve(repoRoot, '../shared/reference/koyeb-api-v1-core.json'),
  '/work/shared/reference/koyeb-api-v1-core.json',
];
const specPath = specCandidates.find((p) => existsSync(p)) ?? specCandidates[0]!;
const hasSpec = existsSync(specPath);
const STRICT = ['App', 'Service', 'Deployment', 'RegionalDeployment', 'Instance', 'DeploymentDefinition', 'RegionalDeploymentDefinition', 'Secret'];

function nullableTimes(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(nullableTimes);
  if (!node || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = nullableTimes(v);
  if (obj.type === 'string' && obj.format === 'date-time') out.type = ['string', 'null'];
  return out;
}

let validator: (name: string, value: unknown) => void;
let t: TestPier;

before(async () => {
  if (!hasSpec) return;
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as { definitions: Record<string, Record<string, unknown>> };
  const definitions = nullableTimes(spec.definitions) as Record<string, Record<string, unknown>>;
  for (const name of STRICT) definitions[name] = { ...definitions[name], additionalProperties: false };
  const ajv = new Ajv.default({ strict: false, allErrors: true });
  addFormats.default(ajv);
  for (const f of ['int32', 'int64', 'uint64', 'float', 'double', 'byte']) ajv.addFormat(f, true);
  ajv.addSchema({ $id: 'koyeb', definitions });
  validator = (name, value) => {
    const v = ajv.getSchema(`koyeb#/definitions/${name}`);
    assert.ok(v, `no schema ${name}`);
    assert.ok(v(value), `${name}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(value).slice(0, 400)}`);
  };
  t = await startTestPier();
});
after(async () => { await t?.close(); });

test('replies match the reference spec schemas', { skip: hasSpec ? false : `reference spec not found at ${specPath}` }, async () => {
  const appId = await createApp(t, 'schema');
  const service = await createService(t, appId, 'web', webDefinition({ regions: ['fra', 'was'] }));
  const depId = service.latest_deployment_id;
  const [rd] = await listRegionalDeploymentsOf(t.pier.store.db, depId);
  const now = new Date().toISOString();
  const instance: Instance = {
    id: '5b3c7a56-0a51-4d7e-9a55-0a3b3d7c2f10', created_at: now, updated_at: now, organization_id: t.organizationId,
    app_id: appId, service_id: service.id, regional_deployment_id: rd!.id, allocation_id: 'alloc-1', type: 'nano',
    replica_index: 0, region: rd!.region, datacenter: rd!.datacenters[0] ?? '', hypervisor: 'docker', status: 'STARTING',
    messages: ['Instance is starting'], started_at: now, succeeded_at: null, terminated_at: null, xyz_deployment_id: depId,
  };
  await insertInstance(t.pier.store.db, instance);
  await appendEvent(t.pier.store.db, { kind: 'instance', resourceId: instance.id, organizationId: t.organizationId, type: 'started', message: 'x' });
  const secret = (await t.req('POST', '/v1/secrets', { name: 'tok', value: 'v' })).body.secret;

  const checks: [string, string][] = [
    [`/v1/apps/${appId}`, 'GetAppReply'],
    ['/v1/apps', 'ListAppsReply'],
    [`/v1/services/${service.id}`, 'GetServiceReply'],
    [`/v1/services?app_id=${appId}`, 'ListServicesReply'],
    [`/v1/deployments/${depId}`, 'GetDeploymentReply'],
    [`/v1/deployments?service_id=${service.id}`, 'ListDeploymentsReply'],
    [`/v1/regional_deployments/${rd!.id}`, 'GetRegionalDeploymentReply'],
    [`/v1/regional_deployments?deployment_id=${depId}`, 'ListRegionalDeploymentsReply'],
    [`/v1/instances/${instance.id}`, 'GetInstanceReply'],
    [`/v1/instances?service_id=${service.id}`, 'ListInstancesReply'],
    [`/v1/deployment/${depId}/scaling`, 'GetDeploymentScalingReply'],
    [`/v1/app_events?app_id=${appId}`, 'ListAppEventsReply'],
    [`/v1/service_events?service_id=${service.id}`, 'ListServiceEventsReply'],
    [`/v1/deployment_events?deployment_id=${depId}`, 'ListDeploymentEventsReply'],
    [`/v1/instance_events?instance_ids=${instance.id}`, 'ListInstanceEventsReply'],
    [`/v1/secrets/${secret.id}`, 'GetSecretReply'],
    ['/v1/secrets', 'ListSecretsReply'],
    [`/v1/services/${service.id}/scale`, 'GetServiceScalingReply'],
    ['/v1/catalog/regions', 'ListRegionsReply'],
    ['/v1/catalog/regions/fra', 'GetRegionReply'],
    ['/v1/catalog/instances', 'ListCatalogInstancesReply'],
    ['/v1/catalog/instances/nano', 'GetCatalogInstanceReply'],
    [`/v1/streams/logs/query?service_id=${service.id}`, 'QueryLogsReply'],
  ];
  for (const [path, schema] of checks) {
    const r = await t.req('GET', path);
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
    validator(schema, r.body);
  }
  const list = (await t.req('GET', `/v1/instances?service_id=${service.id}`)).body;
  assert.equal(list.instances.length, 1);
  validator('RedeployReply', (await t.req('POST', `/v1/services/${service.id}/redeploy`, {})).body);
  validator('UpdateServiceReply', (await t.req('PUT', `/v1/services/${service.id}`, { definition: webDefinition() })).body);
  validator('CreateAppReply', (await t.req('POST', '/v1/apps', { name: 'schema-two' })).body);
  validator('ErrorWithFields', (await t.req('POST', '/v1/apps', { name: '!' })).body);
  validator('Error', (await t.req('GET', '/v1/apps/nope')).body);
});

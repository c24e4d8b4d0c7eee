// The core-API behaviours Koyeb's own clients depend on (issue #18), against a real Pier without a runtime:
// dry runs before the app exists (`koyeb apps init`), the account and organization routes (`whoami`,
// `organizations list/switch`, `--organization`), list filters (`ids`, `regions`), services-autocomplete.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestPier, createApp, createService, webDefinition, type TestPier } from '../api/helpers.ts';
import { errorCodeOf } from '../../src/api/error-body.ts';
import { existsSync, readFileSync } from 'node:fs';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { generateToken, insertToken } from '../../src/store/organizations.ts';
import { updateDeployment } from '../../src/store/deployments.ts';
import { updateService } from '../../src/store/services.ts';

// Koyeb's full spec (account and organization shapes are outside the core one), beside the repository when present.
const fullSpec = ['/work/shared/reference/koyeb-openapi.json', new URL('../../../shared/reference/koyeb-openapi.json', import.meta.url).pathname]
  .find((p) => existsSync(p));

/** Validates `value` against Koyeb's schema `name` (strict on the objects Pier builds), null allowed for dates. */
function koyebSchema(): (name: string, value: unknown) => void {
  const spec = JSON.parse(readFileSync(fullSpec!, 'utf8')) as { definitions: Record<string, Record<string, unknown>> };
  const defs = JSON.parse(JSON.stringify(spec.definitions).replaceAll('"format":"date-time"', '"format":"date-time","nullable":true')) as Record<string, Record<string, unknown>>;
  for (const n of ['User', 'Organization', 'OrganizationMember', 'PublicUser', 'PublicOrganization', 'Token']) defs[n] = { ...defs[n], additionalProperties: false };
  const ajv = new Ajv.default({ strict: false, allErrors: true });
  addFormats.default(ajv);
  for (const f of ['int32', 'int64', 'uint64', 'float', 'double', 'byte']) ajv.addFormat(f, true);
  ajv.addSchema({ $id: 'koyeb', definitions: defs });
  return (name, value) => {
    const v = ajv.getSchema(`koyeb#/definitions/${name}`)!;
    assert.ok(v(value), `${name}: ${ajv.errorsText(v.errors)}\n${JSON.stringify(value).slice(0, 400)}`);
  };
}

let t: TestPier;
before(async () => { t = await startTestPier(); });
after(async () => { await t.close(); });

async function counts(): Promise<[number, number]> {
  const apps = await t.req('GET', '/v1/apps?limit=100');
  const services = await t.req('GET', '/v1/services?limit=100');
  return [apps.body.count, services.body.count];
}

test('a dry run with an app id that does not exist validates the definition only and writes nothing', async () => {
  const before = await counts();
  const made = randomUUID();
  const ok = await t.req('POST', '/v1/services?dry_run=true', { app_id: made, name: 'web', definition: webDefinition() });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.service.name, 'web');
  assert.equal(ok.body.service.app_id, made);
  assert.deepEqual(await counts(), before, 'nothing written');
  assert.equal((await t.req('GET', `/v1/services/${ok.body.service.id}`)).status, 404);

  // Validation still runs: a bad definition and a missing secret are 400s naming the field.
  const bad = await t.req('POST', '/v1/services?dry_run=true', { app_id: made, name: 'web', definition: webDefinition({ ports: [{ port: 0, protocol: 'http' }] }) });
  assert.equal(bad.status, 400, JSON.stringify(bad.body));
  const secret = await t.req('POST', '/v1/services?dry_run=true', {
    app_id: made, name: 'web', definition: webDefinition({ env: [{ key: 'K', secret: 'nope' }] }),
  });
  assert.equal(secret.status, 400, JSON.stringify(secret.body));
  assert.equal(secret.body.fields[0].field, 'definition.env[0].secret');
  // Without dry_run the same made-up app is a 404.
  assert.equal((await t.req('POST', '/v1/services', { app_id: made, name: 'web', definition: webDefinition() })).status, 404);
});

test("a dry run naming another organization's app learns nothing about it (no clash with its routes)", async () => {
  const theirs = await createApp(t, 'theirs');
  await createService(t, theirs, 'front', webDefinition());
  const other = await t.otherOrgToken();
  const r = await t.req('POST', '/v1/services?dry_run=true', { app_id: theirs, name: 'front', definition: webDefinition() }, other);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // In our own app the clash with the sibling's route is still reported on a dry run.
  const own = await t.req('POST', '/v1/services?dry_run=true', { app_id: theirs, name: 'back', definition: webDefinition() });
  assert.equal(own.status, 409, JSON.stringify(own.body));
  assert.equal(errorCodeOf(own.body), 'already_exists');
});

test('account and organization routes answer for the calling token and its organization only', async () => {
  const profile = await t.req('GET', '/v1/account/profile');
  assert.equal(profile.status, 200, JSON.stringify(profile.body));
  const userId = profile.body.user.id;
  const current = await t.req('GET', '/v1/account/organization');
  assert.equal(current.body.organization.id, t.organizationId);
  assert.equal(current.body.organization.name, 'pier');
  const mine = await t.req('GET', '/v1/account/organizations');
  assert.deepEqual(mine.body.organizations.map((o: any) => o.id), [t.organizationId]);
  assert.equal((await t.req('GET', `/v1/organizations/${t.organizationId}`)).body.organization.id, t.organizationId);
  const members = await t.req('GET', `/v1/organization_members?user_id=${userId}&limit=100&offset=0`);
  assert.equal(members.body.count, 1);
  assert.equal(members.body.members[0].organization.id, t.organizationId);
  assert.equal((await t.req('GET', `/v1/organization_members?user_id=${randomUUID()}`)).body.count, 0);
  const sw = await t.req('POST', `/v1/organizations/${t.organizationId}/switch`, {});
  assert.equal(sw.status, 200, JSON.stringify(sw.body));
  assert.equal(sw.body.token.id, t.token, 'the caller keeps its own token');
  assert.equal(sw.body.token.organization_id, t.organizationId);
  if (fullSpec) {
    const check = koyebSchema();
    check('UserReply', profile.body);
    check('GetOrganizationReply', current.body);
    check('ListUserOrganizationsReply', mine.body);
    check('ListOrganizationMembersReply', members.body);
    check('LoginReply', sw.body);
  }

  // Another organization: never readable, never switchable, never listed; the answer is the same as for no org at all.
  const other = await t.otherOrgToken();
  const otherOrg = (await t.req('GET', '/v1/account/organization', undefined, other)).body.organization.id;
  assert.notEqual(otherOrg, t.organizationId);
  for (const id of [otherOrg, randomUUID()]) {
    const get = await t.req('GET', `/v1/organizations/${id}`);
    const swi = await t.req('POST', `/v1/organizations/${id}/switch`, {});
    assert.equal(get.status, 404);
    assert.equal(swi.status, 404);
    assert.equal(swi.body.message, `organization not found: ${id}`);
    assert.equal((await t.req('GET', `/v1/organization_members?organization_id=${id}`)).body.count, 0);
  }
  assert.deepEqual((await t.req('GET', '/v1/account/organizations', undefined, other)).body.organizations.map((o: any) => o.id), [otherOrg]);
  assert.equal((await t.req('GET', '/v1/account/profile', undefined, null)).status, 401);
});

test('a read-only token may switch to its organization (it reads) and gets its own read-only token back', async () => {
  const token = generateToken();
  await insertToken(t.pier.store.db, t.organizationId, 'viewer', token, { readOnly: true });
  const sw = await t.req('POST', `/v1/organizations/${t.organizationId}/switch`, {}, token);
  assert.equal(sw.status, 200, JSON.stringify(sw.body));
  assert.equal(sw.body.token.id, token);
  assert.equal((await t.req('POST', '/v1/apps', { name: 'nope' }, sw.body.token.id)).status, 403);
});

test('the ids filter on every list that declares it, and regions on services', async () => {
  const appA = await createApp(t, 'filters-a');
  const appB = await createApp(t, 'filters-b');
  const fra = await createService(t, appA, 'in-fra', webDefinition({ regions: ['fra'], routes: [{ port: 8080, path: '/fra' }] }));
  const par = await createService(t, appA, 'in-par', webDefinition({ regions: ['par'], routes: [{ port: 8080, path: '/par' }] }));
  const s1 = (await t.req('POST', '/v1/secrets', { name: 'filters-one', value: 'x' })).body.secret.id;
  await t.req('POST', '/v1/secrets', { name: 'filters-two', value: 'y' });
  const only = async (path: string, key: string, id: string) => {
    const r = await t.req('GET', `${path}${path.includes('?') ? '&' : '?'}ids=${id}`);
    assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
    assert.deepEqual(r.body[key].map((x: any) => x.id), [id], path);
    assert.equal(r.body.count, 1, path);
  };
  await only('/v1/apps', 'apps', appB);
  await only('/v1/services', 'services', par.id);
  await only('/v1/secrets', 'secrets', s1);
  await only('/v1/deployments', 'deployments', fra.latest_deployment_id);
  const rds = (await t.req('GET', `/v1/regional_deployments?deployment_id=${par.latest_deployment_id}`)).body.regional_deployments;
  await only('/v1/regional_deployments', 'regional_deployments', rds[0].id);
  const domain = (await t.req('GET', '/v1/domains')).body.domains.find((d: any) => d.app_id === appB);
  await only('/v1/domains', 'domains', domain.id);
  // Two ids, repeated as the SDK sends them; an id of another organization's resource matches nothing.
  const two = await t.req('GET', `/v1/apps?ids=${appA}&ids=${appB}`);
  assert.deepEqual(two.body.apps.map((a: any) => a.id).sort(), [appA, appB].sort());
  const other = await t.otherOrgToken();
  assert.equal((await t.req('GET', `/v1/apps?ids=${appA}`, undefined, other)).body.count, 0);

  const inFra = await t.req('GET', `/v1/services?app_id=${appA}&regions=fra`);
  assert.deepEqual(inFra.body.services.map((s: any) => s.id), [fra.id]);
  const both = await t.req('GET', `/v1/services?app_id=${appA}&regions=fra&regions=par`);
  assert.equal(both.body.count, 2);
  assert.equal((await t.req('GET', `/v1/services?app_id=${appA}&regions=sin`)).body.count, 0);
});

test('services-autocomplete names the organization\'s secrets, the definition\'s env keys and the system variables', async () => {
  await t.req('POST', '/v1/secrets', { name: 'ac-simple', value: 'x' });
  const other = await t.otherOrgToken();
  await t.req('POST', '/v1/secrets', { name: 'ac-theirs', value: 'y' }, other);
  const r = await t.req('POST', '/v1/services-autocomplete', { definition: { env: [{ key: 'A', value: '1' }, { key: 'B', secret: 'ac-simple' }, { value: 'no key' }] } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok(r.body.secrets.includes('ac-simple'));
  assert.ok(!r.body.secrets.includes('ac-theirs'), 'never another organization\'s secrets');
  assert.deepEqual(r.body.user_env, ['A', 'B']);
  assert.ok(r.body.system_env.includes('KOYEB_PUBLIC_DOMAIN'));
  if (fullSpec) koyebSchema()('AutocompleteReply', r.body);
  // An empty body (no definition yet) still answers; a read-only token may ask.
  const token = generateToken();
  await insertToken(t.pier.store.db, t.organizationId, 'ac-viewer', token, { readOnly: true });
  const empty = await t.req('POST', '/v1/services-autocomplete', {}, token);
  assert.equal(empty.status, 200, JSON.stringify(empty.body));
  assert.deepEqual(empty.body.user_env, []);
});

test('after a canceled deployment, a redeploy follows the active deployment, not the canceled one', async () => {
  const app = await createApp(t, 'parents');
  const s = await createService(t, app, 'web', webDefinition({ routes: [{ port: 8080, path: '/' }] }));
  const first = s.latest_deployment_id;
  // No runtime in this suite: the first deployment is made the running one through the store, as the reconciler would.
  await updateDeployment(t.pier.store.db, first, { status: 'HEALTHY' });
  await updateService(t.pier.store.db, s.id, { status: 'HEALTHY', active_deployment_id: first });
  const upd = await t.req('PUT', `/v1/services/${s.id}`, { definition: webDefinition({ env: [{ key: 'GREETING', value: 'abandoned' }] }) });
  assert.equal(upd.status, 200, JSON.stringify(upd.body));
  const second = upd.body.service.latest_deployment_id;
  assert.equal((await t.req('GET', `/v1/deployments/${second}`)).body.deployment.parent_id, first);
  assert.deepEqual((await t.req('POST', `/v1/deployments/${second}/cancel`)).body, {});
  await updateDeployment(t.pier.store.db, second, { status: 'CANCELED' });

  const re = await t.req('POST', `/v1/services/${s.id}/redeploy`, {});
  assert.equal(re.status, 200, JSON.stringify(re.body));
  assert.equal(re.body.deployment.parent_id, first, 'the parent is the running deployment');
  assert.deepEqual(re.body.deployment.definition.env.map((e: any) => [e.key, e.value]), [['GREETING', 'hello']],
    'the running definition is redeployed, not the canceled change');
});

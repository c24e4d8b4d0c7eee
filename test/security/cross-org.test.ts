// Every API route, table-driven from the router's own table: no token gives 401, another organization's ids give 404
// (never 403, so existence does not leak), lists never show another organization's ids, read-only tokens get 403 on writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiRoutes } from '../../src/api/routes.ts';
import { SELF_AUTHENTICATED_OPERATIONS } from '../../src/api/routes-push.ts';
import { createApp, createService, startTestPier } from '../api/helpers.ts';

// Operator routes answer 403 to every token but a full one of the installation organization.
const OPERATOR_ONLY = new Set(['PierListOrganizations', 'PierCreateOrganization', 'PierEdgeRoutes', 'PierListRemoteEdges', 'PierEdgeWake', 'PierSetQuotas']);
// POSTs that create or change nothing (Koyeb declares them as POST): a read-only token may call them. Listed here
// by hand, not read from the route table, so a write that is mislabelled as a read still fails this test.
const READ_POSTS = new Set(['SwitchOrganization', 'Autocomplete']);
const GLOBAL_PARAMS: Record<string, string> = { '/v1/catalog/regions/{id}': 'fra', '/v1/catalog/instances/{id}': 'nano' };

test('cross-organization access over every route', async () => {
  const t = await startTestPier();
  try {
    // Organization A's resources.
    const appId = await createApp(t, 'victim');
    const svc = await createService(t, appId, 'web');
    const secret = (await t.req('POST', '/v1/secrets', { name: 'db-password', type: 'SIMPLE', value: 's3cr3t-value' })).body.secret;
    assert.ok(secret?.id, 'secret created');
    const ro = (await t.req('POST', '/v1/credentials', { name: 'ro', read_only: true })).body.credential;
    const deployments = (await t.req('GET', `/v1/deployments?service_id=${svc.id}`)).body.deployments as any[];
    const rds = (await t.req('GET', `/v1/regional_deployments?service_id=${svc.id}`)).body.regional_deployments as any[] | undefined;
    const instances = (await t.req('GET', `/v1/instances?service_id=${svc.id}`)).body.instances as any[] | undefined;
    const archive = await t.req('POST', '/v1/archives', { size: '10' });
    const ids: Record<string, string> = {
      apps: appId, services: svc.id, deployments: deployments[0]?.id ?? svc.latest_deployment_id, deployment: deployments[0]?.id ?? svc.latest_deployment_id,
      regional_deployments: rds?.[0]?.id ?? 'missing-rd', instances: instances?.[0]?.id ?? 'missing-instance', secrets: secret.id,
      credentials: ro.id, archives: archive.body?.archive?.id ?? 'missing-archive', git: svc.id,
    };
    const aIds = [appId, svc.id, secret.id, ro.id, ids.deployments!].filter(Boolean);
    const other = await t.otherOrgToken();

    const routes = apiRoutes();
    assert.ok(routes.length >= 40, 'the table covers the whole router');
    const fill = (path: string): string => {
      if (GLOBAL_PARAMS[path]) return path.replace('{id}', GLOBAL_PARAMS[path]!);
      const segs = path.split('/');
      return segs.map((s, i) => (s.startsWith('{') ? encodeURIComponent(ids[segs[i - 1] === 'pier' ? segs[i - 2]! : segs[i - 1]!] ?? ids[segs[i - 2]!] ?? 'x') : s)).join('/');
    };
    const query = `?app_id=${appId}&service_id=${svc.id}&deployment_id=${ids.deployments}&instance_ids=${ids.instances}&regional_deployment_id=${ids.regional_deployments}&id=${appId}`;
    // Bodies point at A's resources, so a handler that forgets the org check would act on them.
    const body = { app_id: appId, service_id: svc.id, name: 'intruder', definition: { type: 'WEB' }, value: 'x', size: '1' };

    let checked = 0;
    for (const r of routes) {
      const path = fill(r.path);
      const label = `${r.method} ${r.path} (${path})`;
      const hasParam = r.path.includes('{');
      const write = r.method !== 'GET' && !READ_POSTS.has(r.operationId);
      const selfAuth = SELF_AUTHENTICATED_OPERATIONS.has(r.operationId);

      const anon = await t.req(r.method, path + (hasParam ? '' : query), write ? body : undefined, null);
      if (selfAuth) assert.ok(anon.status >= 400 && anon.status < 500, `${label} anonymous: ${anon.status}`);
      else assert.equal(anon.status, 401, `${label} without token`);

      const b = await t.req(r.method, path + (hasParam ? '' : query), write ? body : undefined, other);
      assert.ok(b.status < 500, `${label} other org: ${b.status} ${JSON.stringify(b.body)}`);
      if (hasParam && !GLOBAL_PARAMS[r.path] && !OPERATOR_ONLY.has(r.operationId)) {
        if (selfAuth) assert.ok(b.status >= 400, `${label} other org: ${b.status}`);
        else assert.equal(b.status, 404, `${label} other org: ${b.status} ${JSON.stringify(b.body)}`);
        assert.equal(typeof b.body?.code, 'string', `${label} error body`);
      }
      if (OPERATOR_ONLY.has(r.operationId)) {
        // An operator route names the installation's objects, not a tenant's: 403 whatever the id, so nothing leaks.
        assert.equal(b.status, 403, `${label} other org`);
        assert.equal(typeof b.body?.code, 'string', `${label} error body`);
      }
      const text = JSON.stringify(b.body);
      for (const id of aIds) assert.ok(!text.includes(id) || text.includes(`not found: ${id}`), `${label} leaks ${id}: ${text.slice(0, 300)}`);
      assert.ok(!text.includes('s3cr3t-value'), `${label} leaks a secret value`);

      if (!selfAuth) {
        const rr = await t.req(r.method, path + (hasParam ? '' : query), write ? body : undefined, ro.token);
        if (write || OPERATOR_ONLY.has(r.operationId)) {
          assert.equal(rr.status, 403, `${label} read-only`);
          assert.equal(rr.body.code, 'authorization_required');
        } else {
          assert.ok(rr.status !== 401 && rr.status !== 403 && rr.status < 500, `${label} read-only read: ${rr.status}`);
        }
      }
      checked++;
    }
    assert.equal(checked, routes.length);

    // Nothing of A's changed: still there, same names, secret value intact.
    assert.equal((await t.req('GET', `/v1/apps/${appId}`)).body.app.name, 'victim');
    assert.equal((await t.req('GET', `/v1/services/${svc.id}`)).body.service.name, 'web');
    assert.equal((await t.req('GET', `/v1/credentials/${ro.id}`)).status, 200);
    const revealed = await t.req('POST', `/v1/secrets/${secret.id}/reveal`, {});
    assert.equal(revealed.status, 200);
    assert.ok(JSON.stringify(revealed.body).includes('s3cr3t-value'));
  } finally {
    await t.close();
  }
});

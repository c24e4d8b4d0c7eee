// API tokens: create/list/revoke via /v1/credentials, read-only tokens, immediate revocation, operator-made organizations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createApp, startTestPier } from '../api/helpers.ts';

test('credentials: create, list without secrets, read-only 403 on writes, revocation takes effect at once', async () => {
  const t = await startTestPier();
  try {
    const created = await t.req('POST', '/v1/credentials', { name: 'ci', description: 'for CI', read_only: true });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const ro = created.body.credential;
    assert.match(ro.token, /^pier_/);
    assert.equal(ro.read_only, true);
    assert.equal(ro.organization_id, t.organizationId);

    const list = await t.req('GET', '/v1/credentials');
    assert.equal(list.status, 200);
    assert.ok(list.body.credentials.some((c: any) => c.id === ro.id));
    assert.ok(!JSON.stringify(list.body).includes(ro.token), 'list never carries a token');
    const raw = t.pier.store.db;
    const rows = await raw.all<Record<string, unknown>>('SELECT * FROM api_tokens');
    assert.ok(!JSON.stringify(rows).includes(ro.token), 'only the hash is stored');

    // Read-only: reads work, every write is 403 authorization_required, including minting a wider token.
    assert.equal((await t.req('GET', '/v1/apps', undefined, ro.token)).status, 200);
    for (const [m, p, b] of [['POST', '/v1/apps', { name: 'nope' }], ['POST', '/v1/credentials', { name: 'x' }], ['DELETE', `/v1/credentials/${ro.id}`, undefined]] as const) {
      const r = await t.req(m, p, b, ro.token);
      assert.equal(r.status, 403, `${m} ${p}`);
      assert.equal(r.body.code, 'authorization_required');
    }
    assert.equal((await t.req('GET', '/v1/apps?name=nope')).body.apps.length, 0);

    // Full token: works, then revoked, then 401 on the very next request.
    const full = (await t.req('POST', '/v1/credentials', { name: 'deployer' })).body.credential;
    assert.equal(full.read_only, false);
    assert.equal((await createApp({ ...t, req: (m, p, b) => t.req(m, p, b, full.token) }, 'by-deployer')).length > 0, true);
    assert.equal((await t.req('DELETE', `/v1/credentials/${full.id}`)).status, 200);
    const after = await t.req('GET', '/v1/apps', undefined, full.token);
    assert.equal(after.status, 401);
    assert.equal(after.body.code, 'authentication_error');
    assert.equal((await t.req('GET', `/v1/credentials/${full.id}`)).status, 404);

    // Another organization cannot see or revoke this organization's tokens.
    const other = await t.otherOrgToken();
    assert.equal((await t.req('GET', `/v1/credentials/${ro.id}`, undefined, other)).status, 404);
    assert.equal((await t.req('DELETE', `/v1/credentials/${ro.id}`, undefined, other)).status, 404);
    assert.ok(!JSON.stringify((await t.req('GET', '/v1/credentials', undefined, other)).body).includes(ro.id));
    assert.equal((await t.req('GET', '/v1/apps', undefined, ro.token)).status, 200, 'still valid');

    // Validation.
    for (const bad of [{}, { name: '' }, { name: 'a', read_only: 'yes' }, { name: 'a', expires_at: '2001-01-01T00:00:00Z' }, [1], 'str']) {
      const r = await t.req('POST', '/v1/credentials', bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.equal(r.body.code, 'invalid_argument');
    }
  } finally {
    await t.close();
  }
});

test('operator creates an organization with its admin token; tenants are isolated and cannot create organizations', async () => {
  const t = await startTestPier();
  try {
    const r = await t.req('POST', '/v1/pier/organizations', { name: 'tenant-a' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const tenantToken = r.body.credential.token as string;
    assert.equal(r.body.credential.organization_id, r.body.organization.id);
    assert.equal((await t.req('POST', '/v1/pier/organizations', { name: 'tenant-a' })).status, 409);
    assert.equal((await t.req('POST', '/v1/pier/organizations', { name: 'Bad Name!' })).status, 400);

    await createApp(t, 'mine');
    const theirs = await t.req('GET', '/v1/apps', undefined, tenantToken);
    assert.equal(theirs.status, 200);
    assert.equal(theirs.body.apps.length, 0);
    assert.equal((await t.req('POST', '/v1/apps', { name: 'mine' }, tenantToken)).status, 200, 'names are per organization');

    const denied = await t.req('POST', '/v1/pier/organizations', { name: 'tenant-b' }, tenantToken);
    assert.equal(denied.status, 403);
    assert.equal((await t.req('GET', '/v1/pier/organizations', undefined, tenantToken)).status, 403);
    const orgs = await t.req('GET', '/v1/pier/organizations');
    assert.deepEqual(orgs.body.organizations.map((o: any) => o.name).slice(1), ['tenant-a']);
  } finally {
    await t.close();
  }
});

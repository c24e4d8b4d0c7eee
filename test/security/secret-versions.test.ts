// Secret versions and "who uses this secret": the data behind recording versions on deployments and offering redeploys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secretNamesOf, secretVersions, servicesUsingSecret } from '../../src/store/secrets.ts';
import { createApp, createService, startTestPier, webDefinition } from '../api/helpers.ts';

test('secretNamesOf finds env refs, interpolations and the registry secret', () => {
  assert.deepEqual(secretNamesOf({
    env: [{ key: 'A', secret: 'db-pass' }, { key: 'B', value: 'postgres://u:{{ secret.pg-pass }}@h/{{ APP }}' }, { key: 'C', value: 'plain' }],
    docker: { image: 'x', image_registry_secret: 'reg' },
  }), ['db-pass', 'pg-pass', 'reg']);
  assert.deepEqual(secretNamesOf(undefined), []);
  assert.deepEqual(secretNamesOf({ env: 'junk' }), []);
});

test('versions move with updates; services using a secret are listed per organization', async () => {
  const t = await startTestPier();
  try {
    const s = (await t.req('POST', '/v1/secrets', { name: 'db-pass', type: 'SIMPLE', value: 'one' })).body.secret;
    const org = t.organizationId;
    const v1 = await secretVersions(t.pier.store.db, org, ['db-pass', 'missing']);
    assert.deepEqual(Object.keys(v1), ['db-pass']);
    assert.equal((await t.req('PUT', `/v1/secrets/${s.id}`, { name: 'db-pass', value: 'two' })).status, 200);
    const v2 = await secretVersions(t.pier.store.db, org, ['db-pass']);
    assert.equal(v2['db-pass'], v1['db-pass']! + 1);

    const appId = await createApp(t, 'users');
    const uses = await createService(t, appId, 'uses', webDefinition({ env: [{ key: 'DB', secret: 'db-pass' }] }));
    await createService(t, appId, 'plain');
    const users = await servicesUsingSecret(t.pier.store.db, org, 'db-pass');
    assert.deepEqual(users.map((u) => u.service_id), [uses.id]);
    assert.equal(users[0]!.deployment_id, uses.latest_deployment_id);

    const other = await t.otherOrgToken();
    const otherOrg = (await t.pier.store.db.get<{ organization_id: string }>('SELECT organization_id FROM api_tokens WHERE name = ?', ['other']))!.organization_id;
    assert.ok(other && otherOrg !== org);
    assert.deepEqual(await servicesUsingSecret(t.pier.store.db, otherOrg, 'db-pass'), []);
  } finally {
    await t.close();
  }
});

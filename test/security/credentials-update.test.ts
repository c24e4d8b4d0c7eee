// UpdateCredential (PUT/PATCH /v1/credentials/{id}): a token's name and description change; nothing that would widen
// or extend it does; another organization cannot touch it; a read-only token cannot update any.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPier } from '../api/helpers.ts';

test('credentials: rename and describe through PUT and PATCH, never widen, org-scoped, an activity per change', async () => {
  const t = await startTestPier();
  try {
    const ro = (await t.req('POST', '/v1/credentials', { name: 'ci', description: 'for CI', read_only: true })).body.credential;

    // The whole object echoed back with a new name (what the SDK sends): only the name changes.
    const put = await t.req('PUT', `/v1/credentials/${ro.id}`, { ...ro, token: undefined, name: 'ci-main' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.credential.name, 'ci-main');
    assert.equal(put.body.credential.description, 'for CI');
    assert.equal(put.body.credential.read_only, true);
    assert.equal(put.body.credential.token, undefined, 'an update never returns the secret');

    // PATCH with an update_mask: only the masked field changes, even if the body carries others.
    const patch = await t.req('PATCH', `/v1/credentials/${ro.id}?update_mask=description`, { name: 'ignored', description: 'nightly builds' });
    assert.equal(patch.status, 200, JSON.stringify(patch.body));
    assert.equal(patch.body.credential.name, 'ci-main');
    assert.equal(patch.body.credential.description, 'nightly builds');
    const got = (await t.req('GET', `/v1/credentials/${ro.id}`)).body.credential;
    assert.equal(got.name, 'ci-main');
    assert.equal(got.description, 'nightly builds');

    // Widening or extending is refused, naming the field, and nothing is written.
    for (const [body, field] of [[{ read_only: false }, 'read_only'], [{ expires_at: '2999-01-01T00:00:00Z' }, 'expires_at'], [{ name: '' }, 'name'], [{ colour: 'red' }, 'colour']] as const) {
      const r = await t.req('PATCH', `/v1/credentials/${ro.id}`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.ok(JSON.stringify(r.body).includes(field), `names ${field}: ${JSON.stringify(r.body)}`);
    }
    const masked = await t.req('PATCH', `/v1/credentials/${ro.id}?update_mask=read_only`, { read_only: false });
    assert.equal(masked.status, 400);
    const still = (await t.req('GET', `/v1/credentials/${ro.id}`)).body.credential;
    assert.deepEqual([still.name, still.description, still.read_only], ['ci-main', 'nightly builds', true]);
    // The read-only token itself still cannot write (403 before the handler), and still reads.
    assert.equal((await t.req('PATCH', `/v1/credentials/${ro.id}`, { name: 'mine' }, ro.token)).status, 403);
    assert.equal((await t.req('GET', '/v1/apps', undefined, ro.token)).status, 200);

    // Another organization: 404, and the token is unchanged.
    const other = await t.otherOrgToken();
    assert.equal((await t.req('PUT', `/v1/credentials/${ro.id}`, { name: 'taken' }, other)).status, 404);
    assert.equal((await t.req('GET', `/v1/credentials/${ro.id}`)).body.credential.name, 'ci-main');

    // One activity per change that changed something (the refused ones wrote none).
    const acts = (await t.req('GET', '/v1/activities?types=credential')).body.activities as Array<{ verb: string; object: { id: string } }>;
    assert.equal(acts.filter((a) => a.verb === 'updated' && a.object.id === ro.id).length, 2, JSON.stringify(acts));
  } finally {
    await t.close();
  }
});

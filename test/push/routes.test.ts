// The push webhook and archive routes through a real API (no controller): secrets shown once, signatures checked
// before anything is written, pushes to the tracked branch create a deployment at the pushed sha; archives get a
// signed upload URL, refuse oversize uploads (413) and a second upload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { createApp, startTestPier, webDefinition } from '../api/helpers.ts';

const gitDef = (extra: Record<string, unknown> = {}) => {
  // A remote URL: tenants may not name repositories on the host's disk (nothing here fetches it).
  const d = webDefinition({ git: { repository: 'https://git.example.invalid/o/r.git', branch: 'main', ...extra } });
  delete d.docker;
  return d;
};

async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: await res.json() };
}

test('webhook: secret shown once, wrong signature refused with nothing written, other branch skipped, push deploys the sha', async () => {
  const t = await startTestPier();
  try {
    const appId = await createApp(t, 'pushapp');
    const svc = (await t.req('POST', '/v1/services', { app_id: appId, name: 'web', definition: gitDef() })).body.service;
    // Reading never creates a credential: GET says whether a secret exists; POST creates it and shows it once.
    const unread = await t.req('GET', `/v1/pier/services/${svc.id}/webhook`);
    assert.equal(unread.status, 200);
    assert.deepEqual([unread.body.secret, unread.body.secret_exists], [null, false]);
    const first = await t.req('POST', `/v1/pier/services/${svc.id}/webhook`);
    assert.equal(first.status, 200);
    assert.match(first.body.secret, /^[0-9a-f]{48}$/);
    const url: string = first.body.url;
    assert.equal(url, `${t.url}/v1/pier/webhooks/git/${svc.id}`);
    const again = await t.req('POST', `/v1/pier/services/${svc.id}/webhook`);
    assert.equal(again.body.secret, null);
    const read = await t.req('GET', `/v1/pier/services/${svc.id}/webhook`);
    assert.deepEqual([read.body.secret, read.body.secret_exists, read.body.url], [null, true, url]);
    assert.equal((await t.req('GET', `/v1/pier/services/${svc.id}/webhook`, undefined, await t.otherOrgToken())).status, 404);
    assert.equal((await t.req('POST', `/v1/pier/services/${svc.id}/webhook`, undefined, await t.otherOrgToken())).status, 404);
    const secret: string = first.body.secret;
    const count = async () => (await t.req('GET', `/v1/deployments?service_id=${svc.id}`)).body.count as number;
    assert.equal(await count(), 1);

    const sha = 'c0ffee'.padEnd(40, '1');
    const payload = JSON.stringify({ ref: 'refs/heads/main', after: sha, sender: { login: 'octo' } });
    const sig = (b: string, s = secret) => 'sha256=' + createHmac('sha256', s).update(b).digest('hex');
    const gh = { 'x-github-event': 'push' };

    assert.equal((await post(url, payload, { ...gh, 'x-hub-signature-256': sig(payload, 'wrong') })).status, 401);
    assert.equal((await post(url, payload, gh)).status, 401);
    assert.equal((await post(url, payload, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'nope' })).status, 401);
    const unknown = await post(`${t.url}/v1/pier/webhooks/git/00000000-0000-0000-0000-000000000000`, payload, { ...gh, 'x-hub-signature-256': sig(payload) });
    assert.equal(unknown.status, 401);
    assert.equal(await count(), 1);

    const other = JSON.stringify({ ref: 'refs/heads/dev', after: sha });
    const skipped = await post(url, other, { ...gh, 'x-hub-signature-256': sig(other) });
    assert.equal(skipped.status, 200);
    assert.match(skipped.body.skipped, /refs\/heads\/dev/);
    assert.equal(await count(), 1);

    const ok = await post(url, payload, { ...gh, 'x-hub-signature-256': sig(payload) });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.sha, sha);
    const d = (await t.req('GET', `/v1/deployments/${ok.body.deployment_id}`)).body.deployment;
    assert.equal(d.definition.git.sha, sha);
    assert.equal(d.definition.git.branch, 'main');
    assert.equal(d.metadata.trigger.type, 'GIT');
    assert.equal(d.metadata.trigger.git.sha, sha);
    assert.equal(d.metadata.trigger.git.sender_username, 'octo');
    assert.equal(await count(), 2);

    // GitLab style, with a rotated secret: the old one stops working.
    const rotated = (await t.req('POST', `/v1/pier/services/${svc.id}/webhook/rotate`)).body.secret as string;
    assert.notEqual(rotated, secret);
    const gl = JSON.stringify({ ref: 'refs/heads/main', checkout_sha: 'd'.repeat(40) });
    assert.equal((await post(url, gl, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': secret })).status, 401);
    const glOk = await post(url, gl, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': rotated });
    assert.equal(glOk.status, 200, JSON.stringify(glOk.body));
    assert.equal(await count(), 3);

    // no_deploy_on_push: verified, but skipped.
    assert.equal((await t.req('PATCH', `/v1/services/${svc.id}`, { definition: gitDef({ no_deploy_on_push: true }) })).status, 200);
    const n = await count();
    const off = await post(url, gl, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': rotated });
    assert.match(off.body.skipped, /no_deploy_on_push/);
    assert.equal(await count(), n);
  } finally {
    await t.close();
  }
});

test('archives: create returns a signed upload URL; oversize uploads get 413; the tar.gz lands in <data-dir>/archives', async () => {
  const t = await startTestPier();
  try {
    assert.equal((await t.req('POST', '/v1/archives', { size: String(10 ** 12) })).status, 413);
    assert.equal((await t.req('POST', '/v1/archives', { size: '10' }, null)).status, 401);
    const small = (await t.req('POST', '/v1/archives', { size: '10' })).body.archive;
    assert.equal(small.size, '10');
    const tooBig = await fetch(small.upload_url, { method: 'PUT', body: Buffer.alloc(11, 1) });
    assert.equal(tooBig.status, 413);
    const created = await t.req('POST', '/v1/archives', { size: '100' });
    assert.equal(created.status, 200);
    const a = created.body.archive;
    assert.match(a.upload_url, new RegExp(`/v1/pier/archives/${a.id}/upload\\?token=`));
    const forged = await fetch(a.upload_url.replace(/token=.*/, 'token=forged'), { method: 'PUT', body: Buffer.alloc(5, 1) });
    assert.equal(forged.status, 401);
    const up = await fetch(a.upload_url, { method: 'PUT', body: Buffer.alloc(50, 1) });
    assert.equal(up.status, 200, await up.text());
    const dataDir = dirname(t.pier.credentialsPath);
    assert.ok(existsSync(join(dataDir, 'archives', `${a.id}.tar.gz`)), 'archive file stored');
    assert.equal((await fetch(a.upload_url, { method: 'PUT', body: Buffer.alloc(5, 1) })).status, 409);
  } finally {
    await t.close();
  }
});

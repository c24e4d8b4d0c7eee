// Webhook credential checks and push parsing (pure): GitHub HMAC, GitLab token, and which pushes deploy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { parsePush, skipReason, verifyPushSignature } from '../../src/api/routes-push.ts';

const secret = 's3cret-value';
const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40), sender: { login: 'octo' } }));
const sign = (b: Buffer, s = secret) => 'sha256=' + createHmac('sha256', s).update(b).digest('hex');

test('GitHub: a correct HMAC verifies; a wrong secret, a changed body or a missing header do not', () => {
  assert.equal(verifyPushSignature({ 'x-hub-signature-256': sign(body) }, body, secret), 'github');
  assert.equal(verifyPushSignature({ 'x-hub-signature-256': sign(body, 'other') }, body, secret), undefined);
  assert.equal(verifyPushSignature({ 'x-hub-signature-256': sign(body) }, Buffer.concat([body, Buffer.from(' ')]), secret), undefined);
  assert.equal(verifyPushSignature({ 'x-hub-signature-256': 'sha256=' }, body, secret), undefined);
  assert.equal(verifyPushSignature({}, body, secret), undefined);
  // A GitLab token header does not rescue a wrong GitHub signature.
  assert.equal(verifyPushSignature({ 'x-hub-signature-256': sign(body, 'x'), 'x-gitlab-token': secret }, body, secret), undefined);
});

test('GitLab: the token must equal the secret', () => {
  assert.equal(verifyPushSignature({ 'x-gitlab-token': secret }, body, secret), 'gitlab');
  assert.equal(verifyPushSignature({ 'x-gitlab-token': secret + 'x' }, body, secret), undefined);
  assert.equal(verifyPushSignature({ 'x-gitlab-token': '' }, body, secret), undefined);
});

test('parsePush reads ref, sha and sender for both providers; a branch deletion is marked', () => {
  const gh = parsePush('github', { 'x-github-event': 'push' }, body);
  assert.deepEqual(gh, { provider: 'github', event: 'push', ref: 'refs/heads/main', sha: 'a'.repeat(40), sender: 'octo', deleted: false });
  const gl = parsePush('gitlab', { 'x-gitlab-event': 'Push Hook' }, Buffer.from(JSON.stringify({ ref: 'refs/heads/dev', checkout_sha: 'b'.repeat(40), user_username: 'gl' })));
  assert.deepEqual(gl, { provider: 'gitlab', event: 'Push Hook', ref: 'refs/heads/dev', sha: 'b'.repeat(40), sender: 'gl', deleted: false });
  assert.equal(parsePush('github', { 'x-github-event': 'push' }, Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: '0'.repeat(40), deleted: true }))).deleted, true);
  assert.throws(() => parsePush('github', {}, Buffer.from('{nope')), /not valid JSON/);
});

test('skipReason: only a push to the tracked branch of a git service without no_deploy_on_push deploys', () => {
  const push = parsePush('github', { 'x-github-event': 'push' }, body);
  const def = { git: { repository: '/r', branch: 'main' } };
  assert.equal(skipReason(push, def), undefined);
  assert.match(skipReason(push, { git: { repository: '/r', branch: 'prod' } })!, /tracks refs\/heads\/prod/);
  assert.match(skipReason(push, { git: { repository: '/r', branch: 'main', no_deploy_on_push: true } })!, /no_deploy_on_push/);
  assert.match(skipReason(push, { docker: { image: 'x' } })!, /does not deploy from git/);
  assert.match(skipReason(push, { git: { repository: '/r', tag: 'v1' } })!, /does not track a branch/);
  assert.match(skipReason({ ...push, event: 'ping' }, def)!, /not a push/);
  assert.match(skipReason({ ...push, deleted: true, sha: '0'.repeat(40) }, def)!, /deleted/);
  assert.equal(skipReason({ ...push, provider: 'gitlab', event: 'Push Hook' }, def), undefined);
});

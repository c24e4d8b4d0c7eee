// Private registries end to end: a real `docker-registry` with htpasswd auth, a real Pier on the docker runtime.
// A deployment pulls through a REGISTRY secret, records the digest it resolved and serves; a wrong password, a
// missing image, an unknown secret and an unreachable registry each end in ERROR with a readable reason while the
// old deployment keeps serving; a rollback runs the recorded digest even after the tag moved.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { engineUp, startEdgePier, until, webDef, type EdgePier } from '../edge/harness.ts';
import { registryInstalled, startRegistry, type TestRegistry } from './registry.ts';
import { freePort } from '../support/ports.ts';

const skip = !engineUp ? 'no Docker engine' : !registryInstalled ? 'docker-registry/htpasswd not installed (scripts/setup-host.sh --tests)' : false;

let reg: TestRegistry;
let p: EdgePier;
let firstDigest = '';

before(async () => {
  if (skip) return;
  reg = await startRegistry();
  p = await startEdgePier();
  firstDigest = await reg.push(p.engine, 'pier/busybox', '1', `first-${Date.now()}`);
});

after(async () => {
  if (skip) return;
  await p?.close();
  await reg?.close(p.engine);
});

async function deployment(id: string): Promise<any> {
  return (await p.api('GET', `/v1/deployments/${id}`)).body.deployment;
}

/** Waits for a deployment to reach a final-ish status and returns it. */
async function settled(id: string, statuses: string[], ms = 90_000): Promise<any> {
  return until(`deployment ${id} in ${statuses.join('|')}`, async () => {
    const d = await deployment(id);
    return statuses.includes(d?.status) ? d : false;
  }, ms, 250);
}

async function createSecret(name: string, password: string): Promise<void> {
  const r = await p.api('POST', '/v1/secrets', {
    name, type: 'REGISTRY', private_registry: { username: reg.username, password, url: reg.host },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

/** Updates the service to a new image/secret and returns the new deployment once it settled. */
async function update(serviceId: string, docker: Record<string, unknown>, statuses: string[]): Promise<any> {
  const def = webDef(`${reg.host}/pier/busybox:1`, '/', { docker });
  const r = await p.api('PUT', `/v1/services/${serviceId}`, { definition: { name: 'web', ...def } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const latest = (await p.service(serviceId)).latest_deployment_id;
  return settled(latest, statuses);
}

test('private registry: pull with a registry secret, digest pinned, clear errors, rollback runs the digest', { skip, timeout: 600_000 }, async () => {
  await createSecret('reg', reg.password);
  await createSecret('reg-bad', 'not-the-password');
  const image = `${reg.host}/pier/busybox:1`;
  const appId = await p.createApp('priv');
  const svc = await p.createService(appId, 'web', webDef(image, '/', { docker: { image, image_registry_secret: 'reg' } }));

  // 1. HEALTHY through the secret; the deployment records `<repo>@<digest>` the registry serves.
  const first = await settled((await p.service(svc.id)).latest_deployment_id, ['HEALTHY', 'ERROR']);
  assert.equal(first.status, 'HEALTHY', JSON.stringify(first.messages));
  assert.equal(first.provisioning_info.image, `${reg.host}/pier/busybox@${firstDigest}`);
  await until('the edge to serve the app', async () => (await p.get(p.hostOf('priv'))).status === 200, 30_000);
  // The credentials never reach the instance's environment.
  const [inst] = await p.instances(svc.id, 'HEALTHY');
  const env = await p.exec(inst.allocation_id, ['/bin/env']);
  assert.equal(env.code, 0);
  assert.ok(!env.output.includes(reg.password), 'registry password leaked into the instance env');

  // 2. Wrong password: ERROR naming the secret and the registry; the first deployment keeps serving.
  const bad = await update(svc.id, { image, image_registry_secret: 'reg-bad' }, ['ERROR', 'HEALTHY']);
  assert.equal(bad.status, 'ERROR');
  assert.match(bad.messages.join(' '), new RegExp(`registry ${reg.host.replace(/\./g, '\\.')} refused the credentials of secret "reg-bad"`));
  assert.equal((await p.service(svc.id)).active_deployment_id, first.id);
  assert.equal((await p.get(p.hostOf('priv'))).status, 200);

  // 3. A missing image: "not found in registry".
  const missing = await update(svc.id, { image: `${reg.host}/pier/nope:1`, image_registry_secret: 'reg' }, ['ERROR', 'HEALTHY']);
  assert.equal(missing.status, 'ERROR');
  assert.match(missing.messages.join(' '), new RegExp(`image ${reg.host.replace(/\./g, '\\.')}/pier/nope:1 not found in registry`));

  // 4. An unknown secret: the API refuses it, naming the field and the fix, and writes nothing (#16: references are
  // checked at create/update, not at start)...
  const before = (await p.service(svc.id)).latest_deployment_id;
  const refused = await p.api('PUT', `/v1/services/${svc.id}`, { definition: { name: 'web', ...webDef(image, '/', { docker: { image, image_registry_secret: 'no-such-secret' } }) } });
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.deepEqual(refused.body.fields.map((f: { field: string }) => f.field), ['definition.docker.image_registry_secret']);
  assert.match(refused.body.message, /secret "no-such-secret" does not exist: create a REGISTRY secret/);
  assert.equal((await p.service(svc.id)).latest_deployment_id, before, 'nothing was written');
  // ...and a secret deleted after a deployment named it fails that deployment at pull time, named in the error.
  await createSecret('reg-gone', reg.password);
  const stash = await p.api('PUT', `/v1/services/${svc.id}`, { definition: { name: 'web', ...webDef(image, '/', { docker: { image, image_registry_secret: 'reg-gone' } }) }, save_only: true });
  assert.equal(stash.status, 200, JSON.stringify(stash.body));
  // The newest deployment (lists are newest first) is the STASHED one, whatever the service points at.
  const newest = await p.api('GET', `/v1/deployments?service_id=${svc.id}&limit=1`);
  const stashed = newest.body.deployments[0];
  assert.equal(stashed.status, 'STASHED', JSON.stringify(stashed));
  const listed = await p.api('GET', '/v1/secrets?name=reg-gone');
  const goneId = (listed.body.secrets as { id: string; name: string }[]).find((x) => x.name === 'reg-gone')!.id;
  assert.equal((await p.api('DELETE', `/v1/secrets/${goneId}`)).status, 200);
  const rd = await p.api('POST', `/v1/services/${svc.id}/redeploy`, { deployment_id: stashed.id });
  assert.equal(rd.status, 200, JSON.stringify(rd.body));
  const unknown = await settled(rd.body.deployment.id, ['ERROR', 'HEALTHY']);
  assert.equal(unknown.status, 'ERROR');
  assert.match(unknown.messages.join(' '), /registry secret "reg-gone" not found/);

  // 5. A registry nobody listens on: unreachable.
  const closed = `127.0.0.1:${await freePort()}`;
  const gone = await update(svc.id, { image: `${closed}/pier/busybox:1`, image_registry_secret: 'reg' }, ['ERROR', 'HEALTHY']);
  assert.equal(gone.status, 'ERROR');
  assert.match(gone.messages.join(' '), new RegExp(`registry ${closed.replace(/\./g, '\\.')} is unreachable`));
  assert.equal((await p.service(svc.id)).active_deployment_id, first.id);
  assert.equal((await p.get(p.hostOf('priv'))).status, 200);

  // 6. The tag moves to a new image; a rollback to the first deployment still runs the digest it recorded.
  const secondDigest = await reg.push(p.engine, 'pier/busybox', '1', `second-${Date.now()}`);
  assert.notEqual(secondDigest, firstDigest);
  const rb = await p.api('POST', `/v1/services/${svc.id}/redeploy`, { deployment_id: first.id });
  assert.equal(rb.status, 200, JSON.stringify(rb.body));
  const rolled = await settled(rb.body.deployment.id, ['HEALTHY', 'ERROR']);
  assert.equal(rolled.status, 'HEALTHY', JSON.stringify(rolled.messages));
  assert.equal(rolled.provisioning_info.image, `${reg.host}/pier/busybox@${firstDigest}`);

  // 7. A plain new deployment of the tag resolves it again: the new digest.
  const fresh = await update(svc.id, { image, image_registry_secret: 'reg' }, ['HEALTHY', 'ERROR']);
  assert.equal(fresh.status, 'HEALTHY', JSON.stringify(fresh.messages));
  assert.equal(fresh.provisioning_info.image, `${reg.host}/pier/busybox@${secondDigest}`);
});

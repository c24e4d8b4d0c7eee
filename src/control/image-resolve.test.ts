import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeWorld, webDefinition } from '../../test/control/world.ts';
import { pullFailureMessage, registryAuthOf, type RegistryAuth } from './image-resolve.ts';

const DIGEST = `sha256:${'b'.repeat(64)}`;
const PASSWORD = 'hunter2-registry';

test('image-resolve: registry secrets become engine credentials for each registry type', () => {
  const table: [string, Record<string, string>, RegistryAuth][] = [
    ['private_registry', { username: 'u', password: 'p', url: 'reg.example:5000' }, { username: 'u', password: 'p', serveraddress: 'reg.example:5000' }],
    ['docker_hub_registry', { username: 'u', password: 'p' }, { username: 'u', password: 'p', serveraddress: 'https://index.docker.io/v1/' }],
    ['github_registry', { username: 'u', password: 'p' }, { username: 'u', password: 'p', serveraddress: 'ghcr.io' }],
    ['azure_container_registry', { registry_name: 'acme', username: 'u', password: 'p' }, { username: 'u', password: 'p', serveraddress: 'acme.azurecr.io' }],
    ['gcp_container_registry', { keyfile_content: '{"k":1}', url: 'gcr.io' }, { username: '_json_key', password: '{"k":1}', serveraddress: 'gcr.io' }],
  ];
  for (const [key, config, want] of table) assert.deepEqual(registryAuthOf({ key, config }, 'x/y:1'), want, key);
});

test('image-resolve: pull failures read as sentences naming the image, registry and secret', () => {
  const img = '127.0.0.1:5000/pier/app:1';
  assert.equal(pullFailureMessage({ kind: 'image_not_found', registry: '127.0.0.1:5000', message: 'x' }, img, 'reg'), `image ${img} not found in registry 127.0.0.1:5000`);
  assert.equal(pullFailureMessage({ kind: 'registry_unauthorized', message: 'x' }, img, 'reg'), `registry 127.0.0.1:5000 refused the credentials of secret "reg" for image ${img}`);
  assert.match(pullFailureMessage({ kind: 'registry_unauthorized', message: 'x' }, 'ghcr.io/o/a:1', undefined), /registry ghcr\.io requires credentials .*image_registry_secret/);
  assert.equal(pullFailureMessage({ kind: 'registry_unreachable', detail: 'connection refused', message: 'pulling ... connection refused' }, 'nginx:1', undefined),
    'registry docker.io is unreachable while pulling image nginx:1: connection refused');
});

/** A world whose runtime pins images like the docker driver, recording what it was asked. */
async function pinningWorld(fail?: { kind: string; message: string }) {
  const w = makeWorld();
  const calls: { image: string; auth?: RegistryAuth }[] = [];
  Object.assign(w.runtime, {
    async resolveImage(image: string, auth?: RegistryAuth) {
      calls.push({ image, auth });
      if (fail && image.includes('broken')) throw Object.assign(new Error(fail.message), fail);
      return image.includes('@') ? image : `${image.slice(0, image.lastIndexOf(':'))}@${DIGEST}`;
    },
  });
  await w.createSecret({ name: 'reg', type: 'REGISTRY', private_registry: { username: 'pier', password: PASSWORD, url: 'reg.example' } });
  return { w, calls };
}

test('image-resolve: a registry secret reaches spec.registryAuth only, and the deployment records the digest', async () => {
  const { w, calls } = await pinningWorld();
  const { deployment } = await w.createService(webDefinition({ docker: { image: 'reg.example/app:1', image_registry_secret: 'reg' } }));
  await w.settle();
  const dep = w.deployment(deployment.id);
  assert.equal(dep.status, 'HEALTHY', dep.messages.join(' '));
  assert.equal(dep.provisioning_info?.image, `reg.example/app@${DIGEST}`);
  assert.deepEqual(calls[0], { image: 'reg.example/app:1', auth: { username: 'pier', password: PASSWORD, serveraddress: 'reg.example' } });
  const spec = w.runtime.workloadOf(w.instancesOf(dep.id)[0].id)!.spec;
  assert.equal(spec.image, `reg.example/app@${DIGEST}`);
  assert.deepEqual(spec.registryAuth, { username: 'pier', password: PASSWORD, serveraddress: 'reg.example' });
  assert.ok(!JSON.stringify(spec.env).includes(PASSWORD) && !JSON.stringify(spec.labels).includes(PASSWORD));
  assert.ok(!JSON.stringify([...w.state.events, ...w.state.logs]).includes(PASSWORD));
});

test('image-resolve: unknown secret and refused credentials fail the new deployment; the old one keeps serving', async () => {
  const { w } = await pinningWorld({ kind: 'registry_unauthorized', message: 'unauthorized: authentication required' });
  const { service, deployment: first } = await w.createService(webDefinition({ docker: { image: 'reg.example/app:1', image_registry_secret: 'reg' } }));
  await w.settle();
  const cases: [string, string, RegExp][] = [
    ['reg.example/app:2', 'nope', /Deployment failed: registry secret "nope" not found/],
    ['reg.example/broken:1', 'reg', /Deployment failed: registry reg\.example refused the credentials of secret "reg" for image reg\.example\/broken:1/],
  ];
  // The API refuses a definition naming a missing secret: "nope" exists when deployed and is deleted before it runs.
  const nope = await w.createSecret({ name: 'nope', type: 'REGISTRY', private_registry: { username: 'x', password: 'y', url: 'reg.example' } });
  for (const [image, secret, want] of cases) {
    const d = await w.deploy(service.id, webDefinition({ docker: { image, image_registry_secret: secret } }));
    if (secret === 'nope') await w.deleteSecret(nope);
    await w.settle();
    assert.equal(w.deployment(d.id).status, 'ERROR', image);
    assert.match(w.deployment(d.id).messages.join(' '), want);
    assert.equal(w.service(service.id).active_deployment_id, first.id);
    assert.equal(w.deployment(first.id).status, 'HEALTHY');
  }
});

test('image-resolve: a rollback runs the digest its source deployment recorded', async () => {
  const { w, calls } = await pinningWorld();
  const def = webDefinition({ docker: { image: 'reg.example/app:1', image_registry_secret: 'reg' } });
  const { service, deployment: first } = await w.createService(def);
  await w.settle();
  const recorded = `reg.example/app@sha256:${'c'.repeat(64)}`;
  w.state.deployments.get(first.id)!.provisioning_info = { sha: '', image: recorded, stages: [] };
  const rb = await w.deploy(service.id, def);
  w.state.deployments.get(rb.id)!.metadata = { pier: { action: 'rollback', source_deployment_id: first.id } } as never;
  await w.settle();
  assert.equal(calls.at(-1)?.image, recorded);
  assert.equal(w.deployment(rb.id).provisioning_info?.image, recorded);
  assert.equal(w.deployment(rb.id).status, 'HEALTHY');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultBuilder, deployTarget } from '../../src/cli/commands/deploy.ts';
import { APP_ID, DEP2_ID, SVC_ID, app, deployment, run, service, startFakeApi, type FakeApi } from './harness.ts';

test('deploy targets: <app>/<service> like koyeb, or --app and --name; a mismatch or a bad form is a usage error', () => {
  assert.deepEqual(deployTarget('shop/web', undefined, undefined), { app: 'shop', name: 'web' });
  assert.deepEqual(deployTarget(undefined, 'shop', 'web'), { app: 'shop', name: 'web' });
  assert.deepEqual(deployTarget('shop/web', 'shop', 'web'), { app: 'shop', name: 'web' });
  assert.throws(() => deployTarget('shop', undefined, undefined), /"shop" is not <app>\/<service>/);
  assert.throws(() => deployTarget('shop/web', 'other', undefined), /name different services/);
  assert.throws(() => deployTarget(undefined, 'shop', undefined), /needs <app>\/<service>/);
});

test('the builder: docker for a directory with a Dockerfile (even after buildpack builds), else the previous one, else buildpack', () => {
  assert.equal(defaultBuilder(true), 'docker');
  assert.equal(defaultBuilder(false), 'buildpack');
  assert.equal(defaultBuilder(true, { id: 'a', buildpack: {} }), 'docker');
  assert.equal(defaultBuilder(false, { id: 'a', docker: {} }), 'docker');
  assert.equal(defaultBuilder(false, { id: 'a', buildpack: {} }), 'buildpack');
});

/** A fake API for a first deploy of shop/web: no app, no service yet; the deployment turns HEALTHY at once. */
async function deployApi(): Promise<FakeApi> {
  const api = await startFakeApi({
    'POST /v1/archives': () => ({ body: { archive: { id: 'arch-1', upload_url: `${api.url}/upload/arch-1` } } }),
    'PUT /upload/arch-1': { body: {} },
    'GET /v1/apps': { body: { apps: [], count: 0 } },
    'POST /v1/apps': { body: { app: app() } },
    'GET /v1/services': { body: { services: [], count: 0 } },
    'POST /v1/services': { body: { service: service({ status: 'STARTING', latest_deployment_id: DEP2_ID, active_deployment_id: '' }) } },
    [`GET /v1/services/${SVC_ID}`]: { body: { service: service({ latest_deployment_id: DEP2_ID, active_deployment_id: DEP2_ID }) } },
    [`GET /v1/deployments/${DEP2_ID}`]: () => ({ body: { deployment: deployment({ id: DEP2_ID, definition: sentDefinition(api) }) } }),
    [`GET /v1/apps/${APP_ID}`]: { body: { app: app() } },
    'GET /v1/pier/info': { body: { edge_url: 'http://127.0.0.1:8000' } },
  });
  return api;
}

function sentDefinition(api: FakeApi): Record<string, unknown> {
  return (api.requests.find((r) => r.method === 'POST' && r.path === '/v1/services')!.body as { definition: Record<string, unknown> }).definition;
}

test('deploy DIR app/service uses the Dockerfile, waits, prints the healthy service and its URL', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-cli-deploy-'));
  writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
  writeFileSync(join(dir, 'index.html'), 'hi\n');
  const api = await deployApi();
  try {
    const r = await run(api, ['deploy', dir, 'shop/web', '--ports', '8000:http', '--routes', '/:8000', '--wait']);
    assert.equal(r.code, 0, r.stderr);
    const body = api.requests.find((q) => q.method === 'POST' && q.path === '/v1/services')!.body as { name: string; definition: { archive: unknown } };
    assert.equal(body.name, 'web');
    assert.deepEqual(body.definition.archive, { id: 'arch-1', docker: {} });
    assert.match(r.stderr, /Building with Dockerfile \(--archive-builder buildpack to use buildpacks\)/);
    assert.match(r.stdout, /HEALTHY/);
    assert.doesNotMatch(r.stdout, /STARTING/);
    assert.match(r.stdout, /\nURL: http:\/\/shop\.localhost:8000\/\n$/);
    const upload = api.requests.find((q) => q.method === 'PUT')!.body as { bytes: number };
    assert.ok(upload.bytes > 0, 'the packed directory was uploaded');
  } finally {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('deploy --archive-builder buildpack overrides the Dockerfile; a directory without one builds with buildpacks', async () => {
  const withDockerfile = mkdtempSync(join(tmpdir(), 'pier-cli-deploy-'));
  writeFileSync(join(withDockerfile, 'Dockerfile'), 'FROM scratch\n');
  const plain = mkdtempSync(join(tmpdir(), 'pier-cli-deploy-'));
  writeFileSync(join(plain, 'index.html'), 'hi\n');
  try {
    for (const [dir, extra, want] of [[withDockerfile, ['--archive-builder', 'buildpack'], 'buildpack'], [plain, [], 'buildpack']] as const) {
      const api = await deployApi();
      try {
        const r = await run(api, ['deploy', dir, '--app', 'shop', '--name', 'web', '--ports', '8000:http', '--routes', '/:8000', ...extra]);
        assert.equal(r.code, 0, r.stderr);
        const archive = (sentDefinition(api) as { archive: Record<string, unknown> }).archive;
        assert.deepEqual(Object.keys(archive).sort(), [want, 'id'].sort());
        assert.match(r.stdout, /URL \(when healthy\): http:\/\/shop\.localhost:8000\/\n$/);
      } finally {
        await api.close();
      }
    }
  } finally {
    rmSync(withDockerfile, { recursive: true, force: true });
    rmSync(plain, { recursive: true, force: true });
  }
});

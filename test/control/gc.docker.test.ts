// Garbage collection on a real Docker engine: images built the way the builder labels them (installation scope,
// deployment id, `pier-build/<service>:<deployment>`) are removed when no deployment can roll back to them, kept
// otherwise; an image a container still uses is reported in use and removed by a later pass once it is free; another
// installation's images are never touched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { collectGarbage, dockerBuiltImages } from '../../src/control/gc.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { engineBuild } from '../../src/build/docker-build.ts';
import { ensureTestImage } from '../../src/runtime/testing/images.ts';
import { buildsRunning } from '../../src/runtime/docker/image-gate.ts';
import { imageTag } from '../../src/build/builder.ts';
import { listDeployments, updateDeployment } from '../../src/store/deployments.ts';
import { updateService } from '../../src/store/services.ts';
import type { Deployment } from '../../src/domain/types.ts';
import { apiClient } from '../support/api-client.ts';
import { until } from '../support/until.ts';

const engine = new DockerEngine();
const skip = await engine.ping(3000).then(() => undefined, (err: Error) => `no Docker engine: ${err.message}`);
const TOKEN = 'gc-docker-test-token-0123456789';
const scope = `gc-test-${randomUUID()}`;
const otherScope = `gc-test-other-${randomUUID()}`;
let dir: string;
let pier: PierHandle;
const made: string[] = [];
const containers: string[] = [];

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pier-gc-docker-'));
  pier = await startPier(loadConfig({ 'data-dir': join(dir, 'pier'), 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0' }, { ...process.env, PIER_TOKEN: TOKEN }), {
    components: () => [], log: () => undefined,
  });
});

after(async () => {
  for (const c of containers) await engine.jsonOrNull('DELETE', `/containers/${c}`, { query: { force: 1 } }).catch(() => undefined);
  for (const ref of made) await engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(ref)}`, { query: { force: 1 } }).catch(() => undefined);
  await pier?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Builds a one-file image FROM scratch (nothing to pull), labelled as the builder labels a deployment's image;
 * `dockerfile` replaces the default one (its context has built.txt, the tag, and shared.txt, the same in every build).
 */
async function buildImage(tag: string, labels: Record<string, string>, dockerfile = `FROM scratch\nCOPY built.txt /built.txt\nCMD ["/built.txt"]\n`): Promise<void> {
  const ctx = mkdtempSync(join(tmpdir(), 'pier-gc-ctx-'));
  try {
    writeFileSync(join(ctx, 'Dockerfile'), dockerfile);
    writeFileSync(join(ctx, 'built.txt'), `${tag}\n`);
    writeFileSync(join(ctx, 'shared.txt'), `${scope}\n`);
    const tar = execFileSync('tar', ['-c', '-C', ctx, 'Dockerfile', 'built.txt', 'shared.txt']);
    await engineBuild(engine, tar, { tag, cpu: 1, memoryBytes: 256 * 1024 * 1024, labels }, () => undefined, new AbortController().signal);
    made.push(tag);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

const exists = async (ref: string) => (await engine.jsonOrNull('GET', `/images/${encodeURIComponent(ref)}/json`)) !== null;

test('images of deployments nobody can roll back to are removed from the engine; in-use ones once free', { skip, timeout: 120_000 }, async () => {
  const api = apiClient(pier.apiUrl, TOKEN);
  const app = (await api('POST', '/v1/apps', { name: 'gcimg' })).body.app;
  const def = (n: number) => ({
    name: 'web', type: 'WEB', docker: { image: `example/app:${n}` }, ports: [{ port: 8080, protocol: 'http' }], routes: [{ path: '/', port: 8080 }],
    instance_types: [{ type: 'nano' }], regions: ['fra'], scalings: [{ min: 1, max: 1 }],
  });
  const service = (await api('POST', '/v1/services', { app_id: app.id, definition: def(1) })).body.service;
  for (let v = 2; v <= 4; v++) await api('PATCH', `/v1/services/${service.id}`, { definition: def(v) });
  const deployments = (await listDeployments(pier.store.db, { serviceId: service.id })).items.sort((a, b) => Number(a.version) - Number(b.version));
  const newest = deployments.at(-1)!;
  for (const d of deployments) await updateDeployment(pier.store.db, d.id, { status: d.id === newest.id ? 'HEALTHY' : 'STOPPED' });
  await updateService(pier.store.db, service.id, { active_deployment_id: newest.id, latest_deployment_id: newest.id });

  const labelsOf = (d: Deployment, s = scope) => ({ 'dev.pier.scope': s, 'dev.pier.service_id': d.service_id, 'dev.pier.deployment_id': d.id });
  for (const d of deployments) await buildImage(imageTag(d), labelsOf(d));
  // The same tags under another installation's scope would be that installation's: built apart, under other names.
  const foreign = `pier-build/${randomUUID()}:${deployments[0]!.id}`;
  await buildImage(foreign, labelsOf(deployments[0]!, otherScope));
  // v1's image is still used by a (never started) container.
  const created = await engine.json<{ Id: string }>('POST', '/containers/create', { body: { Image: imageTag(deployments[0]!), Cmd: ['/built.txt'] } });
  containers.push(created.Id);

  const images = dockerBuiltImages(engine, scope);
  const listed = (await images.list()).map((i) => i.deploymentId).sort();
  assert.deepEqual(listed, deployments.map((d) => d.id).sort(), 'only this installation\'s images are listed');

  const opts = { db: pier.store.db, buildsDir: join(dir, 'pier', 'builds'), archivesDir: join(dir, 'pier', 'archives'), images, keep: 2 };
  const first = await collectGarbage(opts);
  const [v1, v2, v3, v4] = deployments;
  assert.deepEqual(first.images, [imageTag(v2!)]);
  assert.deepEqual(first.inUse, [imageTag(v1!)]);
  assert.equal(await exists(imageTag(v2!)), false, 'v2 removed from the engine');
  assert.equal(await exists(imageTag(v1!)), true, 'v1 still used by a container');
  assert.equal(await exists(imageTag(v3!)), true, 'v3 kept (last 2)');
  assert.equal(await exists(imageTag(v4!)), true, 'v4 kept (active)');
  assert.equal(await exists(foreign), true, 'another installation\'s image untouched');

  await engine.json('DELETE', `/containers/${created.Id}`, { query: { force: 1 } });
  const second = await collectGarbage(opts);
  assert.deepEqual(second.images, [imageTag(v1!)]);
  assert.equal(await exists(imageTag(v1!)), false);

  // Deleting the service: once it is DELETED every image of it goes.
  assert.equal((await api('DELETE', `/v1/services/${service.id}`)).status, 200);
  await updateDeployment(pier.store.db, newest.id, { status: 'STOPPED' });
  await updateService(pier.store.db, service.id, { status: 'DELETED' });
  const third = await collectGarbage(opts);
  assert.deepEqual(third.images.sort(), [imageTag(v3!), imageTag(v4!)].sort());
  assert.equal(await exists(imageTag(v4!)), false);
  assert.equal(await exists(foreign), true);
});

// Removing a tagged image removes its untagged parents too: the classic builder's cached steps. CI once saw a build
// fail with `unable to find image "sha256:…"` when the collector removed a deleted service's image while the next
// build was reusing its steps. While a build runs on the engine, the collector keeps images (and says so), and
// removes them in a pass after it.
test('no image is removed while a build runs on the engine: the pass keeps it, a later pass removes it', { skip, timeout: 120_000 }, async () => {
  const api = apiClient(pier.apiUrl, TOKEN);
  const app = (await api('POST', '/v1/apps', { name: 'gcbuild' })).body.app;
  const service = (await api('POST', '/v1/services', {
    app_id: app.id,
    definition: {
      name: 'web', type: 'WEB', docker: { image: 'example/app:1' }, ports: [{ port: 8080, protocol: 'http' }], routes: [{ path: '/', port: 8080 }],
      instance_types: [{ type: 'nano' }], regions: ['fra'], scalings: [{ min: 1, max: 1 }],
    },
  })).body.service;
  const [d] = (await listDeployments(pier.store.db, { serviceId: service.id })).items;
  const labels = { 'dev.pier.scope': scope, 'dev.pier.service_id': d!.service_id, 'dev.pier.deployment_id': d!.id };
  const base = await ensureTestImage();
  // The collectable image's first step is the one the running build takes from the cache.
  await buildImage(imageTag(d!), labels, `FROM ${base}\nCOPY shared.txt /shared.txt\n`);
  await updateDeployment(pier.store.db, d!.id, { status: 'STOPPED' });
  await updateService(pier.store.db, service.id, { status: 'DELETED' });

  const opts = { db: pier.store.db, buildsDir: join(dir, 'pier', 'builds'), archivesDir: join(dir, 'pier', 'archives'), images: dockerBuiltImages(engine, scope), keep: 2 };
  const later = `pier-build/${randomUUID()}:later`;
  const lines: string[] = [];
  const building = buildImage(later, { 'dev.pier.scope': otherScope }, `FROM ${base}\nCOPY shared.txt /shared.txt\nRUN sleep 4\n`)
    .then(() => 'built', (err: Error) => err.message);
  try {
    await until('the build to start', async () => buildsRunning(engine.socketPath) > 0, 30_000, 20);
    const during = await collectGarbage({ ...opts, log: (l) => lines.push(l) });
    assert.deepEqual(during.images, [], 'nothing removed while the build runs');
    assert.deepEqual(during.building, [imageTag(d!)]);
    assert.equal(await exists(imageTag(d!)), true);
    assert.match(lines.join('\n'), /1 image\(s\) kept while a build runs, retried soon/);
  } finally {
    assert.equal(await building, 'built');
  }
  assert.equal(buildsRunning(engine.socketPath), 0);
  const next = await collectGarbage(opts);
  assert.deepEqual(next.images, [imageTag(d!)]);
  assert.equal(await exists(imageTag(d!)), false);
  assert.equal(await exists(later), true, 'the build that ran meanwhile is whole');
});

// `pier backup --images` on the docker runtime: the images Pier built for the deployments travel in the backup, so
// a restore where the engine lacks them (a new machine; here: the images removed) loads them and serves at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { PierHandle } from '../../src/main.ts';
import { functionDefinition } from '../../src/build/functions/definition.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';
import { builtImagesOf } from '../../src/backup/images.ts';
import { edgeGet } from '../support/edge-get.ts';
import { until } from '../support/until.ts';
import { cli, greetingHandler, pierApi, startOn, writeDir } from './harness.ts';

const root = mkdtempSync(join(tmpdir(), 'pier-backup-images-'));
const engine = new DockerEngine();

test('builtImagesOf picks the pier-build images deployments name, once each', () => {
  const d = (image?: string) => JSON.stringify(image ? { provisioning_info: { image } } : {});
  assert.deepEqual(builtImagesOf([d('pier-build/s:b'), d('nginx:1.27'), d(), d('pier-build/s:a'), d('pier-build/s:b'), d('dir:/x')]), ['pier-build/s:a', 'pier-build/s:b']);
});

test('a backup with --images restores where the engine lacks the built images', { timeout: 300_000 }, async (t) => {
  const dirA = join(root, 'a');
  const dirB = join(root, 'b');
  const token = `tok-${randomBytes(16).toString('hex')}`;
  let a: PierHandle | undefined = await startOn(dirA, 'docker', token);
  let b: PierHandle | undefined;
  let image = '';
  t.after(async () => {
    await b?.close().catch(() => undefined);
    await a?.close().catch(() => undefined);
    await removeInstallationWorkloads(dirB).catch(() => undefined);
    await removeInstallationWorkloads(dirA).catch(() => undefined);
    if (image) await engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(image)}`, { query: { force: 1 } }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });
  const A = pierApi(a.apiUrl, token);
  await A.must('POST', '/v1/secrets', { name: 'greeting', type: 'SIMPLE', value: 'shipped' });
  const appId = (await A.must('POST', '/v1/apps', { name: 'imaged' })).app.id;
  const def = functionDefinition({ name: 'fn', source: { archive: { id: await A.upload(writeDir(root, { 'handler.ts': greetingHandler('img') })), buildpack: {} } }, sleepSeconds: 3600 });
  const svc = (await A.must('POST', '/v1/services', { app_id: appId, name: 'fn', definition: { ...def, env: [{ key: 'GREETING', secret: 'greeting' }] } })).service;
  await A.waitHealthy(svc.latest_deployment_id);
  image = (await A.must('GET', `/v1/deployments/${svc.latest_deployment_id}`)).deployment.provisioning_info.image;
  assert.match(image, /^pier-build\//);

  const file = join(root, 'a.tar.gz');
  const backup = await cli(['backup', '-o', file, '--images', '--data-dir', dirA]);
  assert.equal(backup.code, 0, backup.text);
  assert.match(backup.text, /1 built image\(s\) saved/);
  // The machine is lost: Pier, its containers and the image it built are gone.
  await a.close(); a = undefined;
  await removeInstallationWorkloads(dirA);
  await engine.json('DELETE', `/images/${encodeURIComponent(image)}`, { query: { force: 1 } });
  assert.equal(await engine.jsonOrNull('GET', `/images/${encodeURIComponent(image)}/json`), null);

  const restored = await cli(['restore', file, '--data-dir', dirB]);
  assert.equal(restored.code, 0, restored.text);
  assert.match(restored.text, /1 built image\(s\) loaded into the Docker engine/);
  assert.ok(await engine.jsonOrNull('GET', `/images/${encodeURIComponent(image)}/json`), 'the image is back');
  b = await startOn(dirB, 'docker');
  const B = pierApi(b.apiUrl, token);
  const edgeB = await until('B runs its edge', async () => (await B.api('GET', '/v1/pier/info')).body.edge_url as string | undefined, 30_000, 100);
  let last = '';
  await until('B serves', async () => {
    const r = await edgeGet(edgeB, `imaged-${b!.config.orgName}.${b!.config.domain}`, '/x', { timeoutMs: 20_000 }).catch((e: Error) => ({ status: 0, body: e.message }));
    last = `${r.status} ${r.body}`;
    return r.body === 'img shipped /x';
  }, 120_000, 250).catch(() => assert.fail(`B: ${last}`));
  // Served from the restored image, not a rebuild: the deployment is the same and names the same image.
  assert.equal((await B.must('GET', `/v1/deployments/${svc.latest_deployment_id}`)).deployment.provisioning_info.image, image);
});

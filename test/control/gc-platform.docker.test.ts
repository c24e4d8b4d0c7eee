// Garbage collection wired into a whole Pier on Docker: real git builds make real `pier-build/*` images; with
// PIER_GC_KEEP_DEPLOYMENTS=1 the first build's image goes once its deployment is replaced, and deleting the service
// removes the last one and its build directory without any further API call (the collector keeps looking while the
// service is DELETING).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { apiClient } from '../support/api-client.ts';
import { until } from '../support/until.ts';
import { gitRepo } from '../build/helpers.ts';

const engine = new DockerEngine();
const skip = await engine.ping(3000).then(() => undefined, (err: Error) => `no Docker engine: ${err.message}`);
const exists = async (ref: string) => (await engine.jsonOrNull('GET', `/images/${encodeURIComponent(ref)}/json`)) !== null;

test('a replaced deployment\'s image and a deleted service\'s image and build directory are collected', { skip, timeout: 300_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-gc-platform-'));
  const token = 'gc-platform-test-token-0123456789';
  const pier = await startPier(loadConfig(
    { 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', 'tls-addr': 'off', runtime: 'docker' },
    { ...process.env, PIER_TOKEN: token, PIER_GIT_ALLOW_LOCAL: 'operator', PIER_GC_KEEP_DEPLOYMENTS: '1', PIER_GC_INTERVAL: '10s' },
  ), { log: () => undefined });
  const api = apiClient(pier.apiUrl, token);
  const images: string[] = [];
  const repo = gitRepo({ 'index.html': 'one\n' });
  try {
    const app = (await api('POST', '/v1/apps', { name: 'gcsite' })).body.app;
    const def = {
      name: 'web', type: 'WEB', git: { repository: repo, branch: 'main' }, ports: [{ port: 8000, protocol: 'http' }],
      routes: [{ port: 8000, path: '/' }], regions: ['was'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }],
    };
    const created = await api('POST', '/v1/services', { app_id: app.id, definition: def });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const serviceId = created.body.service.id as string;
    const healthy = (notId?: string) => until('the latest deployment HEALTHY', async () => {
      const s = (await api('GET', `/v1/services/${serviceId}`)).body.service;
      const d = (await api('GET', `/v1/deployments/${s.latest_deployment_id}`)).body.deployment;
      if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}`);
      return d.id !== notId && d.status === 'HEALTHY' && s.active_deployment_id === d.id ? d : undefined;
    }, 180_000, 500);
    const first = await healthy();
    images.push(first.provisioning_info.image);
    assert.match(first.provisioning_info.image, /^pier-build\//);
    assert.equal(await exists(first.provisioning_info.image), true);

    writeFileSync(join(repo, 'index.html'), 'two\n');
    execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@e', 'commit', '-qam', 'two'], { cwd: repo });
    assert.equal((await api('POST', `/v1/services/${serviceId}/redeploy`, {})).status, 200);
    const second = await healthy(first.id);
    images.push(second.provisioning_info.image);
    assert.notEqual(second.provisioning_info.image, first.provisioning_info.image);
    // Keep 1: the first deployment (STOPPED once replaced) can no longer be rolled back to from a kept image.
    await until('the replaced deployment\'s image removed', async () => !(await exists(first.provisioning_info.image)), 60_000, 500);
    assert.equal(await exists(second.provisioning_info.image), true, 'the running deployment keeps its image');

    assert.equal((await api('DELETE', `/v1/services/${serviceId}`)).status, 200);
    await until('the deleted service\'s image removed', async () => !(await exists(second.provisioning_info.image)), 90_000, 500);
    // The same collection pass removes the build directory and the cache after the images (it awaits each image's
    // removal first): wait for the pass to get there (a check right after the image went raced it in CI).
    await until('the deleted service\'s build directory and cache removed', async () =>
      !existsSync(join(dataDir, 'builds', 'deployments', second.id)) && !existsSync(join(dataDir, 'builds', 'cache', serviceId)), 30_000, 200);
  } finally {
    await pier.close();
    for (const ref of images) await engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(ref)}`, { query: { force: 1 } }).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(repo, { recursive: true, force: true });
  }
});

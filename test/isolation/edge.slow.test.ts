// Issue #19 end to end: a web service deployed through Pier's API on PIER_RUNTIME=gvisor and on PIER_RUNTIME=microvm
// becomes HEALTHY and serves through the edge. Each runtime is skipped, with the reason, where its driver cannot work
// (src/runtime/docker/gvisor.docker.test.ts registers runsc as root; microVMs need root, QEMU and a guest kernel).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { GvisorRuntime } from '../../src/runtime/docker/gvisor.ts';
import { MicrovmRuntime } from '../../src/runtime/microvm/driver.ts';
import { ensureTestImage, TEST_IMAGE } from '../../src/runtime/testing/images.ts';
import { apiClient } from '../support/api-client.ts';
import { edgeGet } from '../support/edge-get.ts';
import { until } from '../support/until.ts';

const runtimes = {
  gvisor: await new GvisorRuntime({ log: () => undefined }).capabilities().then(() => false as const, (err: Error) => err.message),
  microvm: await new MicrovmRuntime({ log: () => undefined }).capabilities().then(() => false as const, (err: Error) => err.message),
};

for (const [runtime, skip] of Object.entries(runtimes)) {
  test(`${runtime}: a web service deployed through the API becomes HEALTHY and serves through the edge`, { skip, timeout: 240_000 }, async () => {
    await ensureTestImage();
    const dataDir = mkdtempSync(join(tmpdir(), `pier-isolation-${runtime}-`));
    const token = `tok-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    const config = loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', runtime }, { ...process.env, PIER_TOKEN: token });
    const pier = await startPier(config, { log: () => {} });
    const api = apiClient(pier.apiUrl, token);
    let appId: string | undefined;
    try {
      const info = await api<{ edge_url: string; runtime: string }>('GET', '/v1/pier/info');
      assert.equal(info.body.runtime, runtime);
      const app = await api('POST', '/v1/apps', { name: `iso-${runtime}` });
      assert.equal(app.status, 200, JSON.stringify(app.body));
      appId = app.body.app.id;
      const svc = await api('POST', '/v1/services', { app_id: appId, name: 'web', definition: {
        name: 'web', type: 'WEB', docker: { image: TEST_IMAGE }, ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }],
        regions: ['was'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }],
        env: [{ key: 'GREETING', value: `on-${runtime}` }], health_checks: [{ http: { port: 8000, path: '/health' }, grace_period: 5, interval: 5 }],
      } });
      assert.equal(svc.status, 200, JSON.stringify(svc.body));
      const host = `iso-${runtime}-${config.orgName}.${config.domain}`;
      const deploymentId = svc.body.service.latest_deployment_id;
      await until('deployment HEALTHY', async () => (await api('GET', `/v1/deployments/${deploymentId}`)).body.deployment?.status === 'HEALTHY', 180_000, 500);
      const reply = await until('200 through the edge', async () => {
        const r = await edgeGet(info.body.edge_url, host);
        return r.status === 200 ? r : undefined;
      }, 60_000, 250);
      assert.match(reply.body, new RegExp(`hello from pier on-${runtime}`));
    } finally {
      if (appId) {
        await api('DELETE', `/v1/apps/${appId}`);
        await until('instances gone', async () => {
          const r = await api('GET', `/v1/instances?app_id=${appId}&limit=100&statuses=ALLOCATING&statuses=STARTING&statuses=HEALTHY&statuses=UNHEALTHY&statuses=STOPPING`);
          return (r.body.instances ?? []).length === 0;
        }, 60_000, 250).catch(() => undefined);
      }
      await pier.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

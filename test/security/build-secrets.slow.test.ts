// Env vars are exposed at build time too (secrets included), and the build log Pier stores is redacted like the
// runtime log: a real Pier on the process runtime builds a Node app from Git whose build script prints a secret and
// writes a digest of it into the app; the app proves the build saw the value, the stored build log shows only ***.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';
import { gitRepo } from '../build/helpers.ts';
import { apiClient } from '../support/api-client.ts';
import { edgeGet } from '../support/edge-get.ts';
import { until } from '../support/until.ts';

const VALUE = `s3cr3t-${Math.random().toString(36).slice(2)}`;


test('build commands see secret env vars; the stored build log is redacted', { timeout: 180_000 }, async () => {
  process.env.PIER_EDGE_WORKERS = '1';
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-build-secrets-'));
  const token = `tok-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const config = loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', 'tls-addr': 'off', runtime: 'process' }, {
    // A local git repository deployed with the operator's token: an operator setting (off by default).
    ...process.env, PIER_TOKEN: token, PIER_GIT_ALLOW_LOCAL: 'operator',
  });
  const pier = await startPier(config, { log: () => {} });
  try {
    const api = apiClient(pier.apiUrl, token);
    const edgeUrl = (await api<{ edge_url: string }>('GET', '/v1/pier/info')).body.edge_url;
    assert.equal((await api('POST', '/v1/secrets', { name: 'api-token', type: 'SIMPLE', value: VALUE })).status, 200);
    const repo = gitRepo({
      'package.json': JSON.stringify({ name: 'b', version: '1.0.0', scripts: { build: 'node build.js', start: 'node server.js' } }),
      'build.js': 'console.log("building with token " + process.env.API_TOKEN + " for " + process.env.KOYEB_APP_NAME);\n' +
        'require("fs").writeFileSync("digest.txt", require("crypto").createHash("sha256").update(process.env.API_TOKEN || "").digest("hex"));\n',
      'server.js': 'require("http").createServer((q, s) => s.end(require("fs").readFileSync("digest.txt"))).listen(process.env.PORT);\n',
    });
    const app = await api<{ app: { id: string } }>('POST', '/v1/apps', { name: 'sealed' });
    assert.equal(app.status, 200, JSON.stringify(app.body));
    const svc = await api<{ service: { id: string; latest_deployment_id: string } }>('POST', '/v1/services', {
      app_id: app.body.app.id,
      definition: {
        name: 'web', type: 'WEB', git: { repository: repo, branch: 'main', buildpack: {} },
        env: [{ key: 'API_TOKEN', secret: 'api-token' }],
        ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }],
        regions: ['was'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }],
      },
    });
    assert.equal(svc.status, 200, JSON.stringify(svc.body));
    const depId = svc.body.service.latest_deployment_id;
    const status = await until('deployment HEALTHY', async () => {
      const d = (await api<{ deployment: { status: string; messages: string[] } }>('GET', `/v1/deployments/${depId}`)).body.deployment;
      if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' ')}`);
      return d.status === 'HEALTHY' ? d.status : undefined;
    }, 120_000, 250);
    assert.equal(status, 'HEALTHY');
    // The edge's table follows the controller pass that made the deployment HEALTHY: wait (bounded) for a 200.
    let served: { status: number; body: string } = { status: 0, body: '' };
    await until('the edge to serve the app', async () => (served = await edgeGet(edgeUrl, `sealed-${config.orgName}.${config.domain}`)).status === 200, 5_000, 25).catch(() => undefined);
    assert.equal(served.status, 200, served.body);
    assert.equal(served.body, createHash('sha256').update(VALUE).digest('hex'), 'the build saw the secret');
    const logs = await api<{ data: { msg: string }[] }>('GET', `/v1/streams/logs/query?deployment_id=${depId}&type=build&limit=1000&order=asc`);
    const text = (logs.body.data ?? []).map((e) => e.msg).join('\n');
    assert.match(text, /building with token \*\*\* for sealed/, 'the build line is stored, redacted');
    assert.ok(!text.includes(VALUE), 'the secret value is not in the stored build log');
    const raw = await pier.store.db.all<{ msg: string }>("SELECT msg FROM log_lines WHERE msg LIKE ?", [`%${VALUE}%`]);
    assert.equal(raw.length, 0, 'nor anywhere in the log table');
  } finally {
    await pier.close();
    await removeInstallationWorkloads(dataDir).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// Through a real Pier on Docker: a secret reaches the container's environment, but never its labels, name, command
// line or entrypoint (all visible to `docker inspect`/`ps`), and the runtime logs Pier stores show it redacted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { ensureTestImage } from '../../src/runtime/testing/images.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';

const TOKEN = 'pier-security-docker-token';
const VALUE = 'hunter2-s3cret-7c1e9a';

test('secrets are in the container env only, never in labels or command lines; runtime logs are redacted', { timeout: 180_000 }, async (t) => {
  const image = await ensureTestImage();
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-secdock-'));
  const pier = await startPier(loadConfig(
    { 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', runtime: 'docker', token: TOKEN },
    { ...process.env, PIER_TOKEN: TOKEN },
  ), { log: () => {} });
  t.after(async () => {
    await pier.close();
    await removeInstallationWorkloads(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const req = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(pier.apiUrl + path, {
      method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json() };
  };
  assert.equal((await req('POST', '/v1/secrets', { name: 'greeting', type: 'SIMPLE', value: VALUE })).status, 200);
  const app = (await req('POST', '/v1/apps', { name: 'secdock' })).body.app;
  const created = await req('POST', '/v1/services', {
    app_id: app.id, name: 'web', definition: {
      type: 'WEB', docker: { image }, ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }],
      // The test app prints GREETING on start, so the value reaches the runtime logs unless Pier redacts it.
      env: [{ key: 'GREETING', secret: 'greeting' }, { key: 'DSN', value: 'u:{{ secret.greeting }}@db' }],
      regions: ['fra'], instance_types: [{ type: 'nano' }], scalings: [{ min: 1, max: 1 }],
    },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const serviceId: string = created.body.service.id;

  const engine = new DockerEngine();
  const deadline = Date.now() + 120_000;
  let inspected: any;
  let logText = '';
  for (;;) {
    const filters = encodeURIComponent(JSON.stringify({ label: [`dev.pier.service_id=${serviceId}`] }));
    const list = await engine.json<{ Id: string }[]>('GET', `/containers/json?filters=${filters}`);
    if (list[0]) inspected = await engine.json('GET', `/containers/${list[0].Id}/json`);
    const logs = await req('GET', `/v1/streams/logs/query?service_id=${serviceId}&type=runtime&start=${new Date(Date.now() - 600_000).toISOString()}`);
    logText = JSON.stringify(logs.body);
    if (inspected && logText.includes('GREETING=')) break;
    assert.ok(Date.now() < deadline, `no running container or start log yet: ${logText.slice(0, 300)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const env = (inspected.Config.Env as string[]);
  assert.ok(env.includes(`GREETING=${VALUE}`), 'the secret was delivered (so the checks below can fail)');
  assert.ok(env.includes(`DSN=u:${VALUE}@db`), 'interpolated secret delivered');
  const visible = JSON.stringify({
    labels: inspected.Config.Labels, name: inspected.Name, cmd: inspected.Config.Cmd, entrypoint: inspected.Config.Entrypoint,
    path: inspected.Path, args: inspected.Args,
  });
  assert.ok(!visible.includes(VALUE), `secret visible outside the env: ${visible}`);
  assert.ok(!logText.includes(VALUE), 'runtime logs are redacted');
  assert.match(logText, /GREETING=\S/, 'the start line is there, with the value masked');
});

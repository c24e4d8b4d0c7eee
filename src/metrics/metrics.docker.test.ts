// Through a real Pier (startPier: Docker runtime, edge, controller, sampler): a running service gets CPU, memory,
// instance count and traffic samples, served by GET /v1/streams/metrics to its organization only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config.ts';
import { startPier } from '../main.ts';
import { ensureTestImage } from '../runtime/testing/images.ts';
import { generateToken, insertOrganization, insertToken } from '../store/organizations.ts';
import { removeInstallationWorkloads } from '../runtime/testing/cleanup.ts';

const TOKEN = 'pier-metrics-docker-token';

function getViaEdge(edgeUrl: string, host: string): Promise<number> {
  const u = new URL(edgeUrl);
  return new Promise((resolve) => {
    const req = http.get({ host: u.hostname, port: u.port, path: '/', headers: { host }, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

test('the sampler records a real service and the API serves it', { timeout: 180_000 }, async (t) => {
  const image = await ensureTestImage();
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-metrics-'));
  const saved = process.env.PIER_METRICS_INTERVAL;
  process.env.PIER_METRICS_INTERVAL = '1s';
  const pier = await startPier(loadConfig(
    { 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', runtime: 'docker', token: TOKEN },
    { ...process.env, PIER_TOKEN: TOKEN },
  ), { log: () => {} });
  t.after(async () => {
    await pier.close();
    await removeInstallationWorkloads(dataDir);
    if (saved === undefined) delete process.env.PIER_METRICS_INTERVAL; else process.env.PIER_METRICS_INTERVAL = saved;
    rmSync(dataDir, { recursive: true, force: true });
  });
  const req = async (method: string, path: string, body?: unknown, token = TOKEN): Promise<{ status: number; body: any }> => {
    const res = await fetch(pier.apiUrl + path, {
      method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: await res.json() };
  };
  const edgeUrl: string = (await req('GET', '/v1/pier/info')).body.edge_url;
  const app = (await req('POST', '/v1/apps', { name: 'metrics' })).body.app;
  const created = await req('POST', '/v1/services', {
    app_id: app.id, name: 'web', definition: {
      type: 'WEB', docker: { image }, ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }],
      regions: ['fra'], instance_types: [{ type: 'nano' }], scalings: [{ min: 1, max: 1 }],
    },
  });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const serviceId: string = created.body.service.id;
  const host = app.domains[0].name;
  const metric = async (name: string, token = TOKEN) =>
    req('GET', `/v1/streams/metrics?service_id=${serviceId}&name=${name}&step=1s&start=${new Date(Date.now() - 600_000).toISOString()}`, undefined, token);

  // Keep traffic flowing and poll (bounded) until every kind of sample is there.
  const deadline = Date.now() + 120_000;
  let seen: Record<string, any> = {};
  for (;;) {
    await Promise.all([1, 2, 3].map(() => getViaEdge(edgeUrl, host)));
    const names = ['HTTP_THROUGHPUT', 'HTTP_RESPONSE_TIME_50P', 'CPU_TOTAL_PERCENT', 'MEM_RSS', 'INSTANCE_COUNT', 'PUBLIC_DATA_TRANSFER_OUT'];
    seen = Object.fromEntries(await Promise.all(names.map(async (n) => [n, (await metric(n)).body.metrics])));
    const values = (n: string) => (seen[n] as any[]).flatMap((m) => m.samples.map((s: any) => s.value));
    if (values('HTTP_THROUGHPUT').some((v) => v > 0) && values('HTTP_RESPONSE_TIME_50P').length > 0
      && values('MEM_RSS').some((v) => v > 0) && values('CPU_TOTAL_PERCENT').length > 0
      && values('PUBLIC_DATA_TRANSFER_OUT').some((v) => v > 0) && values('INSTANCE_COUNT').includes(1)) break;
    assert.ok(Date.now() < deadline, `samples missing: ${JSON.stringify(seen).slice(0, 600)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const instances = (await req('GET', `/v1/instances?service_id=${serviceId}`)).body.instances as { id: string }[];
  const cpu = seen.CPU_TOTAL_PERCENT as { labels: Record<string, string> }[];
  for (const m of cpu) {
    assert.ok(instances.some((i) => i.id === m.labels.instance_id), 'CPU series belong to the service\'s instances');
    assert.equal(m.labels.service_id, serviceId);
  }
  assert.deepEqual((seen.HTTP_THROUGHPUT as any[]).map((m) => m.labels), [{ service_id: serviceId }]);

  const byInstance = await req('GET', `/v1/streams/metrics?instance_id=${cpu[0]!.labels.instance_id}&name=MEM_RSS&step=1m`);
  assert.equal(byInstance.status, 200);
  assert.deepEqual(byInstance.body.metrics.map((m: any) => m.labels.instance_id), [cpu[0]!.labels.instance_id]);

  const org = await insertOrganization(pier.store.db, 'someone-else');
  const other = generateToken();
  await insertToken(pier.store.db, org.id, 'other', other);
  assert.equal((await metric('HTTP_THROUGHPUT', other)).status, 404);
});

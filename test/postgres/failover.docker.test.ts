// Issue #25's repro as a test: two `pier up` control planes on one PostgreSQL database and one Docker engine, and a
// regional edge (`pier edge`'s createRemoteEdge) started against the follower only. It follows to the leader; under a
// bounded load loop through the regional edge, kill -9 the leader, then roll out a new version through the other
// control plane; then stop PostgreSQL for 6 s and roll out again: zero failed requests, the API answers 503 with
// Retry-After meanwhile and logs the outage once, and the regional edge serves each new version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { ensureTestImage } from '../../src/runtime/testing/images.ts';
import { createRemoteEdge, type RemoteEdge } from '../../src/edge/remote.ts';
import { until } from '../support/until.ts';
import { edgeGet, startLoad, webDef } from '../autoscale/harness.ts';
import { postgresUnavailable, startPgCluster } from './cluster.ts';
import { cleanUpPlanes, exited, planeInfo, PLANE_TOKEN, startPlane, type Plane } from './planes.ts';

const engineUp = await new DockerEngine().ping(3000).then(() => true, () => false);
const skip = postgresUnavailable() ?? (engineUp ? undefined : 'no Docker engine');

test('failover through a regional edge: follows the leader, kill -9 then a rollout, 0 failed requests', { skip, timeout: 240_000 }, async () => {
  await ensureTestImage();
  const cluster = await startPgCluster();
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-failover-'));
  const planes: Plane[] = [];
  let scope = '';
  let remote: RemoteEdge | undefined;
  const edgeLines: string[] = [];
  try {
    const databaseUrl = await cluster.createDatabase('failover');
    const a = await startPlane('a', dataDir, databaseUrl);
    planes.push(a);
    const b = await startPlane('b', dataDir, databaseUrl);
    planes.push(b);
    scope = readFileSync(join(dataDir, 'installation-id'), 'utf8').trim();
    assert.equal((await planeInfo(a)).leader, true);
    assert.equal((await planeInfo(b)).leader, false);

    // Started against the follower only: it binds at once, is sent to the leader and says so once.
    remote = await createRemoteEdge({ api: b.apiUrl, token: PLANE_TOKEN, addr: '127.0.0.1:0', region: 'fra', log: (l) => edgeLines.push(`${new Date().toISOString()} ${l}`) });
    await remote.firstTable;
    assert.equal(remote.apiUrl(), a.apiUrl, edgeLines.join('\n'));
    assert.equal(edgeLines.filter((l) => l.includes(`following the leader at ${a.apiUrl}`)).length, 1, edgeLines.join('\n'));
    assert.equal((await fetch(`${remote.url}/_pier/ready`)).status, 200);

    const appId = (await b.api('POST', '/v1/apps', { name: 'failover' })).body.app.id as string;
    const def = webDef('docker', { min: 1, max: 1 });
    const created = await b.api('POST', '/v1/services', { app_id: appId, name: 'web', definition: def });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const serviceId = created.body.service.id as string;
    const first = created.body.service.latest_deployment_id as string;
    await until('first deployment HEALTHY', async () => {
      const d = (await b.api('GET', `/v1/deployments/${first}`)).body.deployment;
      if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}`);
      return d.status === 'HEALTHY';
    }, 90_000, 300);
    const host = 'failover-pier.localhost';
    await until('the regional edge to serve the app', async () => (await edgeGet(remote!.url, host)).status === 200, 30_000, 200);

    // Bounded load: 4 loops, 20 ms apart, at most 150 s.
    const load = startLoad(remote.url, host, 4, 20, 150_000);
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await exited(a.child);
    await until('b to lead', async () => (await planeInfo(b)).leader === true, 20_000, 100);
    const leadMs = Date.now() - killedAt;
    await until('the regional edge to follow b', async () => remote!.apiUrl() === b.apiUrl && !remote!.apiUnreachable(), 30_000, 100);
    const followMs = Date.now() - killedAt;
    edgeLines.push(`${new Date(killedAt).toISOString()} (leader killed)`);

    const patched = await b.api('PATCH', `/v1/services/${serviceId}`, { definition: { ...def, env: [{ key: 'GREETING', value: 'v2-{{ KOYEB_INSTANCE_ID }}' }] } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const second = patched.body.service.latest_deployment_id as string;
    await until('second deployment HEALTHY', async () => {
      const d = (await b.api('GET', `/v1/deployments/${second}`)).body.deployment;
      if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}`);
      return d.status === 'HEALTHY';
    }, 90_000, 300);
    await until('the regional edge to serve v2', async () => (await edgeGet(remote!.url, host)).body.includes('v2-'), 30_000, 200);
    // A few seconds more of load after the old instance was stopped.
    await new Promise((r) => setTimeout(r, 3000));

    // PostgreSQL stopped for 6 s: the API answers 503 with Retry-After, traffic keeps flowing, the store logs the
    // outage once; afterwards b leads again and a rollout goes through.
    const okBefore = load.stats.ok;
    await cluster.pause();
    const pausedAt = Date.now();
    const during = await b.api('GET', '/v1/apps');
    assert.equal(during.status, 503, JSON.stringify(during.body));
    assert.equal(during.body.code, 'unavailable');
    await new Promise((r) => setTimeout(r, Math.max(0, 6000 - (Date.now() - pausedAt))));
    await cluster.resume();
    const resumedAt = Date.now();
    await until('the API answers again', async () => (await b.api('GET', '/v1/apps')).status === 200, 30_000, 100);
    await until('b to lead again', async () => (await planeInfo(b)).leader === true, 30_000, 100);
    const recoverMs = Date.now() - resumedAt;
    assert.ok(load.stats.ok > okBefore, 'requests were served during the outage');
    const outageLines = b.output.join('').split('\n').filter((l) => /store unreachable since/.test(l));
    assert.equal(outageLines.length, 1, `one outage line: ${outageLines.join(' | ')}`);
    const v3 = await b.api('PATCH', `/v1/services/${serviceId}`, { definition: { ...def, env: [{ key: 'GREETING', value: 'v3-{{ KOYEB_INSTANCE_ID }}' }] } });
    assert.equal(v3.status, 200, JSON.stringify(v3.body));
    const third = v3.body.service.latest_deployment_id as string;
    await until('third deployment HEALTHY', async () => {
      const d = (await b.api('GET', `/v1/deployments/${third}`)).body.deployment;
      if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}`);
      return d.status === 'HEALTHY';
    }, 90_000, 300);
    await until('the regional edge to serve v3', async () => (await edgeGet(remote!.url, host)).body.includes('v3-'), 30_000, 200);
    await new Promise((r) => setTimeout(r, 2000));
    await load.stop();
    process.stdout.write(`# failover via regional edge: b leads after ${leadMs} ms, edge follows after ${followMs} ms; ` +
      `PostgreSQL back after a 6 s stop: b leads again after ${recoverMs} ms; ${load.stats.ok} ok, ${load.stats.failed} failed; ` +
      `${b.output.join('').split('\n').filter((l) => /unreachable/.test(l)).length} log lines of b name the outage\n`);
    assert.equal(load.stats.failed, 0, `failed requests: ${load.stats.failures.join(' | ')}\n${edgeLines.join('\n')}`);
    assert.ok(load.stats.ok > 100, 'the load loop ran');
    await b.api('DELETE', `/v1/apps/${appId}`);
  } finally {
    await remote?.close();
    await cleanUpPlanes(planes, scope);
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

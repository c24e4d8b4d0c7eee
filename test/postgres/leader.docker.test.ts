// Two `pier up` control planes (separate processes) on one PostgreSQL database and one Docker engine (same data dir,
// so the same installation scope and master key): one leads; a service created through the follower's API is
// deployed by the leader; a log tail opened on the follower gets the lines appended after it opened; kill -9 the leader and the follower takes over within a bound, adopts the running
// instance (no duplicate container, no orphan), serves it through its own edge, and deploys a new version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { ensureTestImage } from '../../src/runtime/testing/images.ts';
import { until } from '../support/until.ts';
import { edgeGet, webDef } from '../autoscale/harness.ts';
import { postgresUnavailable, startPgCluster } from './cluster.ts';
import { WebSocket } from 'ws';
import { PgDb } from '../../src/store/pg.ts';
import { appendLogLines } from '../../src/store/logs.ts';
import { cleanUpPlanes, exited, planeInfo as info, PLANE_TOKEN, startPlane, type Plane } from './planes.ts';

const engine = new DockerEngine();
const engineUp = await engine.ping(3000).then(() => true, () => false);
const skip = postgresUnavailable() ?? (engineUp ? undefined : 'no Docker engine');
/** Docker containers of this installation running the service (by Pier's labels). */
async function containersOf(scope: string, serviceId: string): Promise<string[]> {
  const filters = JSON.stringify({ label: [`dev.pier.scope=${scope}`, `dev.pier.service_id=${serviceId}`], status: ['running', 'created', 'restarting'] });
  const list = await engine.json<{ Id: string }[]>('GET', '/containers/json', { query: { all: 1, filters } });
  return list.map((c) => c.Id).sort();
}

test('leader failover: the follower takes over within seconds, adopts the instance and deploys', { skip, timeout: 180_000 }, async () => {
  await ensureTestImage();
  const cluster = await startPgCluster();
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-leader-'));
  const planes: Plane[] = [];
  let scope = '';
  try {
    const databaseUrl = await cluster.createDatabase('leader');
    // One after the other: the first creates the installation id and master key the second then reads.
    const a = await startPlane('a', dataDir, databaseUrl);
    planes.push(a);
    const b = await startPlane('b', dataDir, databaseUrl);
    planes.push(b);
    scope = readFileSync(join(dataDir, 'installation-id'), 'utf8').trim();
    assert.equal((await info(a)).leader, true, 'the first control plane leads');
    const infoB = await info(b);
    assert.equal(infoB.leader, false, 'the second stands by');
    assert.equal(infoB.edge_url, undefined, 'a follower runs no edge');
    const edgeA = (await info(a)).edge_url as string;

    // Everything through the follower's API: the leader deploys it.
    const appId = (await b.api('POST', '/v1/apps', { name: 'failover' })).body.app.id as string;
    const def = webDef('docker', { min: 1, max: 1 });
    const created = await b.api('POST', '/v1/services', { app_id: appId, name: 'web', definition: def });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const serviceId = created.body.service.id as string;
    const firstDeployment = created.body.service.latest_deployment_id as string;
    await until('first deployment HEALTHY', async () => {
      const d = (await b.api('GET', `/v1/deployments/${firstDeployment}`)).body.deployment;
      if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}`);
      return d.status === 'HEALTHY';
    }, 90_000, 300);
    const host = 'failover-pier.localhost';
    await until('the leader edge to serve the app', async () => (await edgeGet(edgeA, host)).status === 200, 30_000, 200);
    const live = (await b.api('GET', `/v1/instances?service_id=${serviceId}&statuses=HEALTHY`)).body.instances as any[];
    assert.equal(live.length, 1);
    const before = await containersOf(scope, serviceId);
    assert.equal(before.length, 1);

    // A live log tail opened on the follower's API gets the lines the leader's process appends after it opened
    // (the follower's log relay; before it, a follower's tail saw its backlog and then nothing). The "leader's
    // process" here is a third connection appending as the collector does, without publishing in b's process.
    {
      const db = new PgDb({ url: databaseUrl });
      const ws = new WebSocket(`${b.apiUrl.replace(/^http/, 'ws')}/v1/streams/logs/tail?service_id=${serviceId}&type=runtime`, ['Bearer', PLANE_TOKEN]);
      try {
        await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
        const got: string[] = [];
        ws.on('message', (data) => { const m = JSON.parse(String(data)).result?.msg; if (typeof m === 'string') got.push(m); });
        const inst = live[0]!;
        const mark = `relayed line ${Date.now()}`;
        await appendLogLines(db, [{
          organization_id: inst.organization_id, app_id: appId, service_id: serviceId, deployment_id: firstDeployment,
          regional_deployment_id: inst.regional_deployment_id, instance_id: inst.id, region: inst.region, type: 'runtime',
          stream: 'stdout', msg: mark, created_at: new Date().toISOString(),
        }]);
        await until('the follower\'s tail to get the new line', async () => got.includes(mark), 10_000, 50);
      } finally {
        ws.close();
        await db.close();
      }
    }

    // kill -9 the leader: its lease expires, the follower takes over.
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await exited(a.child);
    await until('the follower to lead', async () => (await info(b)).leader === true, 20_000, 100);
    const failoverMs = Date.now() - killedAt;
    process.stdout.write(`# leader failover took ${failoverMs} ms (lease ttl 5000 ms, renew every 1500 ms)\n`);
    assert.ok(failoverMs < 15_000, `failover took ${failoverMs} ms`);

    // The new leader adopted the running container: its own edge serves it, nothing was started twice.
    const edgeB = (await info(b)).edge_url as string;
    assert.ok(edgeB && edgeB !== edgeA);
    const reply = await until('the new leader edge to serve the adopted instance', async () => {
      const r = await edgeGet(edgeB, host);
      return r.status === 200 ? r : undefined;
    }, 30_000, 200);
    assert.equal(reply.body.trim(), `hello from pier instance-${live[0].id}`, 'the instance that ran before the failover');
    assert.deepEqual(await containersOf(scope, serviceId), before, 'the same container, no duplicate');
    const afterFailover = (await b.api('GET', `/v1/instances?service_id=${serviceId}&statuses=HEALTHY&statuses=STARTING&statuses=ALLOCATING`)).body.instances as any[];
    assert.deepEqual(afterFailover.map((i) => i.id), [live[0].id]);

    // A new deployment after the failover completes, and the old instance goes away (no orphan).
    const patched = await b.api('PATCH', `/v1/services/${serviceId}`, {
      definition: { ...def, env: [{ key: 'GREETING', value: 'v2-{{ KOYEB_INSTANCE_ID }}' }] },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const second = patched.body.service.latest_deployment_id as string;
    assert.notEqual(second, firstDeployment);
    await until('second deployment HEALTHY', async () => {
      const d = (await b.api('GET', `/v1/deployments/${second}`)).body.deployment;
      if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}`);
      return d.status === 'HEALTHY';
    }, 90_000, 300);
    await until('the edge to serve v2', async () => (await edgeGet(edgeB, host)).body.includes('v2-'), 30_000, 200);
    const after = await until('one container left', async () => {
      const ids = await containersOf(scope, serviceId);
      return ids.length === 1 ? ids : undefined;
    }, 60_000, 300);
    assert.ok(!after.includes(before[0]!), 'the first container was removed');

    // Clean up through the API: deleting the app removes its containers.
    await b.api('DELETE', `/v1/apps/${appId}`);
    await until('containers removed', async () => (await containersOf(scope, serviceId)).length === 0, 60_000, 300);
  } finally {
    // Anything of this installation still there (a failed run) goes: only our own scope's containers.
    await cleanUpPlanes(planes, scope);
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

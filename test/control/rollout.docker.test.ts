// The reconcilers against a real Docker engine and the real SQLite store: start, health-gated rolling update,
// failed rollout keeping the old deployment, crash loop, OOM, pause/resume, control-plane restart adoption,
// cancel, delete. Every wait is bounded; assertions are on outcomes, never on durations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createController, type Controller } from '../../src/control/controller.ts';
import { storeState } from '../../src/control/store-state.ts';
import type { ControlState } from '../../src/control/ports.ts';
import type { App, DeploymentDefinition, Service } from '../../src/domain/types.ts';
import { DockerRuntime } from '../../src/runtime/docker/driver.ts';
import { ensureTestImage } from '../../src/runtime/testing/images.ts';
import { insertApp, getApp } from '../../src/store/apps.ts';
import { insertDeployment, getDeployment, maxDeploymentVersion, updateDeployment } from '../../src/store/deployments.ts';
import { listInstances } from '../../src/store/instances.ts';
import { insertOrganization } from '../../src/store/organizations.ts';
import { insertRegionalDeployment } from '../../src/store/regional-deployments.ts';
import { getService, insertService, updateService } from '../../src/store/services.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { deploymentRows, serviceRow, webDefinition } from './world.ts';

const runtime = new DockerRuntime();
const engineUp = await runtime.capabilities().then(() => true, () => false);

function get(host: string, port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

test('control plane over docker + sqlite', { skip: engineUp ? false : 'Docker engine not reachable', timeout: 600_000 }, async (t) => {
  const image = await ensureTestImage();
  const dir = mkdtempSync(join(tmpdir(), 'pier-control-'));
  const store: Store = await openStore({ dataDir: dir });
  const state: ControlState = storeState(store);
  const db = store.db;
  const org = await insertOrganization(db, `acme${Date.now() % 100000}`);
  const now = () => new Date().toISOString();
  const app: App = {
    id: crypto.randomUUID(), name: 'shop', organization_id: org.id, created_at: now(), updated_at: now(), started_at: null,
    succeeded_at: null, paused_at: null, resumed_at: null, terminated_at: null, status: 'STARTING', messages: [],
    version: '1', domains: [], life_cycle: {},
  };
  await insertApp(db, app);
  const errors: string[] = [];
  const makeController = () => createController({
    state, runtime, publicDomain: 'pier.test',
    intervals: {
      resyncMs: 200, health: { intervalMs: 200, graceMs: 0, timeoutMs: 1000 }, restartBackoffMs: 200,
      restartBackoffMaxMs: 400, maxRestarts: 2, rolloutTimeoutMs: 30_000, stopGraceMs: 2000, drainTimeoutMs: 100,
    },
    onError: (err, context) => errors.push(`${context}: ${err instanceof Error ? err.message : String(err)}`),
  });
  let ctl: Controller = makeController();
  const created: Service[] = [];

  /** Runs passes until `done` holds (bounded: 600 passes, 100 ms apart). */
  async function until(what: string, done: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 600; i++) {
      await ctl.reconcileOnce();
      if (await done()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    const live = (await listInstances(db, { organizationId: org.id })).items.slice(0, 5).map((i) => `${i.status} ${i.messages[0]}`);
    throw new Error(`timed out waiting for: ${what}; errors: ${errors.join(' | ')}; instances: ${live.join(' | ')}`);
  }
  const svcOf = async (id: string) => (await getService(db, id))!;
  const depOf = async (id: string) => (await getDeployment(db, id))!;
  async function deploy(svc: Service, def: DeploymentDefinition): Promise<string> {
    const { deployment, regionals } = deploymentRows(svc, def, now(), svc.latest_deployment_id || undefined);
    deployment.version = String((await maxDeploymentVersion(db, svc.id)) + 1);
    await insertDeployment(db, deployment);
    for (const r of regionals) await insertRegionalDeployment(db, r);
    await updateService(db, svc.id, { latest_deployment_id: deployment.id });
    return deployment.id;
  }
  async function createService(def: DeploymentDefinition): Promise<{ service: Service; deploymentId: string }> {
    const service = serviceRow(org.id, app.id, def, now());
    await insertService(db, service);
    created.push(service);
    return { service, deploymentId: await deploy(service, def) };
  }
  async function upstreamBody(serviceId: string): Promise<string> {
    const routes = await ctl.routes();
    const entry = routes.flatMap((a) => a.routes).find((r) => r.serviceId === serviceId);
    const u = entry?.upstreams[0];
    if (!u) return '';
    return (await get(u.host, u.port)).body;
  }
  const containersOf = async (serviceId: string) => (await runtime.recover()).filter((h) => h.labels.service_id === serviceId);
  const def = (over: Partial<DeploymentDefinition> = {}) => webDefinition({ docker: { image }, instance_types: [{ type: 'nano' }], ...over });

  try {
    const { service, deploymentId: v1 } = await createService(def({ env: [{ key: 'GREETING', value: 'v1' }] }));

    await t.test('start: the first deployment becomes HEALTHY and serves through its upstream', async () => {
      await until('v1 healthy', async () => (await svcOf(service.id)).status === 'HEALTHY');
      assert.equal((await depOf(v1)).status, 'HEALTHY');
      assert.equal((await svcOf(service.id)).active_deployment_id, v1);
      assert.match(await upstreamBody(service.id), /hello from pier v1/);
      assert.equal((await getApp(db, app.id))!.status, 'HEALTHY');
      const lines = async () => (await db.all<{ stream: string; msg: string }>('SELECT stream, msg FROM log_lines WHERE service_id = ?', [service.id]));
      await until('logs collected', async () => (await lines()).some((l) => l.stream === 'stderr' && l.msg === 'a line on stderr'));
      const all = await lines();
      assert.ok(all.some((l) => l.stream === 'stdout' && l.msg === 'starting on port 8000'));
      assert.ok(all.some((l) => l.stream === 'koyeb' && l.msg === 'Instance is starting... Waiting for health checks to pass.'));
    });

    let v2 = '';
    await t.test('rolling update: v2 becomes ACTIVE only once healthy, v1 is stopped and its container removed', async () => {
      v2 = await deploy(await svcOf(service.id), def({ env: [{ key: 'GREETING', value: 'v2' }] }));
      await until('v2 active', async () => (await svcOf(service.id)).active_deployment_id === v2 && (await depOf(v1)).status === 'STOPPED');
      assert.match(await upstreamBody(service.id), /hello from pier v2/);
      assert.equal((await containersOf(service.id)).length, 1);
      assert.equal((await svcOf(service.id)).status, 'HEALTHY');
    });

    await t.test('failed rollout and crash loop: v3 exits 1, ends in ERROR, v2 keeps serving, service DEGRADED', async () => {
      const v3 = await deploy(await svcOf(service.id), def({ docker: { image, args: ['exit', '1'] } }));
      await until('v3 error', async () => (await depOf(v3)).status === 'ERROR');
      const [inst] = (await listInstances(db, { deploymentId: v3 })).items;
      assert.equal(inst.status, 'ERROR');
      assert.match(inst.messages[0], /keeps crashing.*exited with code 1/s);
      await until('service degraded', async () => (await svcOf(service.id)).status === 'DEGRADED');
      assert.ok((await svcOf(service.id)).messages.some((m) => m.includes(v3)));
      assert.equal((await svcOf(service.id)).active_deployment_id, v2);
      assert.match(await upstreamBody(service.id), /hello from pier v2/);
    });

    await t.test('OOM: an instance over its memory limit is reported as out of memory', async () => {
      const { deploymentId } = await createService(def({ name: 'hog', ports: [], routes: [], health_checks: [], type: 'WORKER', docker: { image, args: ['oom', '320'] } }));
      // A worker counts as healthy while it runs, so this deployment may have become ACTIVE before the kill.
      const instanceOf = async () => (await listInstances(db, { deploymentId })).items[0];
      await until('oom instance error', async () => (await instanceOf())?.status === 'ERROR');
      const inst = await instanceOf();
      assert.match(inst.messages[0], /out of memory/);
    });

    await t.test('restart adoption: a new controller adopts running containers and starts nothing twice', async () => {
      const before = (await containersOf(service.id)).map((h) => h.runtimeId);
      await ctl.stop();
      ctl = makeController();
      await ctl.recover();
      await until('still healthy', async () => (await svcOf(service.id)).status === 'DEGRADED' || (await svcOf(service.id)).status === 'HEALTHY');
      for (let i = 0; i < 3; i++) await ctl.reconcileOnce();
      assert.deepEqual((await containersOf(service.id)).map((h) => h.runtimeId), before);
      assert.match(await upstreamBody(service.id), /hello from pier v2/);
    });

    await t.test('pause stops every container (PAUSED); resume rolls out a new deployment (HEALTHY)', async () => {
      await updateService(db, service.id, { status: 'PAUSING' });
      await until('paused', async () => (await svcOf(service.id)).status === 'PAUSED');
      assert.equal((await containersOf(service.id)).length, 0);
      assert.equal((await depOf(v2)).status, 'STOPPED');
      await updateService(db, service.id, { status: 'RESUMING' });
      const v4 = await deploy(await svcOf(service.id), def({ env: [{ key: 'GREETING', value: 'v4' }] }));
      await until('resumed', async () => (await svcOf(service.id)).status === 'HEALTHY' && (await svcOf(service.id)).active_deployment_id === v4);
      assert.match(await upstreamBody(service.id), /hello from pier v4/);
    });

    await t.test('cancel: a CANCELING deployment ends CANCELED and starts no container', async () => {
      const v5 = await deploy(await svcOf(service.id), def({ env: [{ key: 'GREETING', value: 'v5' }] }));
      await updateDeployment(db, v5, { status: 'CANCELING' });
      await until('canceled', async () => (await depOf(v5)).status === 'CANCELED');
      assert.equal((await listInstances(db, { deploymentId: v5 })).items.length, 0);
    });

    await t.test('delete: every container of the service is removed, then DELETED', async () => {
      await updateService(db, service.id, { status: 'DELETING' });
      await until('deleted', async () => (await svcOf(service.id)).status === 'DELETED');
      assert.equal((await containersOf(service.id)).length, 0);
    });
    assert.deepEqual(errors, [], errors.join(' // '));
  } finally {
    await ctl.stop();
    for (const h of await runtime.recover()) {
      if (created.some((s) => s.id === h.labels.service_id)) { await runtime.stop(h.runtimeId, 0); await runtime.remove(h.runtimeId); }
    }
    await runtime.removeNetwork?.(`pier-app-${app.id}`);
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

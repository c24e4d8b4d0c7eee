// The rollout scenario every real runtime goes through: the reconcilers over a real driver and the real SQLite
// store. Start, health-gated rolling update, failed rollout keeping the old deployment (crash loop), OOM,
// restart adoption, pause/resume, cancel, BLUE_GREEN, IMMEDIATE, delete. Every wait is bounded; assertions are on outcomes,
// never on durations. Run by rollout.docker.test.ts, rollout.process.slow.test.ts, rollout.gvisor.slow.test.ts and
// rollout.microvm.slow.test.ts; a slow driver stretches the bounds (`slowdown`), never the assertions.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createController, type Controller } from '../../src/control/controller.ts';
import { storeState } from '../../src/control/store-state.ts';
import type { Builder, ControlState } from '../../src/control/ports.ts';
import type { App, DeploymentDefinition, Service } from '../../src/domain/types.ts';
import type { Runtime } from '../../src/runtime/contract.ts';
import { insertApp, getApp } from '../../src/store/apps.ts';
import { insertDeployment, getDeployment, maxDeploymentVersion, updateDeployment } from '../../src/store/deployments.ts';
import { listInstances } from '../../src/store/instances.ts';
import { insertOrganization } from '../../src/store/organizations.ts';
import { insertRegionalDeployment } from '../../src/store/regional-deployments.ts';
import { getService, insertService, updateService } from '../../src/store/services.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { deploymentRows, serviceRow } from './world.ts';

/** What differs between runtimes: the driver, how a definition runs the test app (testing/images.ts) in a mode. */
export interface RolloutTarget {
  runtime: Runtime;
  /**
   * A web definition (port 8000, route /, HTTP check) whose instances run the test app with `args` (none = serve).
   */
  definition(args: string[], over?: Partial<DeploymentDefinition>): DeploymentDefinition;
  /** Turns git definitions into something the runtime runs (the process runtime's prepared directories). */
  builder?: Builder;
  /**
   * How many times slower than runc the driver starts, stops and serves (gVisor's ptrace platform, microVMs under
   * TCG); default 1. Multiplies every bound: the number of passes a wait may take, the controller's rollout timeout,
   * health check timeout and stop grace period; above 1 an app also gets 5 s times the factor to listen before failed
   * checks count (runc's 0 would restart a VM whose httpd is still starting). No assertion changes with it.
   */
  slowdown?: number;
}

/** GET with a bounded timeout and no keep-alive. */
export function get(host: string, port: number, path = '/'): Promise<{ status: number; body: string }> {
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

/** Runs the whole scenario as subtests of `t`; removes every workload it created, whatever happens. */
export async function runRolloutScenario(t: TestContext, target: RolloutTarget): Promise<void> {
  const { runtime } = target;
  const slowdown = Math.max(1, target.slowdown ?? 1);
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
    state, runtime, publicDomain: 'pier.test', builder: target.builder,
    intervals: {
      resyncMs: 200, health: { intervalMs: 200, graceMs: slowdown > 1 ? 5000 * slowdown : 0, timeoutMs: 1000 * slowdown }, restartBackoffMs: 200,
      restartBackoffMaxMs: 400, maxRestarts: 2, rolloutTimeoutMs: 30_000 * slowdown, stopGraceMs: 2000 * slowdown, drainTimeoutMs: 100,
    },
    onError: (err, context) => errors.push(`${context}: ${err instanceof Error ? err.message : String(err)}`),
  });
  let ctl: Controller = makeController();
  const created: Service[] = [];

  /** Runs passes until `done` holds (bounded: 600 passes times the slowdown, 100 ms apart); `each` observes the world after every pass. */
  async function until(what: string, done: () => Promise<boolean>, each?: () => Promise<void>): Promise<void> {
    for (let i = 0; i < 600 * slowdown; i++) {
      await ctl.reconcileOnce();
      await each?.();
      if (await done()) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    const live = (await listInstances(db, { organizationId: org.id })).items.slice(0, 5).map((i) => `${i.status} ${i.messages[0]}`);
    throw new Error(`timed out waiting for: ${what}; errors: ${errors.join(' | ')}; instances: ${live.join(' | ')}`);
  }
  const svcOf = async (id: string) => (await getService(db, id))!;
  const depOf = async (id: string) => (await getDeployment(db, id))!;
  const instancesOf = async (deploymentId: string) => (await listInstances(db, { deploymentId })).items;
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
  async function upstreams(serviceId: string) {
    const routes = await ctl.routes();
    return routes.flatMap((a) => a.routes).find((r) => r.serviceId === serviceId)?.upstreams ?? [];
  }
  async function upstreamBody(serviceId: string): Promise<string> {
    const u = (await upstreams(serviceId))[0];
    return u ? (await get(u.host, u.port)).body : '';
  }
  const workloadsOf = async (serviceId: string) => (await runtime.recover()).filter((h) => h.labels.service_id === serviceId);
  const def = (args: string[] = [], over: Partial<DeploymentDefinition> = {}) => target.definition(args, { instance_types: [{ type: 'nano' }], ...over });
  const greeting = (g: string) => ({ env: [{ key: 'GREETING', value: g }] });

  try {
    const { service, deploymentId: v1 } = await createService(def([], greeting('v1')));

    await t.test('start: the first deployment becomes HEALTHY and serves through its upstream', async () => {
      await until('v1 healthy', async () => (await svcOf(service.id)).status === 'HEALTHY');
      assert.equal((await depOf(v1)).status, 'HEALTHY');
      assert.equal((await svcOf(service.id)).active_deployment_id, v1);
      assert.match(await upstreamBody(service.id), /hello from pier v1/);
      assert.equal((await getApp(db, app.id))!.status, 'HEALTHY');
      const lines = async () => (await db.all<{ stream: string; msg: string }>('SELECT stream, msg FROM log_lines WHERE service_id = ?', [service.id]));
      await until('logs collected', async () => (await lines()).some((l) => l.stream === 'stderr' && l.msg === 'a line on stderr'));
      const all = await lines();
      assert.ok(all.some((l) => l.stream === 'stdout' && /^starting on port \d+$/.test(l.msg)));
      assert.ok(all.some((l) => l.stream === 'koyeb' && l.msg === 'Instance is starting... Waiting for health checks to pass.'));
    });

    let v2 = '';
    await t.test('rolling update: v2 becomes ACTIVE only once healthy, v1 is stopped and its workload removed', async () => {
      const [old] = await instancesOf(v1);
      v2 = await deploy(await svcOf(service.id), def([], greeting('v2')));
      // Health-gated: v1 keeps serving (is never stopped) while v2 has no healthy instance.
      const gate = async () => {
        const fresh = await instancesOf(v2);
        const oldRow = (await instancesOf(v1)).find((i) => i.id === old.id)!;
        if (!fresh.some((i) => i.status === 'HEALTHY')) assert.equal(oldRow.status, 'HEALTHY', 'v1 stopped before v2 was healthy');
      };
      await until('v2 active', async () => (await svcOf(service.id)).active_deployment_id === v2 && (await depOf(v1)).status === 'STOPPED', gate);
      assert.match(await upstreamBody(service.id), /hello from pier v2/);
      assert.equal((await workloadsOf(service.id)).length, 1);
      assert.equal((await svcOf(service.id)).status, 'HEALTHY');
    });

    await t.test('failed rollout and crash loop: v3 exits 1, ends in ERROR, v2 keeps serving, service DEGRADED', async () => {
      const v3 = await deploy(await svcOf(service.id), def(['exit', '1']));
      await until('v3 error', async () => (await depOf(v3)).status === 'ERROR');
      const [inst] = await instancesOf(v3);
      assert.equal(inst.status, 'ERROR');
      assert.match(inst.messages[0], /keeps crashing.*exited with code 1 after .*goodbye from stderr|keeps crashing.*exited with code 1 after .*exiting with 1/s);
      await until('service degraded', async () => (await svcOf(service.id)).status === 'DEGRADED');
      assert.ok((await svcOf(service.id)).messages.some((m) => m.includes(v3)));
      assert.equal((await svcOf(service.id)).active_deployment_id, v2);
      assert.match(await upstreamBody(service.id), /hello from pier v2/);
    });

    await t.test('OOM: an instance over its memory limit is reported as out of memory', async () => {
      const hog = { name: 'hog', ports: [], routes: [], health_checks: [], type: 'WORKER' as const };
      // 288 MB in one buffer: past nano's 256 MB, and under what a microVM's kernel (256 + 96 MiB of RAM) lets one
      // malloc have (it refuses 320 MB outright: "dd: out of memory", exit 1, no OOM kill).
      const { deploymentId } = await createService(def(['oom', '288'], hog));
      // A worker counts as healthy while it runs, so this deployment may have become ACTIVE before the kill.
      const instanceOf = async () => (await instancesOf(deploymentId))[0];
      await until('oom instance error', async () => (await instanceOf())?.status === 'ERROR');
      assert.match((await instanceOf()).messages[0], /keeps crashing.*killed: out of memory \(limit 256 MB\)/s);
    });

    await t.test('restart adoption: a new controller adopts running workloads and starts nothing twice', async () => {
      const before = (await workloadsOf(service.id)).map((h) => h.runtimeId);
      assert.equal(before.length, 1);
      await ctl.stop();
      ctl = makeController();
      await ctl.recover();
      await until('still serving', async () => ['DEGRADED', 'HEALTHY'].includes((await svcOf(service.id)).status));
      for (let i = 0; i < 3; i++) await ctl.reconcileOnce();
      assert.deepEqual((await workloadsOf(service.id)).map((h) => h.runtimeId), before);
      assert.match(await upstreamBody(service.id), /hello from pier v2/);
    });

    await t.test('pause stops every workload (PAUSED); resume rolls out a new deployment (HEALTHY)', async () => {
      await updateService(db, service.id, { status: 'PAUSING' });
      await until('paused', async () => (await svcOf(service.id)).status === 'PAUSED');
      assert.equal((await workloadsOf(service.id)).length, 0);
      assert.equal((await depOf(v2)).status, 'STOPPED');
      await updateService(db, service.id, { status: 'RESUMING' });
      const v4 = await deploy(await svcOf(service.id), def([], greeting('v4')));
      await until('resumed', async () => (await svcOf(service.id)).status === 'HEALTHY' && (await svcOf(service.id)).active_deployment_id === v4);
      assert.match(await upstreamBody(service.id), /hello from pier v4/);
    });

    await t.test('cancel: a CANCELING deployment ends CANCELED and starts no workload', async () => {
      const v5 = await deploy(await svcOf(service.id), def([], greeting('v5')));
      await updateDeployment(db, v5, { status: 'CANCELING' });
      await until('canceled', async () => (await depOf(v5)).status === 'CANCELED');
      assert.equal((await instancesOf(v5)).length, 0);
    });

    await t.test('BLUE_GREEN: two new instances are healthy before the switch; the old one serves until then', async () => {
      const active = (await svcOf(service.id)).active_deployment_id;
      const [old] = (await instancesOf(active)).filter((i) => i.status === 'HEALTHY');
      const v6 = await deploy(await svcOf(service.id), def([], { ...greeting('v6'), strategy: { type: 'DEPLOYMENT_STRATEGY_TYPE_BLUE_GREEN' }, scalings: [{ min: 2, max: 2 }] }));
      const gate = async () => {
        const healthy = (await instancesOf(v6)).filter((i) => i.status === 'HEALTHY').length;
        const oldRow = (await instancesOf(active)).find((i) => i.id === old.id)!;
        if (healthy < 2) {
          assert.equal(oldRow.status, 'HEALTHY', 'the old instance stopped before the full new set was healthy');
          assert.equal((await svcOf(service.id)).active_deployment_id, active);
        }
      };
      await until('v6 active', async () => (await svcOf(service.id)).active_deployment_id === v6 && (await depOf(active)).status === 'STOPPED', gate);
      assert.equal((await workloadsOf(service.id)).length, 2);
      assert.equal((await upstreams(service.id)).length, 2);
      assert.match(await upstreamBody(service.id), /hello from pier v6/);
    });

    await t.test('IMMEDIATE: the old deployment is stopped before any new instance starts', async () => {
      const active = (await svcOf(service.id)).active_deployment_id;
      const v7 = await deploy(await svcOf(service.id), def([], { ...greeting('v7'), strategy: { type: 'DEPLOYMENT_STRATEGY_TYPE_IMMEDIATE' } }));
      const gate = async () => {
        if ((await instancesOf(v7)).length > 0) assert.equal((await depOf(active)).status, 'STOPPED', 'a new instance exists while the old deployment runs');
      };
      await until('v7 active', async () => (await svcOf(service.id)).active_deployment_id === v7 && (await svcOf(service.id)).status === 'HEALTHY', gate);
      assert.equal((await workloadsOf(service.id)).length, 1);
      assert.match(await upstreamBody(service.id), /hello from pier v7/);
    });

    await t.test('delete: every workload of the service is removed, then DELETED', async () => {
      await updateService(db, service.id, { status: 'DELETING' });
      await until('deleted', async () => (await svcOf(service.id)).status === 'DELETED');
      assert.equal((await workloadsOf(service.id)).length, 0);
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
}

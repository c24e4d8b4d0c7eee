// The ControlState contract: what the reconcilers may rely on from any implementation of the port. Run by the real
// store-backed state (SQLite) and by the in-memory double the fast table tests use, so the double cannot drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { App, Deployment, Instance, Organization, RegionalDeployment, Service } from '../../src/domain/types.ts';
import type { ControlState } from '../../src/control/ports.ts';
import { deploymentRows, serviceRow, webDefinition } from './world.ts';

/** Writes rows the way the API's actions store them (the port itself only writes statuses). */
export interface StateSeeder {
  organization(name: string): Promise<Organization>;
  app(row: App): Promise<void>;
  service(row: Service): Promise<void>;
  deployment(row: Deployment, regionals: RegionalDeployment[]): Promise<void>;
  manualScaling(organizationId: string, serviceId: string, count: number): Promise<void>;
}

/** One implementation under test: its state, how to seed it, and how to dispose of it. */
export interface StateUnderTest { state: ControlState; seed: StateSeeder; close(): Promise<void> }

const at = (n: number) => new Date(Date.parse('2025-01-01T00:00:00.000Z') + n * 1000).toISOString();

function appRow(organizationId: string, name: string, n: number): App {
  return {
    id: randomUUID(), name, organization_id: organizationId, created_at: at(n), updated_at: at(n), started_at: null,
    succeeded_at: null, paused_at: null, resumed_at: null, terminated_at: null, status: 'STARTING', messages: [],
    version: '1', domains: [], life_cycle: {},
  };
}

function instanceRow(d: Deployment, r: RegionalDeployment, replica: number, n: number): Instance {
  return {
    id: randomUUID(), created_at: at(n), updated_at: at(n), organization_id: d.organization_id, app_id: d.app_id,
    service_id: d.service_id, regional_deployment_id: r.id, allocation_id: '', type: 'nano', replica_index: replica,
    region: r.region, datacenter: r.region, hypervisor: 'fake', status: 'ALLOCATING', messages: ['allocated'],
    started_at: null, succeeded_at: null, terminated_at: null, xyz_deployment_id: d.id,
  };
}

/** Registers the contract's tests for one implementation; `make` gives a fresh, empty state per test. */
export function runControlStateContract(name: string, make: () => Promise<StateUnderTest>): void {
  async function withState(body: (s: StateUnderTest, world: { org: Organization; app: App }) => Promise<void>): Promise<void> {
    const s = await make();
    try {
      const org = await s.seed.organization(`org-${randomUUID().slice(0, 8)}`);
      const app = appRow(org.id, 'shop', 0);
      await s.seed.app(app);
      await body(s, { org, app });
    } finally {
      await s.close();
    }
  }

  test(`${name}: services and apps are listed oldest first, DELETED ones left out`, async () => {
    await withState(async ({ state, seed }, { org, app }) => {
      // Inserted out of creation order on purpose: the order is the rows' age, not the order of the writes.
      const b = { ...serviceRow(org.id, app.id, webDefinition({ name: 'b' }), at(2)), name: 'b' };
      const a = { ...serviceRow(org.id, app.id, webDefinition({ name: 'a' }), at(1)), name: 'a' };
      const gone = { ...serviceRow(org.id, app.id, webDefinition({ name: 'gone' }), at(3)), name: 'gone', status: 'DELETED' as const };
      for (const s of [b, a, gone]) await seed.service(s);
      assert.deepEqual((await state.listServices()).map((s) => s.name), ['a', 'b']);
      assert.equal((await state.getService(gone.id))?.status, 'DELETED', 'a DELETED service is still readable by id');
      const deletedApp = { ...appRow(org.id, 'old', 5), status: 'DELETED' as const };
      await seed.app(deletedApp);
      assert.deepEqual((await state.listApps()).map((x) => x.name), ['shop']);
      assert.equal((await state.getOrganization(org.id))?.id, org.id);
      assert.equal(await state.getService(randomUUID()), undefined);
    });
  });

  test(`${name}: open deployments oldest first; regional deployments and instances by deployment`, async () => {
    await withState(async ({ state, seed }, { org, app }) => {
      const svc = serviceRow(org.id, app.id, webDefinition(), at(1));
      await seed.service(svc);
      const first = deploymentRows(svc, webDefinition(), at(2));
      const second = deploymentRows(svc, webDefinition({ regions: ['fra', 'was'] }), at(3), first.deployment.id);
      const stopped = deploymentRows(svc, webDefinition(), at(4));
      stopped.deployment.status = 'STOPPED';
      // Versions are unique per service, as the actions number them.
      second.deployment.version = '2';
      stopped.deployment.version = '3';
      await seed.deployment(second.deployment, second.regionals);
      await seed.deployment(first.deployment, first.regionals);
      await seed.deployment(stopped.deployment, stopped.regionals);
      assert.deepEqual((await state.listOpenDeployments(svc.id)).map((d) => d.id), [first.deployment.id, second.deployment.id]);
      assert.deepEqual((await state.listRegionalDeployments(second.deployment.id)).map((r) => r.region).sort(), ['fra', 'was']);
      const r = second.regionals[0]!;
      assert.equal((await state.getRegionalDeployment(r.id))?.deployment_id, second.deployment.id);
      const later = instanceRow(second.deployment, r, 1, 6);
      const earlier = instanceRow(second.deployment, r, 0, 5);
      await state.createInstance(later);
      await state.createInstance(earlier);
      await assert.rejects(state.createInstance(earlier), 'an instance id is written once');
      assert.deepEqual((await state.listInstancesOfRegional(r.id)).map((i) => i.id), [earlier.id, later.id]);
      await state.updateInstance(later.id, { status: 'STOPPED', messages: ['Instance stopped.'] });
      assert.deepEqual((await state.listLiveInstances()).map((i) => i.id), [earlier.id]);
      assert.equal((await state.getInstance(later.id))?.status, 'STOPPED');
      assert.equal((await state.listInstancesOfRegional(r.id)).length, 2, 'finished instances stay listed per regional deployment');
    });
  });

  test(`${name}: patches change only the named fields; rows read back are copies`, async () => {
    await withState(async ({ state, seed }, { org, app }) => {
      const svc = serviceRow(org.id, app.id, webDefinition(), at(1));
      await seed.service(svc);
      const { deployment, regionals } = deploymentRows(svc, webDefinition(), at(2));
      await seed.deployment(deployment, regionals);
      await state.updateService(svc.id, { status: 'HEALTHY', messages: ['ok'], active_deployment_id: deployment.id });
      const read = (await state.getService(svc.id))!;
      assert.equal(read.status, 'HEALTHY');
      assert.equal(read.active_deployment_id, deployment.id);
      assert.equal(read.name, svc.name);
      read.status = 'DELETING';
      assert.equal((await state.getService(svc.id))?.status, 'HEALTHY', 'changing a returned row changes nothing stored');
      await state.updateDeployment(deployment.id, { status: 'PROVISIONING', role: 'UPCOMING' });
      assert.equal((await state.getDeployment(deployment.id))?.status, 'PROVISIONING');
      assert.deepEqual((await state.getDeployment(deployment.id))?.definition, deployment.definition);
      await state.updateRegionalDeployment(regionals[0]!.id, { status: 'SCHEDULED' });
      assert.equal((await state.getRegionalDeployment(regionals[0]!.id))?.status, 'SCHEDULED');
      await state.updateApp(app.id, { status: 'HEALTHY', messages: [] });
      assert.equal((await state.getApp(app.id))?.status, 'HEALTHY');
    });
  });

  test(`${name}: manual scaling, secrets and events`, async () => {
    await withState(async ({ state, seed }, { org, app }) => {
      const svc = serviceRow(org.id, app.id, webDefinition(), at(1));
      await seed.service(svc);
      assert.equal(await state.getManualScaling(svc.id), undefined);
      await seed.manualScaling(org.id, svc.id, 3);
      assert.deepEqual((await state.getManualScaling(svc.id))?.map((s) => s.instances), [3]);
      assert.deepEqual(await state.secretValues(org.id), {});
      await state.appendEvent({ kind: 'service', resourceId: svc.id, organizationId: org.id, type: 'x', message: 'm', metadata: {}, when: at(9) });
      await state.appendLog({
        organization_id: org.id, app_id: app.id, service_id: svc.id, deployment_id: '', regional_deployment_id: '', instance_id: '',
        stream: 'koyeb', msg: 'hello', created_at: at(9),
      });
    });
  });
}

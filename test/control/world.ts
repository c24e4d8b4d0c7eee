// A small world for control-plane table tests: an in-memory state seeded by the API's own actions (src/actions,
// run on a scratch SQLite store, their rows copied in), the scripted fake runtime, a hand-moved clock and a
// controller wired to all three.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as actions from '../../src/actions/index.ts';
import { insertApp } from '../../src/store/apps.ts';
import { getDeployment } from '../../src/store/deployments.ts';
import { listRegionalDeploymentsOf } from '../../src/store/regional-deployments.ts';
import { listSecrets } from '../../src/store/secrets.ts';
import { getService, updateService as patchStoredService } from '../../src/store/services.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { storeState } from '../../src/control/store-state.ts';
import { regionalDefinition } from '../../src/domain/regional.ts';
import type { App, Deployment, DeploymentDefinition, Instance, RegionalDeployment, Service } from '../../src/domain/types.ts';
import { createController, type Controller, type ControllerOptions } from '../../src/control/controller.ts';
import type { ControlIntervals } from '../../src/control/context.ts';
import { MemoryState } from './memory-state.ts';
import { FakeRuntime } from './fake-runtime.ts';

/** A clock tests move by hand. */
export class FakeClock {
  t = Date.parse('2025-01-01T00:00:00.000Z');
  now(): Date { return new Date(this.t); }
  advance(ms: number): void { this.t += ms; }
}

/** A web service on port 8000 with one route and an HTTP check, one region, one nano instance. */
export function webDefinition(over: Partial<DeploymentDefinition> = {}): DeploymentDefinition {
  return {
    name: 'api', type: 'WEB', strategy: { type: 'DEPLOYMENT_STRATEGY_TYPE_ROLLING' },
    docker: { image: 'example/api:1' },
    ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }],
    regions: ['fra'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }],
    health_checks: [{ http: { port: 8000, path: '/health' }, grace_period: 5, interval: 30, restart_limit: 3, timeout: 5 }],
    env: [], volumes: [], config_files: [], proxy_ports: [], mesh: 'DEPLOYMENT_MESH_AUTO',
    ...over,
  };
}

/** A worker: no ports, no routes, no checks. */
export function workerDefinition(over: Partial<DeploymentDefinition> = {}): DeploymentDefinition {
  return webDefinition({ name: 'jobs', type: 'WORKER', ports: [], routes: [], health_checks: [], ...over });
}

/** The world: state, runtime, clock, controller, and API-like seeders. */
export function makeWorld(opts: { intervals?: ControlIntervals; controller?: Partial<ControllerOptions> } = {}) {
  const state = new MemoryState();
  const runtime = new FakeRuntime();
  const clock = new FakeClock();
  const errors: string[] = [];
  const drained: string[] = [];
  let routeChanges = 0;
  const iso = () => clock.now().toISOString();
  const orgId = randomUUID();
  state.putOrganization({ id: orgId, name: 'acme', created_at: iso(), updated_at: iso() });
  const app: App = {
    id: randomUUID(), name: 'shop', organization_id: orgId, created_at: iso(), updated_at: iso(), started_at: null,
    succeeded_at: null, paused_at: null, resumed_at: null, terminated_at: null, status: 'STARTING', messages: [],
    version: '1', domains: [], life_cycle: {},
  };
  state.putApp(app);

  const build = (extra: Partial<ControllerOptions> = {}): Controller => createController({
    state, runtime, clock, prober: runtime.prober, publicDomain: 'pier.test',
    intervals: { health: { intervalMs: 0, graceMs: 0 }, restartBackoffMs: 1000, maxRestarts: 3, rolloutTimeoutMs: 60_000, ...opts.intervals },
    drain: async (id) => { drained.push(id); },
    onRoutesChanged: () => { routeChanges++; },
    onError: (err, context) => { errors.push(`${context}: ${err instanceof Error ? err.message : String(err)}`); },
    ...opts.controller, ...extra,
  });
  let controller = build();

  // The actions write to a scratch store holding this world's organization and app; before each one, the service
  // row the reconcilers moved along is copied back, so the action sees what the API would (status, pointers).
  let scratch: Promise<Store> | undefined;
  function scratchStore(): Promise<Store> {
    return scratch ??= (async () => {
      const dir = mkdtempSync(join(tmpdir(), 'pier-world-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      const store = await openStore({ dataDir: dir });
      await store.db.run('INSERT INTO organizations (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)', [orgId, 'acme', iso(), iso()]);
      await insertApp(store.db, app);
      return store;
    })();
  }
  const ctx = (store: Store): actions.ActionContext => ({ store, organizationId: orgId, domain: 'pier.test' });
  /**
   * Runs an action on one service: the scratch store first gets the service as the reconcilers left it (status,
   * messages, active deployment), then what the action wrote comes back: its status, and a new deployment if any.
   */
  async function act(serviceId: string, run: (c: actions.ActionContext) => Promise<unknown>): Promise<Deployment | undefined> {
    const store = await scratchStore();
    const svc = state.services.get(serviceId)!;
    await patchStoredService(store.db, serviceId, { status: svc.status, messages: svc.messages, active_deployment_id: svc.active_deployment_id });
    const before = (await getService(store.db, serviceId))!.latest_deployment_id;
    await run(ctx(store));
    const stored = (await getService(store.db, serviceId))!;
    if (stored.latest_deployment_id !== before) return (await adopt(store, serviceId, stored.latest_deployment_id)).deployment;
    Object.assign(svc, { status: stored.status, messages: stored.messages });
    return undefined;
  }
  /** Copies the organization's secrets as the store-backed state reads them (values; registry secrets by name). */
  async function mirrorSecrets(store: Store): Promise<void> {
    const real = storeState(store);
    state.secrets.set(orgId, await real.secretValues(orgId));
    for (const key of [...state.registries.keys()]) if (key.startsWith(`${orgId}/`)) state.registries.delete(key);
    const { items } = await listSecrets(store.db, { organizationId: orgId, types: ['REGISTRY'] }, { limit: 100, offset: 0 });
    for (const { name } of items) {
      const reg = await real.registrySecret!(orgId, name);
      if (reg) state.registries.set(`${orgId}/${name}`, reg);
    }
  }
  /** Copies what an action wrote into the world's state, stamped with the world's clock (strictly increasing). */
  async function adopt(store: Store, serviceId: string, deploymentId: string): Promise<{ service: Service; deployment: Deployment }> {
    clock.advance(1); // keeps created_at ordering strict
    const at = iso();
    const deployment = { ...(await getDeployment(store.db, deploymentId))!, created_at: at, updated_at: at };
    state.putDeployment(deployment);
    for (const r of await listRegionalDeploymentsOf(store.db, deploymentId)) state.putRegional({ ...r, created_at: at, updated_at: at });
    if (deployment.parent_id && state.deployments.has(deployment.parent_id)) state.deployments.get(deployment.parent_id)!.child_id = deployment.id;
    const stored = (await getService(store.db, serviceId))!;
    const mine = state.services.get(serviceId);
    const service = mine
      ? Object.assign(mine, { latest_deployment_id: stored.latest_deployment_id, status: stored.status, messages: stored.messages, type: stored.type })
      : { ...stored, created_at: at, updated_at: at };
    if (!mine) state.putService(service);
    return { service: structuredClone(service), deployment };
  }

  return {
    state, runtime, clock, app, orgId, errors, drained,
    get controller() { return controller; },
    get routeChanges() { return routeChanges; },
    /** Replaces the controller with a fresh one over the same state and runtime (a control-plane restart). */
    restartController(): Controller { controller = build(); return controller; },
    /** Creates a service with its first deployment through the API's create action. */
    async createService(def: DeploymentDefinition): Promise<{ service: Service; deployment: Deployment }> {
      const store = await scratchStore();
      const created = await actions.createService(ctx(store), { app_id: app.id, name: def.name, definition: def });
      return adopt(store, created.id, created.latest_deployment_id);
    },
    /**
     * Creates a secret through the API's action (a SIMPLE `value`, or a REGISTRY `private_registry`...), and gives the
     * reconcilers' state what the store-backed state would read: the organization's values and registry secrets.
     */
    async createSecret(body: Record<string, unknown>): Promise<string> {
      const store = await scratchStore();
      const created = await actions.createSecret(ctx(store), body);
      await mirrorSecrets(store);
      return created.id;
    },
    /** Deletes a secret through the API's action (deployments that name it keep naming it). */
    async deleteSecret(id: string): Promise<void> {
      const store = await scratchStore();
      await actions.deleteSecret(ctx(store), id);
      await mirrorSecrets(store);
    },
    /** Deploys a new definition to a service through the API's update action (a PAUSED service resumes). */
    async deploy(serviceId: string, def: DeploymentDefinition): Promise<Deployment> {
      const d = await act(serviceId, (c) => actions.updateService(c, serviceId, { definition: def }));
      return d!;
    },
    /** Pauses a service through the API's action (PAUSING; the reconcilers stop it). */
    async pause(serviceId: string): Promise<void> { await act(serviceId, (c) => actions.pauseService(c, serviceId)); },
    /** Resumes a paused service through the API's action: RESUMING and a new deployment of its definition. */
    async resume(serviceId: string): Promise<Deployment> { return (await act(serviceId, (c) => actions.resumeService(c, serviceId)))!; },
    /** Deletes a service through the API's action (DELETING; the reconcilers remove it). */
    async remove(serviceId: string): Promise<void> { await act(serviceId, (c) => actions.deleteService(c, serviceId)); },
    /** Runs passes until one writes nothing (bounded). */
    async settle(max = 30): Promise<number> {
      for (let i = 1; i <= max; i++) {
        const before = state.writes;
        await controller.reconcileOnce();
        if (state.writes === before) return i;
      }
      throw new Error(`did not settle within ${max} passes`);
    },
    service: (id: string) => state.services.get(id)!,
    deployment: (id: string) => state.deployments.get(id)!,
    instancesOf: (deploymentId: string): Instance[] => [...state.instances.values()].filter((i) => i.xyz_deployment_id === deploymentId),
    regionalsOf: (deploymentId: string) => [...state.regionals.values()].filter((r) => r.deployment_id === deploymentId),
    eventTypes: (resourceId: string) => state.events.filter((e) => e.resourceId === resourceId).map((e) => e.type),
  };
}

/** A service row shaped like the create action's (STARTING, no deployment yet), for pure tests; the world itself goes
 * through the actions. */
export function serviceRow(orgId: string, appId: string, def: DeploymentDefinition, at: string): Service {
  return {
    id: randomUUID(), created_at: at, updated_at: at, started_at: null, succeeded_at: null, paused_at: null,
    resumed_at: null, terminated_at: null, name: def.name ?? 'svc', type: def.type === 'WORKER' ? 'WORKER' : 'WEB',
    organization_id: orgId, app_id: appId, status: 'STARTING', messages: [], version: '1', active_deployment_id: '',
    latest_deployment_id: '', last_provisioned_deployment_id: '', state: {}, life_cycle: {},
  };
}

/** A PENDING deployment and one PENDING regional deployment per region, for pure tests (spec, state contract). */
export function deploymentRows(svc: Service, def: DeploymentDefinition, at: string, parent?: string): { deployment: Deployment; regionals: RegionalDeployment[] } {
  const deployment: Deployment = {
    id: randomUUID(), created_at: at, updated_at: at, allocated_at: null, started_at: null, succeeded_at: null,
    terminated_at: null, organization_id: svc.organization_id, app_id: svc.app_id, service_id: svc.id, parent_id: parent ?? '',
    child_id: '', status: 'PENDING', metadata: {}, definition: def, messages: [], provisioning_info: { sha: '', image: '', stages: [] },
    skip_build: false, role: 'INVALID', version: '1', deployment_group: 'prod',
  };
  const regionals = (def.regions ?? ['fra']).map((region): RegionalDeployment => ({
    id: randomUUID(), created_at: at, updated_at: at, scheduled_at: null, allocated_at: null, started_at: null,
    succeeded_at: null, terminated_at: null, organization_id: svc.organization_id, app_id: svc.app_id, service_id: svc.id, region,
    parent_id: '', child_id: '', status: 'PENDING', messages: [], definition: regionalDefinition(def, region, svc.name),
    datacenters: [region], metadata: {}, provisioning_info: null, role: 'INVALID', version: '1', deployment_group: 'prod',
    deployment_id: deployment.id,
  }));
  return { deployment, regionals };
}

/** The world type. */
export type World = ReturnType<typeof makeWorld>;

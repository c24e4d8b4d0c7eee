// A small world for control-plane table tests: an in-memory state seeded the way the API actions seed it,
// the scripted fake runtime, a hand-moved clock and a controller wired to all three.
import { randomUUID } from 'node:crypto';
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

  function addDeployment(svc: Service, def: DeploymentDefinition, parent?: string): Deployment {
    clock.advance(1); // keeps created_at ordering strict
    const { deployment, regionals } = deploymentRows(svc, def, iso(), parent);
    state.putDeployment(deployment);
    for (const r of regionals) state.putRegional(r);
    state.services.get(svc.id)!.latest_deployment_id = deployment.id;
    return deployment;
  }

  return {
    state, runtime, clock, app, orgId, errors, drained,
    get controller() { return controller; },
    get routeChanges() { return routeChanges; },
    /** Replaces the controller with a fresh one over the same state and runtime (a control-plane restart). */
    restartController(): Controller { controller = build(); return controller; },
    /** Creates a service with its first deployment, as the API's create action does. */
    createService(def: DeploymentDefinition): { service: Service; deployment: Deployment } {
      const service = serviceRow(orgId, app.id, def, iso());
      state.putService(service);
      return { service, deployment: addDeployment(service, def) };
    },
    /** Deploys a new definition to a service (update / resume). */
    deploy(serviceId: string, def: DeploymentDefinition): Deployment {
      const svc = state.services.get(serviceId)!;
      return addDeployment(svc, def, svc.latest_deployment_id);
    },
    /** Sets a service's status the way pause/resume/delete actions do. */
    setServiceStatus(serviceId: string, status: Service['status']): void { state.services.get(serviceId)!.status = status; },
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

/** A service row as the create action writes it (STARTING, no deployment yet). */
export function serviceRow(orgId: string, appId: string, def: DeploymentDefinition, at: string): Service {
  return {
    id: randomUUID(), created_at: at, updated_at: at, started_at: null, succeeded_at: null, paused_at: null,
    resumed_at: null, terminated_at: null, name: def.name ?? 'svc', type: def.type === 'WORKER' ? 'WORKER' : 'WEB',
    organization_id: orgId, app_id: appId, status: 'STARTING', messages: [], version: '1', active_deployment_id: '',
    latest_deployment_id: '', last_provisioned_deployment_id: '', state: {}, life_cycle: {},
  };
}

/** A PENDING deployment and one PENDING regional deployment per region, as the API actions write them. */
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

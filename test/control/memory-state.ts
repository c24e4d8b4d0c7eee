// An in-memory ControlState for fast table tests: plain maps, copies in and out so callers cannot alias rows. Held to
// the same contract as the store-backed state (state-contract.ts): lists come back in the store's order.
import type {
  App, Deployment, Instance, ManualServiceScaling, Organization, RegionalDeployment, Service,
} from '../../src/domain/types.ts';
import {
  FINISHED_DEPLOYMENT_STATUSES, FINISHED_INSTANCE_STATUSES,
  type AppPatch, type ControlState, type DeploymentPatch, type InstancePatch, type NewEvent, type NewLogLine,
  type RegionalDeploymentPatch, type RegistrySecret, type ServicePatch,
} from '../../src/control/ports.ts';

const copy = <T>(v: T): T => structuredClone(v);

/** A ControlState over maps; tests seed rows with the `put*` methods and read them back with the getters. */
export class MemoryState implements ControlState {
  readonly organizations = new Map<string, Organization>();
  readonly apps = new Map<string, App>();
  readonly services = new Map<string, Service>();
  readonly deployments = new Map<string, Deployment>();
  readonly regionals = new Map<string, RegionalDeployment>();
  readonly instances = new Map<string, Instance>();
  readonly scalings = new Map<string, ManualServiceScaling[]>();
  readonly secrets = new Map<string, Record<string, string>>();
  /** Registry secrets by `<organization id>/<name>`. */
  readonly registries = new Map<string, RegistrySecret>();
  readonly events: NewEvent[] = [];
  readonly logs: NewLogLine[] = [];
  /** Counts writes, so a test (or the controller) can tell whether a pass changed anything. */
  writes = 0;

  putOrganization(o: Organization): void { this.organizations.set(o.id, copy(o)); }
  putApp(a: App): void { this.apps.set(a.id, copy(a)); }
  putService(s: Service): void { this.services.set(s.id, copy(s)); }
  putDeployment(d: Deployment): void { this.deployments.set(d.id, copy(d)); }
  putRegional(r: RegionalDeployment): void { this.regionals.set(r.id, copy(r)); }
  putInstance(i: Instance): void { this.instances.set(i.id, copy(i)); }

  async getOrganization(id: string) { return copy(this.organizations.get(id)); }
  async listApps() { return [...this.apps.values()].filter((a) => a.status !== 'DELETED').sort(byCreated).map(copy); }
  async getApp(id: string) { return copy(this.apps.get(id)); }
  // Oldest first, as the store lists them (created_at, then id).
  async listServices() { return [...this.services.values()].filter((s) => s.status !== 'DELETED').sort(byCreated).map(copy); }
  async getService(id: string) { return copy(this.services.get(id)); }
  async getDeployment(id: string) { return copy(this.deployments.get(id)); }
  async listOpenDeployments(serviceId: string) {
    return [...this.deployments.values()]
      .filter((d) => d.service_id === serviceId && !FINISHED_DEPLOYMENT_STATUSES.includes(d.status))
      .sort(byCreated).map(copy);
  }
  async getRegionalDeployment(id: string) { return copy(this.regionals.get(id)); }
  async listRegionalDeployments(deploymentId: string) {
    return [...this.regionals.values()].filter((r) => r.deployment_id === deploymentId).sort(byCreated).map(copy);
  }
  async listInstancesOfRegional(regionalId: string) {
    return [...this.instances.values()].filter((i) => i.regional_deployment_id === regionalId).sort(byCreated).map(copy);
  }
  async listLiveInstances() {
    return [...this.instances.values()].filter((i) => !FINISHED_INSTANCE_STATUSES.includes(i.status)).sort(byCreated).map(copy);
  }
  async getInstance(id: string) { return copy(this.instances.get(id)); }
  async getManualScaling(serviceId: string) { return copy(this.scalings.get(serviceId)); }
  async secretValues(organizationId: string) { return copy(this.secrets.get(organizationId) ?? {}); }
  async registrySecret(organizationId: string, name: string) { return copy(this.registries.get(`${organizationId}/${name}`)); }

  async createInstance(row: Instance) {
    if (this.instances.has(row.id)) throw new Error(`instance ${row.id} already exists`);
    this.instances.set(row.id, copy(row));
    this.writes++;
  }
  async updateInstance(id: string, patch: InstancePatch) { this.patch(this.instances, id, patch); }
  async updateRegionalDeployment(id: string, patch: RegionalDeploymentPatch) { this.patch(this.regionals, id, patch); }
  async updateDeployment(id: string, patch: DeploymentPatch) { this.patch(this.deployments, id, patch); }
  async updateService(id: string, patch: ServicePatch) { this.patch(this.services, id, patch); }
  async updateApp(id: string, patch: AppPatch) { this.patch(this.apps, id, patch); }
  async appendEvent(event: NewEvent) { this.events.push(copy(event)); this.writes++; }
  async appendLog(line: NewLogLine) { this.logs.push(copy(line)); }

  private patch<T extends object>(map: Map<string, T>, id: string, patch: object): void {
    const row = map.get(id) as (T & { version?: string }) | undefined;
    if (!row) throw new Error(`no row ${id}`);
    Object.assign(row, copy(patch));
    if (row.version !== undefined) row.version = String(Number(row.version || '0') + 1);
    this.writes++;
  }
}

function byCreated(a: { created_at: string; id: string }, b: { created_at: string; id: string }): number {
  return a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

// The narrow world the reconcilers see: read desired + observed rows, write statuses, events and log lines.
// Implemented by store-state.ts (the store's repositories) and, for fast table tests, test/control/memory-state.ts;
// both run the contract suite in test/control/state-contract.ts.
import type {
  App, Deployment, Instance, ManualServiceScaling, Organization, RegionalDeployment, Service,
} from '../domain/types.ts';
import type { LogLine } from '../store/log-bus.ts';

/** Where reconcilers read the time; tests pass a clock they move by hand. */
export interface Clock { now(): Date }

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/** The level an event belongs to (one event stream per level, as Koyeb's API). */
export type EventKind = 'app' | 'service' | 'deployment' | 'regional_deployment' | 'instance';

/** One event to append. */
export interface NewEvent {
  kind: EventKind;
  resourceId: string;
  organizationId: string;
  type: string;
  message: string;
  metadata: Record<string, unknown>;
  when: string;
}

/** One runtime log line to append (stream `koyeb` is Pier's own system line): a stored line without region and type. */
export type NewLogLine = Omit<LogLine, 'region' | 'type'>;

/** Fields of an instance the control plane may change. */
export type InstancePatch = Partial<Pick<Instance,
  'status' | 'messages' | 'started_at' | 'succeeded_at' | 'terminated_at' | 'allocation_id' | 'datacenter' | 'hypervisor'>>;
/** Fields of a regional deployment the control plane may change. */
export type RegionalDeploymentPatch = Partial<Pick<RegionalDeployment,
  'status' | 'messages' | 'role' | 'scheduled_at' | 'allocated_at' | 'started_at' | 'succeeded_at' | 'terminated_at'>>;
/** Fields of a deployment the control plane may change. */
export type DeploymentPatch = Partial<Pick<Deployment,
  'status' | 'messages' | 'role' | 'allocated_at' | 'started_at' | 'succeeded_at' | 'terminated_at' | 'provisioning_info' | 'metadata'>>;
/** Fields of a service the control plane may change. */
export type ServicePatch = Partial<Pick<Service,
  'status' | 'messages' | 'active_deployment_id' | 'last_provisioned_deployment_id' | 'started_at' | 'succeeded_at' |
  'paused_at' | 'resumed_at' | 'terminated_at'>>;
/** Fields of an app the control plane may change. */
export type AppPatch = Partial<Pick<App, 'status' | 'messages' | 'started_at' | 'succeeded_at' | 'paused_at' | 'resumed_at' | 'terminated_at'>>;

/** Deployment statuses after which nothing runs and nothing changes. */
export const FINISHED_DEPLOYMENT_STATUSES: readonly string[] = ['STOPPED', 'CANCELED', 'ERROR', 'STASHED'];
/** Instance statuses after which the workload is gone for good. */
export const FINISHED_INSTANCE_STATUSES: readonly string[] = ['STOPPED', 'ERROR'];

/** What the reconcilers read. */
export interface ControlReads {
  getOrganization(id: string): Promise<Organization | undefined>;
  /** Apps that are not DELETED. */
  listApps(): Promise<App[]>;
  getApp(id: string): Promise<App | undefined>;
  /** Services that are not DELETED. */
  listServices(): Promise<Service[]>;
  getService(id: string): Promise<Service | undefined>;
  getDeployment(id: string): Promise<Deployment | undefined>;
  /** Deployments of a service not yet finished (see FINISHED_DEPLOYMENT_STATUSES), oldest first. */
  listOpenDeployments(serviceId: string): Promise<Deployment[]>;
  getRegionalDeployment(id: string): Promise<RegionalDeployment | undefined>;
  /** Regional deployments of one deployment. */
  listRegionalDeployments(deploymentId: string): Promise<RegionalDeployment[]>;
  /** Instances of a regional deployment (any status), oldest first. */
  listInstancesOfRegional(regionalDeploymentId: string): Promise<Instance[]>;
  /** Every instance not yet finished (see FINISHED_INSTANCE_STATUSES), across all services. */
  listLiveInstances(): Promise<Instance[]>;
  getInstance(id: string): Promise<Instance | undefined>;
  /** The manual scaling override of a service, if any. */
  getManualScaling(serviceId: string): Promise<ManualServiceScaling[] | undefined>;
  /** Decrypted secret values of an organization by name; only ever passed into instance env. */
  secretValues(organizationId: string): Promise<Record<string, string>>;
  /** The decrypted configuration of a REGISTRY secret by name (undefined when none); only ever used to pull images. */
  registrySecret?(organizationId: string, name: string): Promise<RegistrySecret | undefined>;
}

/** What the reconcilers write. Writes are single-row and idempotent; callers own the order. */
export interface ControlWrites {
  createInstance(row: Instance): Promise<void>;
  updateInstance(id: string, patch: InstancePatch): Promise<void>;
  updateRegionalDeployment(id: string, patch: RegionalDeploymentPatch): Promise<void>;
  updateDeployment(id: string, patch: DeploymentPatch): Promise<void>;
  updateService(id: string, patch: ServicePatch): Promise<void>;
  updateApp(id: string, patch: AppPatch): Promise<void>;
  appendEvent(event: NewEvent): Promise<void>;
  appendLog(line: NewLogLine): Promise<void>;
  /**
   * Runs `fn`'s reads and writes through this port as one transaction (marks.ts: the re-read, the status and its event
   * together, so no event is lost and no API write lands between the check and the write). Optional: a state without
   * transactions (the memory state of table tests) runs `fn` as is.
   */
  atomically?<T>(fn: () => Promise<T>): Promise<T>;
}

/** Everything the reconcilers read and write. */
export interface ControlState extends ControlReads, ControlWrites {}

/** A registry secret's material: which `*_registry` configuration it is, and its fields (credentials included). */
export interface RegistrySecret { key: string; config: Record<string, string> }

/** What a build produced: an image tag, or `dir:<path>` (a prepared directory for the process runtime). */
export interface BuildResult {
  image: string;
  /** The commit built, recorded on the deployment (provisioning_info.sha, metadata.git.git_env). */
  commit?: { sha: string; author: string; message: string };
}

/** Builds a git or archive deployment (src/build); optional: without one, such deployments end in ERROR. */
export interface Builder {
  /** Resolves with what to run, or rejects with a message a person understands; aborting `signal` cancels it. */
  build(deployment: Deployment, signal: AbortSignal): Promise<BuildResult>;
}

// The resource model, in the exact wire shapes of Koyeb's public v1 API (snake_case fields,
// SCREAMING_CASE enums). Pure types: no I/O, no imports outside domain/.

/** Status of a service (and of an app, which rolls up its services). */
export const SERVICE_STATUSES = [
  'STARTING', 'HEALTHY', 'DEGRADED', 'UNHEALTHY', 'DELETING', 'DELETED', 'PAUSING', 'PAUSED', 'RESUMING',
] as const;
export type ServiceStatus = (typeof SERVICE_STATUSES)[number];
export type AppStatus = ServiceStatus;

/** Status of a deployment. */
export const DEPLOYMENT_STATUSES = [
  'PENDING', 'PROVISIONING', 'SCHEDULED', 'CANCELING', 'CANCELED', 'ALLOCATING', 'STARTING', 'HEALTHY', 'DEGRADED',
  'UNHEALTHY', 'STOPPING', 'STOPPED', 'ERRORING', 'ERROR', 'STASHED', 'SLEEPING',
] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** Status of a regional deployment: a deployment's statuses minus STASHED. */
export const REGIONAL_DEPLOYMENT_STATUSES = DEPLOYMENT_STATUSES.filter((s) => s !== 'STASHED') as Exclude<
  DeploymentStatus,
  'STASHED'
>[];
export type RegionalDeploymentStatus = Exclude<DeploymentStatus, 'STASHED'>;

/** Status of an instance. */
export const INSTANCE_STATUSES = [
  'ALLOCATING', 'STARTING', 'HEALTHY', 'UNHEALTHY', 'STOPPING', 'STOPPED', 'ERROR', 'SLEEPING',
] as const;
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];

export const SERVICE_TYPES = ['INVALID_TYPE', 'WEB', 'WORKER', 'DATABASE', 'SANDBOX'] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

export const DEFINITION_TYPES = ['INVALID', 'WEB', 'WORKER', 'DATABASE', 'SANDBOX'] as const;
export type DefinitionType = (typeof DEFINITION_TYPES)[number];

export type DeploymentRole = 'INVALID' | 'ACTIVE' | 'UPCOMING' | 'CURRENT';

export const STRATEGY_TYPES = [
  'DEPLOYMENT_STRATEGY_TYPE_INVALID', 'DEPLOYMENT_STRATEGY_TYPE_DEFAULT', 'DEPLOYMENT_STRATEGY_TYPE_CANARY',
  'DEPLOYMENT_STRATEGY_TYPE_ROLLING', 'DEPLOYMENT_STRATEGY_TYPE_BLUE_GREEN', 'DEPLOYMENT_STRATEGY_TYPE_IMMEDIATE',
] as const;
export type StrategyType = (typeof STRATEGY_TYPES)[number];

export const MESH_TYPES = ['DEPLOYMENT_MESH_AUTO', 'DEPLOYMENT_MESH_ENABLED', 'DEPLOYMENT_MESH_DISABLED'] as const;
export type DeploymentMesh = (typeof MESH_TYPES)[number];

export type PortProtocol = 'http' | 'http2' | 'tcp';
export type StageStatus = 'UNKNOWN' | 'PENDING' | 'RUNNING' | 'FAILED' | 'COMPLETED' | 'ABORTED';
export type TriggerType = 'UNKNOWN_TYPE' | 'GIT' | 'RESUME' | 'DATABASE_SYNC';
export type ActorType = 'UNKNOWN_ACTOR' | 'USER' | 'SYSTEM';

// ---------------------------------------------------------------- definition

export interface DeploymentPort { port: number; protocol?: PortProtocol }
export interface BasicAuthPolicy { username: string; password: string }
export interface SecurityPolicies { basic_auths?: BasicAuthPolicy[]; api_keys?: string[] }
export interface DeploymentRoute { port: number; path: string; security_policies?: SecurityPolicies }
export interface DeploymentProxyPort { port: number; protocol?: 'tcp' }
export interface DeploymentEnv { scopes?: string[]; key: string; value?: string; secret?: string }
export interface DeploymentInstanceType { scopes?: string[]; type: string }

export interface DeploymentScalingTarget {
  average_cpu?: { value: number };
  average_mem?: { value: number };
  requests_per_second?: { value: number };
  concurrent_requests?: { value: number };
  requests_response_time?: { value: number; quantile?: number };
  sleep_idle_delay?: { value?: number; deep_sleep_value?: number; light_sleep_value?: number };
}
export interface DeploymentScaling { scopes?: string[]; min: number; max: number; targets?: DeploymentScalingTarget[] }

export interface HTTPHeader { key: string; value: string }
export interface DeploymentHealthCheck {
  grace_period?: number;
  interval?: number;
  restart_limit?: number;
  timeout?: number;
  tcp?: { port: number };
  http?: { port: number; path: string; method?: string; headers?: HTTPHeader[] };
}
export interface DeploymentVolume { id: string; path: string; replica_index?: number; scopes?: string[] }
export interface ConfigFile { path: string; permissions?: string; content: string }
export interface NetworkPolicy {
  egress?: { mode?: 'EGRESS_POLICY_MODE_DEFAULT' | 'EGRESS_POLICY_MODE_DENY_ALL'; allow_list?: { cidr: string }[] };
}

export interface DockerSource {
  image: string;
  command?: string;
  args?: string[];
  entrypoint?: string[];
  image_registry_secret?: string;
  privileged?: boolean;
}
export interface BuildpackBuilder { build_command?: string; run_command?: string; privileged?: boolean }
export interface DockerBuilder {
  dockerfile?: string;
  entrypoint?: string[];
  command?: string;
  args?: string[];
  target?: string;
  privileged?: boolean;
}
export interface GitSource {
  repository: string;
  branch?: string;
  tag?: string;
  sha?: string;
  build_command?: string;
  run_command?: string;
  no_deploy_on_push?: boolean;
  workdir?: string;
  buildpack?: BuildpackBuilder;
  docker?: DockerBuilder;
}
export interface ArchiveSource { id: string; buildpack?: BuildpackBuilder; docker?: DockerBuilder }

/** The whole configuration of a service at one version. Immutable once stored on a deployment. */
export interface DeploymentDefinition {
  name?: string;
  type?: DefinitionType;
  strategy?: { type?: StrategyType };
  routes?: DeploymentRoute[];
  ports?: DeploymentPort[];
  proxy_ports?: DeploymentProxyPort[];
  env?: DeploymentEnv[];
  regions?: string[];
  scalings?: DeploymentScaling[];
  instance_types?: DeploymentInstanceType[];
  health_checks?: DeploymentHealthCheck[];
  volumes?: DeploymentVolume[];
  config_files?: ConfigFile[];
  skip_cache?: boolean;
  mesh?: DeploymentMesh;
  network_policy?: NetworkPolicy;
  docker?: DockerSource;
  git?: GitSource;
  archive?: ArchiveSource;
  database?: Record<string, unknown>;
}

/** One region's flattened view of a definition: one scaling, one instance type, env without scopes. */
export interface RegionalDeploymentDefinition {
  name: string;
  type: DefinitionType;
  strategy?: { type?: StrategyType };
  routes: DeploymentRoute[];
  ports: DeploymentPort[];
  env: { key: string; value?: string; secret?: string }[];
  region: string;
  scaling: { min: number; max: number; targets?: DeploymentScalingTarget[] };
  instance_type: string;
  deployment_group?: string;
  health_checks: DeploymentHealthCheck[];
  volumes?: { id: string; path: string; replica_index?: number }[];
  config_files?: ConfigFile[];
  skip_cache?: boolean;
  mesh?: string;
  network_policy?: NetworkPolicy;
  docker?: DockerSource;
  git?: GitSource;
  archive?: ArchiveSource;
}

// ---------------------------------------------------------------- resources

export interface Organization { id: string; name: string; created_at: string; updated_at: string }

export interface App {
  id: string;
  name: string;
  organization_id: string;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  succeeded_at: string | null;
  paused_at: string | null;
  resumed_at: string | null;
  terminated_at: string | null;
  status: AppStatus;
  messages: string[];
  version: string;
  domains: Domain[];
  life_cycle: { delete_when_empty?: boolean };
  /** Pier extension (absent from Koyeb's API): per-app edge settings; `https_redirect` answers plain HTTP with a 308. */
  pier?: { https_redirect?: boolean };
}

export interface Domain {
  id: string;
  organization_id: string;
  name: string;
  created_at: string;
  updated_at: string;
  status: 'PENDING' | 'ACTIVE' | 'ERROR' | 'DELETING' | 'DELETED';
  type: 'AUTOASSIGNED' | 'CUSTOM';
  app_id: string;
  deployment_group: string;
  verified_at: string | null;
  intended_cname: string;
  messages: string[];
  version: string;
  cloudflare?: Record<string, unknown>;
}

export interface Service {
  id: string;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  succeeded_at: string | null;
  paused_at: string | null;
  resumed_at: string | null;
  terminated_at: string | null;
  name: string;
  type: ServiceType;
  organization_id: string;
  app_id: string;
  status: ServiceStatus;
  messages: string[];
  version: string;
  active_deployment_id: string;
  latest_deployment_id: string;
  last_provisioned_deployment_id: string;
  state: Record<string, unknown>;
  life_cycle: { delete_after_sleep?: number; delete_after_create?: number };
}

export interface BuildStep { name: string; status: StageStatus; messages: string[]; started_at: string | null; finished_at: string | null }
export interface ProvisioningStage {
  name: string;
  status: StageStatus;
  messages: string[];
  started_at: string | null;
  finished_at: string | null;
  build_attempts: {
    id: number;
    status: StageStatus;
    messages: string[];
    started_at: string | null;
    finished_at: string | null;
    steps: BuildStep[];
    image_pushed: boolean;
    internal_failure: boolean;
    retryable_failure: boolean;
    wait_completion: boolean;
  }[];
}
export interface DeploymentProvisioningInfo { sha: string; image: string; stages: ProvisioningStage[] }

export interface DeploymentMetadata {
  trigger?: {
    type?: TriggerType;
    actor?: ActorType;
    git?: { provider?: string; repository?: string; branch?: string; sha?: string; message?: string; sender_username?: string };
  };
  git?: { last_provisioned_deployment_id?: string; git_env?: { sha?: string; commit_author?: string; commit_message?: string } };
  archive?: { last_provisioned_deployment_id?: string };
  proxy_ports?: { host: string; public_port: number; port: number; protocol: 'tcp' }[];
}

export interface Deployment {
  id: string;
  created_at: string;
  updated_at: string;
  allocated_at: string | null;
  started_at: string | null;
  succeeded_at: string | null;
  terminated_at: string | null;
  organization_id: string;
  app_id: string;
  service_id: string;
  parent_id: string;
  child_id: string;
  status: DeploymentStatus;
  metadata: DeploymentMetadata;
  definition: DeploymentDefinition;
  messages: string[];
  provisioning_info: DeploymentProvisioningInfo;
  database_info?: Record<string, unknown>;
  skip_build: boolean;
  role: DeploymentRole;
  version: string;
  deployment_group: string;
}

export interface RegionalDeployment {
  id: string;
  created_at: string;
  updated_at: string;
  scheduled_at: string | null;
  allocated_at: string | null;
  started_at: string | null;
  succeeded_at: string | null;
  terminated_at: string | null;
  organization_id: string;
  app_id: string;
  service_id: string;
  region: string;
  parent_id: string;
  child_id: string;
  status: RegionalDeploymentStatus;
  messages: string[];
  definition: RegionalDeploymentDefinition;
  datacenters: string[];
  metadata: Record<string, unknown>;
  provisioning_info: DeploymentProvisioningInfo | null;
  role: DeploymentRole;
  version: string;
  deployment_group: string;
  deployment_id: string;
}

export interface Instance {
  id: string;
  created_at: string;
  updated_at: string;
  organization_id: string;
  app_id: string;
  service_id: string;
  regional_deployment_id: string;
  allocation_id: string;
  type: string;
  replica_index: number;
  region: string;
  datacenter: string;
  hypervisor: string;
  status: InstanceStatus;
  messages: string[];
  started_at: string | null;
  succeeded_at: string | null;
  terminated_at: string | null;
  xyz_deployment_id: string;
}

/** An event on any level (app, service, deployment, regional deployment, instance). */
export interface ResourceEvent {
  id: string;
  when: string;
  organization_id: string;
  type: string;
  message: string;
  metadata: Record<string, unknown>;
}

/** One log line as the API returns it. */
export interface LogEntry { msg: string; created_at: string; labels: Record<string, string> }

/** A manual scaling override (PUT /v1/services/{id}/scale). */
export interface ManualServiceScaling { scopes?: string[]; instances: number }

/** One field-level validation problem, as in the API's error body. */
export interface FieldError { field: string; description: string }

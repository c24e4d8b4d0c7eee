// Status machines of instances, deployments, regional deployments and services: which status may follow which.
// Every status change in the control plane goes through assertTransition, so an impossible history (a STOPPED
// instance turning HEALTHY, a HEALTHY deployment being canceled) fails loudly instead of being stored.
import { invalidState } from './errors.ts';
import type { DeploymentStatus, InstanceStatus, RegionalDeploymentStatus, ServiceStatus } from './types.ts';

/** The resources that have a status machine. */
export type StatusKind = 'instance' | 'deployment' | 'regional_deployment' | 'service';

/** The status type of each kind. */
export interface StatusOf {
  instance: InstanceStatus;
  deployment: DeploymentStatus;
  regional_deployment: RegionalDeploymentStatus;
  service: ServiceStatus;
}

type Table<S extends string> = Readonly<Record<S, readonly S[]>>;

const INSTANCE: Table<InstanceStatus> = {
  ALLOCATING: ['STARTING', 'STOPPING', 'STOPPED', 'ERROR'],
  // A standby (an autoscaled region's frozen spare, src/control/standby.ts) that passed its checks sleeps without
  // having served: STARTING -> SLEEPING; a scale-up thaws it (SLEEPING -> STARTING -> HEALTHY).
  STARTING: ['HEALTHY', 'UNHEALTHY', 'SLEEPING', 'STOPPING', 'ERROR'],
  HEALTHY: ['UNHEALTHY', 'SLEEPING', 'STOPPING', 'ERROR'],
  // An unhealthy instance is restarted in place (STARTING) or recovers on its own (HEALTHY).
  UNHEALTHY: ['STARTING', 'HEALTHY', 'STOPPING', 'ERROR'],
  SLEEPING: ['STARTING', 'STOPPING', 'STOPPED', 'ERROR'],
  STOPPING: ['STOPPED', 'ERROR'],
  STOPPED: [],
  ERROR: [],
};

// Shared by deployments and regional deployments. Among the running statuses the roll-up may jump directly
// (a reconcile pass can observe ALLOCATING and then HEALTHY), but nothing goes back to STARTING once it has served,
// except a sleeping deployment waking up.
const CANCELABLE = ['CANCELING', 'ERRORING', 'ERROR'] as const;
const RUNNING_EXITS = ['STOPPING', 'ERRORING', 'ERROR'] as const;
const REGIONAL: Table<RegionalDeploymentStatus> = {
  PENDING: ['PROVISIONING', 'SCHEDULED', ...CANCELABLE],
  PROVISIONING: ['SCHEDULED', ...CANCELABLE],
  SCHEDULED: ['ALLOCATING', ...CANCELABLE],
  CANCELING: ['CANCELED', 'ERROR'],
  CANCELED: [],
  ALLOCATING: ['STARTING', 'HEALTHY', 'DEGRADED', 'UNHEALTHY', 'SLEEPING', ...RUNNING_EXITS],
  STARTING: ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'SLEEPING', ...RUNNING_EXITS],
  HEALTHY: ['DEGRADED', 'UNHEALTHY', 'SLEEPING', ...RUNNING_EXITS],
  DEGRADED: ['HEALTHY', 'UNHEALTHY', 'SLEEPING', ...RUNNING_EXITS],
  UNHEALTHY: ['HEALTHY', 'DEGRADED', 'SLEEPING', ...RUNNING_EXITS],
  SLEEPING: ['STARTING', 'HEALTHY', 'DEGRADED', 'UNHEALTHY', ...RUNNING_EXITS],
  STOPPING: ['STOPPED', 'ERROR'],
  STOPPED: [],
  ERRORING: ['ERROR'],
  ERROR: [],
};

// A STASHED deployment was saved without being deployed (save_only); it never moves.
const DEPLOYMENT: Table<DeploymentStatus> = { ...REGIONAL, STASHED: [] };

const SERVICE: Table<ServiceStatus> = {
  STARTING: ['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'PAUSING', 'DELETING'],
  HEALTHY: ['DEGRADED', 'UNHEALTHY', 'PAUSING', 'DELETING'],
  DEGRADED: ['HEALTHY', 'UNHEALTHY', 'PAUSING', 'DELETING'],
  // A service whose only deployment failed starts again with the next deployment.
  UNHEALTHY: ['STARTING', 'HEALTHY', 'DEGRADED', 'PAUSING', 'DELETING'],
  DELETING: ['DELETED'],
  DELETED: [],
  PAUSING: ['PAUSED', 'DELETING'],
  PAUSED: ['RESUMING', 'DELETING'],
  RESUMING: ['STARTING', 'HEALTHY', 'DEGRADED', 'UNHEALTHY', 'PAUSING', 'DELETING'],
};

/** The legal next statuses of each kind (a status may always "move" to itself). */
export const TRANSITIONS: { readonly [K in StatusKind]: Table<StatusOf[K]> } = {
  instance: INSTANCE,
  deployment: DEPLOYMENT,
  regional_deployment: REGIONAL,
  service: SERVICE,
};

/** True when a resource of `kind` may go from `from` to `to`; the same status is always allowed (idempotent). */
export function canTransition<K extends StatusKind>(kind: K, from: StatusOf[K], to: StatusOf[K]): boolean {
  if (from === to) return true;
  const table = TRANSITIONS[kind] as Table<string>;
  return table[from]?.includes(to) ?? false;
}

/** Throws an invalid_state PierError when `from` -> `to` is not a legal transition for `kind`. */
export function assertTransition<K extends StatusKind>(kind: K, from: StatusOf[K], to: StatusOf[K]): void {
  if (canTransition(kind, from, to)) return;
  const allowed = (TRANSITIONS[kind] as Table<string>)[from] ?? [];
  const next = allowed.length ? `it can only become ${allowed.join(', ')}` : `${from} is final`;
  throw invalidState(`${kind.replace('_', ' ')} cannot go from ${from} to ${to}: ${next}`);
}

/** True when nothing can follow this status. */
export function isTerminal<K extends StatusKind>(kind: K, status: StatusOf[K]): boolean {
  return ((TRANSITIONS[kind] as Table<string>)[status] ?? []).length === 0;
}

/** Deployment statuses from which a user may cancel (the CancelDeployment rule). */
export const CANCELABLE_DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = ['PENDING', 'PROVISIONING', 'SCHEDULED'];
/** Service statuses from which a user may pause. */
export const PAUSABLE_SERVICE_STATUSES: readonly ServiceStatus[] = ['STARTING', 'HEALTHY', 'DEGRADED', 'UNHEALTHY', 'RESUMING'];
/** Service statuses from which a user may resume. */
export const RESUMABLE_SERVICE_STATUSES: readonly ServiceStatus[] = ['PAUSED'];

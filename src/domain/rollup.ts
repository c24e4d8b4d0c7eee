// Health roll-ups: instances -> regional deployment -> deployment -> service -> app. Each is a pure function of
// what is observed below plus the current status, and never proposes an illegal transition: when the observation
// would need one, the current status stays and only the messages change.
import { canTransition } from './status.ts';
import type { AppStatus, DeploymentStatus, InstanceStatus, RegionalDeploymentStatus, ServiceStatus } from './types.ts';

/** A roll-up result: the status to mark and the messages that explain it. */
export interface Rollup<S extends string> { status: S; messages: string[] }

const RUNNING: readonly string[] = ['ALLOCATING', 'STARTING', 'HEALTHY', 'DEGRADED', 'UNHEALTHY', 'SLEEPING'];
const BOOTING: readonly string[] = ['ALLOCATING', 'STARTING', 'SLEEPING'];

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * A regional deployment's status from its instances and the desired count. Only running statuses (ALLOCATING to
 * SLEEPING) are rolled up; any other current status is the lifecycle's to change and is returned as is.
 */
export function rollupRegionalDeployment(
  instances: readonly { status: InstanceStatus; messages: readonly string[] }[], desired: number,
  current: RegionalDeploymentStatus,
): Rollup<RegionalDeploymentStatus> {
  if (!RUNNING.includes(current)) return { status: current, messages: [] };
  const count = (...s: InstanceStatus[]) => instances.filter((i) => s.includes(i.status)).length;
  const healthy = count('HEALTHY');
  const allocating = count('ALLOCATING');
  const starting = allocating + count('STARTING');
  const failing = count('UNHEALTHY', 'ERROR');
  const problem = instances.find((i) => i.status === 'UNHEALTHY' || i.status === 'ERROR')?.messages[0];
  const why = problem ? `: ${problem}` : '';
  const pick = (status: RegionalDeploymentStatus, message: string): Rollup<RegionalDeploymentStatus> =>
    canTransition('regional_deployment', current, status) ? { status, messages: [message] } : { status: current, messages: [message] };

  if (desired <= 0 && healthy + starting + failing === 0) {
    return pick('SLEEPING', 'Scaled to zero: the next request wakes the service.');
  }
  // While scaling to zero the remaining instances still serve.
  const want = Math.max(desired, 1);
  if (healthy >= want && failing === 0) return pick('HEALTHY', `All ${plural(healthy, 'instance')} healthy.`);
  if (healthy > 0 && failing === 0) {
    const message = `${healthy} of ${want} instances healthy; ${starting} starting.`;
    if (BOOTING.includes(current)) return pick('STARTING', message);
    return pick(current === 'HEALTHY' ? 'HEALTHY' : 'DEGRADED', message);
  }
  if (healthy > 0) return pick('DEGRADED', `${healthy} of ${want} instances healthy${why}`);
  if (failing > 0) return pick('UNHEALTHY', `No healthy instance${why}`);
  if (current === 'ALLOCATING' && starting === allocating) {
    return pick('ALLOCATING', `Allocating ${plural(want, 'instance')}.`);
  }
  if (BOOTING.includes(current)) {
    return pick('STARTING', starting > 0
      ? `Waiting for ${plural(starting, 'instance')} to pass health checks.`
      : `Starting ${plural(want, 'instance')}.`);
  }
  return pick('UNHEALTHY', starting > 0 ? `No healthy instance: ${starting} restarting.` : 'No instance is running.');
}

const SERVING_REGION: readonly string[] = ['HEALTHY', 'DEGRADED'];
const COMING_REGION: readonly string[] = ['PENDING', 'PROVISIONING', 'SCHEDULED', 'ALLOCATING', 'STARTING'];

/**
 * A deployment's status from its regional deployments: HEALTHY when every region serves, DEGRADED when some region
 * cannot, UNHEALTHY when none can, SLEEPING when all sleep. Non-running current statuses are returned as is.
 */
export function rollupDeployment(
  regionals: readonly { region: string; status: RegionalDeploymentStatus; messages: readonly string[] }[],
  current: DeploymentStatus,
): Rollup<DeploymentStatus> {
  if (!RUNNING.includes(current) || regionals.length === 0) return { status: current, messages: [] };
  const serving = regionals.filter((r) => SERVING_REGION.includes(r.status));
  const coming = regionals.filter((r) => COMING_REGION.includes(r.status));
  const asleep = regionals.filter((r) => r.status === 'SLEEPING');
  const down = regionals.filter((r) => !serving.includes(r) && !coming.includes(r) && !asleep.includes(r));
  const degraded = serving.some((r) => r.status === 'DEGRADED');
  let status: DeploymentStatus;
  if (down.length > 0) status = serving.length > 0 ? 'DEGRADED' : 'UNHEALTHY';
  else if (coming.length > 0 && serving.length > 0 && (current === 'HEALTHY' || current === 'DEGRADED')) {
    status = degraded ? 'DEGRADED' : 'HEALTHY';
  } else if (coming.length > 0) {
    status = current === 'ALLOCATING' && coming.every((r) => r.status !== 'STARTING') ? 'ALLOCATING' : 'STARTING';
  } else if (serving.length > 0) status = degraded ? 'DEGRADED' : 'HEALTHY';
  else status = 'SLEEPING';

  const notes = regionals
    .filter((r) => r.status !== 'HEALTHY' && r.messages[0])
    .map((r) => `${r.region}: ${r.messages[0]}`);
  const messages = status === 'HEALTHY' && notes.length === 0
    ? [`Healthy in ${regionals.map((r) => r.region).join(', ')}.`]
    : notes.length ? notes : [`${status[0]}${status.slice(1).toLowerCase()} in ${regionals.map((r) => r.region).join(', ')}.`];
  return { status: canTransition('deployment', current, status) ? status : current, messages };
}

const SERVING_DEPLOYMENT: readonly string[] = ['HEALTHY', 'DEGRADED', 'SLEEPING'];
const FAILED_DEPLOYMENT: readonly string[] = ['ERROR', 'ERRORING'];
const IN_PROGRESS_DEPLOYMENT: readonly string[] = ['PENDING', 'PROVISIONING', 'SCHEDULED', 'ALLOCATING', 'STARTING', 'UNHEALTHY'];

/** What a service's status is computed from. */
export interface ServiceRollupInput {
  current: ServiceStatus;
  /** The deployment traffic goes to, if any. */
  active?: { status: DeploymentStatus; messages: readonly string[] };
  /** The newest deployment when it is not the active one. */
  latest?: { id: string; status: DeploymentStatus; messages: readonly string[] };
  pausing?: boolean;
  deleting?: boolean;
}

/**
 * A service's status (Koyeb's definitions): HEALTHY while traffic goes to a healthy deployment, even with a new one
 * in progress; DEGRADED when the active deployment is degraded or the latest failed; UNHEALTHY when no deployment
 * can serve; STARTING (or RESUMING) while a first deployment is in progress.
 */
export function rollupService(input: ServiceRollupInput): Rollup<ServiceStatus> {
  const { current, active, latest } = input;
  const pick = (status: ServiceStatus, ...messages: string[]): Rollup<ServiceStatus> =>
    ({ status: canTransition('service', current, status) ? status : current, messages });
  if (current === 'DELETED') return { status: 'DELETED', messages: [] };
  if (input.deleting) return pick('DELETING', 'Service is being deleted.');
  const working = (d?: { status: DeploymentStatus }) => d !== undefined && !['STOPPED', 'CANCELED', 'ERROR', 'STASHED'].includes(d.status);
  if (input.pausing) {
    return working(active) || working(latest)
      ? pick('PAUSING', 'Service is pausing: stopping its deployments.')
      : pick('PAUSED', 'Service paused: all deployments are stopped.');
  }
  if (current === 'PAUSED' || current === 'PAUSING') return { status: current, messages: [] };

  const latestFailed = latest !== undefined && FAILED_DEPLOYMENT.includes(latest.status);
  const failure = latest ? `Deployment ${latest.id} failed: ${latest.messages[0] ?? 'unknown error'}` : '';
  if (active && SERVING_DEPLOYMENT.includes(active.status)) {
    if (active.status === 'DEGRADED') {
      return pick('DEGRADED', `The active deployment is degraded: ${active.messages[0] ?? 'some instances are unhealthy'}`,
        ...(latestFailed ? [failure] : []));
    }
    if (latestFailed) return pick('DEGRADED', `${failure}. Traffic still goes to the previous deployment.`);
    if (latest && IN_PROGRESS_DEPLOYMENT.includes(latest.status)) {
      return pick('HEALTHY', `Deployment ${latest.id} is in progress; traffic goes to the active deployment.`);
    }
    return pick('HEALTHY', 'Service is healthy.');
  }
  if (latest && SERVING_DEPLOYMENT.includes(latest.status)) return pick('HEALTHY', 'Service is healthy.');
  // An active deployment only goes back to starting when it wakes from sleep (scale-to-zero): the edge holds the
  // requests meanwhile, so the service is not unhealthy.
  if (active && !latest && BOOTING.includes(active.status)) {
    return pick('HEALTHY', 'Service is waking up: starting an instance for the requests held at the edge.');
  }
  // Resuming: the active deployment is the one the pause stopped, so nothing serves until the new one is up; that
  // is RESUMING, not UNHEALTHY (what Koyeb shows, and what clients waiting on a resume look for).
  if (current === 'RESUMING' && latest && IN_PROGRESS_DEPLOYMENT.includes(latest.status)) {
    const note = latest.messages[0] ? `: ${latest.messages[0]}` : '.';
    return pick('RESUMING', `Deployment ${latest.id} is in progress${note}`);
  }
  if (active) {
    const why = active.messages[0] ?? `the active deployment is ${active.status.toLowerCase()}`;
    return pick('UNHEALTHY', `No deployment can serve requests: ${why}`, ...(latestFailed ? [failure] : []));
  }
  if (!latest) return { status: current, messages: [] };
  if (IN_PROGRESS_DEPLOYMENT.includes(latest.status)) {
    const note = latest.messages[0] ? `: ${latest.messages[0]}` : '.';
    return pick(current === 'RESUMING' ? 'RESUMING' : 'STARTING', `Deployment ${latest.id} is in progress${note}`);
  }
  return pick('UNHEALTHY', latestFailed ? failure : `No deployment can serve requests: deployment ${latest.id} is ${latest.status.toLowerCase()}.`);
}

/** An app's status from its services' statuses (deleted services do not count). */
export function rollupApp(services: readonly { status: ServiceStatus }[]): Rollup<AppStatus> {
  const live = services.filter((s) => s.status !== 'DELETED');
  const has = (s: ServiceStatus) => live.some((x) => x.status === s);
  const running = live.filter((s) => !['PAUSING', 'PAUSED', 'DELETING'].includes(s.status));
  if (live.length === 0) return { status: 'HEALTHY', messages: ['The app has no services.'] };
  if (running.length === 0) {
    // Never DELETING: only deleting the app itself may start that (the reconciler ends a DELETING app with no
    // services as DELETED, so deleting an app's last service must not look like deleting the app).
    if (has('DELETING') && live.every((s) => s.status === 'DELETING')) return { status: 'HEALTHY', messages: ['Its services are being deleted.'] };
    if (has('PAUSING')) return { status: 'PAUSING', messages: ['Services are pausing.'] };
    return { status: 'PAUSED', messages: ['All services are paused.'] };
  }
  const healthy = running.filter((s) => s.status === 'HEALTHY').length;
  const summary = `${healthy} of ${plural(running.length, 'running service')} healthy.`;
  const any = (s: ServiceStatus) => running.some((x) => x.status === s);
  if (any('UNHEALTHY')) return { status: healthy > 0 || any('DEGRADED') ? 'DEGRADED' : 'UNHEALTHY', messages: [summary] };
  if (any('DEGRADED')) return { status: 'DEGRADED', messages: [summary] };
  if (healthy > 0) return { status: 'HEALTHY', messages: [summary] };
  if (running.every((s) => s.status === 'RESUMING')) return { status: 'RESUMING', messages: ['Services are resuming.'] };
  return { status: 'STARTING', messages: ['Services are starting.'] };
}

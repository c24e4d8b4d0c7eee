// What the operator watching `pier up` sees after start-up: one line per deploy that went HEALTHY, per failed
// deployment (build failures included: their message says so) and per crash, taken from the events the reconcilers
// append (marks.ts), with the app and service names. Everything else stays in the events and logs.
import type { ControlState, NewEvent } from './ports.ts';

/** Which events make an operator line, and its wording without names; undefined for the others. */
export function operatorLine(e: NewEvent): { what: string; message: string } | undefined {
  const to = e.metadata?.to;
  const from = e.metadata?.from;
  if (e.kind === 'deployment' && to === 'HEALTHY' && from !== 'HEALTHY' && from !== 'DEGRADED' && from !== 'UNHEALTHY') {
    return { what: 'deployed', message: e.message };
  }
  if (e.kind === 'deployment' && e.type === 'deployment_failed') return { what: 'deployment failed', message: e.message };
  if (e.kind === 'instance' && (e.type === 'instance_exited' || e.type === 'instance_oom_killed')) return { what: 'crashed', message: e.message };
  if (e.kind === 'instance' && e.type === 'crash_loop') return { what: 'crash loop', message: e.message };
  return undefined;
}

/**
 * The reconcilers' state port with operator lines: each selected event, once stored, is logged as
 * `<what>: <app>/<service> v<version>|instance <id>: <message>`. A failed name lookup never fails the event.
 */
export function withOperatorLog(state: ControlState, log: (line: string) => void): ControlState {
  const appendEvent = async (e: NewEvent): Promise<void> => {
    await state.appendEvent(e);
    const line = operatorLine(e);
    if (!line) return;
    try {
      log(`${line.what}: ${await subjectOf(state, e)}${line.message ? `: ${line.message}` : ''}`);
    } catch (err) {
      log(`${line.what}: ${e.kind} ${e.resourceId}: ${line.message} (names unavailable: ${err instanceof Error ? err.message : String(err)})`);
    }
  };
  // A proxy, not a spread: a state may be a class instance whose methods live on its prototype.
  return new Proxy(state, {
    get(target, key) {
      if (key === 'appendEvent') return appendEvent;
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

async function subjectOf(state: ControlState, e: NewEvent): Promise<string> {
  const deployment = e.kind === 'deployment' ? await state.getDeployment(e.resourceId) : undefined;
  const row = deployment ?? (e.kind === 'instance' ? await state.getInstance(e.resourceId) : undefined);
  if (!row) return `${e.kind} ${e.resourceId}`;
  const [app, service] = await Promise.all([state.getApp(row.app_id), state.getService(row.service_id)]);
  const names = `${app?.name ?? row.app_id}/${service?.name ?? row.service_id}`;
  return deployment ? `${names} v${deployment.version}` : `${names} instance ${row.id.slice(0, 8)}`;
}

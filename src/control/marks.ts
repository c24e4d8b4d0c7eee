// The only way the reconcilers change a status: each change is checked against the domain's status machine,
// carries a stable reason code and a human message (shown to users as `messages`), and is recorded as an event in
// the same transaction as the status (where the state has transactions: store-state.ts).
import { assertTransition } from '../domain/status.ts';
import type {
  App, AppStatus, Deployment, DeploymentStatus, Instance, InstanceStatus, RegionalDeployment,
  RegionalDeploymentStatus, Service, ServiceStatus,
} from '../domain/types.ts';
import type {
  AppPatch, Clock, ControlState, DeploymentPatch, EventKind, InstancePatch, RegionalDeploymentPatch, ServicePatch,
} from './ports.ts';

/** What every mark needs: the state to write to and the clock to stamp with. */
export interface MarkContext { state: ControlState; clock: Clock }

/** Runs a mark's re-read, write and event as one transaction where the state has them. */
function atomically<T>(ctx: MarkContext, fn: () => Promise<T>): Promise<T> {
  return ctx.state.atomically ? ctx.state.atomically(fn) : fn();
}

type Row = { id: string; organization_id: string; status: string; messages: string[] };

const same = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Applies one checked transition; a repeat of the current status and message writes nothing (idempotent). */
async function transition<R extends Row, P extends object>(
  ctx: MarkContext, kind: EventKind, row: R, to: R['status'], reason: string, message: string, extra: P,
  write: (id: string, patch: P & { status: string; messages: string[] }) => Promise<void>,
  reread: (id: string) => Promise<R | undefined>,
): Promise<R> {
  const messages = message ? [message] : [];
  // Extras (timestamps, roles) ride along with a status or message change, never trigger a write alone.
  if (row.status === to && same(row.messages, messages)) return row;
  // The API may have moved the row since this pass read it (cancel, pause, delete): never write over that;
  // return the fresh row and let the next pass act on it. The re-read, the status and its event are one
  // transaction, so an API write cannot land in between and the event is never lost.
  return atomically(ctx, async () => {
    const fresh = await reread(row.id);
    if (!fresh) throw new Error(`${kind} ${row.id} disappeared`);
    if (fresh.status !== row.status) return fresh;
    if (row.status !== to) assertTransition(kind as 'instance', row.status as never, to as never);
    await write(row.id, { ...extra, status: to, messages });
    await ctx.state.appendEvent({
      kind, resourceId: row.id, organizationId: row.organization_id, type: reason, message,
      metadata: { from: row.status, to }, when: ctx.clock.now().toISOString(),
    });
    return { ...row, ...extra, status: to, messages };
  });
}

/** Moves an instance to `to` with a reason code and a message. */
export function markInstance(ctx: MarkContext, inst: Instance, to: InstanceStatus, reason: string, message: string, extra: InstancePatch = {}): Promise<Instance> {
  return transition(ctx, 'instance', inst, to, reason, message, extra, (id, p) => ctx.state.updateInstance(id, p as InstancePatch), (id) => ctx.state.getInstance(id));
}

/** Moves a regional deployment to `to` with a reason code and a message. */
export function markRegional(ctx: MarkContext, r: RegionalDeployment, to: RegionalDeploymentStatus, reason: string, message: string, extra: RegionalDeploymentPatch = {}): Promise<RegionalDeployment> {
  return transition(ctx, 'regional_deployment', r, to, reason, message, extra, (id, p) => ctx.state.updateRegionalDeployment(id, p as RegionalDeploymentPatch), (id) => ctx.state.getRegionalDeployment(id));
}

/** Moves a deployment to `to` with a reason code and a message. */
export function markDeployment(ctx: MarkContext, d: Deployment, to: DeploymentStatus, reason: string, message: string, extra: DeploymentPatch = {}): Promise<Deployment> {
  return transition(ctx, 'deployment', d, to, reason, message, extra, (id, p) => ctx.state.updateDeployment(id, p as DeploymentPatch), (id) => ctx.state.getDeployment(id));
}

/** Moves a service to `to` with a reason code and a message. */
export function markService(ctx: MarkContext, s: Service, to: ServiceStatus, reason: string, message: string, extra: ServicePatch = {}): Promise<Service> {
  return transition(ctx, 'service', s, to, reason, message, extra, (id, p) => ctx.state.updateService(id, p as ServicePatch), (id) => ctx.state.getService(id));
}

/** Moves an app to `to`; apps have no transition table of their own (they roll up their services). */
export async function markApp(ctx: MarkContext, a: App, to: AppStatus, reason: string, message: string, extra: AppPatch = {}): Promise<App> {
  const messages = message ? [message] : [];
  if (a.status === to && same(a.messages, messages)) return a;
  return atomically(ctx, async () => {
    await ctx.state.updateApp(a.id, { ...extra, status: to, messages });
    await ctx.state.appendEvent({
      kind: 'app', resourceId: a.id, organizationId: a.organization_id, type: reason, message,
      metadata: { from: a.status, to }, when: ctx.clock.now().toISOString(),
    });
    return { ...a, ...extra, status: to, messages };
  });
}

/** Named instance helpers: the wording users see comes from the caller (domain/messages.ts). */
export const instanceMarks = {
  starting: (ctx: MarkContext, i: Instance, message: string, startedAt: string) =>
    markInstance(ctx, i, 'STARTING', 'instance_starting', message, { started_at: startedAt }),
  healthy: (ctx: MarkContext, i: Instance, message: string) =>
    markInstance(ctx, i, 'HEALTHY', 'instance_healthy', message, i.succeeded_at ? {} : { succeeded_at: ctx.clock.now().toISOString() }),
  unhealthy: (ctx: MarkContext, i: Instance, reason: string, message: string) => markInstance(ctx, i, 'UNHEALTHY', reason, message),
  stopping: (ctx: MarkContext, i: Instance, message: string) => markInstance(ctx, i, 'STOPPING', 'instance_stopping', message),
  stopped: (ctx: MarkContext, i: Instance, message: string) =>
    markInstance(ctx, i, 'STOPPED', 'instance_stopped', message, { terminated_at: ctx.clock.now().toISOString() }),
  error: (ctx: MarkContext, i: Instance, reason: string, message: string) =>
    markInstance(ctx, i, 'ERROR', reason, message, { terminated_at: ctx.clock.now().toISOString() }),
};

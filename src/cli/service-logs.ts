// `services logs`: by default only the current deployments' lines (the active one and, while a newer one rolls out
// or after it failed, the latest; for builds the latest), so replaced instances do not mix their shutdown noise in.
// --all-deployments shows every deployment's lines. A tail follows the whole service and keeps the lines of the
// deployments that are current when each line arrives, so it carries on across the next rollout (asking the API
// again only about a deployment it has not seen, or about the outgoing one while a rollout is under way).
import type { LogEntry, Service } from '../domain/types.ts';
import type { FlagSpec } from './args.ts';
import type { Ctx } from './command.ts';
import { showLogs, type LineFilter } from './logs.ts';

/** The flag of `services logs` that widens it to every deployment. */
export const ALL_DEPLOYMENTS_FLAG: FlagSpec = {
  name: 'all-deployments', kind: 'bool', aliases: ['all'], help: "Show every deployment's lines, not only the current deployment's",
};

/** During a rollout, ask about the outgoing deployment's lines at most this often (it may have been replaced). */
const ROLLOUT_REFRESH_MS = 200;

/** The deployments whose lines count as current: active and latest (runtime), or latest (build). */
export function currentDeployments(service: Pick<Service, 'active_deployment_id' | 'latest_deployment_id'>, type: string): string[] {
  const ids = type === 'build' ? [service.latest_deployment_id] : [service.active_deployment_id, service.latest_deployment_id];
  return [...new Set(ids.filter((id): id is string => !!id))];
}

/** Shows a service's logs, narrowed to its current deployments unless --all-deployments or --instance is given. */
export async function showServiceLogs(ctx: Ctx, serviceId: string): Promise<number> {
  const scope = { service_id: serviceId };
  if (ctx.args.bool('all-deployments') || ctx.args.has('instance')) return showLogs(ctx, scope);
  const type = ctx.args.str('type') ?? 'runtime';
  const fetchCurrent = async (): Promise<string[]> => {
    const { service } = await ctx.client().get<{ service: Service }>(`/v1/services/${serviceId}`);
    return currentDeployments(service, type);
  };
  let current = await fetchCurrent();
  if (!ctx.args.bool('tail')) {
    // The serving deployment and, while one rolls out (or after it failed), the latest: its crash lines matter most.
    return current.length ? showLogs(ctx, current.map((id) => ({ ...scope, deployment_id: id }))) : showLogs(ctx, scope);
  }
  let fetchedAt = ctx.io.now();
  const stale = new Set<string>();
  const keep: LineFilter = async (entry: LogEntry) => {
    const dep = entry.labels?.deployment_id;
    if (!dep) return true;
    // A deployment never seen before may be the rollout that just started: ask now. During a rollout (two current
    // deployments), the outgoing one's lines make us ask again, so they stop once the new one is active.
    const unknown = !current.includes(dep) && !stale.has(dep);
    const outgoing = current.length > 1 && dep !== current.at(-1);
    if (unknown || (outgoing && ctx.io.now() - fetchedAt >= ROLLOUT_REFRESH_MS)) {
      current = await fetchCurrent();
      fetchedAt = ctx.io.now();
    }
    if (current.includes(dep)) return true;
    stale.add(dep);
    return false;
  };
  return showLogs(ctx, scope, { scope, keep });
}

// Making an instance row and asking one to stop: the deployment reconciler's for the count it keeps, the autoscaler's
// for a standby (a frozen spare, standby.ts). One shape, one `instance_created` event that says which.
import { randomUUID } from 'node:crypto';
import { instanceMessage } from '../domain/messages.ts';
import type { Deployment, Instance, RegionalDeployment, Service } from '../domain/types.ts';
import type { ControlContext } from './context.ts';
import { instanceMarks } from './marks.ts';

/** Creates an ALLOCATING row for replica `replica` of a regional deployment, with its event. */
export async function createInstanceRow(ctx: ControlContext, svc: Service, d: Deployment, r: RegionalDeployment, replica: number, standby = false): Promise<Instance> {
  const now = ctx.clock.now().toISOString();
  const message = standby ? instanceMessage.standbyAllocated() : instanceMessage.allocated();
  const row: Instance = {
    id: randomUUID(), created_at: now, updated_at: now, organization_id: svc.organization_id, app_id: svc.app_id,
    service_id: svc.id, regional_deployment_id: r.id, allocation_id: '', type: r.definition.instance_type,
    replica_index: replica, region: r.region, datacenter: r.region, hypervisor: ctx.runtime.name,
    status: 'ALLOCATING', messages: [message], started_at: null, succeeded_at: null,
    terminated_at: null, xyz_deployment_id: d.id,
  };
  await ctx.state.createInstance(row);
  await ctx.state.appendEvent({
    kind: 'instance', resourceId: row.id, organizationId: row.organization_id, type: 'instance_created',
    message: standby
      ? `Standby instance created for deployment ${d.id} in ${r.region} (replica ${replica}): started and frozen ahead of the next scale-up.`
      : `Instance created for deployment ${d.id} in ${r.region} (replica ${replica}).`,
    metadata: { deployment_id: d.id, region: r.region, replica_index: replica, ...(standby ? { standby: true } : {}) }, when: now,
  });
  return row;
}

/**
 * Asks an instance to stop (STOPPING; the instance reconciler drains, stops and removes its workload); nothing for
 * one already stopping or ended. `message` is what its row says (default "Instance is stopping: <why>.").
 */
export async function requestStop(ctx: ControlContext, inst: Instance, why: string, message = instanceMessage.stopping(why)): Promise<void> {
  if (inst.status === 'STOPPING' || inst.status === 'STOPPED' || inst.status === 'ERROR') return;
  ctx.routesDirty = true;
  await instanceMarks.stopping(ctx, inst, message);
}

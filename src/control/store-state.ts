// The ControlState port over the real store (src/store/ repositories). Log lines are published on the store's
// LogBus as they are appended, so live tails see them.
import * as apps from '../store/apps.ts';
import * as deployments from '../store/deployments.ts';
import * as events from '../store/events.ts';
import * as instances from '../store/instances.ts';
import { appendLogLines } from '../store/logs.ts';
import { getOrganization } from '../store/organizations.ts';
import * as regionals from '../store/regional-deployments.ts';
import { getManualScaling } from '../store/scalings.ts';
import { findSecretByName, revealSecret, secretValues } from '../store/secrets.ts';
import * as services from '../store/services.ts';
import type { Store } from '../store/store.ts';
import * as volumes from '../store/volumes.ts';
import type { VolumeState } from './reconcile-volumes.ts';
import { FINISHED_DEPLOYMENT_STATUSES, FINISHED_INSTANCE_STATUSES, type ControlState } from './ports.ts';

/** Wraps an open store as the reconcilers' port. */
export function storeState(store: Store): ControlState {
  const db = store.db;
  return {
    getOrganization: (id) => getOrganization(db, id),
    listApps: async () => (await apps.listApps(db, { excludeDeleted: true })).items,
    getApp: (id) => apps.getApp(db, id),
    listServices: async () => (await services.listServices(db, { excludeDeleted: true })).items.reverse(),
    getService: (id) => services.getService(db, id),
    getDeployment: (id) => deployments.getDeployment(db, id),
    listOpenDeployments: (serviceId) => deployments.listOpenDeployments(db, serviceId, FINISHED_DEPLOYMENT_STATUSES),
    getRegionalDeployment: (id) => regionals.getRegionalDeployment(db, id),
    listRegionalDeployments: (deploymentId) => regionals.listRegionalDeploymentsOf(db, deploymentId),
    listInstancesOfRegional: async (id) => (await instances.listInstances(db, { regionalDeploymentId: id }, undefined, 'asc')).items,
    listLiveInstances: async () => (await instances.listInstances(db, { excludeStatuses: [...FINISHED_INSTANCE_STATUSES] }, undefined, 'asc')).items,
    getInstance: (id) => instances.getInstance(db, id),
    getManualScaling: (serviceId) => getManualScaling(db, serviceId),
    secretValues: (organizationId) => secretValues(db, store.secretKey, organizationId),
    registrySecret: async (organizationId, name) => {
      const found = await findSecretByName(db, organizationId, name);
      return found?.type === 'REGISTRY' ? (await revealSecret(db, store.secretKey, found.id))?.registry : undefined;
    },
    createInstance: (row) => instances.insertInstance(db, row),
    updateInstance: async (id, patch) => { await instances.updateInstance(db, id, patch); },
    updateRegionalDeployment: async (id, patch) => { await regionals.updateRegionalDeployment(db, id, patch); },
    updateDeployment: async (id, patch) => { await deployments.updateDeployment(db, id, patch); },
    updateService: async (id, patch) => { await services.updateService(db, id, patch); },
    updateApp: async (id, patch) => { await apps.updateApp(db, id, patch); },
    appendEvent: async (e) => { await events.appendEvent(db, e); },
    appendLog: (line) => appendLogLines(db, [line], store.logBus),
  };
}

/** The volume reconciler's port over the real store (volumes, snapshots, events of kind persistent_volume). */
export function storeVolumeState(store: Store): VolumeState {
  const db = store.db;
  return {
    listVolumes: async () => (await volumes.listVolumes(db, { excludeDeleted: true })).items.reverse(),
    getVolume: (id) => volumes.getVolume(db, id),
    updateVolume: async (id, patch) => { await volumes.updateVolume(db, id, patch); },
    hostBytes: (id) => volumes.volumeHostBytes(db, id),
    setHostBytes: (id, bytes) => volumes.setVolumeHostBytes(db, id, bytes),
    listSnapshots: async () => (await volumes.listSnapshots(db, { excludeDeleted: true })).items.reverse(),
    updateSnapshot: async (id, patch) => { await volumes.updateSnapshot(db, id, patch); },
    appendVolumeEvent: async (e) => {
      await events.appendEvent(db, { kind: 'persistent_volume', resourceId: e.volumeId, organizationId: e.organizationId, type: e.type, message: e.message, metadata: e.metadata, when: e.when });
    },
  };
}

// The ControlState port over the real store (src/store/ repositories). Log lines are published on the store's
// LogBus as they are appended, so live tails see them. `atomically(fn)` runs fn in one store transaction: every call
// made inside fn's async context (and only there) goes to that transaction.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Db } from '../store/db.ts';
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
import type { VolumeEvent, VolumeState } from './reconcile-volumes.ts';
import { FINISHED_DEPLOYMENT_STATUSES, FINISHED_INSTANCE_STATUSES, type ControlState } from './ports.ts';

/** Wraps an open store as the reconcilers' port. */
export function storeState(store: Store): ControlState {
  const inTransaction = new AsyncLocalStorage<Db>();
  // A getter, not a constant: inside atomically() the transaction, elsewhere the store (its queries wait their turn).
  const handle = { get db(): Db { return inTransaction.getStore() ?? store.db; } };
  const state: ControlState = {
    atomically: (fn) => (inTransaction.getStore() ? fn() : store.db.transaction((tx) => inTransaction.run(tx, fn))),
    getOrganization: (id) => getOrganization(handle.db, id),
    listApps: async () => (await apps.listApps(handle.db, { excludeDeleted: true })).items,
    getApp: (id) => apps.getApp(handle.db, id),
    listServices: async () => (await services.listServices(handle.db, { excludeDeleted: true })).items.reverse(),
    getService: (id) => services.getService(handle.db, id),
    getDeployment: (id) => deployments.getDeployment(handle.db, id),
    listOpenDeployments: (serviceId) => deployments.listOpenDeployments(handle.db, serviceId, FINISHED_DEPLOYMENT_STATUSES),
    getRegionalDeployment: (id) => regionals.getRegionalDeployment(handle.db, id),
    listRegionalDeployments: (deploymentId) => regionals.listRegionalDeploymentsOf(handle.db, deploymentId),
    listInstancesOfRegional: async (id) => (await instances.listInstances(handle.db, { regionalDeploymentId: id }, undefined, 'asc')).items,
    listLiveInstances: async () => (await instances.listInstances(handle.db, { excludeStatuses: [...FINISHED_INSTANCE_STATUSES] }, undefined, 'asc')).items,
    getInstance: (id) => instances.getInstance(handle.db, id),
    getManualScaling: (serviceId) => getManualScaling(handle.db, serviceId),
    secretValues: (organizationId) => secretValues(handle.db, store.secretKey, organizationId),
    registrySecret: async (organizationId, name) => {
      const found = await findSecretByName(handle.db, organizationId, name);
      return found?.type === 'REGISTRY' ? (await revealSecret(handle.db, store.secretKey, found.id))?.registry : undefined;
    },
    createInstance: (row) => instances.insertInstance(handle.db, row),
    updateInstance: async (id, patch) => { await instances.updateInstance(handle.db, id, patch); },
    updateRegionalDeployment: async (id, patch) => { await regionals.updateRegionalDeployment(handle.db, id, patch); },
    updateDeployment: async (id, patch) => { await deployments.updateDeployment(handle.db, id, patch); },
    updateService: async (id, patch) => { await services.updateService(handle.db, id, patch); },
    updateApp: async (id, patch) => { await apps.updateApp(handle.db, id, patch); },
    appendEvent: async (e) => { await events.appendEvent(handle.db, e); },
    appendLog: (line) => appendLogLines(handle.db, [line], store.logBus),
  };
  return state;
}

async function volumeEvent(db: Db, e: VolumeEvent): Promise<void> {
  await events.appendEvent(db, { kind: 'persistent_volume', resourceId: e.volumeId, organizationId: e.organizationId, type: e.type, message: e.message, metadata: e.metadata, when: e.when });
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
    appendVolumeEvent: (e) => volumeEvent(db, e),
    // The re-read, the write and the event in one transaction: an API write (a delete) lands before or after, never between.
    transitionVolume: (id, from, patch, e) => db.transaction(async (tx) => {
      if ((await volumes.getVolume(tx, id))?.status !== from) return false;
      await volumes.updateVolume(tx, id, patch);
      await volumeEvent(tx, e);
      return true;
    }),
    transitionSnapshot: (id, from, patch, e) => db.transaction(async (tx) => {
      if ((await volumes.getSnapshot(tx, id))?.status !== from) return false;
      await volumes.updateSnapshot(tx, id, patch);
      await volumeEvent(tx, e);
      return true;
    }),
  };
}

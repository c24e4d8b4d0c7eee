// Persistent volumes, snapshots and volume events (Koyeb's /v1/volumes, /v1/snapshots, /v1/volume_events; issue #20):
// reads from the store, writes through src/actions/volumes.ts. Koyeb updates with POST /v1/<kind>/{id}.
import * as actions from '../actions/volumes.ts';
import { listEvents } from '../store/events.ts';
import { listSnapshots, listVolumes } from '../store/volumes.ts';
import { actionContext as ac } from './context.ts';
import { listReply } from './http.ts';
import type { Route } from './router.ts';

/** Routes of volumes, snapshots and volume events. */
export function volumeRoutes(): Route[] {
  return [
    {
      method: 'GET', path: '/v1/volumes', operationId: 'ListPersistentVolumes', tag: 'PersistentVolumes',
      handler: async (c) => {
        const page = c.query.page();
        const { items, count } = await listVolumes(c.store.db, {
          organizationId: c.organizationId, name: c.query.str('name'), region: c.query.str('region'),
          serviceId: c.query.str('service_id'), excludeDeleted: true,
        }, page);
        return listReply('volumes', items, page, count);
      },
    },
    { method: 'POST', path: '/v1/volumes', operationId: 'CreatePersistentVolume', tag: 'PersistentVolumes', handler: async (c) => ({ volume: await actions.createVolume(ac(c), await c.body()) }) },
    { method: 'GET', path: '/v1/volumes/{id}', operationId: 'GetPersistentVolume', tag: 'PersistentVolumes', handler: async (c) => ({ volume: await actions.getVolumeView(ac(c), c.params.id!) }) },
    { method: 'POST', path: '/v1/volumes/{id}', operationId: 'UpdatePersistentVolume', tag: 'PersistentVolumes', handler: async (c) => ({ volume: await actions.updateVolume(ac(c), c.params.id!, await c.body()) }) },
    { method: 'DELETE', path: '/v1/volumes/{id}', operationId: 'DeletePersistentVolume', tag: 'PersistentVolumes', handler: async (c) => ({ volume: await actions.deleteVolume(ac(c), c.params.id!) }) },
    {
      method: 'GET', path: '/v1/volume_events', operationId: 'ListPersistentVolumeEvents', tag: 'PersistentVolumes',
      handler: async (c) => {
        const page = c.query.page();
        const order = c.query.order('desc');
        const { items, count } = await listEvents(c.store.db, {
          kind: 'persistent_volume', organizationId: c.organizationId, resourceIds: c.query.list('persistent_volume_id'),
          types: c.query.list('types'), order,
        }, page);
        return { events: items, limit: page.limit, offset: page.offset, order, has_next: page.offset + items.length < count };
      },
    },
    {
      method: 'GET', path: '/v1/snapshots', operationId: 'ListSnapshots', tag: 'Snapshots',
      handler: async (c) => {
        const page = c.query.page();
        const { items, count } = await listSnapshots(c.store.db, {
          organizationId: c.organizationId, region: c.query.str('region'), statuses: c.query.list('statuses'), excludeDeleted: true,
        }, page);
        return listReply('snapshots', items, page, count);
      },
    },
    { method: 'POST', path: '/v1/snapshots', operationId: 'CreateSnapshot', tag: 'Snapshots', handler: async (c) => ({ snapshot: await actions.createSnapshot(ac(c), await c.body()) }) },
    { method: 'GET', path: '/v1/snapshots/{id}', operationId: 'GetSnapshot', tag: 'Snapshots', handler: async (c) => ({ snapshot: await actions.getSnapshotView(ac(c), c.params.id!) }) },
    { method: 'POST', path: '/v1/snapshots/{id}', operationId: 'UpdateSnapshot', tag: 'Snapshots', handler: async (c) => ({ snapshot: await actions.updateSnapshot(ac(c), c.params.id!, await c.body()) }) },
    { method: 'DELETE', path: '/v1/snapshots/{id}', operationId: 'DeleteSnapshot', tag: 'Snapshots', handler: async (c) => ({ snapshot: await actions.deleteSnapshot(ac(c), c.params.id!) }) },
  ];
}

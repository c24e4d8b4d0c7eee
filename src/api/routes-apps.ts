// /v1/apps and /v1/services routes: thin wrappers over the actions and repositories.
import * as actions from '../actions/index.ts';
import { ownApp, ownService } from '../actions/common.ts';
import { listApps } from '../store/apps.ts';
import { listServices } from '../store/services.ts';
import { actionContext as ac } from './context.ts';
import { listReply } from './http.ts';
import type { Route } from './router.ts';

/** Routes of apps and services. */
export function appAndServiceRoutes(): Route[] {
  return [
    {
      method: 'GET', path: '/v1/apps', operationId: 'ListApps', tag: 'Apps',
      handler: async (c) => {
        const page = c.query.page();
        const { items, count } = await listApps(c.store.db, {
          organizationId: c.organizationId, name: c.query.str('name'), excludeDeleted: true, ids: c.query.list('ids'),
        }, page);
        return listReply('apps', items, page, count);
      },
    },
    { method: 'POST', path: '/v1/apps', operationId: 'CreateApp', tag: 'Apps', handler: async (c) => ({ app: await actions.createApp(ac(c), await c.body()) }) },
    { method: 'GET', path: '/v1/apps/{id}', operationId: 'GetApp', tag: 'Apps', handler: async (c) => ({ app: await ownApp(c.store.db, c.organizationId, c.params.id!) }) },
    { method: 'PUT', path: '/v1/apps/{id}', operationId: 'UpdateApp', tag: 'Apps', handler: async (c) => ({ app: await actions.updateApp(ac(c), c.params.id!, await c.body()) }) },
    { method: 'PATCH', path: '/v1/apps/{id}', operationId: 'UpdateApp2', tag: 'Apps', handler: async (c) => ({ app: await actions.updateApp(ac(c), c.params.id!, await c.body()) }) },
    { method: 'DELETE', path: '/v1/apps/{id}', operationId: 'DeleteApp', tag: 'Apps', handler: (c) => actions.deleteApp(ac(c), c.params.id!) },
    { method: 'POST', path: '/v1/apps/{id}/pause', operationId: 'PauseApp', tag: 'Apps', handler: (c) => actions.pauseApp(ac(c), c.params.id!) },
    { method: 'POST', path: '/v1/apps/{id}/resume', operationId: 'ResumeApp', tag: 'Apps', handler: (c) => actions.resumeApp(ac(c), c.params.id!) },

    {
      method: 'GET', path: '/v1/services', operationId: 'ListServices', tag: 'Services',
      handler: async (c) => {
        const page = c.query.page();
        const statuses = c.query.list('statuses');
        const { items, count } = await listServices(c.store.db, {
          organizationId: c.organizationId, appId: c.query.str('app_id'), name: c.query.str('name'),
          types: c.query.list('types'), statuses, excludeDeleted: !statuses, ids: c.query.list('ids'),
          regions: c.query.list('regions'),
        }, page);
        return listReply('services', items, page, count);
      },
    },
    {
      method: 'POST', path: '/v1/services', operationId: 'CreateService', tag: 'Services',
      handler: async (c) => ({ service: await actions.createService(ac(c), await c.body(), { dryRun: c.query.bool('dry_run') }) }),
    },
    { method: 'GET', path: '/v1/services/{id}', operationId: 'GetService', tag: 'Services', handler: async (c) => ({ service: await ownService(c.store.db, c.organizationId, c.params.id!) }) },
    {
      method: 'PUT', path: '/v1/services/{id}', operationId: 'UpdateService', tag: 'Services',
      handler: async (c) => ({ service: await actions.updateService(ac(c), c.params.id!, await c.body(), { dryRun: c.query.bool('dry_run') }) }),
    },
    {
      method: 'PATCH', path: '/v1/services/{id}', operationId: 'UpdateService2', tag: 'Services',
      handler: async (c) => ({ service: await actions.updateService(ac(c), c.params.id!, await c.body(), { dryRun: c.query.bool('dry_run') }) }),
    },
    { method: 'DELETE', path: '/v1/services/{id}', operationId: 'DeleteService', tag: 'Services', handler: (c) => actions.deleteService(ac(c), c.params.id!) },
    { method: 'POST', path: '/v1/services/{id}/pause', operationId: 'PauseService', tag: 'Services', handler: (c) => actions.pauseService(ac(c), c.params.id!) },
    {
      method: 'POST', path: '/v1/services/{id}/resume', operationId: 'ResumeService', tag: 'Services',
      handler: (c) => actions.resumeService(ac(c), c.params.id!, { skipBuild: c.query.bool('skip_build') }),
    },
    {
      method: 'POST', path: '/v1/services/{id}/redeploy', operationId: 'ReDeploy', tag: 'Services',
      handler: async (c) => ({ deployment: await actions.redeployService(ac(c), c.params.id!, await c.body()) }),
    },
    { method: 'GET', path: '/v1/services/{id}/scale', operationId: 'GetServiceScaling', tag: 'Services', handler: (c) => actions.getServiceScaling(ac(c), c.params.id!) },
    { method: 'PUT', path: '/v1/services/{id}/scale', operationId: 'UpdateServiceScaling', tag: 'Services', handler: async (c) => actions.putServiceScaling(ac(c), c.params.id!, await c.body()) },
    { method: 'DELETE', path: '/v1/services/{id}/scale', operationId: 'DeleteServiceScaling', tag: 'Services', handler: (c) => actions.deleteServiceScaling(ac(c), c.params.id!) },
  ];
}

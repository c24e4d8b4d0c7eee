// /v1/deployments, /v1/deployment/{id}/scaling, /v1/regional_deployments and /v1/instances routes.
import * as actions from '../actions/index.ts';
import { ownDeployment } from '../actions/common.ts';
import { notFound } from '../domain/errors.ts';
import { listDeployments } from '../store/deployments.ts';
import { getRegionalDeployment, listRegionalDeployments } from '../store/regional-deployments.ts';
import { getInstance, listInstances } from '../store/instances.ts';
import { actionContext as ac } from './context.ts';
import { listReply } from './http.ts';
import type { Route } from './router.ts';

/** Routes of deployments, regional deployments and instances. */
export function deploymentRoutes(): Route[] {
  return [
    {
      method: 'GET', path: '/v1/deployments', operationId: 'ListDeployments', tag: 'Deployments',
      handler: async (c) => {
        const page = c.query.page();
        const { items, count } = await listDeployments(c.store.db, {
          organizationId: c.organizationId, appId: c.query.str('app_id'), serviceId: c.query.str('service_id'),
          statuses: c.query.list('statuses'), ids: c.query.list('ids'),
        }, page);
        return listReply('deployments', items, page, count);
      },
    },
    { method: 'GET', path: '/v1/deployments/{id}', operationId: 'GetDeployment', tag: 'Deployments', handler: async (c) => ({ deployment: await ownDeployment(c.store.db, c.organizationId, c.params.id!) }) },
    { method: 'POST', path: '/v1/deployments/{id}/cancel', operationId: 'CancelDeployment', tag: 'Deployments', handler: (c) => actions.cancelDeployment(ac(c), c.params.id!) },
    {
      method: 'GET', path: '/v1/deployments/{id}/diff', operationId: 'DiffDeployments', tag: 'Deployments', pier: true,
      handler: (c) => actions.deploymentDiff(ac(c), c.params.id!, c.query.str('against')),
    },
    {
      method: 'GET', path: '/v1/deployment/{id}/scaling', operationId: 'GetDeploymentScaling', tag: 'Deployments',
      handler: (c) => actions.deploymentScaling(ac(c), c.params.id!, { region: c.query.str('region'), replicaIndex: c.query.int('replica_index') }),
    },
    {
      method: 'GET', path: '/v1/regional_deployments', operationId: 'ListRegionalDeployments', tag: 'RegionalDeployments',
      handler: async (c) => {
        const page = c.query.page();
        const { items, count } = await listRegionalDeployments(c.store.db, {
          organizationId: c.organizationId, deploymentId: c.query.str('deployment_id'), ids: c.query.list('ids'),
        }, page);
        return listReply('regional_deployments', items, page, count);
      },
    },
    {
      method: 'GET', path: '/v1/regional_deployments/{id}', operationId: 'GetRegionalDeployment', tag: 'RegionalDeployments',
      handler: async (c) => {
        const rd = await getRegionalDeployment(c.store.db, c.params.id!);
        if (!rd || rd.organization_id !== c.organizationId) throw notFound('regional deployment', c.params.id!);
        return { regional_deployment: rd };
      },
    },
    {
      method: 'GET', path: '/v1/instances', operationId: 'ListInstances', tag: 'Instances',
      handler: async (c) => {
        const page = c.query.page();
        const order = c.query.order('desc');
        const { items, count } = await listInstances(c.store.db, {
          organizationId: c.organizationId, appId: c.query.str('app_id'), serviceId: c.query.str('service_id'),
          deploymentId: c.query.str('deployment_id'), regionalDeploymentId: c.query.str('regional_deployment_id'),
          allocationId: c.query.str('allocation_id'), replicaIndex: c.query.int('replica_index'),
          statuses: c.query.list('statuses'), startingTime: c.query.time('starting_time'), endingTime: c.query.time('ending_time'),
          ids: c.query.list('ids'),
        }, page, order);
        return { instances: items, limit: page.limit, offset: page.offset, count, order, has_next: page.offset + items.length < count };
      },
    },
    {
      method: 'GET', path: '/v1/instances/{id}', operationId: 'GetInstance', tag: 'Instances',
      handler: async (c) => {
        const i = await getInstance(c.store.db, c.params.id!);
        if (!i || i.organization_id !== c.organizationId) throw notFound('instance', c.params.id!);
        return { instance: i };
      },
    },
  ];
}

// /v1/domains routes: custom domains (create, attach/detach, delete, refresh) plus the apps' auto-assigned domains
// in lists. Thin wrappers over control/actions-domains.ts; statuses move in the certificate manager (src/certs).
import * as domains from '../actions/domains.ts';
import { actionContext as ac } from './context.ts';
import { listReply } from './http.ts';
import type { Route } from './router.ts';

/** Routes of domains. */
export function domainRoutes(): Route[] {
  return [
    {
      method: 'GET', path: '/v1/domains', operationId: 'ListDomains', tag: 'Domains',
      handler: async (c) => {
        const page = c.query.page();
        const { items, count } = await domains.listDomainViews(ac(c), {
          types: c.query.list('types'), statuses: c.query.list('statuses'), appIds: c.query.list('app_ids'), name: c.query.str('name'), ids: c.query.list('ids'),
        }, page);
        return listReply('domains', items, page, count);
      },
    },
    {
      method: 'POST', path: '/v1/domains', operationId: 'CreateDomain', tag: 'Domains',
      handler: async (c) => ({ domain: await domains.createDomain(ac(c), await c.body(), { dryRun: c.query.bool('dry_run') }) }),
    },
    {
      method: 'GET', path: '/v1/domains/{id}', operationId: 'GetDomain', tag: 'Domains',
      handler: async (c) => ({ domain: await domains.ownDomain(c.store.db, c.organizationId, c.params.id!) }),
    },
    {
      method: 'PATCH', path: '/v1/domains/{id}', operationId: 'UpdateDomain', tag: 'Domains',
      handler: async (c) => ({
        domain: await domains.updateDomain(ac(c), c.params.id!, await c.body(), {
          updateMask: c.query.list('update_mask'), dryRun: c.query.bool('dry_run'),
        }),
      }),
    },
    { method: 'DELETE', path: '/v1/domains/{id}', operationId: 'DeleteDomain', tag: 'Domains', handler: (c) => domains.deleteDomain(ac(c), c.params.id!) },
    { method: 'POST', path: '/v1/domains/{id}/refresh', operationId: 'RefreshDomainStatus', tag: 'Domains', handler: (c) => domains.refreshDomain(ac(c), c.params.id!) },
  ];
}

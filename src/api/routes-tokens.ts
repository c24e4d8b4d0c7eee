// API tokens (Koyeb's /v1/credentials) and Pier's operator route that creates organizations: thin handlers over
// src/actions/tokens.ts. Every route is scoped to the caller's organization.
import * as tokens from '../actions/tokens.ts';
import { listOrganizations, listTokens } from '../store/organizations.ts';
import { assertOperator } from './auth.ts';
import { actionContext as ac } from './context.ts';
import { listReply } from './http.ts';
import type { Route } from './router.ts';

/** Routes of API tokens and organizations. */
export function tokenRoutes(): Route[] {
  return [
    {
      method: 'GET', path: '/v1/credentials', operationId: 'ListCredentials', tag: 'Credentials',
      handler: async (c) => {
        const page = c.query.page();
        const name = c.query.str('name');
        const all = (await listTokens(c.store.db, c.organizationId)).filter((t) => !name || t.name === name);
        return listReply('credentials', all.slice(page.offset, page.offset + page.limit).map((t) => tokens.credentialView(t)), page, all.length);
      },
    },
    {
      method: 'POST', path: '/v1/credentials', operationId: 'CreateCredential', tag: 'Credentials',
      // A read-only caller never gets here (403 before the handler), so no token can widen its own rights.
      handler: async (c) => tokens.createToken(ac(c), await c.body()),
    },
    {
      method: 'GET', path: '/v1/credentials/{id}', operationId: 'GetCredential', tag: 'Credentials',
      handler: async (c) => tokens.getTokenView(ac(c), c.params.id!),
    },
    {
      method: 'PUT', path: '/v1/credentials/{id}', operationId: 'UpdateCredential', tag: 'Credentials',
      handler: async (c) => tokens.updateToken(ac(c), c.params.id!, await c.body(), c.query.str('update_mask')),
    },
    {
      method: 'PATCH', path: '/v1/credentials/{id}', operationId: 'UpdateCredential2', tag: 'Credentials',
      handler: async (c) => tokens.updateToken(ac(c), c.params.id!, await c.body(), c.query.str('update_mask')),
    },
    {
      method: 'DELETE', path: '/v1/credentials/{id}', operationId: 'DeleteCredential', tag: 'Credentials',
      handler: async (c) => tokens.revokeToken(ac(c), c.params.id!),
    },
    {
      method: 'GET', path: '/v1/pier/organizations', operationId: 'PierListOrganizations', tag: 'Pier', pier: true,
      handler: async (c) => {
        await assertOperator(c, 'manage organizations');
        const page = c.query.page();
        const all = await listOrganizations(c.store.db);
        return listReply('organizations', all.slice(page.offset, page.offset + page.limit), page, all.length);
      },
    },
    {
      method: 'POST', path: '/v1/pier/organizations', operationId: 'PierCreateOrganization', tag: 'Pier', pier: true,
      handler: async (c) => {
        await assertOperator(c, 'manage organizations');
        return tokens.createOrganization(c.store, await c.body());
      },
    },
  ];
}

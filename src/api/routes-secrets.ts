// Secrets routes (Koyeb's /v1/secrets): reads from the store, writes through src/actions/secrets.ts.
import * as actions from '../actions/secrets.ts';
import { listSecrets, servicesUsingSecret } from '../store/secrets.ts';
import { actionContext as ac } from './context.ts';
import { listReply } from './http.ts';
import type { RequestContext, Route } from './router.ts';

/**
 * Updates a secret and says which live services use it (`services_using`, a Pier extension to Koyeb's reply):
 * their running deployments keep the old value until redeployed, so clients can offer that redeploy.
 */
async function updateSecretHandler(c: RequestContext): Promise<unknown> {
  const secret = await actions.updateSecret(ac(c), c.params.id!, await c.body());
  return { secret, services_using: await servicesUsingSecret(c.store.db, c.organizationId, (secret as { name: string }).name) };
}

/** Routes of secrets. */
export function secretRoutes(): Route[] {
  return [
    {
      method: 'GET', path: '/v1/secrets', operationId: 'ListSecrets', tag: 'Secrets',
      handler: async (c) => {
        const page = c.query.page();
        const { items, count } = await listSecrets(c.store.db, {
          organizationId: c.organizationId, name: c.query.str('name'), types: c.query.list('types'), ids: c.query.list('ids'),
        }, page);
        return listReply('secrets', items, page, count);
      },
    },
    { method: 'POST', path: '/v1/secrets', operationId: 'CreateSecret', tag: 'Secrets', handler: async (c) => ({ secret: await actions.createSecret(ac(c), await c.body()) }) },
    { method: 'GET', path: '/v1/secrets/{id}', operationId: 'GetSecret', tag: 'Secrets', handler: async (c) => ({ secret: await actions.getSecretView(ac(c), c.params.id!) }) },
    { method: 'PUT', path: '/v1/secrets/{id}', operationId: 'UpdateSecret', tag: 'Secrets', handler: updateSecretHandler },
    { method: 'PATCH', path: '/v1/secrets/{id}', operationId: 'UpdateSecret2', tag: 'Secrets', handler: updateSecretHandler },
    { method: 'DELETE', path: '/v1/secrets/{id}', operationId: 'DeleteSecret', tag: 'Secrets', handler: (c) => actions.deleteSecret(ac(c), c.params.id!) },
    { method: 'POST', path: '/v1/secrets/{id}/reveal', operationId: 'RevealSecret', tag: 'Secrets', handler: (c) => actions.revealSecret(ac(c), c.params.id!) },
  ];
}

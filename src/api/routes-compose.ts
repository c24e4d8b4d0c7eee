// POST /v1/compose: an app and its services from one document (Koyeb's CreateCompose), in one transaction.
import { compose } from '../actions/compose.ts';
import { actionContext } from './context.ts';
import type { Route } from './router.ts';

/** The compose route. */
export function composeRoutes(): Route[] {
  return [
    { method: 'POST', path: '/v1/compose', operationId: 'Compose', tag: 'Compose', handler: async (c) => compose(actionContext(c), await c.body()) },
  ];
}

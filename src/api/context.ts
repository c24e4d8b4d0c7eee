// Turns a request context into the actions' context.
import type { ActionContext } from '../actions/index.ts';
import { isOperator } from './auth.ts';
import type { RequestContext } from './router.ts';

/** The action context of an authenticated request. */
export function actionContext(ctx: RequestContext): ActionContext {
  return {
    store: ctx.store, organizationId: ctx.organizationId, domain: ctx.domain, onWrite: ctx.onWrite, actor: ctx.actor,
    tcpProxyPorts: ctx.tcpProxyPorts,
    allowLocalGit: async () => ctx.gitAllowLocal === 'all' || (ctx.gitAllowLocal === 'operator' && await isOperator(ctx)),
  };
}

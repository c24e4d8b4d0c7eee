// Push actions: deploy a pushed commit (from a signed webhook or Pier's own git remote) and manage a service's
// webhook secret. A pushed commit is one new deployment of the service's latest definition pinned at the sha, with
// Koyeb's GIT trigger (provider, branch, sha, sender) written in the same transaction as the deployment.
import { PierError } from '../domain/errors.ts';
import type { DeploymentMetadata } from '../domain/types.ts';
import { rotateWebhookSecret, getWebhookSecret } from '../store/webhooks.ts';
import { ownService, type ActionContext } from './common.ts';
import { deployTx, parentOf, requireDeployable, validateDefinition } from './services.ts';

/** Who pushed: the provider as Koyeb spells it (GITHUB, GITLAB, PIER) and the sender's user name, if known. */
export interface Pusher { provider: string; sender_username: string }

/**
 * Deploys the service's latest definition pinned at `sha` (its git source must track a branch) and returns the new
 * deployment's id. The caller has authenticated the push (signature, or a token of the service's organization).
 */
export async function deployPushedCommit(ctx: ActionContext, serviceId: string, sha: string, who: Pusher): Promise<string> {
  const pinned = sha.toLowerCase();
  const db = ctx.store.db;
  const deployment = await db.transaction(async (tx) => {
    const service = await ownService(tx, ctx.organizationId, serviceId);
    requireDeployable(service);
    const latest = await parentOf(tx, service);
    const git = latest?.definition.git;
    if (!latest || !git) throw new PierError('invalid_state', `Service ${serviceId} does not deploy from git`);
    const definition = validateDefinition({ ...latest.definition, git: { ...git, sha: pinned } }, service.name, []);
    const trigger: DeploymentMetadata['trigger'] = {
      type: 'GIT', actor: 'SYSTEM',
      git: { provider: who.provider, repository: git.repository, branch: git.branch, sha: pinned, sender_username: who.sender_username },
    };
    return deployTx(tx, ctx, service, definition, 'update', { trigger });
  });
  ctx.onWrite?.();
  return deployment.id;
}

/** GET /v1/pier/services/{id}/webhook: the secret is generated and shown on the first call only (null afterwards). */
export async function serviceWebhook(ctx: ActionContext, serviceId: string): Promise<{ serviceId: string; secret: string | null }> {
  const service = await ownService(ctx.store.db, ctx.organizationId, serviceId);
  const existing = await getWebhookSecret(ctx.store.db, ctx.store.secretKey, service.id);
  const secret = existing ? null : await rotateWebhookSecret(ctx.store.db, ctx.store.secretKey, service.id, service.organization_id);
  return { serviceId: service.id, secret };
}

/** POST /v1/pier/services/{id}/webhook/rotate: a new secret, shown once. */
export async function rotateServiceWebhook(ctx: ActionContext, serviceId: string): Promise<{ serviceId: string; secret: string }> {
  const service = await ownService(ctx.store.db, ctx.organizationId, serviceId);
  return { serviceId: service.id, secret: await rotateWebhookSecret(ctx.store.db, ctx.store.secretKey, service.id, service.organization_id) };
}

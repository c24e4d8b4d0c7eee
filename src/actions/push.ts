// Push actions: deploy a pushed commit (from a signed webhook or Pier's own git remote) and manage a service's
// webhook secret. A pushed commit is one new deployment of the service's latest definition pinned at the sha, with
// Koyeb's GIT trigger (provider, branch, sha, sender) written in the same transaction as the deployment.
import { PierError } from '../domain/errors.ts';
import type { DeploymentMetadata } from '../domain/types.ts';
import { createWebhookSecretIfAbsent, getWebhookSecret, rotateWebhookSecret } from '../store/webhooks.ts';
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

/** A service's push webhook as the API shows it: the secret only right after it was created or rotated. */
export interface WebhookView { serviceId: string; secret: string | null; secretExists: boolean }

/** GET /v1/pier/services/{id}/webhook: whether a secret exists. A read: it never creates or shows one. */
export async function serviceWebhook(ctx: ActionContext, serviceId: string): Promise<WebhookView> {
  const service = await ownService(ctx.store.db, ctx.organizationId, serviceId);
  const existing = await getWebhookSecret(ctx.store.db, ctx.store.secretKey, service.id);
  return { serviceId: service.id, secret: null, secretExists: existing !== undefined };
}

/**
 * POST /v1/pier/services/{id}/webhook: creates the secret when the service has none and shows it this once; when one
 * exists it is left alone (rotate to see a new one). A write: read-only tokens get 403 before this runs.
 */
export async function createServiceWebhook(ctx: ActionContext, serviceId: string): Promise<WebhookView> {
  const service = await ownService(ctx.store.db, ctx.organizationId, serviceId);
  const secret = await createWebhookSecretIfAbsent(ctx.store.db, ctx.store.secretKey, service.id, service.organization_id);
  return { serviceId: service.id, secret: secret ?? null, secretExists: true };
}

/** POST /v1/pier/services/{id}/webhook/rotate: a new secret, shown once. */
export async function rotateServiceWebhook(ctx: ActionContext, serviceId: string): Promise<{ serviceId: string; secret: string }> {
  const service = await ownService(ctx.store.db, ctx.organizationId, serviceId);
  return { serviceId: service.id, secret: await rotateWebhookSecret(ctx.store.db, ctx.store.secretKey, service.id, service.organization_id) };
}

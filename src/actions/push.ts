// Push actions: deploy a pushed commit (from a signed webhook or Pier's own git remote) and manage a service's
// webhook secret. A pushed commit is one new deployment of the service's latest definition pinned at the sha, with
// Koyeb's GIT trigger (provider, branch, sha, sender) written in the same transaction as the deployment.
import { PierError } from '../domain/errors.ts';
import type { DeploymentDefinition, DeploymentMetadata, GitSource } from '../domain/types.ts';
import { createWebhookSecretIfAbsent, getWebhookSecret, rotateWebhookSecret } from '../store/webhooks.ts';
import { ownService, type ActionContext } from './common.ts';
import { createService, deployTx, parentOf, requireDeployable, validateDefinition } from './services.ts';

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

/** A push to Pier's own git remote: the bare repository it landed in, the branch to deploy and its new head. */
export interface RemotePush { repository: string; branch: string; sha: string; /** The pushed tree has a Dockerfile at its root. */ dockerfile: boolean }

/** The port and route a service created by a push gets (documented in the README's git remote section). */
export const PUSHED_SERVICE_PORT = 8000;

/**
 * Deploys a push to the service's own remote, whatever the service built from before: its latest definition with the
 * git source switched to that bare repository, branch and sha (build settings of a previous git or archive source
 * are kept; a service that ran an image gets the Dockerfile builder when the tree has one, else buildpacks).
 */
export async function deployRemotePush(ctx: ActionContext, serviceId: string, push: RemotePush, who: Pusher): Promise<string> {
  const pinned = push.sha.toLowerCase();
  const deployment = await ctx.store.db.transaction(async (tx) => {
    const service = await ownService(tx, ctx.organizationId, serviceId);
    requireDeployable(service);
    const latest = await parentOf(tx, service);
    if (!latest) throw new PierError('invalid_state', `Service ${serviceId} has no deployment to follow`);
    const { docker: _image, archive, git: previous, ...rest } = latest.definition;
    const builder = previous ? builderOf(previous) : archive ? builderOf(archive) : defaultBuilder(push.dockerfile);
    const git: GitSource = {
      ...(previous ? { build_command: previous.build_command, run_command: previous.run_command, workdir: previous.workdir } : {}),
      ...builder, repository: push.repository, branch: push.branch, sha: pinned,
    };
    const definition = validateDefinition(dropUndefined({ ...rest, git }), service.name, []);
    const trigger: DeploymentMetadata['trigger'] = {
      type: 'GIT', actor: 'SYSTEM',
      git: { provider: who.provider, repository: push.repository, branch: push.branch, sha: pinned, sender_username: who.sender_username },
    };
    return deployTx(tx, ctx, service, definition, 'update', { trigger });
  });
  ctx.onWrite?.();
  return deployment.id;
}

/**
 * Creates service `name` in app `appId` from its first push (id chosen by the caller: the bare repository is named
 * after it): a web service on port 8000 routed at `/` (at `/<name>` when a sibling already holds `/`), built with the
 * pushed Dockerfile if there is one, else buildpacks, with the definition's other defaults. Returns its first deployment.
 */
export async function createServiceFromPush(ctx: ActionContext, appId: string, name: string, serviceId: string, push: RemotePush): Promise<string> {
  const definition = (path: string): DeploymentDefinition => ({
    name, type: 'WEB',
    git: { repository: push.repository, branch: push.branch, sha: push.sha.toLowerCase(), ...defaultBuilder(push.dockerfile) },
    ports: [{ port: PUSHED_SERVICE_PORT, protocol: 'http' }],
    routes: [{ port: PUSHED_SERVICE_PORT, path }],
  });
  // The repository is the path Pier chose for this service, not tenant input: allowed before the service exists.
  const own: ActionContext = { ...ctx, allowLocalGit: async () => true };
  try {
    return (await createService(own, { app_id: appId, name, definition: definition('/') }, { serviceId })).latest_deployment_id;
  } catch (err) {
    const routeTaken = err instanceof PierError && err.code === 'already_exists' && err.fields?.some((f) => f.field.includes('routes'));
    if (!routeTaken) throw err;
    return (await createService(own, { app_id: appId, name, definition: definition(`/${name}`) }, { serviceId })).latest_deployment_id;
  }
}

function builderOf(source: { buildpack?: GitSource['buildpack']; docker?: GitSource['docker'] }): Pick<GitSource, 'buildpack' | 'docker'> {
  if (source.docker) return { docker: source.docker };
  return { buildpack: source.buildpack ?? {} };
}

function defaultBuilder(dockerfile: boolean): Pick<GitSource, 'buildpack' | 'docker'> {
  return dockerfile ? { docker: {} } : { buildpack: {} };
}

function dropUndefined<T extends object>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
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

// Deploy on push: POST /v1/pier/webhooks/git/{service_id} takes GitHub-style (X-Hub-Signature-256 HMAC) and
// GitLab-style (X-Gitlab-Token) push events and deploys the tracked branch at the pushed sha. The webhook itself
// carries no bearer token (the signature is the credential); the secret is shown by an authenticated route.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { createServiceWebhook, deployPushedCommit, rotateServiceWebhook, serviceWebhook, type WebhookView } from '../actions/push.ts';
import { PierError } from '../domain/errors.ts';
import type { DeploymentDefinition } from '../domain/types.ts';
import { getDeployment } from '../store/deployments.ts';
import { getService } from '../store/services.ts';
import { getWebhookSecret } from '../store/webhooks.ts';
import { actionContext } from './context.ts';
import { MAX_BODY_BYTES } from './http.ts';
import type { RequestContext, Route } from './router.ts';

/** operationIds served without a bearer token: each authenticates itself (signature or signed URL). */
export const SELF_AUTHENTICATED_OPERATIONS = new Set(['GitPushWebhook', 'UploadArchive', 'UploadArchive2']);

/** A push event after its signature was checked. */
export interface PushEvent { provider: 'github' | 'gitlab'; event: string; ref: string; sha: string; sender?: string; deleted: boolean }

type Headers = http.IncomingHttpHeaders;

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks a webhook's credential against the secret; returns the provider, or undefined when it does not verify. */
export function verifyPushSignature(h: Headers, body: Buffer, secret: string): 'github' | 'gitlab' | undefined {
  const sig = header(h, 'x-hub-signature-256');
  if (sig !== undefined) {
    const want = 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
    return safeEqual(sig.trim().toLowerCase(), want) ? 'github' : undefined;
  }
  const token = header(h, 'x-gitlab-token');
  if (token !== undefined) return safeEqual(token, secret) ? 'gitlab' : undefined;
  return undefined;
}

/** Reads the push out of a verified payload (GitHub: ref/after/deleted; GitLab: ref/checkout_sha). */
export function parsePush(provider: 'github' | 'gitlab', h: Headers, body: Buffer): PushEvent {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
  } catch {
    throw new PierError('invalid_argument', 'Webhook body is not valid JSON');
  }
  const event = (provider === 'github' ? header(h, 'x-github-event') : header(h, 'x-gitlab-event')) ?? '';
  const ref = typeof json.ref === 'string' ? json.ref : '';
  const raw = provider === 'github' ? json.after : json.checkout_sha;
  const sha = typeof raw === 'string' ? raw : '';
  const deleted = json.deleted === true || /^0+$/.test(sha) || (provider === 'gitlab' && raw === null);
  const senderObj = json.sender as { login?: string } | undefined;
  const sender = provider === 'github' ? senderObj?.login : (typeof json.user_username === 'string' ? json.user_username : undefined);
  return { provider, event, ref, sha, sender, deleted };
}

/** Why a verified push does not deploy, or undefined when it should. */
export function skipReason(push: PushEvent, def: DeploymentDefinition | undefined): string | undefined {
  const isPush = push.provider === 'github' ? push.event === 'push' : push.event === 'Push Hook';
  if (!isPush) return `event ${push.event || '(none)'} is not a push`;
  const git = def?.git;
  if (!git) return 'the service does not deploy from git';
  if (git.no_deploy_on_push) return 'git.no_deploy_on_push is set on the service';
  if (!git.branch) return 'the service does not track a branch';
  if (push.ref !== `refs/heads/${git.branch}`) return `push to ${push.ref || '(no ref)'}, the service tracks refs/heads/${git.branch}`;
  if (push.deleted) return 'the branch was deleted';
  if (!/^[0-9a-f]{40}$/i.test(push.sha)) return 'the push carries no commit sha';
  return undefined;
}

async function readRaw(req: http.IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PierError('payload_too_large', `Request body exceeds ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const refused = () => new PierError('authentication_error', 'Webhook signature missing or invalid');

async function handleWebhook(c: RequestContext): Promise<unknown> {
  const body = await readRaw(c.req);
  const service = await getService(c.store.db, c.params.service_id!);
  // An unknown service and a wrong signature look the same, so the route reveals nothing about ids.
  const secret = service ? await getWebhookSecret(c.store.db, c.store.secretKey, service.id) : undefined;
  const provider = secret ? verifyPushSignature(c.req.headers, body, secret) : undefined;
  if (!service || !provider) throw refused();
  const push = parsePush(provider, c.req.headers, body);
  const latest = service.latest_deployment_id ? await getDeployment(c.store.db, service.latest_deployment_id) : undefined;
  const skipped = skipReason(push, latest?.definition);
  if (skipped || !latest?.definition.git) return { skipped };
  // The signature is the credential: the push acts for the service's own organization.
  // The actor of its activity is the push webhook, named after the provider and the pusher.
  const ctx = {
    store: c.store, domain: c.domain, onWrite: c.onWrite, organizationId: service.organization_id,
    actor: { id: `webhook:${service.id}`, name: `${push.provider} push${push.sender ? ` by ${push.sender}` : ''}`, type: 'operator' as const },
  };
  const deploymentId = await deployPushedCommit(ctx, service.id, push.sha, { provider: push.provider.toUpperCase(), sender_username: push.sender ?? '' });
  return { deployment_id: deploymentId, sha: push.sha.toLowerCase() };
}

function webhookUrl(c: RequestContext, serviceId: string): string {
  const host = c.req.headers.host ?? '127.0.0.1';
  return `http://${host}/v1/pier/webhooks/git/${serviceId}`;
}

/** The wire shape of a webhook: `secret` is null except right after creation or rotation (`secret_shown`). */
function webhookReply(c: RequestContext, w: WebhookView): Record<string, unknown> {
  return { url: webhookUrl(c, w.serviceId), secret: w.secret, secret_shown: w.secret !== null, secret_exists: w.secretExists };
}

/** The push routes: the webhook (self-authenticated) and the secret's authenticated view/rotation. */
export function pushRoutes(): Route[] {
  return [
    { method: 'POST', path: '/v1/pier/webhooks/git/{service_id}', operationId: 'GitPushWebhook', tag: 'Pier', pier: true, handler: handleWebhook },
    {
      // A read: the URL and whether a secret exists; it never creates one (a read-only token must not get a credential).
      method: 'GET', path: '/v1/pier/services/{id}/webhook', operationId: 'GetServiceWebhook', tag: 'Pier', pier: true,
      handler: async (c) => webhookReply(c, await serviceWebhook(actionContext(c), c.params.id!)),
    },
    {
      // Creates the secret when there is none and shows it this once; later calls show none (rotate to get a new one).
      method: 'POST', path: '/v1/pier/services/{id}/webhook', operationId: 'CreateServiceWebhook', tag: 'Pier', pier: true,
      handler: async (c) => webhookReply(c, await createServiceWebhook(actionContext(c), c.params.id!)),
    },
    {
      method: 'POST', path: '/v1/pier/services/{id}/webhook/rotate', operationId: 'RotateServiceWebhook', tag: 'Pier', pier: true,
      handler: async (c) => {
        const { serviceId, secret } = await rotateServiceWebhook(actionContext(c), c.params.id!);
        return webhookReply(c, { serviceId, secret, secretExists: true });
      },
    },
  ];
}

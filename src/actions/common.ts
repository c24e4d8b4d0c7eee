// Shared pieces of the API actions: the caller's context, ownership look-ups (another organization's resource is a
// 404, never a 403), status changes checked against the domain's state machines, and event recording.
import type { ProxyPortRange } from '../store/proxy-ports.ts';
import { PierError, invalidState, notFound } from '../domain/errors.ts';
import { canTransition } from '../domain/status.ts';
import type { App, Deployment, Service } from '../domain/types.ts';
import type { Db } from '../store/db.ts';
import type { Store } from '../store/store.ts';
import { getApp } from '../store/apps.ts';
import { getService } from '../store/services.ts';
import { getDeployment } from '../store/deployments.ts';
import { appendEvent, type EventKind } from '../store/events.ts';
import { appendActivity } from '../store/activities.ts';

/** Who acts and where: every action runs for one organization. */
export interface ActionContext {
  store: Store;
  organizationId: string;
  /** Base domain of app hosts (`<app>-<org>.<domain>`); `localhost` by default. */
  domain?: string;
  /** Called after a successful write so reconcilers can act now. */
  onWrite?: () => void;
  /**
   * Whether this caller may name a git repository on the host's disk (a path or file://), per PIER_GIT_ALLOW_LOCAL;
   * absent = no. The organization's own Pier git remote is allowed either way. It reads the store: call it before a
   * transaction, never inside one (the store serialises queries, so it would wait for itself).
   */
  allowLocalGit?: () => Promise<boolean>;
  /** Who acts, recorded in every activity: the API token (`user`); absent = Pier itself (`operator`). */
  actor?: Actor;
  /** The public ports the TCP proxy gives out (PIER_TCP_PROXY_PORTS); absent = off, and `proxy_ports` is refused. */
  tcpProxyPorts?: ProxyPortRange;
}

/** The actor of an activity (Koyeb's `Object`: id, name, type). */
export interface Actor { id: string; name: string; type: 'user' | 'operator' }

/** The actor when no token is known (the composition root, the git remote's own pushes, reconcilers). */
export const OPERATOR: Actor = { id: 'operator', name: 'operator', type: 'operator' };

/** Status kinds of the domain state machines. */
export type StatusKind = 'instance' | 'deployment' | 'regional_deployment' | 'service';

/** Throws a 409 invalid_state naming the current status when `from → to` is not allowed. */
export function requireTransition(kind: StatusKind, what: string, from: string, to: string, action: string): void {
  if (!canTransition(kind, from as never, to as never)) {
    throw invalidState(`Cannot ${action} ${what}: its status is ${from}`);
  }
}

/** The app if it belongs to the organization, else 404. */
export async function ownApp(db: Db, org: string, id: string): Promise<App> {
  const app = await getApp(db, id);
  if (!app || app.organization_id !== org) throw notFound('app', id);
  return app;
}

/** The service if it belongs to the organization, else 404. */
export async function ownService(db: Db, org: string, id: string): Promise<Service> {
  const service = await getService(db, id);
  if (!service || service.organization_id !== org) throw notFound('service', id);
  return service;
}

/** The deployment if it belongs to the organization, else 404. */
export async function ownDeployment(db: Db, org: string, id: string): Promise<Deployment> {
  const d = await getDeployment(db, id);
  if (!d || d.organization_id !== org) throw notFound('deployment', id);
  return d;
}

/** Throws 409 when a service (or app) is being deleted or gone. */
export function requireLive(kind: string, status: string, id: string): void {
  if (status === 'DELETING' || status === 'DELETED') throw invalidState(`The ${kind} ${id} is ${status}`);
}

/** Records an event on one resource. */
export async function recordEvent(
  db: Db, org: string, kind: EventKind, resourceId: string, type: string, message: string,
  metadata: Record<string, unknown> = {},
): Promise<void> {
  await appendEvent(db, { kind, resourceId, organizationId: org, type, message, metadata });
}

/** The object an activity is about: its kind (`app`, `service`, `secret`...), id and name. */
export interface ActivityTarget { type: string; id: string; name: string; deleted?: boolean }

/**
 * Records who did what to which object: one activity per API write, inside the write's transaction (`tx`), so a
 * write that fails records nothing. `verb` is Koyeb's past tense (created, updated, deleted, paused...).
 */
export async function recordActivity(
  tx: Db, ctx: ActionContext, verb: string, object: ActivityTarget, metadata: Record<string, unknown> = {},
): Promise<void> {
  await appendActivity(tx, { organizationId: ctx.organizationId, actor: ctx.actor ?? OPERATOR, object, verb, metadata });
}

/** A 400 for one field. */
export function fieldError(field: string, description: string): PierError {
  return new PierError('invalid_argument', `Validation failed: ${field}: ${description}`, [{ field, description }]);
}

/** A JSON object body, or a 400 invalid_argument naming the field `body` (the one shape every action answers). */
export function objectBody(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new PierError('invalid_argument', 'Request body must be a JSON object', [{ field: 'body', description: 'must be a JSON object' }]);
  }
  return body as Record<string, unknown>;
}

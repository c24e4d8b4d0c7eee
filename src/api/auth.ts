// Bearer-token authentication: every API route but /health and /v1/openapi.json needs `Authorization: Bearer <t>`
// (or, for websockets, `Sec-WebSocket-Protocol: Bearer, <token>` as Koyeb's CLI sends it).
import type http from 'node:http';
import { PierError } from '../domain/errors.ts';
import { findByToken, listOrganizations } from '../store/organizations.ts';
import type { Store } from '../store/store.ts';
import type { RequestContext } from './router.ts';

/** The bearer token a request carries, from the Authorization header or the websocket protocol list. */
export function bearerToken(req: http.IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  const protocols = req.headers['sec-websocket-protocol'];
  if (protocols) {
    const parts = String(protocols).split(',').map((p) => p.trim());
    const i = parts.findIndex((p) => p.toLowerCase() === 'bearer');
    if (i >= 0 && parts[i + 1]) return parts[i + 1];
  }
  return undefined;
}

/** Who is calling: the token's organization, the token's id and whether it may write. */
export interface Caller { organizationId: string; tokenId: string; readOnly: boolean; /** The token's name (the actor of activities). */ tokenName: string }

/** The caller of a request, or a 401 authentication_error (missing, unknown, expired or revoked token). */
export async function authenticateCaller(store: Store, req: http.IncomingMessage): Promise<Caller> {
  const token = bearerToken(req);
  if (!token) throw new PierError('authentication_error', 'Missing credentials: send Authorization: Bearer <token>');
  // Looked up on every request (no cache), so a revoked token stops working at once.
  const row = await findByToken(store.db, token);
  if (!row) throw new PierError('authentication_error', 'Invalid or expired token');
  return { organizationId: row.organization_id, tokenId: row.id, readOnly: Number(row.read_only ?? 0) === 1, tokenName: row.name };
}

/** The organization id of the caller, or a 401 authentication_error. */
export async function authenticate(store: Store, req: http.IncomingMessage): Promise<string> {
  return (await authenticateCaller(store, req)).organizationId;
}

/** Throws 403 authorization_required when a read-only caller attempts anything but GET/HEAD. */
export function assertMayWrite(caller: Caller, method: string): void {
  if (caller.readOnly && method !== 'GET' && method !== 'HEAD') {
    throw new PierError('authorization_required', 'This API token is read-only: it cannot create, change or delete resources');
  }
}

/** True when the caller is an operator: a full-access token of the installation's first organization. */
export async function isOperator(c: Pick<RequestContext, 'store' | 'req'>): Promise<boolean> {
  const caller = await authenticateCaller(c.store, c.req);
  const [first] = await listOrganizations(c.store.db);
  return first !== undefined && caller.organizationId === first.id && !caller.readOnly;
}

/**
 * Throws 403 authorization_required unless the caller is an operator: a full-access token of the installation's
 * first organization (the one `pier up` bootstraps). `what` ends the message: "... can <what>".
 */
export async function assertOperator(c: Pick<RequestContext, 'store' | 'req'>, what: string): Promise<void> {
  if (!(await isOperator(c))) {
    throw new PierError('authorization_required', `Only an admin token of the installation organization can ${what}`);
  }
}

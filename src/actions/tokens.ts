// Token and organization actions: API tokens (Koyeb's /v1/credentials, stored hashed: the secret is in the create
// reply only) and the operator's organization creation (an organization and its first admin token, one transaction).
import { PierError, notFound, validationError } from '../domain/errors.ts';
import type { FieldError } from '../domain/types.ts';
import {
  findOrganizationByName, generateToken, getToken, insertOrganization, insertToken, revokeToken as revokeTokenRow, updateTokenLabels,
  type ApiTokenRow,
} from '../store/organizations.ts';
import type { Store } from '../store/store.ts';
import { objectBody, recordActivity, type ActionContext } from './common.ts';

const ORG_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

/** The wire shape of a token (Koyeb's Credential plus Pier's `read_only`); `token` only right after creation. */
export function credentialView(row: ApiTokenRow, token?: string): Record<string, unknown> {
  return {
    id: row.id, type: 'ORGANIZATION', name: row.name, description: row.description ?? '', user_id: '',
    organization_id: row.organization_id, created_at: row.created_at, updated_at: row.created_at,
    expires_at: row.expires_at ?? null, read_only: Number(row.read_only ?? 0) === 1, ...(token ? { token } : {}),
  };
}

/** Validates a CreateCredential body (name required; description, read_only, expires_at, type optional). */
function parseCreate(raw: unknown): { name: string; description: string; readOnly: boolean; expiresAt: string | null } {
  const b = objectBody(raw);
  const fields: FieldError[] = [];
  const name = b.name;
  if (typeof name !== 'string' || name.trim() === '' || name.length > 100) fields.push({ field: 'name', description: 'required, 1 to 100 characters' });
  const description = b.description ?? '';
  if (typeof description !== 'string' || description.length > 1000) fields.push({ field: 'description', description: 'must be a string of at most 1000 characters' });
  const readOnly = b.read_only ?? false;
  if (typeof readOnly !== 'boolean') fields.push({ field: 'read_only', description: 'must be a boolean' });
  if (b.type !== undefined && b.type !== 'ORGANIZATION') fields.push({ field: 'type', description: 'only ORGANIZATION tokens exist in Pier' });
  let expiresAt: string | null = null;
  if (b.expires_at !== undefined && b.expires_at !== null && b.expires_at !== '') {
    const t = typeof b.expires_at === 'string' ? Date.parse(b.expires_at) : NaN;
    if (!Number.isFinite(t) || t <= Date.now()) fields.push({ field: 'expires_at', description: 'must be an RFC 3339 date in the future' });
    else expiresAt = new Date(t).toISOString();
  }
  if (fields.length) throw validationError(fields);
  return { name: (name as string).trim(), description: description as string, readOnly: readOnly as boolean, expiresAt };
}

/** POST /v1/credentials: a new token of the caller's organization (the API refuses read-only callers before this). */
export async function createToken(ctx: ActionContext, body: unknown): Promise<{ credential: Record<string, unknown> }> {
  const p = parseCreate(body);
  const token = generateToken();
  const row = await ctx.store.db.transaction(async (tx) => {
    const row = await insertToken(tx, ctx.organizationId, p.name, token, { expiresAt: p.expiresAt, readOnly: p.readOnly, description: p.description });
    await recordActivity(tx, ctx, 'created', { type: 'credential', id: row.id, name: row.name }, { read_only: p.readOnly });
    return row;
  });
  return { credential: credentialView(row, token) };
}

/** GET /v1/credentials/{id}: one token of the caller's organization, without its secret. */
export async function getTokenView(ctx: ActionContext, id: string): Promise<{ credential: Record<string, unknown> }> {
  const row = await getToken(ctx.store.db, ctx.organizationId, id);
  if (!row) throw notFound('credential', id);
  return { credential: credentialView(row) };
}

/** Fields of a Credential that UpdateCredential may change; the others are fixed at creation. */
const UPDATABLE = new Set(['name', 'description']);
/** Read-only fields a client may echo back unchanged (the CLI and SDKs send the whole object). */
const ECHOED = new Set(['id', 'type', 'token', 'user_id', 'organization_id', 'created_at', 'updated_at', 'expires_at', 'read_only']);

/**
 * PUT/PATCH /v1/credentials/{id} (Koyeb's UpdateCredential): renames a token or changes its description. With an
 * `update_mask` (comma-separated field names) only those fields change; without one, name and description present in
 * the body do. Anything else (read_only, expires_at, type) cannot change after creation: a body that changes it is
 * refused naming the field, so no update widens or extends a token.
 */
export async function updateToken(ctx: ActionContext, id: string, body: unknown, updateMask?: string): Promise<{ credential: Record<string, unknown> }> {
  const b = objectBody(body);
  const mask = updateMask?.split(',').map((f) => f.trim()).filter(Boolean);
  return ctx.store.db.transaction(async (tx) => {
    const row = await getToken(tx, ctx.organizationId, id);
    if (!row) throw notFound('credential', id);
    const current = credentialView(row);
    const fields: FieldError[] = [];
    for (const f of mask ?? []) {
      if (!UPDATABLE.has(f)) fields.push({ field: f, description: 'cannot change after creation: only name and description can; create a new token for other settings' });
    }
    for (const [k, v] of Object.entries(b)) {
      if (UPDATABLE.has(k)) continue;
      if (!ECHOED.has(k)) fields.push({ field: k, description: 'unknown field of a credential' });
      else if (k !== 'token' && v !== undefined && v !== null && v !== '' && JSON.stringify(v) !== JSON.stringify(current[k])) {
        fields.push({ field: k, description: 'cannot change after creation: only name and description can; create a new token for other settings' });
      }
    }
    const pick = (f: 'name' | 'description'): unknown => (mask ? (mask.includes(f) ? b[f] ?? '' : undefined) : b[f]);
    const name = pick('name');
    const description = pick('description');
    if (name !== undefined && (typeof name !== 'string' || name.trim() === '' || name.length > 100)) fields.push({ field: 'name', description: 'required, 1 to 100 characters' });
    if (description !== undefined && (typeof description !== 'string' || description.length > 1000)) fields.push({ field: 'description', description: 'must be a string of at most 1000 characters' });
    if (fields.length) throw validationError(fields);
    const next = {
      name: name === undefined ? row.name : (name as string).trim(),
      description: description === undefined ? row.description ?? '' : description as string,
    };
    if (next.name === row.name && next.description === (row.description ?? '')) return { credential: current };
    const updated = await updateTokenLabels(tx, ctx.organizationId, id, next);
    await recordActivity(tx, ctx, 'updated', { type: 'credential', id, name: next.name }, { fields: [next.name !== row.name ? 'name' : '', next.description !== (row.description ?? '') ? 'description' : ''].filter(Boolean) });
    return { credential: credentialView(updated!) };
  });
}

/** DELETE /v1/credentials/{id}: revokes at once (tokens are looked up on every request). */
export async function revokeToken(ctx: ActionContext, id: string): Promise<Record<string, never>> {
  await ctx.store.db.transaction(async (tx) => {
    const row = await getToken(tx, ctx.organizationId, id);
    if (!row || !(await revokeTokenRow(tx, ctx.organizationId, id))) throw notFound('credential', id);
    await recordActivity(tx, ctx, 'deleted', { type: 'credential', id, name: row.name, deleted: true });
  });
  return {};
}

/** POST /v1/pier/organizations (operators only, checked by the API): an organization and its admin token. */
export async function createOrganization(store: Store, body: unknown): Promise<Record<string, unknown>> {
  const b = objectBody(body);
  if (typeof b.name !== 'string' || !ORG_NAME.test(b.name)) {
    throw validationError([{ field: 'name', description: 'lowercase letters, digits and dashes, 1 to 40 characters' }]);
  }
  const name = b.name;
  if (await findOrganizationByName(store.db, name)) throw new PierError('already_exists', `organization ${name} already exists`);
  const token = generateToken();
  const { organization, row } = await store.db.transaction(async (tx) => {
    const organization = await insertOrganization(tx, name);
    const row = await insertToken(tx, organization.id, 'admin', token);
    return { organization, row };
  });
  return { organization, credential: credentialView(row, token) };
}

// API tokens (Koyeb's /v1/credentials) and Pier's operator route that creates organizations.
// Tokens are stored hashed: the secret is in the create reply only. Every route is scoped to the caller's organization.
import { PierError, notFound, validationError } from '../domain/errors.ts';
import type { FieldError } from '../domain/types.ts';
import {
  findOrganizationByName, generateToken, getToken, insertOrganization, insertToken, listOrganizations, listTokens, revokeToken,
  type ApiTokenRow,
} from '../store/organizations.ts';
import { authenticateCaller } from './auth.ts';
import { listReply } from './http.ts';
import type { RequestContext, Route } from './router.ts';

const ORG_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

/** The wire shape of a token (Koyeb's Credential plus Pier's `read_only`); `token` only right after creation. */
export function credentialView(row: ApiTokenRow, token?: string): Record<string, unknown> {
  return {
    id: row.id, type: 'ORGANIZATION', name: row.name, description: row.description ?? '', user_id: '',
    organization_id: row.organization_id, created_at: row.created_at, updated_at: row.created_at,
    expires_at: row.expires_at ?? null, read_only: Number(row.read_only ?? 0) === 1, ...(token ? { token } : {}),
  };
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw validationError([{ field: 'body', description: 'must be a JSON object' }]);
  }
  return body as Record<string, unknown>;
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

/** Operators are full-access tokens of the installation's first organization (the one `pier up` bootstraps). */
async function assertOperator(c: RequestContext): Promise<void> {
  const caller = await authenticateCaller(c.store, c.req);
  const [first] = await listOrganizations(c.store.db);
  if (!first || caller.organizationId !== first.id || caller.readOnly) {
    throw new PierError('authorization_required', 'Only an admin token of the installation organization can manage organizations');
  }
}

/** Routes of API tokens and organizations. */
export function tokenRoutes(): Route[] {
  return [
    {
      method: 'GET', path: '/v1/credentials', operationId: 'ListCredentials', tag: 'Credentials',
      handler: async (c) => {
        const page = c.query.page();
        const name = c.query.str('name');
        const all = (await listTokens(c.store.db, c.organizationId)).filter((t) => !name || t.name === name);
        return listReply('credentials', all.slice(page.offset, page.offset + page.limit).map((t) => credentialView(t)), page, all.length);
      },
    },
    {
      method: 'POST', path: '/v1/credentials', operationId: 'CreateCredential', tag: 'Credentials',
      handler: async (c) => {
        const p = parseCreate(await c.body());
        // A read-only caller never gets here (403 before the handler), so no token can widen its own rights.
        const token = generateToken();
        const row = await insertToken(c.store.db, c.organizationId, p.name, token, { expiresAt: p.expiresAt, readOnly: p.readOnly, description: p.description });
        return { credential: credentialView(row, token) };
      },
    },
    {
      method: 'GET', path: '/v1/credentials/{id}', operationId: 'GetCredential', tag: 'Credentials',
      handler: async (c) => {
        const row = await getToken(c.store.db, c.organizationId, c.params.id!);
        if (!row) throw notFound('credential', c.params.id!);
        return { credential: credentialView(row) };
      },
    },
    {
      method: 'DELETE', path: '/v1/credentials/{id}', operationId: 'DeleteCredential', tag: 'Credentials',
      handler: async (c) => {
        if (!(await revokeToken(c.store.db, c.organizationId, c.params.id!))) throw notFound('credential', c.params.id!);
        return {};
      },
    },
    {
      method: 'GET', path: '/v1/pier/organizations', operationId: 'PierListOrganizations', tag: 'Pier', pier: true,
      handler: async (c) => {
        await assertOperator(c);
        const page = c.query.page();
        const all = await listOrganizations(c.store.db);
        return listReply('organizations', all.slice(page.offset, page.offset + page.limit), page, all.length);
      },
    },
    {
      method: 'POST', path: '/v1/pier/organizations', operationId: 'PierCreateOrganization', tag: 'Pier', pier: true,
      handler: async (c) => {
        await assertOperator(c);
        const b = objectBody(await c.body());
        if (typeof b.name !== 'string' || !ORG_NAME.test(b.name)) {
          throw validationError([{ field: 'name', description: 'lowercase letters, digits and dashes, 1 to 40 characters' }]);
        }
        if (await findOrganizationByName(c.store.db, b.name)) throw new PierError('already_exists', `organization ${b.name} already exists`);
        const token = generateToken();
        const { organization, row } = await c.store.db.transaction(async (tx) => {
          const organization = await insertOrganization(tx, b.name as string);
          const row = await insertToken(tx, organization.id, 'admin', token);
          return { organization, row };
        });
        return { organization, credential: credentialView(row, token) };
      },
    },
  ];
}

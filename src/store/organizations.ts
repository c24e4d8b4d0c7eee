// Organizations and API tokens. Only the SHA-256 of a token is stored; the token itself is shown once.
import { createHash, randomBytes } from 'node:crypto';
import type { Organization } from '../domain/types.ts';
import type { Db } from './db.ts';
import { newId, nowIso } from './rows.ts';

/** Inserts an organization with this name and returns it. */
export async function insertOrganization(db: Db, name: string): Promise<Organization> {
  const now = nowIso();
  const org: Organization = { id: newId(), name, created_at: now, updated_at: now };
  await db.run('INSERT INTO organizations (id, name, created_at, updated_at) VALUES (?, ?, ?, ?)', [
    org.id, org.name, org.created_at, org.updated_at,
  ]);
  return org;
}

/** One organization by id. */
export function getOrganization(db: Db, id: string): Promise<Organization | undefined> {
  return db.get<Organization>('SELECT id, name, created_at, updated_at FROM organizations WHERE id = ?', [id]);
}

/** One organization by name. */
export function findOrganizationByName(db: Db, name: string): Promise<Organization | undefined> {
  return db.get<Organization>('SELECT id, name, created_at, updated_at FROM organizations WHERE name = ?', [name]);
}

/** The SHA-256 hex digest under which a token is stored. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A fresh random API token (`pier_` + 43 base64url characters). */
export function generateToken(): string {
  return `pier_${randomBytes(32).toString('base64url')}`;
}

/** A stored API token, without its secret. */
export interface ApiTokenRow {
  id: string; organization_id: string; name: string; created_at: string; expires_at: string | null;
  /** 1 when the token may only read (every write answers 403). */
  read_only?: number;
  description?: string;
}

/** Options of a new token beyond its name. */
export interface TokenOptions { expiresAt?: string | null; readOnly?: boolean; description?: string }

const TOKEN_COLUMNS = 'id, organization_id, name, created_at, expires_at, read_only, description';

/** Stores the hash of a token for an organization; inserting a token that already exists is a no-op. */
export async function insertToken(
  db: Db, organizationId: string, name: string, token: string, opts: string | null | TokenOptions = null,
): Promise<ApiTokenRow> {
  const o: TokenOptions = typeof opts === 'object' && opts !== null ? opts : { expiresAt: opts };
  const existing = await findByToken(db, token);
  if (existing) return existing;
  const row: ApiTokenRow = {
    id: newId(), organization_id: organizationId, name, created_at: nowIso(), expires_at: o.expiresAt ?? null,
    read_only: o.readOnly ? 1 : 0, description: o.description ?? '',
  };
  await db.run('INSERT INTO api_tokens (id, organization_id, name, token_hash, created_at, expires_at, read_only, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)', [
    row.id, row.organization_id, row.name, hashToken(token), row.created_at, row.expires_at, row.read_only, row.description,
  ]);
  return row;
}

/** The tokens of one organization, oldest first (never their secrets). */
export function listTokens(db: Db, organizationId: string): Promise<ApiTokenRow[]> {
  return db.all<ApiTokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE organization_id = ? ORDER BY created_at, id`, [organizationId]);
}

/** One token of an organization by id; another organization's token is simply not found. */
export function getToken(db: Db, organizationId: string, id: string): Promise<ApiTokenRow | undefined> {
  return db.get<ApiTokenRow>(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE id = ? AND organization_id = ?`, [id, organizationId]);
}

/** Revokes (deletes) a token of an organization; true when it existed. The next request with it gets 401. */
export async function revokeToken(db: Db, organizationId: string, id: string): Promise<boolean> {
  const row = await getToken(db, organizationId, id);
  if (!row) return false;
  await db.run('DELETE FROM api_tokens WHERE id = ? AND organization_id = ?', [id, organizationId]);
  return true;
}

/** Renames a token or changes its description (nothing else of a token changes after creation); the row after. */
export async function updateTokenLabels(db: Db, organizationId: string, id: string, labels: { name: string; description: string }): Promise<ApiTokenRow | undefined> {
  await db.run('UPDATE api_tokens SET name = ?, description = ? WHERE id = ? AND organization_id = ?', [labels.name, labels.description, id, organizationId]);
  return getToken(db, organizationId, id);
}

/** Every organization, oldest first; the oldest is the installation's own (its admin tokens are operators). */
export function listOrganizations(db: Db): Promise<Organization[]> {
  return db.all<Organization>('SELECT id, name, created_at, updated_at FROM organizations ORDER BY created_at, id');
}

/** The token row a bearer token belongs to, if it exists and has not expired. */
export async function findByToken(db: Db, token: string): Promise<ApiTokenRow | undefined> {
  const row = await db.get<ApiTokenRow>(
    `SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?`, [hashToken(token)],
  );
  if (!row) return undefined;
  if (row.expires_at && row.expires_at < nowIso()) return undefined;
  return row;
}

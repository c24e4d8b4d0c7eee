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
export interface ApiTokenRow { id: string; organization_id: string; name: string; created_at: string; expires_at: string | null }

/** Stores the hash of a token for an organization; inserting a token that already exists is a no-op. */
export async function insertToken(
  db: Db, organizationId: string, name: string, token: string, expiresAt: string | null = null,
): Promise<ApiTokenRow> {
  const existing = await findByToken(db, token);
  if (existing) return existing;
  const row: ApiTokenRow = { id: newId(), organization_id: organizationId, name, created_at: nowIso(), expires_at: expiresAt };
  await db.run('INSERT INTO api_tokens (id, organization_id, name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)', [
    row.id, row.organization_id, row.name, hashToken(token), row.created_at, row.expires_at,
  ]);
  return row;
}

/** The token row a bearer token belongs to, if it exists and has not expired. */
export async function findByToken(db: Db, token: string): Promise<ApiTokenRow | undefined> {
  const row = await db.get<ApiTokenRow>(
    'SELECT id, organization_id, name, created_at, expires_at FROM api_tokens WHERE token_hash = ?', [hashToken(token)],
  );
  if (!row) return undefined;
  if (row.expires_at && row.expires_at < nowIso()) return undefined;
  return row;
}

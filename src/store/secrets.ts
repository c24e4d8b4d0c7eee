// Secrets repository. The secret material (value or registry credentials) is encrypted as one JSON payload;
// `data` holds only what may be shown: id, name, type, timestamps and the non-sensitive registry fields.
import type { Db } from './db.ts';
import { decryptSecret, encryptSecret } from './crypto.ts';
import { Where, type ListResult, type Page } from './rows.ts';

/** The registry configuration keys of the API, each holding `{username?, password?, url?, ...}`. */
export const REGISTRY_KEYS = [
  'docker_hub_registry', 'private_registry', 'digital_ocean_registry', 'github_registry', 'gitlab_registry',
  'gcp_container_registry', 'azure_container_registry',
] as const;

/** Fields of a registry configuration that are credentials (never shown outside reveal). */
const SENSITIVE_FIELDS = new Set(['password', 'keyfile_content']);

/** A secret as the API shows it (no value, registry passwords blanked). */
export interface SecretView {
  id: string;
  name: string;
  organization_id: string;
  type: 'SIMPLE' | 'REGISTRY' | 'MANAGED';
  created_at: string;
  updated_at: string;
  project_id: string;
  [registry: string]: unknown;
}

/** The secret material: a SIMPLE value or one registry configuration. */
export interface SecretPayload { value?: string; registry?: { key: string; config: Record<string, string> } }

/** The shown form of a payload's registry config: credentials removed. */
export function publicRegistryFields(payload: SecretPayload): Record<string, unknown> {
  if (!payload.registry) return {};
  const shown: Record<string, string> = {};
  for (const [k, v] of Object.entries(payload.registry.config)) if (!SENSITIVE_FIELDS.has(k)) shown[k] = v;
  return { [payload.registry.key]: shown };
}

/** Inserts a secret, sealing its payload with the master key. */
export async function insertSecret(db: Db, key: Buffer, view: SecretView, payload: SecretPayload): Promise<void> {
  await db.run(
    `INSERT INTO secrets (id, organization_id, name, type, encrypted_value, version, created_at, updated_at, data)
     VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`,
    [view.id, view.organization_id, view.name, view.type, encryptSecret(key, JSON.stringify(payload)),
      view.created_at, view.updated_at, JSON.stringify(view)],
  );
}

/** One secret's public view by id. */
export async function getSecret(db: Db, id: string): Promise<SecretView | undefined> {
  const row = await db.get<{ data: string }>('SELECT data FROM secrets WHERE id = ?', [id]);
  return row ? (JSON.parse(row.data) as SecretView) : undefined;
}

/** One secret of an organization by name. */
export async function findSecretByName(db: Db, organizationId: string, name: string): Promise<SecretView | undefined> {
  const row = await db.get<{ data: string }>('SELECT data FROM secrets WHERE organization_id = ? AND name = ?', [organizationId, name]);
  return row ? (JSON.parse(row.data) as SecretView) : undefined;
}

/** Secrets of an organization, by name. */
export async function listSecrets(
  db: Db, filter: { organizationId: string; name?: string; types?: string[] }, page: Page,
): Promise<ListResult<SecretView>> {
  const where = new Where().eq('organization_id', filter.organizationId).eq('name', filter.name).in('type', filter.types);
  const rows = await db.all<{ data: string }>(
    `SELECT data FROM secrets${where.sql()} ORDER BY name ASC LIMIT ${Math.floor(page.limit)} OFFSET ${Math.floor(page.offset)}`,
    where.params,
  );
  const c = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM secrets${where.sql()}`, where.params);
  return { items: rows.map((r) => JSON.parse(r.data) as SecretView), count: Number(c?.n ?? 0) };
}

/** Replaces a secret's public view and (when given) its payload, bumping its version. */
export async function updateSecret(
  db: Db, key: Buffer, view: SecretView, payload: SecretPayload | undefined,
): Promise<void> {
  if (payload) {
    await db.run(
      'UPDATE secrets SET name = ?, encrypted_value = ?, version = version + 1, updated_at = ?, data = ? WHERE id = ?',
      [view.name, encryptSecret(key, JSON.stringify(payload)), view.updated_at, JSON.stringify(view), view.id],
    );
  } else {
    await db.run('UPDATE secrets SET name = ?, version = version + 1, updated_at = ?, data = ? WHERE id = ?', [
      view.name, view.updated_at, JSON.stringify(view), view.id,
    ]);
  }
}

/** Removes a secret. */
export async function deleteSecret(db: Db, id: string): Promise<boolean> {
  return (await db.run('DELETE FROM secrets WHERE id = ?', [id])).changes > 0;
}

/** The decrypted payload of one secret. Callers must never log it. */
export async function revealSecret(db: Db, key: Buffer, id: string): Promise<SecretPayload | undefined> {
  const row = await db.get<{ encrypted_value: string }>('SELECT encrypted_value FROM secrets WHERE id = ?', [id]);
  return row ? (JSON.parse(decryptSecret(key, row.encrypted_value)) as SecretPayload) : undefined;
}

/** Decrypted SIMPLE secret values of an organization by name; only ever passed into instance env and redaction. */
export async function secretValues(db: Db, key: Buffer, organizationId: string): Promise<Record<string, string>> {
  const rows = await db.all<{ name: string; encrypted_value: string }>(
    "SELECT name, encrypted_value FROM secrets WHERE organization_id = ? AND type = 'SIMPLE'", [organizationId],
  );
  const out: Record<string, string> = {};
  for (const r of rows) out[r.name] = (JSON.parse(decryptSecret(key, r.encrypted_value)) as SecretPayload).value ?? '';
  return out;
}

// Secrets repository. The secret material (value or registry credentials) is encrypted as one JSON payload;
// `data` holds only what may be shown: id, name, type, timestamps and the non-sensitive registry fields.
import type { Db } from './db.ts';
import { rmSync } from 'node:fs';
import { referencedNames } from '../domain/interpolate.ts';
import { commitMasterKey, decryptSecret, encryptSecret, stageNewMasterKey } from './crypto.ts';
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
  db: Db, filter: { organizationId: string; name?: string; types?: string[]; ids?: string[] }, page: Page,
): Promise<ListResult<SecretView>> {
  const where = new Where().eq('organization_id', filter.organizationId).eq('name', filter.name).in('type', filter.types)
    .in('id', filter.ids);
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

/** How many sealed values a key rotation re-encrypted, per table. */
export interface RotationResult { secrets: number; webhook_secrets: number; certificates?: number }

/**
 * Re-encrypts every sealed value (secrets, push webhook secrets, certificates and ACME account keys) from `oldKey` to `newKey` in one
 * transaction: either every row moves to the new key or none does. A row the old key cannot open aborts the rotation.
 */
export async function reencryptAll(db: Db, oldKey: Buffer, newKey: Buffer): Promise<RotationResult> {
  return db.transaction(async (tx) => {
    const out: RotationResult = { secrets: 0, webhook_secrets: 0 };
    for (const r of await tx.all<{ id: string; encrypted_value: string }>('SELECT id, encrypted_value FROM secrets')) {
      await tx.run('UPDATE secrets SET encrypted_value = ? WHERE id = ?', [encryptSecret(newKey, decryptSecret(oldKey, r.encrypted_value)), r.id]);
      out.secrets++;
    }
    for (const r of await tx.all<{ service_id: string; encrypted_secret: string }>('SELECT service_id, encrypted_secret FROM webhook_secrets')) {
      await tx.run('UPDATE webhook_secrets SET encrypted_secret = ? WHERE service_id = ?', [
        encryptSecret(newKey, decryptSecret(oldKey, r.encrypted_secret)), r.service_id,
      ]);
      out.webhook_secrets++;
    }
    // TLS certificates and ACME account keys (src/store/domains.ts); counted together.
    out.certificates = 0;
    for (const r of await tx.all<{ id: string; encrypted_pem: string }>('SELECT id, encrypted_pem FROM certificates')) {
      await tx.run('UPDATE certificates SET encrypted_pem = ? WHERE id = ?', [encryptSecret(newKey, decryptSecret(oldKey, r.encrypted_pem)), r.id]);
      out.certificates++;
    }
    for (const r of await tx.all<{ directory_url: string; encrypted_key: string }>('SELECT directory_url, encrypted_key FROM acme_accounts')) {
      await tx.run('UPDATE acme_accounts SET encrypted_key = ? WHERE directory_url = ?', [encryptSecret(newKey, decryptSecret(oldKey, r.encrypted_key)), r.directory_url]);
      out.certificates++;
    }
    return out;
  });
}

/**
 * Rotates the master key of a stopped Pier: stages a new key file, re-encrypts every value in one transaction, then
 * renames the new key over the old one. A crash before the commit leaves the old key valid; after it, `<key>.new`
 * holds the key to move into place by hand.
 */
export async function rotateMasterKey(db: Db, oldKey: Buffer, keyPath: string): Promise<RotationResult> {
  const newKey = stageNewMasterKey(keyPath);
  try {
    const result = await reencryptAll(db, oldKey, newKey);
    commitMasterKey(keyPath);
    return result;
  } catch (err) {
    rmSync(`${keyPath}.new`, { force: true });
    throw err;
  }
}

/** The secret names a deployment definition uses: env secret refs, `{{ secret.NAME }}` in values, the registry secret. */
export function secretNamesOf(definition: unknown): string[] {
  const d = (definition ?? {}) as { env?: { value?: unknown; secret?: unknown }[]; docker?: { image_registry_secret?: unknown } };
  const names = new Set<string>();
  for (const e of Array.isArray(d.env) ? d.env : []) {
    if (typeof e?.secret === 'string' && e.secret) names.add(e.secret);
    if (typeof e?.value === 'string') {
      for (const ref of referencedNames(e.value)) if (ref.startsWith('secret.')) names.add(ref.slice('secret.'.length));
    }
  }
  if (typeof d.docker?.image_registry_secret === 'string' && d.docker.image_registry_secret) names.add(d.docker.image_registry_secret);
  return [...names].sort();
}

/**
 * The version of each named secret right now (`{name: version}`), to record on a deployment: which versions it ran
 * with, never their values. Names with no secret are left out.
 */
export async function secretVersions(db: Db, organizationId: string, names: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of names) {
    const row = await db.get<{ version: number }>('SELECT version FROM secrets WHERE organization_id = ? AND name = ?', [organizationId, name]);
    if (row) out[name] = Number(row.version);
  }
  return out;
}

/** A service whose latest deployment uses a secret: what a "redeploy to pick up the new value" offer lists. */
export interface SecretUser { service_id: string; service_name: string; app_id: string; deployment_id: string }

/** The organization's live services whose latest deployment references the secret `name`. */
export async function servicesUsingSecret(db: Db, organizationId: string, name: string): Promise<SecretUser[]> {
  const services = await db.all<{ id: string; name: string; app_id: string; data: string }>(
    "SELECT id, name, app_id, data FROM services WHERE organization_id = ? AND status NOT IN ('DELETED', 'DELETING') ORDER BY created_at, id",
    [organizationId],
  );
  const out: SecretUser[] = [];
  for (const svc of services) {
    const latest = (JSON.parse(svc.data) as { latest_deployment_id?: string }).latest_deployment_id;
    const d = latest ? await db.get<{ id: string; data: string }>('SELECT id, data FROM deployments WHERE id = ? AND organization_id = ?', [latest, organizationId]) : undefined;
    if (!d) continue;
    const definition = (JSON.parse(d.data) as { definition?: unknown }).definition;
    if (secretNamesOf(definition).includes(name)) out.push({ service_id: svc.id, service_name: svc.name, app_id: svc.app_id, deployment_id: d.id });
  }
  return out;
}

/** The type (SIMPLE, REGISTRY ...) of each of an organization's secrets, by name: what a definition may refer to. */
export async function secretTypes(db: Db, organizationId: string): Promise<Map<string, string>> {
  const rows = await db.all<{ name: string; type: string }>('SELECT name, type FROM secrets WHERE organization_id = ?', [organizationId]);
  return new Map(rows.map((r) => [r.name, r.type]));
}

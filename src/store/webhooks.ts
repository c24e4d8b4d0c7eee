// Push webhook secrets, one per service, encrypted with the store's master key (verifying an HMAC needs the plaintext).
import { randomBytes } from 'node:crypto';
import type { Db } from './db.ts';
import { decryptSecret, encryptSecret } from './crypto.ts';
import { nowIso } from './rows.ts';

/** The service's webhook secret in plaintext, or undefined when none was generated. Never log it. */
export async function getWebhookSecret(db: Db, key: Buffer, serviceId: string): Promise<string | undefined> {
  const row = await db.get<{ encrypted_secret: string }>('SELECT encrypted_secret FROM webhook_secrets WHERE service_id = ?', [serviceId]);
  return row ? decryptSecret(key, row.encrypted_secret) : undefined;
}

/** Generates (or replaces) the service's webhook secret and returns it in plaintext, to be shown once. */
export async function rotateWebhookSecret(db: Db, key: Buffer, serviceId: string, organizationId: string): Promise<string> {
  const secret = randomBytes(24).toString('hex');
  await db.transaction(async (tx) => {
    await tx.run('DELETE FROM webhook_secrets WHERE service_id = ?', [serviceId]);
    await tx.run('INSERT INTO webhook_secrets (service_id, organization_id, encrypted_secret, created_at) VALUES (?, ?, ?, ?)', [
      serviceId, organizationId, encryptSecret(key, secret), nowIso(),
    ]);
  });
  return secret;
}

/**
 * Generates the service's webhook secret only when it has none, in one statement (two concurrent callers cannot both
 * create one); returns the new secret in plaintext, or undefined when one already existed.
 */
export async function createWebhookSecretIfAbsent(db: Db, key: Buffer, serviceId: string, organizationId: string): Promise<string | undefined> {
  const secret = randomBytes(24).toString('hex');
  const r = await db.run(
    'INSERT INTO webhook_secrets (service_id, organization_id, encrypted_secret, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (service_id) DO NOTHING',
    [serviceId, organizationId, encryptSecret(key, secret), nowIso()],
  );
  return r.changes > 0 ? secret : undefined;
}

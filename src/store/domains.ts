// Domains, certificates and ACME accounts. A domain row holds the wire object in `data` plus its certificate retry
// schedule and its ownership token (never shown as fields); certificate and account PEM material is sealed with the
// master key, like secrets. A name is unique among an organization's live claims, and among verified claims across
// organizations (`verified` mirrors `verified_at`; a unique index backs both rules).
import { randomBytes } from 'node:crypto';
import type { Domain } from '../domain/types.ts';
import type { Db } from './db.ts';
import { decryptSecret, encryptSecret } from './crypto.ts';
import {
  getResource, insertResource, listResources, nowIso, patchResource, Where, type ListResult, type Page, type ResourceTable,
} from './rows.ts';

const spec: ResourceTable<Domain> = {
  table: 'domains',
  bumpVersion: true,
  columns: (d) => ({
    id: d.id, organization_id: d.organization_id, name: d.name, type: d.type, status: d.status, app_id: d.app_id ?? '',
    created_at: d.created_at, updated_at: d.updated_at, verified: d.verified_at ? 1 : 0,
  }),
};

/** Filters of the domain list. */
export interface DomainFilter {
  organizationId?: string;
  name?: string;
  types?: string[];
  statuses?: string[];
  appIds?: string[];
  excludeDeleted?: boolean;
  /** Only these ids (the `ids` list filter). */
  ids?: string[];
}

/** A fresh ownership token: what the TXT record `_pier-challenge.<name>` must hold. */
export function newVerificationToken(): string {
  return `pier-verify-${randomBytes(16).toString('hex')}`;
}

/** Inserts a new domain with its ownership token. */
export function insertDomain(db: Db, d: Domain, verificationToken: string): Promise<void> {
  return insertResource(db, spec, d, { verification_token: verificationToken });
}

/** The ownership token of a domain; rows older than tokens get one now. */
export async function verificationToken(db: Db, id: string): Promise<string> {
  const row = await db.get<{ verification_token: string }>('SELECT verification_token FROM domains WHERE id = ?', [id]);
  if (row?.verification_token) return row.verification_token;
  const token = newVerificationToken();
  await db.run("UPDATE domains SET verification_token = ? WHERE id = ? AND verification_token = ''", [token, id]);
  return (await db.get<{ verification_token: string }>('SELECT verification_token FROM domains WHERE id = ?', [id]))?.verification_token ?? token;
}

/** One domain by id, whatever its organization (callers check ownership). */
export function getDomain(db: Db, id: string): Promise<Domain | undefined> {
  return getResource(db, spec, id);
}

/** The organization's live (not DELETED) claim of this name, if any: one per organization. */
export async function findLiveDomainByName(db: Db, organizationId: string, name: string): Promise<Domain | undefined> {
  return (await listDomains(db, { organizationId, name, excludeDeleted: true }, { limit: 1, offset: 0 })).items[0];
}

/** The live claim of this name whose ownership was verified, in any organization (at most one). */
export async function findVerifiedDomainByName(db: Db, name: string): Promise<Domain | undefined> {
  const where = new Where().eq('name', name).raw("status <> 'DELETED'").raw('verified = 1');
  return (await listResources(db, spec, where, { limit: 1, offset: 0 })).items[0];
}

/** Live unverified claims of this name (other organizations' squats, once one owner verified it). */
export async function listUnverifiedClaims(db: Db, name: string): Promise<Domain[]> {
  const where = new Where().eq('name', name).raw("status NOT IN ('DELETING', 'DELETED')").raw('verified = 0');
  return (await listResources(db, spec, where, undefined)).items;
}

/** Domains matching a filter, newest first. */
export function listDomains(db: Db, filter: DomainFilter, page?: Page): Promise<ListResult<Domain>> {
  const where = new Where().eq('organization_id', filter.organizationId).eq('name', filter.name)
    .in('type', filter.types).in('status', filter.statuses).in('app_id', filter.appIds).in('id', filter.ids);
  if (filter.excludeDeleted) where.raw("status <> 'DELETED'");
  return listResources(db, spec, where, page);
}

/** Custom domains attached to these apps and not being deleted, oldest first (the order apps list them in). */
export async function attachedDomains(db: Db, appIds: string[]): Promise<Domain[]> {
  if (appIds.length === 0) return [];
  const where = new Where().in('app_id', appIds).raw("status NOT IN ('DELETING', 'DELETED')");
  return (await listResources(db, spec, where, undefined, 'created_at ASC, id ASC')).items;
}

/** Merges a patch (status, messages, app_id, ...) and bumps the version. */
export function updateDomain(db: Db, id: string, patch: Partial<Domain>): Promise<Domain | undefined> {
  return patchResource(db, spec, id, patch);
}

/** When a domain's certificate may next be requested, and after how many failures. */
export interface CertSchedule { attempts: number; nextAttemptAt: string | null; dnsCheckedAt: string | null }

/** The certificate retry schedule of a domain. */
export async function getCertSchedule(db: Db, id: string): Promise<CertSchedule> {
  const row = await db.get<{ cert_attempts: number; cert_next_attempt_at: string | null; dns_checked_at: string | null }>(
    'SELECT cert_attempts, cert_next_attempt_at, dns_checked_at FROM domains WHERE id = ?', [id],
  );
  return { attempts: Number(row?.cert_attempts ?? 0), nextAttemptAt: row?.cert_next_attempt_at ?? null, dnsCheckedAt: row?.dns_checked_at ?? null };
}

/** Replaces the retry schedule of a domain (attempts 0 and no time after a success or a refresh). */
export async function setCertSchedule(db: Db, id: string, s: Partial<CertSchedule>): Promise<void> {
  const cur = await getCertSchedule(db, id);
  const next = { ...cur, ...s };
  await db.run('UPDATE domains SET cert_attempts = ?, cert_next_attempt_at = ?, dns_checked_at = ? WHERE id = ?', [
    next.attempts, next.nextAttemptAt, next.dnsCheckedAt, id,
  ]);
}

/** A certificate as the manager keeps it: `acme:<host>` or `local:<host>`. */
export interface StoredCertificate {
  id: string;
  kind: 'acme' | 'local';
  names: string[];
  issuer: string;
  notBefore: string;
  notAfter: string;
  /** The leaf and its chain, PEM. */
  certPem: string;
  /** The private key, PEM. Never log it. */
  keyPem: string;
}

/** Stores (or replaces) a certificate, sealing its PEM material. */
export async function putCertificate(db: Db, key: Buffer, c: StoredCertificate): Promise<void> {
  const sealed = encryptSecret(key, JSON.stringify({ certPem: c.certPem, keyPem: c.keyPem }));
  await db.transaction(async (tx) => {
    await tx.run('DELETE FROM certificates WHERE id = ?', [c.id]);
    await tx.run(
      'INSERT INTO certificates (id, kind, names, issuer, not_before, not_after, encrypted_pem, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [c.id, c.kind, JSON.stringify(c.names), c.issuer, c.notBefore, c.notAfter, sealed, nowIso()],
    );
  });
}

/** Every stored certificate, decrypted: only ever handed to the edge. */
export async function listCertificates(db: Db, key: Buffer): Promise<StoredCertificate[]> {
  const rows = await db.all<{ id: string; kind: string; names: string; issuer: string; not_before: string; not_after: string; encrypted_pem: string }>(
    'SELECT id, kind, names, issuer, not_before, not_after, encrypted_pem FROM certificates ORDER BY id',
  );
  return rows.map((r) => {
    const pem = JSON.parse(decryptSecret(key, r.encrypted_pem)) as { certPem: string; keyPem: string };
    return {
      id: r.id, kind: r.kind as StoredCertificate['kind'], names: JSON.parse(r.names) as string[], issuer: r.issuer,
      notBefore: r.not_before, notAfter: r.not_after, certPem: pem.certPem, keyPem: pem.keyPem,
    };
  });
}

/** Removes a certificate. */
export async function deleteCertificate(db: Db, id: string): Promise<void> {
  await db.run('DELETE FROM certificates WHERE id = ?', [id]);
}

/** An ACME account: created once per directory, its key sealed. */
export interface AcmeAccount { directoryUrl: string; email: string; accountUrl: string; keyPem: string }

/** The account registered with this ACME directory, if any. */
export async function getAcmeAccount(db: Db, key: Buffer, directoryUrl: string): Promise<AcmeAccount | undefined> {
  const r = await db.get<{ email: string; account_url: string; encrypted_key: string }>(
    'SELECT email, account_url, encrypted_key FROM acme_accounts WHERE directory_url = ?', [directoryUrl],
  );
  return r ? { directoryUrl, email: r.email, accountUrl: r.account_url, keyPem: decryptSecret(key, r.encrypted_key) } : undefined;
}

/** Stores the account of a directory (replacing an older one). */
export async function putAcmeAccount(db: Db, key: Buffer, a: AcmeAccount): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.run('DELETE FROM acme_accounts WHERE directory_url = ?', [a.directoryUrl]);
    await tx.run('INSERT INTO acme_accounts (directory_url, email, account_url, encrypted_key, created_at) VALUES (?, ?, ?, ?, ?)', [
      a.directoryUrl, a.email, a.accountUrl, encryptSecret(key, a.keyPem), nowIso(),
    ]);
  });
}

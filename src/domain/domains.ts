// Custom domains: name rules, the status machine (PENDING → ACTIVE | ERROR, DELETING → DELETED) with messages that
// say what to do next, ownership claims (unverified until DNS proves them: a CNAME to the app's host or a TXT
// challenge; an unverified claim is never routed, never blocks a verified owner and expires), and the certificate
// timing policy (renew with a third of the lifetime left, retry with exponential backoff). Pure: every function is
// given the clock it needs.
import type { App, Domain, FieldError } from './types.ts';

/** Statuses a domain can have. */
export type DomainStatus = Domain['status'];

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A user's domain name in canonical form: trimmed, lower-case, without the trailing root dot. */
export function normalizeDomainName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/**
 * Why `name` cannot be a custom domain, or null. It must be a DNS host name of two labels or more, not an IP
 * address, not a wildcard, and not the platform domain or a name under it (those are assigned to apps).
 */
export function validateCustomDomainName(name: unknown, platformDomain: string): string | null {
  if (typeof name !== 'string' || name.trim() === '') return 'is required: a host name such as www.example.com';
  const n = normalizeDomainName(name);
  if (n.length > 253) return `"${n}" is longer than 253 characters`;
  if (n.includes('*')) return `"${n}" is a wildcard; add each host name as its own domain`;
  const labels = n.split('.');
  if (labels.length < 2) return `"${n}" must have at least two labels, such as www.example.com`;
  const bad = labels.find((l) => !LABEL.test(l));
  if (bad !== undefined) {
    return `"${n}" is not a host name: each label is 1-63 letters, digits or dashes, not starting or ending with a dash`;
  }
  if (/^\d+$/.test(labels[labels.length - 1]!)) return `"${n}" looks like an IP address; custom domains are host names`;
  const base = normalizeDomainName(platformDomain);
  if (n === base || n.endsWith(`.${base}`)) {
    return `"${n}" is under the platform domain ${base}, whose names are assigned to apps automatically`;
  }
  return null;
}

/** The field errors of a create request body, empty when it is valid. */
export function validateCreateDomain(input: Record<string, unknown>, platformDomain: string): FieldError[] {
  const errors: FieldError[] = [];
  const problem = validateCustomDomainName(input.name, platformDomain);
  if (problem) errors.push({ field: 'name', description: problem });
  if (input.type !== undefined && input.type !== 'CUSTOM') {
    errors.push({ field: 'type', description: 'must be CUSTOM: auto-assigned domains are created with their app' });
  }
  if (input.app_id !== undefined && typeof input.app_id !== 'string') errors.push({ field: 'app_id', description: 'must be a string' });
  return errors;
}

const TRANSITIONS: Record<DomainStatus, DomainStatus[]> = {
  // PENDING → DELETED: an unverified claim that expired or lost the name to a verified owner.
  PENDING: ['ACTIVE', 'ERROR', 'DELETING', 'DELETED'],
  ACTIVE: ['PENDING', 'ERROR', 'DELETING'],
  ERROR: ['PENDING', 'ACTIVE', 'DELETING'],
  DELETING: ['DELETED'],
  DELETED: [],
};

/** Whether a domain may move from one status to another (staying put is always allowed). */
export function canTransitionDomain(from: DomainStatus, to: DomainStatus): boolean {
  return from === to || TRANSITIONS[from].includes(to);
}

/** A status change with the messages that explain it; what the reconciler and actions write. */
export interface DomainMark { status: DomainStatus; messages: string[]; verified_at?: string | null }

/** The app's auto-assigned host: what a custom domain's CNAME must point at. */
export function autoAssignedName(app: App): string {
  return app.domains.find((d) => d.type === 'AUTOASSIGNED')?.name ?? '';
}

/** The DNS record a user must create for a domain attached to an app. */
export function dnsInstruction(name: string, intendedCname: string): string {
  return `Set a DNS record: CNAME ${name} → ${intendedCname}`;
}

/** How long an unverified claim lives by default before it expires (PIER_DOMAINS_CLAIM_TTL). */
export const DEFAULT_CLAIM_TTL_MS = 7 * 86_400_000;

/** The TXT record that proves ownership of `name` without pointing it at Pier (apex domains, moves). */
export function challengeRecordName(name: string): string {
  return `_pier-challenge.${name}`;
}

/** The TXT alternative to the CNAME, with the domain's own token. */
export function txtInstruction(name: string, token: string): string {
  return `Or prove ownership with a DNS record: TXT ${challengeRecordName(name)} "${token}"`;
}

/** When an unverified claim created at `createdAt` expires (ms since epoch). */
export function claimExpiresAt(createdAt: string, ttlMs: number): number {
  return Date.parse(createdAt) + ttlMs;
}

/** How a claim proved its ownership. */
export type OwnershipProof = 'cname' | 'txt' | 'skipped';

/** The claim facts the unverified messages need (`intended` empty when detached; the expiry once known). */
export interface Claim { name: string; intended: string; token: string; expiresAt?: string }

function unverifiedMessages(c: Claim, found?: string): string[] {
  return [
    ...(c.intended ? [dnsInstruction(c.name, c.intended)] : ['Not attached to an app: attach it with app_id to serve it']),
    txtInstruction(c.name, c.token),
    `Not served until ownership is verified${c.expiresAt ? `; this claim expires at ${c.expiresAt}` : ''}`,
    ...(found ? [`DNS check: ${found}`] : []),
  ];
}

/** A duration for messages: whole days, else hours, else minutes. */
export function humanDuration(ms: number): string {
  if (ms >= 86_400_000) return `${Math.round(ms / 86_400_000)} d`;
  if (ms >= 3600_000) return `${Math.round(ms / 3600_000)} h`;
  return `${Math.max(1, Math.round(ms / 60_000))} min`;
}

/** Named status changes, each with the reason the user sees. */
export const markDomain = {
  /** Claimed, ownership not proven yet: not routed, no certificate; says how to prove it and when it expires. */
  unverified: (c: Claim, found?: string): DomainMark => ({ status: 'PENDING', verified_at: null, messages: unverifiedMessages(c, found) }),
  /** Ownership proven; what follows is routing and the certificate. */
  verified: (name: string, proof: OwnershipProof, at: string): DomainMark => ({
    status: 'PENDING', verified_at: at,
    messages: [proof === 'skipped'
      ? `Ownership of ${name} accepted without a DNS check (PIER_DOMAINS_SKIP_DNS_CHECK)`
      : `Ownership of ${name} verified by its ${proof === 'txt' ? `TXT record ${challengeRecordName(name)}` : 'CNAME'}`],
  }),
  /** Another organization verified the name first: this claim is over. */
  refused: (name: string): DomainMark => ({
    status: 'DELETED', messages: [`Claim refused: another organization verified ownership of ${name} first`],
  }),
  /** Not verified in time. */
  expired: (name: string, ttlMs: number): DomainMark => ({
    status: 'DELETED', messages: [`Claim expired: ownership of ${name} was not verified within ${humanDuration(ttlMs)}`],
  }),
  /** Not attached to any app: nothing to route or certify. */
  detached: (): DomainMark => ({ status: 'PENDING', messages: ['Not attached to an app: attach it with app_id to serve it'] }),
  /** Attached; DNS not checked yet. */
  waitingForDns: (name: string, intended: string): DomainMark => ({
    status: 'PENDING', messages: [dnsInstruction(name, intended), 'Waiting for the DNS check'],
  }),
  /** The DNS check found another answer (or none). */
  dnsMismatch: (name: string, intended: string, found: string): DomainMark => ({
    status: 'PENDING', messages: [dnsInstruction(name, intended), `DNS check: ${found}`],
  }),
  /** DNS is right; a certificate is being requested. */
  issuing: (name: string, intended: string): DomainMark => ({
    status: 'PENDING', messages: [`DNS verified: ${name} points at ${intended}`, 'Requesting a certificate'],
  }),
  /** Serving with a valid certificate. */
  active: (issuer: string, notAfter: string, verifiedAt: string): DomainMark => ({
    status: 'ACTIVE', verified_at: verifiedAt, messages: [`Certificate from ${issuer}, valid until ${notAfter}`],
  }),
  /** The certificate request failed; another attempt is scheduled. */
  certificateFailed: (error: string, nextAttemptAt: string, attempt: number): DomainMark => ({
    status: 'ERROR',
    messages: [`Certificate request failed (attempt ${attempt}): ${error}`, `Next attempt at ${nextAttemptAt}`],
  }),
  /** Delete requested: detached, certificates to be removed. */
  deleting: (): DomainMark => ({ status: 'DELETING', messages: ['Domain deletion requested'] }),
  /** Gone. */
  deleted: (): DomainMark => ({ status: 'DELETED', messages: ['Domain deleted'] }),
};

/** When a certificate valid from `notBefore` to `notAfter` is due for renewal: with one third of its lifetime left. */
export function renewalTime(notBefore: string, notAfter: string): number {
  const start = Date.parse(notBefore);
  const end = Date.parse(notAfter);
  return end - (end - start) / 3;
}

/** Whether a certificate must be (re)issued at `now` (ms since epoch). */
export function needsRenewal(cert: { notBefore: string; notAfter: string } | undefined, now: number): boolean {
  return !cert || now >= renewalTime(cert.notBefore, cert.notAfter);
}

/** Backoff bounds of certificate retries. */
export interface Backoff { baseMs: number; maxMs: number }

/** Default retry bounds: 30 s doubling up to 6 h (Let's Encrypt allows 5 failed validations per host per hour). */
export const DEFAULT_BACKOFF: Backoff = { baseMs: 30_000, maxMs: 6 * 3600_000 };

/**
 * The delay before retry number `attempt + 1` after `attempt` failures (1-based): base · 2^(attempt-1), capped; a
 * server's Retry-After (rate limits) is honoured when it asks for longer.
 */
export function retryDelayMs(attempt: number, backoff: Backoff = DEFAULT_BACKOFF, retryAfterMs?: number): number {
  const exp = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.max(0, Math.min(30, attempt - 1)));
  return retryAfterMs !== undefined && retryAfterMs > exp ? retryAfterMs : exp;
}

/** Whether a certificate's names cover `host` (exact, or a `*.parent` wildcard one label deep). */
export function certificateCovers(names: readonly string[], host: string): boolean {
  const h = host.toLowerCase();
  return names.some((n) => {
    const name = n.toLowerCase();
    if (name === h) return true;
    return name.startsWith('*.') && h.endsWith(name.slice(1)) && !h.slice(0, h.length - name.length + 1).includes('.');
  });
}

// The certificate manager: a level-triggered reconciler. Desired: a certificate for every live app's auto-assigned
// host (local CA) and for every verified custom domain attached to a live app (ACME when configured, else the local
// CA). Observed: the stored certificates. Each pass first settles ownership claims (verified by a CNAME to the app's
// host or the TXT challenge; the first verified claim of a name wins, the others are refused; unverified claims
// expire), then issues what is missing or due for renewal (one third of the lifetime left), records failures with a
// persisted exponential backoff, moves domain statuses through markDomain, and hands the edge the full certificate
// set. Running a pass twice changes nothing.
import {
  DEFAULT_BACKOFF, DEFAULT_CLAIM_TTL_MS, autoAssignedName, challengeRecordName, claimExpiresAt, markDomain, needsRenewal,
  retryDelayMs, type Backoff, type DomainMark, type OwnershipProof,
} from '../domain/domains.ts';
import type { App, Domain } from '../domain/types.ts';
import type { Store } from '../store/store.ts';
import { listApps } from '../store/apps.ts';
import {
  deleteCertificate, findVerifiedDomainByName, getCertSchedule, listCertificates, listDomains, listUnverifiedClaims,
  putCertificate, setCertSchedule, updateDomain, verificationToken, type StoredCertificate,
} from '../store/domains.ts';
import { AcmeError, certificateDates, type AcmeIssuer, type ChallengeBoard } from './acme.ts';
import type { DnsCheck, TxtLookup } from './dns.ts';
import type { Edge } from '../edge/types.ts';

/** What the manager needs from the edge: its certificate and HTTP-01 challenge setters. */
export type CertEdge = Pick<Edge, 'setCertificates' | 'setAcmeChallenges'>;

/** The local certificate authority (src/certs/local-ca.ts LocalCa). */
export interface LocalIssuer {
  issue(names: string[], days?: number): Promise<{ certPem: string; keyPem: string; notAfter: string }>;
}

/** How a certificate manager is built. */
export interface CertManagerOptions {
  store: Store;
  /** The running edge, if any: certificates and challenges go there. */
  edge: () => CertEdge | undefined;
  /** The local CA, loaded on first use. */
  localCa: () => Promise<LocalIssuer>;
  /** ACME issuer for custom domains; without one they get local-CA certificates. */
  acme?: AcmeIssuer;
  /**
   * DNS check of custom domains (does the name point at its app?); undefined skips it and accepts every claim's
   * ownership unchecked (PIER_DOMAINS_SKIP_DNS_CHECK=1: single machines, never several tenants).
   */
  dns?: DnsCheck;
  /** TXT lookups for the ownership challenge `_pier-challenge.<name>`; undefined = claims prove ownership by CNAME only. */
  txt?: TxtLookup;
  /** How long an unverified claim lives (default 7 days). */
  claimTtlMs?: number;
  /** Called when a claim was verified: its name joins the route table. */
  onVerified?: () => void;
  /** Called after a challenge answer is published; resolves once the edge serves it (so validation never races it). */
  challengeReady?: (host: string, token: string, keyAuthorization: string) => Promise<void>;
  now?: () => number;
  backoff?: Backoff;
  /** How long a failed DNS check stands before the next one (default 30 s); refresh skips the wait. */
  dnsRecheckMs?: number;
  log?: (line: string) => void;
}

/** A running certificate manager. */
export interface CertManager {
  /** One full pass (tests call it directly). */
  reconcile(): Promise<void>;
  /** Ask for a pass soon (after API writes). */
  kick(): void;
  /** Passes every `intervalMs` and on kick. */
  start(intervalMs?: number): void;
  stop(): Promise<void>;
}

/** Builds a certificate manager. */
export function createCertManager(opts: CertManagerOptions): CertManager {
  const { store } = opts;
  const db = store.db;
  const clock = opts.now ?? Date.now;
  const iso = (ms: number) => new Date(ms).toISOString();
  const challenges = new Map<string, string>();
  let lastPushed = '';
  let lastEdge: CertEdge | undefined;

  async function mark(d: Domain, m: DomainMark, extra: Partial<Domain> = {}): Promise<void> {
    const next = { ...extra, status: m.status, messages: m.messages, ...(m.verified_at !== undefined ? { verified_at: m.verified_at } : {}) };
    const changed = Object.entries(next).some(([k, v]) => JSON.stringify((d as unknown as Record<string, unknown>)[k]) !== JSON.stringify(v));
    if (changed) Object.assign(d, await updateDomain(db, d.id, next));
  }

  function pushChallenges(): void {
    opts.edge()?.setAcmeChallenges(Object.fromEntries(challenges));
  }

  function board(host: string): ChallengeBoard {
    return {
      async set(token, keyAuthorization) {
        challenges.set(token, keyAuthorization);
        pushChallenges();
        await opts.challengeReady?.(host, token, keyAuthorization);
      },
      remove(token) {
        challenges.delete(token);
        pushChallenges();
      },
    };
  }

  async function issueLocal(id: string, names: string[]): Promise<StoredCertificate> {
    const ca = await opts.localCa();
    const out = await ca.issue(names);
    const cert: StoredCertificate = { id, kind: 'local', names, ...certificateDates(out.certPem), certPem: out.certPem, keyPem: out.keyPem };
    await putCertificate(db, store.secretKey, cert);
    return cert;
  }

  /** Whether an error is the unique index refusing a second verified claim of a name. */
  function isUniqueViolation(err: unknown): boolean {
    return (err as { code?: string })?.code === '23505' || /UNIQUE constraint failed/i.test((err as Error)?.message ?? '');
  }

  /** Ends a claim that can no longer be verified (another owner, or expired): detached, DELETED, never served. */
  async function endClaim(d: Domain, m: DomainMark): Promise<void> {
    await mark(d, m, { app_id: '', intended_cname: '' });
    opts.log?.(`pier: domain claim ${d.id} (${d.name}): ${m.messages[0]}`);
  }

  /**
   * An unverified claim: refused when another organization verified the name, expired past its ttl, else checked
   * (the TXT challenge, then the CNAME to its app; at most every dnsRecheckMs) and, when proven, made the name's one
   * verified claim in a transaction (the unique index decides a race). Returns whether it is verified now.
   */
  async function settleClaim(d: Domain, app: App | undefined): Promise<boolean> {
    const now = clock();
    const ttl = opts.claimTtlMs ?? DEFAULT_CLAIM_TTL_MS;
    const owner = await findVerifiedDomainByName(db, d.name);
    if (owner && owner.id !== d.id) {
      await endClaim(d, markDomain.refused(d.name));
      return false;
    }
    const expiresAt = claimExpiresAt(d.created_at, ttl);
    if (now >= expiresAt) {
      await endClaim(d, markDomain.expired(d.name, ttl));
      return false;
    }
    const intended = app ? autoAssignedName(app) : '';
    const claim = { name: d.name, intended, token: await verificationToken(db, d.id), expiresAt: iso(expiresAt) };
    let proof: OwnershipProof | undefined;
    if (!opts.dns) {
      proof = 'skipped';
    } else {
      // A fresh claim is checked every dnsRecheckMs; one older than 15 minutes at most every 10 (refresh asks at
      // once): a tenant's thousand idle claims must not turn each pass into a thousand DNS lookups.
      const base = opts.dnsRecheckMs ?? 30_000;
      const recheck = now - Date.parse(d.created_at) < 15 * 60_000 ? base : Math.max(base, 10 * 60_000);
      const schedule = await getCertSchedule(db, d.id);
      if (schedule.dnsCheckedAt && now - Date.parse(schedule.dnsCheckedAt) < recheck) return false;
      const found: string[] = [];
      const record = challengeRecordName(d.name);
      const txt = opts.txt ? await opts.txt(record) : undefined;
      if (txt?.ok && txt.values.includes(claim.token)) proof = 'txt';
      else if (txt) found.push(txt.ok ? `no TXT record ${record} holds this claim's token` : `TXT ${record}: ${txt.found}`);
      if (!proof && app) {
        // The same addresses as the app host prove only that the name reaches this installation, whose app hosts
        // all resolve alike: ownership takes the CNAME to this very app's host, or the TXT record.
        const verdict = await opts.dns(d.name, intended);
        if (verdict.ok && verdict.via === 'cname') proof = 'cname';
        else found.unshift(verdict.ok ? `${d.name} has no CNAME to ${intended} (its addresses are no proof of ownership)` : verdict.found);
      }
      if (!proof) {
        await setCertSchedule(db, d.id, { dnsCheckedAt: iso(now) });
        await mark(d, markDomain.unverified(claim, found.join('; ') || undefined), { intended_cname: intended });
        return false;
      }
      await setCertSchedule(db, d.id, { dnsCheckedAt: null });
    }
    const verified = markDomain.verified(d.name, proof, iso(now));
    const won = await db.transaction(async (tx) => {
      const first = await findVerifiedDomainByName(tx, d.name);
      if (first && first.id !== d.id) return false;
      Object.assign(d, await updateDomain(tx, d.id, { status: verified.status, messages: verified.messages, verified_at: verified.verified_at, intended_cname: intended }));
      return true;
    }).catch((err: unknown) => {
      if (isUniqueViolation(err)) return false;
      throw err;
    });
    if (!won) {
      await endClaim(d, markDomain.refused(d.name));
      return false;
    }
    opts.log?.(`pier: ownership of ${d.name} verified (${proof}) for organization ${d.organization_id}`);
    // Every other organization's claim of the name is over: the first to verify wins.
    for (const other of await listUnverifiedClaims(db, d.name)) {
      if (other.id !== d.id) await endClaim(other, markDomain.refused(other.name));
    }
    opts.onVerified?.();
    return true;
  }

  /** A custom domain attached to a live app: DNS, then a certificate; returns the certificate the edge should serve. */
  async function reconcileCustom(
    d: Domain, app: App, certs: Map<string, StoredCertificate>, justVerified: boolean,
  ): Promise<StoredCertificate | undefined> {
    const intended = autoAssignedName(app);
    const extra: Partial<Domain> = d.intended_cname !== intended ? { intended_cname: intended } : {};
    const certId = `${opts.acme ? 'acme' : 'local'}:${d.name}`;
    const cert = certs.get(certId);
    const now = clock();
    const usable = cert && Date.parse(cert.notAfter) > now ? cert : undefined;
    if (usable && !needsRenewal(usable, now)) {
      await mark(d, markDomain.active(usable.issuer, usable.notAfter, d.verified_at ?? iso(now)), extra);
      return usable;
    }
    const schedule = await getCertSchedule(db, d.id);
    if (schedule.nextAttemptAt && Date.parse(schedule.nextAttemptAt) > now) {
      if (Object.keys(extra).length) await mark(d, { status: d.status, messages: d.messages }, extra);
      return usable;
    }
    let verifiedAt = d.verified_at;
    // A claim verified in this very pass was just checked; ACME still needs the name to reach the edge, which the
    // server's own validation (HTTP-01) finds out.
    if (opts.dns && !justVerified) {
      if (schedule.dnsCheckedAt && now - Date.parse(schedule.dnsCheckedAt) < (opts.dnsRecheckMs ?? 30_000)) return usable;
      const verdict = await opts.dns(d.name, intended);
      if (!verdict.ok) {
        await setCertSchedule(db, d.id, { dnsCheckedAt: iso(now) });
        // Ownership stays verified (it belongs to the organization); only the certificate waits for DNS.
        await mark(d, markDomain.dnsMismatch(d.name, intended, verdict.found), extra);
        return usable;
      }
      await setCertSchedule(db, d.id, { dnsCheckedAt: null });
      verifiedAt = iso(now);
    }
    verifiedAt ??= iso(now);
    if (!opts.acme) {
      const local = await issueLocal(certId, [d.name]);
      await mark(d, markDomain.active(local.issuer, local.notAfter, verifiedAt), extra);
      return local;
    }
    if (!usable) await mark(d, markDomain.issuing(d.name, intended), extra);
    try {
      const issued = await opts.acme.issue(d.name, board(d.name));
      const stored: StoredCertificate = { id: certId, kind: 'acme', names: [d.name], ...issued };
      await putCertificate(db, store.secretKey, stored);
      await setCertSchedule(db, d.id, { attempts: 0, nextAttemptAt: null });
      await mark(d, markDomain.active(stored.issuer, stored.notAfter, verifiedAt), extra);
      opts.log?.(`pier: certificate issued for ${d.name} by ${stored.issuer}, valid until ${stored.notAfter}`);
      return stored;
    } catch (err) {
      const e = err instanceof AcmeError ? err : new AcmeError((err as Error)?.message ?? String(err), false);
      const attempts = schedule.attempts + 1;
      const next = iso(clock() + retryDelayMs(attempts, opts.backoff ?? DEFAULT_BACKOFF, e.retryAfterMs));
      await setCertSchedule(db, d.id, { attempts, nextAttemptAt: next });
      const failed = markDomain.certificateFailed(e.message, next, attempts);
      // A renewal that fails while the current certificate still works keeps the domain serving: ACTIVE, with the error.
      await mark(d, usable ? { status: 'ACTIVE', messages: [markDomain.active(usable.issuer, usable.notAfter, verifiedAt).messages[0]!, ...failed.messages] } : failed, extra);
      opts.log?.(`pier: certificate for ${d.name} failed (attempt ${attempts}, next at ${next}): ${e.message}`);
      return usable;
    }
  }

  async function pass(): Promise<void> {
    const apps = (await listApps(db, { excludeDeleted: true })).items.filter((a) => a.status !== 'DELETING');
    const appById = new Map(apps.map((a) => [a.id, a]));
    const domains = (await listDomains(db, { types: ['CUSTOM'], excludeDeleted: true })).items;
    const certs = new Map((await listCertificates(db, store.secretKey)).map((c) => [c.id, c]));
    const serve: StoredCertificate[] = [];
    const keep = new Set<string>();

    for (const app of apps) {
      const host = autoAssignedName(app);
      if (!host) continue;
      const id = `local:${host}`;
      let cert = certs.get(id);
      if (!cert || needsRenewal(cert, clock())) cert = await issueLocal(id, [host]);
      keep.add(id);
      serve.push(cert);
    }

    for (const d of domains) {
      if (d.status === 'DELETING') {
        // Certificates are per name: only the verified owner's claim ever had one (another claim's stays).
        if (d.verified_at) {
          await deleteCertificate(db, `acme:${d.name}`);
          await deleteCertificate(db, `local:${d.name}`);
        }
        await mark(d, markDomain.deleted());
        continue;
      }
      const app = d.app_id ? appById.get(d.app_id) : undefined;
      const justVerified = !d.verified_at && await settleClaim(d, app);
      if (!d.verified_at) continue; // unverified, refused or expired: never routed, no certificate
      keep.add(`acme:${d.name}`).add(`local:${d.name}`);
      if (!app) {
        await mark(d, markDomain.detached(), { app_id: '', intended_cname: '' });
        continue;
      }
      const cert = await reconcileCustom(d, app, certs, justVerified);
      if (cert) serve.push(cert);
    }

    // Certificates of apps and domains that are gone.
    for (const id of certs.keys()) if (!keep.has(id)) await deleteCertificate(db, id);
    pushCertificates(serve);
  }

  function pushCertificates(serve: StoredCertificate[]): void {
    const edge = opts.edge();
    if (!edge) return;
    const signature = serve.map((c) => `${c.id}\0${c.certPem}`).sort().join('\0');
    if (edge === lastEdge && signature === lastPushed) return;
    edge.setCertificates(serve.map((c) => ({ names: c.names, certPem: c.certPem, keyPem: c.keyPem })));
    lastEdge = edge;
    lastPushed = signature;
  }

  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  function reconcile(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await pass();
        } while (again && !stopped);
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  function runLogged(): void {
    reconcile().catch((err) => opts.log?.(`pier: certificate manager pass failed: ${(err as Error)?.message ?? String(err)}`));
  }

  return {
    reconcile,
    kick() {
      if (!stopped) runLogged();
    },
    start(intervalMs = 15_000) {
      stopped = false;
      timer = setInterval(runLogged, intervalMs);
      timer.unref();
      runLogged();
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      // An ACME order in flight can take a minute; shutdown waits a few seconds for it, then lets it fail.
      let bounded: NodeJS.Timeout | undefined;
      await Promise.race([running?.catch(() => undefined), new Promise((r) => { bounded = setTimeout(r, 5000); })]);
      clearTimeout(bounded);
    },
  };
}

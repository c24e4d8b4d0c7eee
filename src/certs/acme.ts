// The ACME (RFC 8555) side of the certificate manager: one account per directory, created once and stored sealed,
// and `issue(name)` that orders a certificate for one host name and answers its HTTP-01 challenge through the
// edge. acme-client's own retries (which sleep inside a request for a server's Retry-After) are turned off: the
// manager's persisted backoff decides when to try again, so a rate limit becomes a visible status instead.
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import * as acme from 'acme-client';
import type { Db } from '../store/db.ts';
import { getAcmeAccount, putAcmeAccount } from '../store/domains.ts';

/** What an issuance produced. */
export interface IssuedCertificate { certPem: string; keyPem: string; issuer: string; notBefore: string; notAfter: string }

/** An ACME failure the manager shows on the domain; `rateLimited` carries the server's Retry-After. */
export class AcmeError extends Error {
  constructor(message: string, readonly rateLimited: boolean, readonly retryAfterMs?: number) {
    super(message);
    this.name = 'AcmeError';
  }
}

/** Where the manager publishes HTTP-01 answers (token → key authorization) for the edge to serve. */
export interface ChallengeBoard {
  set(token: string, keyAuthorization: string): Promise<void>;
  remove(token: string): void;
}

/** How to reach an ACME server. */
export interface AcmeOptions {
  directoryUrl: string;
  email?: string;
  /** Extra CA certificates (PEM file) trusted for the directory's own TLS: test and private ACME servers. */
  caFile?: string;
  db: Db;
  secretKey: Buffer;
}

/** Issues certificates from one ACME directory. */
export interface AcmeIssuer {
  directoryUrl: string;
  issue(name: string, challenges: ChallengeBoard): Promise<IssuedCertificate>;
}

const RATE_LIMITED = 'urn:ietf:params:acme:error:rateLimited';
let interceptorInstalled = false;

/**
 * acme-client reports a problem document as a plain Error holding its detail; the type and Retry-After of a rate
 * limit are read here, where the response is still visible, and raised as an AcmeError.
 */
function installRateLimitInterceptor(): void {
  if (interceptorInstalled) return;
  interceptorInstalled = true;
  const settings = (acme.axios.defaults as unknown as { acmeSettings: { retryMaxAttempts: number } }).acmeSettings;
  settings.retryMaxAttempts = 0;
  acme.axios.interceptors.response.use((resp) => {
    const data = resp.data as { type?: string; detail?: string } | undefined;
    if (data && typeof data === 'object' && data.type === RATE_LIMITED) {
      const header = Number(resp.headers['retry-after']);
      throw new AcmeError(`rate limited by the ACME server: ${data.detail ?? 'too many requests'}`, true, Number.isFinite(header) && header > 0 ? header * 1000 : undefined);
    }
    return resp;
  });
}

/** An issuer for one directory; the account key is made on first use and kept (sealed) in the store. */
export function createAcmeIssuer(opts: AcmeOptions): AcmeIssuer {
  installRateLimitInterceptor();
  if (opts.caFile) {
    const ca = readFileSync(opts.caFile, 'utf8');
    acme.axios.defaults.httpsAgent = new https.Agent({ ca: [...rootCertificates, ca], keepAlive: false });
  }

  async function client(): Promise<acme.Client> {
    const saved = await getAcmeAccount(opts.db, opts.secretKey, opts.directoryUrl);
    const accountKey = saved?.keyPem ?? (await acme.crypto.createPrivateEcdsaKey()).toString();
    const c = new acme.Client({
      directoryUrl: opts.directoryUrl, accountKey, accountUrl: saved?.accountUrl || undefined,
      // Polls for challenge and order status: short first waits, ~1 minute in all.
      backoffAttempts: 12, backoffMin: 200, backoffMax: 8000,
    });
    if (!saved) {
      await c.createAccount({ termsOfServiceAgreed: true, ...(opts.email ? { contact: [`mailto:${opts.email}`] } : {}) });
      await putAcmeAccount(opts.db, opts.secretKey, {
        directoryUrl: opts.directoryUrl, email: opts.email ?? '', accountUrl: c.getAccountUrl(), keyPem: accountKey,
      });
    }
    return c;
  }

  return {
    directoryUrl: opts.directoryUrl,
    async issue(name, challenges) {
      try {
        const c = await client();
        const key = await acme.crypto.createPrivateEcdsaKey();
        const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, key);
        const certPem = await c.auto({
          csr, email: opts.email, termsOfServiceAgreed: true, challengePriority: ['http-01'],
          // The edge answers the challenge; whether it is reachable is for the ACME server to find out.
          skipChallengeVerification: true,
          challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
            if (challenge.type !== 'http-01') throw new Error(`unsupported challenge ${challenge.type}`);
            await challenges.set(challenge.token, keyAuthorization);
          },
          challengeRemoveFn: async (_authz, challenge) => { challenges.remove(challenge.token); },
        });
        return { certPem, keyPem: key.toString(), ...certificateDates(certPem) };
      } catch (err) {
        if (err instanceof AcmeError) throw err;
        throw new AcmeError((err as Error)?.message ?? String(err), false);
      }
    },
  };
}

/** Issuer common name and validity of the first certificate of a PEM chain. */
export function certificateDates(certPem: string): { issuer: string; notBefore: string; notAfter: string } {
  const info = acme.crypto.readCertificateInfo(certPem);
  return { issuer: info.issuer.commonName ?? 'unknown issuer', notBefore: info.notBefore.toISOString(), notAfter: info.notAfter.toISOString() };
}

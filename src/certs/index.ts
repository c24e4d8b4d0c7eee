// The certificate manager as a Pier component: the local CA under the data directory, ACME when configured, the DNS
// check unless skipped, and a self-check that the edge serves each HTTP-01 answer before the ACME server asks.
import http from 'node:http';
import { join } from 'node:path';
import type { PierComponent, PierCore } from '../component.ts';
import type { Edge } from '../edge/types.ts';
import { loadOrCreateLocalCa, trustInstructions, type LocalCa } from './local-ca.ts';
import { createAcmeIssuer } from './acme.ts';
import { dnsCheck, dnsResolver, txtLookup } from './dns.ts';
import { createCertManager, type CertManager } from './manager.ts';

export { createCertManager } from './manager.ts';
export type { CertManager, CertManagerOptions, CertEdge, LocalIssuer } from './manager.ts';

/** Where the local CA lives in a data directory. */
export function localCaDir(dataDir: string): string {
  return join(dataDir, 'tls', 'local-ca');
}

/** GETs the challenge from the edge's plain-HTTP listener as the ACME server will, until it answers (at most ~5 s). */
export async function waitForChallenge(edgeUrl: string, host: string, token: string, keyAuthorization: string): Promise<void> {
  const url = new URL(`/.well-known/acme-challenge/${token}`, edgeUrl);
  const deadline = Date.now() + 5000;
  for (let i = 0; i < 100 && Date.now() < deadline; i++) {
    const body = await new Promise<string>((resolve) => {
      const req = http.get(url, { headers: { host }, timeout: 1000 }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => { text += c; }).on('end', () => resolve(res.statusCode === 200 ? text.trim() : ''));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(''));
    });
    if (body === keyAuthorization) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  // Let the ACME server try anyway: its verdict is the one the user sees.
}

/**
 * The certificates component: started after the edge, kicked after every API write; `onRoutesChanged` is called when
 * a domain's ownership is verified (its name joins the route table).
 */
export function certificatesComponent(core: PierCore, edge: () => Edge | undefined, onRoutesChanged?: () => void): PierComponent {
  const { config, store, log } = core;
  let manager: CertManager | undefined;
  let ca: Promise<LocalCa> | undefined;
  return {
    name: 'certificates',
    async start() {
      ca ??= loadOrCreateLocalCa(localCaDir(config.dataDir));
      log(`pier: ${trustInstructions(await ca).split('\n')[0]} (trust it to browse https://<app>-<org>.${config.domain})`);
      const resolver = config.skipDnsCheck ? undefined : dnsResolver(config.dnsResolver);
      manager = createCertManager({
        store,
        edge,
        localCa: () => ca!,
        acme: config.acme ? createAcmeIssuer({ ...config.acme, db: store.db, secretKey: store.secretKey }) : undefined,
        dns: resolver && dnsCheck(undefined, undefined, resolver),
        txt: resolver && txtLookup(resolver),
        claimTtlMs: config.domainClaimTtlMs,
        onVerified: onRoutesChanged,
        challengeReady: async (host, token, keyAuthorization) => {
          const url = edge()?.url;
          if (url) await waitForChallenge(url, host, token, keyAuthorization);
        },
        log,
      });
      core.onWrite(() => manager?.kick());
      manager.start();
    },
    async stop() {
      await manager?.stop();
      manager = undefined;
    },
  };
}

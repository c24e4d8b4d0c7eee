// `createEdge`: the entry point the composition root calls. One process by default; with `workers > 1`
// the listen socket is shared by worker processes (see cluster.ts) and this process only coordinates.
import { listenOn, parseAddr, urlOf } from './addr.ts';
import { EdgeCore } from './core.ts';
import type { Edge, EdgeOptions } from './types.ts';

/** Start the edge proxy and resolve once it listens. */
export async function createEdge(opts: EdgeOptions): Promise<Edge> {
  if ((opts.workers ?? 1) > 1) {
    const { createClusterEdge } = await import('./cluster.ts');
    return createClusterEdge(opts);
  }
  const { host } = parseAddr(opts.addr);
  const core = new EdgeCore(opts);
  const port = await listenOn(core.server, opts.addr);
  let tlsUrl: string | undefined;
  if (core.tlsServer !== null && opts.tlsAddr !== undefined) {
    try {
      const tlsPort = await listenOn(core.tlsServer, opts.tlsAddr);
      core.setTlsPort(tlsPort);
      tlsUrl = urlOf(parseAddr(opts.tlsAddr).host, tlsPort, 'https');
    } catch (err) {
      await core.close();
      throw err;
    }
  }
  return {
    url: urlOf(host, port),
    tlsUrl,
    setRoutes: (apps, domain) => core.setRoutes(apps, domain),
    setCertificates: (certs) => core.setCertificates(certs),
    setAcmeChallenges: (c) => core.setAcmeChallenges(c),
    drain: (id, ms) => core.drain(id, ms),
    metrics: () => core.metrics(),
    prometheus: () => core.prometheus(),
    close: () => core.close(),
  };
}

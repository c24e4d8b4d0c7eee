// `createEdge`: the entry point the composition root calls. One process by default; with `workers > 1`
// the listen socket is shared by worker processes (see cluster.ts) and this process only coordinates.
import type { AddressInfo, Server } from 'node:net';
import { EdgeCore } from './core.ts';
import type { Edge, EdgeOptions } from './types.ts';

/** Split `host:port` (IPv6 as `[::1]:8080`). */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`edge addr must be host:port, got "${addr}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}

/** URL for a bound address. */
export function urlOf(host: string, port: number, scheme = 'http'): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Listen on `host:port` and resolve with the bound port. */
export function listenOn(server: Server, addr: string): Promise<number> {
  const { host, port } = parseAddr(addr);
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

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
    setRoutes: (apps) => core.setRoutes(apps),
    setCertificates: (certs) => core.setCertificates(certs),
    setAcmeChallenges: (c) => core.setAcmeChallenges(c),
    drain: (id, ms) => core.drain(id, ms),
    metrics: () => core.metrics(),
    prometheus: () => core.prometheus(),
    close: () => core.close(),
  };
}

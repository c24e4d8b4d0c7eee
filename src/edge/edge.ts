// `createEdge`: the entry point the composition root calls. One process by default; with `workers > 1`
// the listen socket is shared by worker processes (see cluster.ts) and this process only coordinates.
import type { AddressInfo } from 'node:net';
import { EdgeCore } from './core.ts';
import type { Edge, EdgeOptions } from './types.ts';

/** Split `host:port` (IPv6 as `[::1]:8080`). */
export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr);
  if (!m) throw new Error(`edge addr must be host:port, got "${addr}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port: Number(m[3]) };
}

/** URL for a bound address. */
export function urlOf(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Start the edge proxy and resolve once it listens. */
export async function createEdge(opts: EdgeOptions): Promise<Edge> {
  if ((opts.workers ?? 1) > 1) {
    const { createClusterEdge } = await import('./cluster.ts');
    return createClusterEdge(opts);
  }
  const { host, port } = parseAddr(opts.addr);
  const core = new EdgeCore(opts);
  await new Promise<void>((resolve, reject) => {
    core.server.once('error', reject);
    core.server.listen(port, host, () => {
      core.server.off('error', reject);
      resolve();
    });
  });
  const bound = core.server.address() as AddressInfo;
  return {
    url: urlOf(host, bound.port),
    setRoutes: (apps) => core.setRoutes(apps),
    drain: (id, ms) => core.drain(id, ms),
    metrics: () => core.metrics(),
    prometheus: () => core.prometheus(),
    close: () => core.close(),
  };
}

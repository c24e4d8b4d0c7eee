// Listen addresses of the edge (`host:port`, IPv6 as `[::1]:8080`), shared by the single-process edge, the cluster
// coordinator and its workers.
import type { AddressInfo, Server } from 'node:net';

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

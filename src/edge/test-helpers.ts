// Helpers for the edge's tests: real upstream servers on 127.0.0.1, a client that sets any Host header, and
// routing-table builders. Not used by production code.
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppRoutes, RouteEntry, Upstream } from './types.ts';

/** A started upstream with the requests it saw. */
export interface TestUpstream {
  server: Server;
  port: number;
  seen: { method: string; url: string; headers: IncomingHttpHeaders }[];
  close(): Promise<void>;
}

/** Start an HTTP upstream on 127.0.0.1; the default handler answers `<name> <url>`. */
export async function startUpstream(
  name: string, handler?: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TestUpstream> {
  const seen: TestUpstream['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    if (handler) return handler(req, res);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${name} ${req.url}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server, seen, port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/** A port that nothing listens on (bound once, then released). */
export async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The response of `call`. */
export interface CallResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Send one request to the edge with the given Host header (fresh connection). */
export function call(
  edgeUrl: string, host: string, path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; localAddress?: string } = {},
): Promise<CallResult> {
  const u = new URL(edgeUrl);
  return new Promise((resolve, reject) => {
    const req = request({
      host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', agent: false,
      // A client on another loopback address (127.0.0.0/8 is all loopback), for address-based rules.
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      headers: { host, ...opts.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** An upstream entry pointing at 127.0.0.1:port. */
export function up(instanceId: string, port: number, region = 'fra', protocol: Upstream['protocol'] = 'http'): Upstream {
  return { instanceId, host: '127.0.0.1', port, region, protocol };
}

/** A route entry with defaults. */
export function route(path: string, upstreams: Upstream[], extra: Partial<RouteEntry> = {}): RouteEntry {
  return { path, serviceId: `svc${path}`, serviceName: `web${path.replace(/\W/g, '') || 'root'}`, serviceStatus: 'HEALTHY', port: 8000, upstreams, ...extra };
}

/** An app named `name` in org `acme` with the given routes. */
export function app(name: string, routes: RouteEntry[], extra: Partial<AppRoutes> = {}): AppRoutes {
  return { appId: `app-${name}`, appName: name, organizationId: 'acme', hosts: [], routes, ...extra };
}

/** Resolve after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `fn` until it returns true (at most `tries` × 10 ms). */
export async function until(fn: () => boolean, tries = 300): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (fn()) return;
    await sleep(10);
  }
  throw new Error('condition not reached');
}

/**
 * Load reports (load-watch.ts): three requests 500 ms apart on `watched` (inside a target of 5 per second), then both
 * hosts back to back until `reports` holds one or `ms` passed. Answers how many reports the slow phase made (none
 * expected), for the caller to assert with what it recorded.
 */
export async function slowThenBurst(url: string, watched: string, plain: string, reports: readonly unknown[], ms: number): Promise<number> {
  for (let i = 0; i < 3; i++) {
    const r = await call(url, watched, '/');
    if (r.status !== 200) throw new Error(`slow phase: ${watched} answered ${r.status}`);
    await sleep(500);
  }
  const slow = reports.length;
  const end = Date.now() + ms;
  while (reports.length === slow && Date.now() < end) await Promise.all([call(url, watched, '/'), call(url, plain, '/')]);
  return slow;
}

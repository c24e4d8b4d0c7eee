// The TCP proxy: Koyeb's `proxy_ports`. The leader runs one beside its edge, and each regional edge (`pier edge`) its
// own, preferring its region's instances. Each service port a definition lists there gets a public port on the edge's
// host (given at deploy time, src/store/proxy-ports.ts); connections to it are spliced to one of the service's HEALTHY
// instances on that port, bytes both ways, nothing parsed. Driven by the same route table as the HTTP edge
// (AppRoutes.tcpProxies): a listener per public port while some app's table names it. A connection goes to the
// instance with the fewest open connections; one that refuses is skipped for the next (each tried once); with none
// left, or none at all (sleeping, starting, deleted), the client's connection is closed at once. Closing a listener
// (the port left the table) leaves its open connections be: they end when either side ends them, or the instance stops.
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AppRoutes, TcpProxyEntry, Upstream } from './types.ts';

/** What a TcpProxy needs. */
export interface TcpProxyOptions {
  /** The address the public ports listen on (the edge's host). */
  host: string;
  /** A listener that could not be opened (its port in use), once per failure; retried with the next table. */
  onError?: (message: string) => void;
  /** A regional edge's region: its instances are tried first (then the fewest connections decides). */
  region?: string;
}

interface Listener { server: Server; entry: TcpProxyEntry; open: boolean }

/** How soon a listener that could not be opened is tried again. */
const RETRY_MS = 5000;

/** Counters for metrics: connections spliced, refused for want of an instance, and open now, per public port. */
export interface TcpProxyStats { publicPort: number; serviceId: string; accepted: number; refused: number; open: number }

export class TcpProxy {
  private readonly listeners = new Map<number, Listener>();
  private readonly sockets = new Set<Socket>();
  /** Open connections per instance (least-connections choice). */
  private readonly perInstance = new Map<string, number>();
  private readonly counts = new Map<number, { accepted: number; refused: number; open: number }>();
  private closed = false;
  /** A retry of the last table while a listener could not be opened (an unchanged table is not sent again). */
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly opts: TcpProxyOptions) {}

  /** Takes a route table: opens the listeners of new public ports, closes those no app names any more. */
  async setRoutes(apps: AppRoutes[]): Promise<void> {
    if (this.closed) return;
    if (this.retry !== null) { clearTimeout(this.retry); this.retry = null; }
    const wanted = new Map<number, TcpProxyEntry>();
    for (const a of apps) for (const e of a.tcpProxies ?? []) wanted.set(e.publicPort, e);
    for (const [port, l] of this.listeners) {
      if (wanted.has(port) && l.open) continue;
      this.listeners.delete(port);
      l.server.close();
    }
    await Promise.all([...wanted].map(async ([port, entry]) => {
      const have = this.listeners.get(port);
      if (have) { have.entry = entry; return; }
      const l: Listener = { server: createServer({ allowHalfOpen: true, noDelay: true }, (c) => this.accept(l, c)), entry, open: false };
      this.listeners.set(port, l);
      try {
        await new Promise<void>((resolve, reject) => {
          l.server.once('error', reject);
          l.server.listen(port, this.opts.host, () => { l.server.off('error', reject); resolve(); });
        });
        l.open = true;
        l.server.on('error', (err) => this.opts.onError?.(`TCP proxy port ${port}: ${err.message}`));
      } catch (err) {
        // Left in the map as not open: the next table tries again.
        this.opts.onError?.(`TCP proxy port ${port} (service ${entry.serviceName}, port ${entry.port}) cannot listen on ${this.opts.host}: ${(err as Error).message}; trying again in ${RETRY_MS / 1000} s`);
      }
    }));
    if (!this.closed && this.retry === null && [...this.listeners.values()].some((l) => !l.open)) {
      this.retry = setTimeout(() => { this.retry = null; void this.setRoutes(apps); }, RETRY_MS);
      this.retry.unref();
    }
  }

  /** The public ports listening now. */
  ports(): number[] {
    return [...this.listeners].filter(([, l]) => l.open).map(([p]) => p).sort((a, b) => a - b);
  }

  stats(): TcpProxyStats[] {
    return [...this.listeners].map(([publicPort, l]) => ({ publicPort, serviceId: l.entry.serviceId, ...this.countOf(publicPort) }));
  }

  /** Prometheus text: per public port (and its service), connections spliced, refused, and open now. */
  prometheus(): string {
    const rows = this.stats();
    if (rows.length === 0) return '';
    const label = (r: TcpProxyStats) => `{public_port="${r.publicPort}",service_id="${r.serviceId}"}`;
    return [
      '# HELP pier_tcp_proxy_connections_total Connections the TCP proxy spliced to an instance.',
      '# TYPE pier_tcp_proxy_connections_total counter',
      ...rows.map((r) => `pier_tcp_proxy_connections_total${label(r)} ${r.accepted}`),
      '# HELP pier_tcp_proxy_refused_total Connections closed at once: no instance, or every instance refused.',
      '# TYPE pier_tcp_proxy_refused_total counter',
      ...rows.map((r) => `pier_tcp_proxy_refused_total${label(r)} ${r.refused}`),
      '# HELP pier_tcp_proxy_open_connections Connections open now.',
      '# TYPE pier_tcp_proxy_open_connections gauge',
      ...rows.map((r) => `pier_tcp_proxy_open_connections${label(r)} ${r.open}`),
    ].join('\n') + '\n';
  }

  /** Closes every listener and connection. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retry !== null) clearTimeout(this.retry);
    const servers = [...this.listeners.values()].map((l) => l.server);
    this.listeners.clear();
    for (const s of this.sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private countOf(port: number): { accepted: number; refused: number; open: number } {
    let c = this.counts.get(port);
    if (!c) this.counts.set(port, c = { accepted: 0, refused: 0, open: 0 });
    return c;
  }

  private accept(l: Listener, client: Socket): void {
    const port = l.entry.publicPort;
    const count = this.countOf(port);
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    // Each instance tried at most once: the edge's own region first (a regional edge), then fewest open connections.
    const own = this.opts.region;
    const far = (u: Upstream) => (own !== undefined && u.region !== own ? 1 : 0);
    const order = [...l.entry.upstreams].sort((a, b) => far(a) - far(b) || (this.perInstance.get(a.instanceId) ?? 0) - (this.perInstance.get(b.instanceId) ?? 0));
    const next = (): void => {
      const up = order.shift();
      if (!up || client.destroyed) {
        count.refused++;
        client.destroy();
        return;
      }
      this.splice(client, up, count, next);
    };
    client.pause();
    next();
  }

  /** Connects to `up` and splices it with the client; on a refused connect calls `retry` instead. */
  private splice(client: Socket, up: Upstream, count: { accepted: number; open: number }, retry: () => void): void {
    const server = connect({ host: up.host, port: up.port, allowHalfOpen: true, noDelay: true });
    let connected = false;
    server.once('connect', () => {
      connected = true;
      count.accepted++;
      count.open++;
      this.perInstance.set(up.instanceId, (this.perInstance.get(up.instanceId) ?? 0) + 1);
      this.sockets.add(server);
      client.pipe(server);
      server.pipe(client);
      client.resume();
    });
    server.on('error', () => {
      if (!connected) { server.destroy(); retry(); return; }
      server.destroy();
      client.destroy();
    });
    client.on('close', () => server.destroy());
    server.on('close', (hadError) => {
      if (!connected) return;
      this.sockets.delete(server);
      count.open--;
      const n = (this.perInstance.get(up.instanceId) ?? 1) - 1;
      if (n > 0) this.perInstance.set(up.instanceId, n);
      else this.perInstance.delete(up.instanceId);
      // An orderly end reached the client through pipe() (after the bytes before it); a reset takes it down now.
      if (hadError) client.destroy();
    });
  }
}

// The TCP proxy: Koyeb's `proxy_ports`. The leader runs one beside its edge, and each regional edge (`pier edge`) its
// own, preferring its region's instances. Each service port a definition lists there gets a public port on the edge's
// host (given at deploy time, src/store/proxy-ports.ts); connections to it are spliced to one of the service's HEALTHY
// instances on that port, bytes both ways, nothing parsed. Driven by the same route table as the HTTP edge
// (AppRoutes.tcpProxies): a listener per public port while some app's table names it. A connection goes to the
// instance with the fewest open connections; one that refuses is skipped for the next (each tried once); with none
// left, or none at all (sleeping, starting, deleted), the client's connection is closed at once. Closing a listener
// (the port left the table) leaves its open connections be: they end when either side ends them, the instance stops,
// or no byte passed either way for the idle timeout.
// Every connection costs the process two file descriptors, and the proxy shares its process with the edge and the
// control plane: connections are capped per public port and in all (past a cap a new one is closed at once), so
// one tenant's port (or a flood at it) cannot take the descriptors everyone else needs.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { connectionBudget } from './fd-limit.ts';
import type { AppRoutes, TcpProxyEntry, Upstream } from './types.ts';

/** What a TcpProxy needs. */
export interface TcpProxyOptions {
  /** The address the public ports listen on (the edge's host). */
  host: string;
  /** A listener that could not be opened (its port in use), once per failure; retried with the next table. */
  onError?: (message: string) => void;
  /** A regional edge's region: its instances are tried first (then the fewest connections decides). */
  region?: string;
  /** Limits (defaults: TCP_PROXY_DEFAULTS; the whole-proxy cap from the process's open-file limit). */
  limits?: Partial<TcpProxyLimits>;
}

/** How many connections the proxy holds and for how long an idle one is kept. */
export interface TcpProxyLimits {
  /** A connection with no byte either way for this long is closed (ms; 0 = never). */
  idleTimeoutMs: number;
  /** Connections being opened or open at once on one public port. */
  maxConnectionsPerPort: number;
  /** Connections being opened or open at once on all public ports together (default: `connectionBudget()`). */
  maxConnections: number;
}

/** The defaults: an hour's idle time, 1,000 connections per public port. */
export const TCP_PROXY_DEFAULTS = { idleTimeoutMs: 3_600_000, maxConnectionsPerPort: 1000 } as const;

/** Time allowed for an instance to accept a connection before the next one is tried. */
const CONNECT_TIMEOUT_MS = 2000;

interface Listener { server: Server; entry: TcpProxyEntry; open: boolean }

/** How soon a listener that could not be opened is tried again. */
const RETRY_MS = 5000;

/**
 * Counters for metrics, per public port: connections spliced, refused for want of an instance, closed at once past a
 * connection cap, closed after the idle timeout, and open now.
 */
export interface TcpProxyStats { publicPort: number; serviceId: string; accepted: number; refused: number; limited: number; idleClosed: number; open: number }

interface PortCounts { accepted: number; refused: number; limited: number; idleClosed: number; open: number; active: number }

export class TcpProxy {
  private readonly listeners = new Map<number, Listener>();
  private readonly sockets = new Set<Socket>();
  /** Open connections per instance (least-connections choice). */
  private readonly perInstance = new Map<string, number>();
  /** When a connection to each instance last opened or closed (epoch ms): activity for the idle rule. */
  private readonly lastAt = new Map<string, number>();
  private readonly counts = new Map<number, PortCounts>();
  /** Connections being opened or open, on every port. */
  private active = 0;
  private readonly limits: TcpProxyLimits;
  private closed = false;
  /** A retry of the last table while a listener could not be opened (an unchanged table is not sent again). */
  private retry: NodeJS.Timeout | null = null;

  constructor(private readonly opts: TcpProxyOptions) {
    this.limits = {
      idleTimeoutMs: opts.limits?.idleTimeoutMs ?? TCP_PROXY_DEFAULTS.idleTimeoutMs,
      maxConnectionsPerPort: opts.limits?.maxConnectionsPerPort ?? TCP_PROXY_DEFAULTS.maxConnectionsPerPort,
      maxConnections: opts.limits?.maxConnections ?? connectionBudget(),
    };
  }

  /** Takes a route table: opens the listeners of new public ports, closes those no app names any more. */
  async setRoutes(apps: AppRoutes[]): Promise<void> {
    if (this.closed) return;
    if (this.retry !== null) { clearTimeout(this.retry); this.retry = null; }
    const wanted = new Map<number, TcpProxyEntry>();
    for (const a of apps) for (const e of a.tcpProxies ?? []) wanted.set(e.publicPort, e);
    // Activity of instances no table names any more, with nothing open, is nobody's to read.
    const named = new Set([...wanted.values()].flatMap((e) => e.upstreams.map((u) => u.instanceId)));
    for (const id of this.lastAt.keys()) if (!named.has(id) && !this.perInstance.has(id)) this.lastAt.delete(id);
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

  /**
   * Per instance that had a connection: how many are open and when one last opened or closed (epoch ms). The
   * control plane counts these as activity, so a min-0 service does not sleep under its open connections.
   */
  activity(): Record<string, { open: number; lastAt: number }> {
    const out: Record<string, { open: number; lastAt: number }> = {};
    for (const [id, at] of this.lastAt) out[id] = { open: this.perInstance.get(id) ?? 0, lastAt: at };
    return out;
  }

  /** The public ports listening now. */
  ports(): number[] {
    return [...this.listeners].filter(([, l]) => l.open).map(([p]) => p).sort((a, b) => a - b);
  }

  stats(): TcpProxyStats[] {
    return [...this.listeners].map(([publicPort, l]) => {
      const { active: _, ...c } = this.countOf(publicPort);
      return { publicPort, serviceId: l.entry.serviceId, ...c };
    });
  }

  /** Prometheus text: per public port (and its service), the counters of TcpProxyStats. */
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
      '# HELP pier_tcp_proxy_limited_total Connections closed at once: the public port or the proxy at its connection cap.',
      '# TYPE pier_tcp_proxy_limited_total counter',
      ...rows.map((r) => `pier_tcp_proxy_limited_total${label(r)} ${r.limited}`),
      '# HELP pier_tcp_proxy_idle_closed_total Connections closed after the idle timeout (no byte either way).',
      '# TYPE pier_tcp_proxy_idle_closed_total counter',
      ...rows.map((r) => `pier_tcp_proxy_idle_closed_total${label(r)} ${r.idleClosed}`),
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

  private countOf(port: number): PortCounts {
    let c = this.counts.get(port);
    if (!c) this.counts.set(port, c = { accepted: 0, refused: 0, limited: 0, idleClosed: 0, open: 0, active: 0 });
    return c;
  }

  private accept(l: Listener, client: Socket): void {
    const port = l.entry.publicPort;
    const count = this.countOf(port);
    client.on('error', () => client.destroy());
    if (count.active >= this.limits.maxConnectionsPerPort || this.active >= this.limits.maxConnections) {
      count.limited++;
      client.destroy();
      return;
    }
    count.active++;
    this.active++;
    this.sockets.add(client);
    client.on('close', () => {
      this.sockets.delete(client);
      count.active--;
      this.active--;
    });
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
  private splice(client: Socket, up: Upstream, count: PortCounts, retry: () => void): void {
    const server = connect({ host: up.host, port: up.port, allowHalfOpen: true, noDelay: true });
    let connected = false;
    let gaveUp = false;
    const next = () => { if (gaveUp) return; gaveUp = true; server.destroy(); retry(); };
    // An instance that neither accepts nor refuses (a full backlog, a dropped SYN) is left for the next one.
    server.setTimeout(CONNECT_TIMEOUT_MS, () => { if (!connected) next(); });
    server.once('connect', () => {
      connected = true;
      server.setTimeout(0);
      if (this.limits.idleTimeoutMs > 0) {
        // Bytes either way pass through the client's socket (read from it, or written to it).
        client.setTimeout(this.limits.idleTimeoutMs, () => {
          count.idleClosed++;
          client.destroy();
          server.destroy();
        });
      }
      count.accepted++;
      count.open++;
      this.perInstance.set(up.instanceId, (this.perInstance.get(up.instanceId) ?? 0) + 1);
      this.lastAt.set(up.instanceId, Date.now());
      this.sockets.add(server);
      client.pipe(server);
      server.pipe(client);
      client.resume();
    });
    server.on('error', () => {
      if (!connected) { next(); return; }
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
      this.lastAt.set(up.instanceId, Date.now());
      // An orderly end reached the client through pipe() (after the bytes before it); a reset takes it down now.
      if (hadError) client.destroy();
    });
  }
}

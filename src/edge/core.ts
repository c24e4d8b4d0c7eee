// The edge inside one process: the HTTP server, the current routing table, the activator (requests held
// while a sleeping app wakes) and the counters. `createEdge` runs one of these, or one per worker process.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import { connectionBudget } from './fd-limit.ts';
import { interestingLengths, lastForwardedFor } from './headers.ts';
import { renderPrometheus } from './metrics.ts';
import { RegionMap } from './regions.ts';
import { ProxyRequest, type EdgeContext, type HeldRequest } from './request.ts';
import { EdgeState, type CompiledApp } from './route-table.ts';
import { CertificateTable, createTlsServer, httpsSuffix } from './tls.ts';
import type { AccessLogEntry, AcmeChallenges, AppRoutes, EdgeCertificate, EdgeMetrics, EdgeOptions } from './types.ts';
import { proxyUpgrade } from './upgrade.ts';

const kRegion = Symbol('pier.region');

/** The readiness path every edge answers itself, whatever the host. */
export const READY_PATH = '/_pier/ready';

/** Options of one in-process edge (EdgeOptions minus process layout). */
export type CoreOptions = Omit<EdgeOptions, 'addr' | 'workers'>;

/** One process's edge: owns a server (or serves one it is handed) and the routing state. */
export class EdgeCore implements EdgeContext {
  hosts = new Map<string, CompiledApp>();
  readonly regionHeader: string;
  readonly headerLengths: Uint8Array;
  readonly maxTries: number;
  readonly trustForwarded: boolean;
  private readonly behindProxy: boolean;
  readonly accessLog: ((e: AccessLogEntry) => void) | undefined;
  readonly server: Server;
  /** The HTTPS server when `tlsAddr` is set; whoever owns the process layout makes it listen. */
  readonly tlsServer: Http2SecureServer | null = null;
  readonly certificates = new CertificateTable();
  acme = new Map<string, string>();
  httpsSuffix: string | null = null;
  private readonly destroyTlsSockets: () => void = () => undefined;
  private readonly onCertificateError: (names: string[], message: string) => void;
  private readonly state: EdgeState;
  private readonly regions: RegionMap;
  private readonly defaultRegion: string;
  private domain: string;
  private readonly holdQueueSize: number;
  private readonly holdTimeoutMs: number;
  private readonly onWake: ((appId: string) => Promise<void>) | undefined;
  private readonly onLoad: ((serviceId: string) => void) | undefined;
  private readonly heldByApp = new Map<string, Set<HeldRequest>>();
  private readonly waking = new Set<string>();
  private readonly idPrefix = randomBytes(6).toString('hex');
  private idCounter = 0;
  /** Connections closed at once by a listener at its cap (Node's 'drop'): counted, never logged per connection. */
  private dropped = 0;
  private closed = false;
  /** Whether a route table arrived (always true unless `requireRoutes`). */
  private hasTable: boolean;

  constructor(opts: CoreOptions) {
    this.domain = opts.domain.toLowerCase();
    this.regionHeader = (opts.regionHeader ?? 'x-pier-region').toLowerCase();
    this.headerLengths = interestingLengths([this.regionHeader]);
    this.regions = new RegionMap(opts.regionMap);
    this.defaultRegion = opts.region ?? 'local';
    this.maxTries = Math.max(1, opts.maxTries ?? 3);
    this.trustForwarded = opts.trustForwarded ?? false;
    this.behindProxy = opts.clientFromForwardedFor ?? false;
    this.accessLog = opts.accessLog;
    this.onWake = opts.onWake;
    this.onLoad = opts.onLoad;
    this.holdQueueSize = opts.holdQueueSize ?? 1000;
    this.holdTimeoutMs = opts.holdTimeoutMs ?? 30_000;
    this.hasTable = !opts.requireRoutes;
    this.state = new EdgeState({ connectTimeoutMs: opts.connectTimeoutMs ?? 2000, responseTimeoutMs: opts.responseTimeoutMs ?? 300_000 });
    this.server = createServer({
      keepAliveTimeout: 30_000,
      // Uploads and downloads may be long; only the header phase is bounded here.
      requestTimeout: 0,
      headersTimeout: 60_000,
    });
    const maxConnections = opts.maxConnections ?? connectionBudget();
    this.server.maxConnections = maxConnections;
    this.server.on('drop', () => { this.dropped++; });
    this.server.on('request', (req, res) => { if (!this.answeredReadiness(req, res)) new ProxyRequest(this, req, res).start(); });
    this.server.on('upgrade', (req, socket: Socket, head) => {
      if (this.hasTable) proxyUpgrade(this, req, socket, head);
      else socket.end('HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    });
    this.server.on('clientError', (_err, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
    this.onCertificateError = opts.onCertificateError
      ?? ((names, message) => process.emitWarning(`certificate for ${names.join(', ')} not loaded: ${message}`, 'PierEdgeTls'));
    if (opts.tlsAddr !== undefined) {
      const tls = createTlsServer(this.certificates, opts.http2IdleTimeoutMs);
      this.tlsServer = tls.server;
      tls.server.maxConnections = maxConnections;
      tls.server.on('drop', () => { this.dropped++; });
      this.destroyTlsSockets = tls.destroyAll;
      // HTTP/2 requests come as Http2ServerRequest/Response: the compat API covers everything ProxyRequest uses
      // (rawHeaders with pseudo-headers, writeHead with a flat array, write/drain, close).
      tls.server.on('request', (req, res) => {
        if (!this.answeredReadiness(req as unknown as IncomingMessage, res as unknown as ServerResponse)) {
          new ProxyRequest(this, req as unknown as IncomingMessage, res as unknown as ServerResponse).start();
        }
      });
      tls.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => proxyUpgrade(this, req, socket, head));
    }
  }

  /** Replace the certificates new TLS handshakes may get. */
  setCertificates(certs: EdgeCertificate[]): void {
    this.certificates.replace(certs, this.onCertificateError);
  }

  /** Replace the ACME HTTP-01 answers. */
  setAcmeChallenges(c: AcmeChallenges): void {
    this.acme = new Map(Object.entries(c));
  }

  /** The TLS listener's port, once bound: plain-HTTP redirects point there. */
  setTlsPort(port: number): void {
    this.httpsSuffix = httpsSuffix(port);
  }

  /**
   * `/_pier/ready` (any host) for load balancers: 200 once a route table is held, else 503. Before the first table
   * every other request is a 503 with Retry-After too. Returns whether the request was answered here.
   */
  private answeredReadiness(req: IncomingMessage, res: ServerResponse): boolean {
    const ready = req.url === READY_PATH || req.url?.startsWith(READY_PATH + '?');
    if (!ready && this.hasTable) return false;
    const status = this.hasTable ? 200 : 503;
    const body = JSON.stringify(this.hasTable ? { ready: true } : { ready: false, code: 'unavailable', message: 'no route table yet' }) + '\n';
    res.writeHead(status, {
      'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store',
      ...(this.hasTable ? {} : { 'retry-after': '1', 'x-pier-edge': 'unavailable' }),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  /** Replace the routing table, then let held requests of apps that now have upstreams through. */
  setRoutes(apps: AppRoutes[], domain?: string): void {
    this.hasTable = true;
    if (domain) this.domain = domain.toLowerCase();
    this.hosts = this.state.compile(apps, this.domain);
    const byId = new Map(apps.map((a) => [a.appId, a]));
    for (const [appId, held] of this.heldByApp) {
      const def = byId.get(appId);
      const ready = !def || !def.sleeping || def.routes.some((r) => r.upstreams.length > 0);
      if (!ready) continue;
      this.heldByApp.delete(appId);
      this.waking.delete(appId);
      for (const h of held) {
        if (h.timer) clearTimeout(h.timer);
        h.timer = null;
        h.resume();
      }
    }
    for (const appId of this.waking) if (!byId.get(appId)?.sleeping) this.waking.delete(appId);
  }

  /** EdgeContext: region from the header when given, else from the client address (cached per connection; behind HAProxy from `xff`). */
  regionOf(req: IncomingMessage, header: string | undefined, xff: string | undefined): string {
    if (header !== undefined && header.length > 0 && header.length <= 64) return header;
    // Behind HAProxy one connection carries many clients: look up each request's own address (the x-forwarded-for
    // its caller already read from the request).
    if (this.behindProxy) return this.regions.lookup(lastForwardedFor(xff)) ?? this.defaultRegion;
    const sock = req.socket as Socket & { [kRegion]?: string };
    let r = sock[kRegion];
    if (r === undefined) sock[kRegion] = r = this.regions.lookup(sock.remoteAddress) ?? this.defaultRegion;
    return r;
  }

  /** EdgeContext: the x-forwarded-for to send on, given the request's own (`xff`, all its headers joined). */
  forwardedFor(req: IncomingMessage, xff: string | undefined): string {
    // Behind HAProxy its entry (the client's) is already the last one; HAProxy's loopback address is no hop to show.
    if (this.behindProxy && xff !== undefined) return xff;
    const remote = req.socket.remoteAddress ?? '';
    return xff === undefined ? remote : `${xff}, ${remote}`;
  }

  /** EdgeContext: unique, short, log-safe. */
  nextRequestId(): string {
    return `${this.idPrefix}${(this.idCounter++).toString(36)}`;
  }

  /** EdgeContext: hold a request for a sleeping app and ask for a wake-up once per sleep. */
  hold(app: CompiledApp, held: HeldRequest): boolean {
    if (this.closed) return false;
    const appId = app.def.appId;
    let set = this.heldByApp.get(appId);
    if (!set) this.heldByApp.set(appId, (set = new Set()));
    if (set.size >= this.holdQueueSize) return false;
    set.add(held);
    held.appId = appId;
    held.timer = setTimeout(() => {
      held.timer = null;
      this.unhold(held);
      held.fail(`waited ${this.holdTimeoutMs} ms`);
    }, this.holdTimeoutMs);
    if (!this.waking.has(appId)) {
      this.waking.add(appId);
      this.wake(appId);
    }
    return true;
  }

  /** EdgeContext: forget a held request (timed out or client gone). */
  unhold(held: HeldRequest): void {
    if (held.timer) clearTimeout(held.timer);
    held.timer = null;
    const set = this.heldByApp.get(held.appId);
    if (!set) return;
    set.delete(held);
    if (set.size === 0) {
      this.heldByApp.delete(held.appId);
      // Nobody waits any more: the next request asks for a wake-up again.
      this.waking.delete(held.appId);
    }
  }

  /** A route's load passed its loadWatch (load-watch.ts): tell the control plane; never throws into the request. */
  reportLoad(serviceId: string): void {
    try {
      this.onLoad?.(serviceId);
    } catch { /* a report is advice: the tick samples anyway */ }
  }

  /** Ask the control plane to wake an app; when that fails, the waiting requests get a 503 saying why. */
  protected wake(appId: string): void {
    if (!this.onWake) return;
    let p: Promise<void>;
    try {
      p = this.onWake(appId);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.catch((err: unknown) => this.wakeFailed(appId, err instanceof Error ? err.message : String(err)));
  }

  /** The wake-up failed: answer every request held for the app with a 503 that says why. */
  wakeFailed(appId: string, message: string): void {
    const set = this.heldByApp.get(appId);
    this.heldByApp.delete(appId);
    this.waking.delete(appId);
    for (const h of set ?? []) {
      if (h.timer) clearTimeout(h.timer);
      h.timer = null;
      h.fail(`wake-up failed: ${message}`);
    }
  }

  /** Resolve when the instance has nothing in flight, or after timeoutMs. */
  drain(instanceId: string, timeoutMs: number): Promise<void> {
    const t = this.state.instances.get(instanceId);
    if (!t || t.inFlight <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        t.waiters = t.waiters.filter((w) => w !== done);
        resolve();
      }, timeoutMs);
      t.waiters.push(done);
    });
  }

  /** Snapshot of every counter. */
  metrics(): EdgeMetrics {
    const out: EdgeMetrics = { instances: {}, routes: {}, apps: {} };
    for (const [id, t] of this.state.instances) out.instances[id] = t.snapshot();
    for (const [k, r] of this.state.routeTraffic) out.routes[k] = { ...r.traffic.snapshot(), appId: r.appId, serviceId: r.serviceId, path: r.path, appName: r.appName, serviceName: r.serviceName };
    for (const [id, t] of this.state.appTraffic) {
      out.apps[id] = {
        lastRequestAt: t.lastRequestAt ? new Date(t.lastRequestAt).toISOString() : null,
        held: this.heldByApp.get(id)?.size ?? 0,
        requests: t.requests,
      };
    }
    if (this.dropped) out.connectionsDropped = this.dropped;
    return out;
  }

  /**
   * A cheap fingerprint of what metrics() reports (sums of counters that only grow, in-flight and held requests, table
   * sizes): an unchanged fingerprint means an unchanged snapshot. Edge workers post their snapshot only when it moved,
   * so an idle edge costs nothing per route (issue #26: a full snapshot of 1,000 routes every 250 ms per worker).
   */
  activity(): string {
    let requests = 0; let inFlight = 0; let errors = 0; let last = 0; let held = 0;
    const add = (t: { requests: number; inFlight: number; connectErrors: number; lastRequestAt: number }) => {
      requests += t.requests; inFlight += t.inFlight; errors += t.connectErrors;
      if (t.lastRequestAt > last) last = t.lastRequestAt;
    };
    for (const t of this.state.instances.values()) add(t);
    for (const r of this.state.routeTraffic.values()) add(r.traffic);
    for (const t of this.state.appTraffic.values()) add(t);
    for (const h of this.heldByApp.values()) held += h.size;
    const sizes = `${this.state.instances.size}/${this.state.routeTraffic.size}/${this.state.appTraffic.size}`;
    return `${requests}/${inFlight}/${errors}/${last}/${held}/${sizes}/${this.dropped}`;
  }

  /** Prometheus text of this process's counters. */
  prometheus(): string {
    return renderPrometheus(this.metrics());
  }

  /** Stop: fail held requests, close the server and every upstream connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const set of this.heldByApp.values()) {
      for (const h of set) {
        if (h.timer) clearTimeout(h.timer);
        h.timer = null;
        h.fail('the edge is shutting down');
      }
    }
    this.heldByApp.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    const tls = this.tlsServer;
    const tlsClosed = tls === null || !tls.listening ? Promise.resolve() : new Promise<void>((resolve) => tls.close(() => resolve()));
    this.destroyTlsSockets();
    await Promise.all([...this.state.upstreams.values()].map((u) => u.destroy()));
    await closed;
    await tlsClosed;
  }
}

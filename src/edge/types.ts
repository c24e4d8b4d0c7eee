// What the control plane tells the edge: which hosts belong to which app, which routes the app's web
// services declare, and which healthy instances serve each route. The edge never reads the store itself.

/** One instance port that may receive traffic. */
export interface Upstream {
  /** Pier instance id. */
  instanceId: string;
  host: string;
  port: number;
  region: string;
  protocol: 'http' | 'http2';
}

/** One public route of a web service: a path prefix, stripped before forwarding. */
export interface RouteEntry {
  path: string;
  serviceId: string;
  serviceName: string;
  /** The service status, named in the 503 page when no upstream is healthy. */
  serviceStatus: string;
  port: number;
  upstreams: Upstream[];
  /**
   * Set when the service's autoscaling follows its requests (issue #23): per serving instance, the in-flight requests
   * and requests per second above which it wants more instances, and the most it may run. While the route serves
   * fewer than `max` and its load passes either, the edge calls `EdgeOptions.onLoad` (at most every
   * LOAD_REPORT_GAP_MS), so the control plane samples then instead of at its next tick.
   */
  loadWatch?: LoadWatch;
  /** Basic-auth users and API keys guarding the route (already interpolated). */
  basicAuths?: { username: string; password: string }[];
  apiKeys?: string[];
}

/** The load at which a route's service wants to be told at once (RouteEntry.loadWatch). */
export interface LoadWatch { max: number; inFlight?: number; perSecond?: number }

/** Everything the edge needs to serve one app. */
export interface AppRoutes {
  appId: string;
  appName: string;
  organizationId: string;
  /** Organization name used in the default host `<app>-<org>.<domain>`; the id is used when absent. */
  organizationName?: string;
  /** Host names that reach this app (`<app>-<org>.<domain>` and attached custom domains), lower-case, no port. */
  hosts: string[];
  routes: RouteEntry[];
  /** Set while the app's services sleep (scale-to-zero): the edge holds requests and calls this to wake them. */
  sleeping?: boolean;
  /** Plain-HTTP requests get 308 to the same URL on the TLS listener (when there is one); ACME paths never do. */
  httpsRedirect?: boolean;
  /** The TCP proxy ports of the app's services (tcp-proxy.ts); the HTTP edges ignore them. */
  tcpProxies?: TcpProxyEntry[];
}

/** A service's TCP proxy port: connections to `publicPort` on the edge's host go to `upstreams` (its port `port`). */
export interface TcpProxyEntry { publicPort: number; serviceId: string; serviceName: string; port: number; upstreams: Upstream[] }

/** A certificate the edge may present; names may hold one leading wildcard label (`*.pier.localhost`). */
export interface EdgeCertificate { names: string[]; certPem: string /* leaf first, then chain */; keyPem: string }
/** HTTP-01 answers: token -> key authorization, served at /.well-known/acme-challenge/<token> on plain HTTP. */
export type AcmeChallenges = Record<string, string>;

/** One line of the access log, handed to `EdgeOptions.accessLog` after the response ends. */
export interface AccessLogEntry {
  /** ISO time the request arrived. */
  time: string;
  host: string;
  method: string;
  path: string;
  status: number;
  duration_ms: number;
  /** Response body bytes sent to the client. */
  bytes: number;
  /** `host:port` of the instance that answered, or '' when the edge answered itself. */
  upstream: string;
  request_id: string;
  /** The client's region as the edge saw it. */
  region: string;
}

/** How to start an edge. */
export interface EdgeOptions {
  /** Listen address `host:port`; port 0 picks a free one. */
  addr: string;
  /** Apps get `<app>-<org>.<domain>`. */
  domain: string;
  /** Request header that names the client's region (default `x-pier-region`). */
  regionHeader?: string;
  /** Client address ranges mapped to regions, tried after the header, first match wins (`pier edge --region-map`). */
  regionMap?: { cidr: string; region: string }[];
  /** The edge's own region, used when neither header nor map names one (default `local`). */
  region?: string;
  /** Worker processes sharing the listen socket (default 1: serve in this process). */
  workers?: number;
  /**
   * With workers: how new connections are spread. `kernel` (default): workers accept for themselves, so the data
   * plane never waits on this process's event loop, but a burst can split unevenly. `round-robin`: this process
   * accepts and hands each connection to the next free worker, keeping keep-alive load even; measured with Node 20,
   * its workers then do not hold to `maxConnections` (every connection is served; src/edge/connection-cap.test.ts
   * tests the cap on `kernel`). Programmatic only: no setting chooses it.
   */
  balance?: 'round-robin' | 'kernel';
  /** Called once per finished request; keep it cheap, it runs on the hot path. */
  accessLog?: (entry: AccessLogEntry) => void;
  /** Called once when a request arrives for a sleeping app; upstreams arrive later through `setRoutes`. */
  onWake?: (appId: string) => Promise<void>;
  /**
   * Until the first `setRoutes`, answer every request 503 "no route table yet" with Retry-After (never a 404 from an
   * empty table), and `/_pier/ready` 503; from then on `/_pier/ready` answers 200. A new leader's edge and a regional
   * edge bind before their first table and must not send a balancer's traffic into a window of 404s.
   */
  requireRoutes?: boolean;
  /**
   * Called with a service id when a route with `loadWatch` carries more than its serving instances' worth of load
   * (at most once per LOAD_REPORT_GAP_MS per route); the control plane samples its counters at once.
   */
  onLoad?: (serviceId: string) => void;
  /** Requests held per sleeping app at most (default 1000); more get 503. */
  holdQueueSize?: number;
  /** How long a held request waits for the app to wake (default 30 s). */
  holdTimeoutMs?: number;
  /** Attempts per request when upstreams refuse connections (default 3). */
  maxTries?: number;
  /** Upstream connect timeout (default 2 s). */
  connectTimeoutMs?: number;
  /** Time allowed for an upstream's response headers (default 300 s). */
  responseTimeoutMs?: number;
  /** An HTTP/2 connection with no open stream is closed after this long without traffic (default 30 s, as HTTP/1.1 keep-alive). */
  http2IdleTimeoutMs?: number;
  /** Trust incoming x-forwarded-proto / x-forwarded-host (set when a TLS terminator sits in front). */
  trustForwarded?: boolean;
  /**
   * The edge listens on loopback behind Pier's HAProxy data plane (set by createHaproxyEdge, not an operator option):
   * the client is the last x-forwarded-for entry, the one HAProxy appended, not the socket's peer (HAProxy, which
   * also reuses one connection for many clients). It decides the client's region (regionMap) and is not appended
   * to x-forwarded-for again.
   */
  clientFromForwardedFor?: boolean;
  /**
   * Client connections each listener (HTTP, HTTPS) of a process holds at once; past it a new one is closed at once
   * (default: `connectionBudget()`, a quarter of the open-file limit), so a flood of idle connections cannot take
   * the descriptors the control plane in the same process needs.
   */
  maxConnections?: number;
  /** HTTPS listen address `host:port` (HTTP/2 and HTTP/1.1 by ALPN, certificates by SNI); absent = no TLS listener. */
  tlsAddr?: string;
  /** Called when `setCertificates` gets a certificate it cannot load (bad PEM, key not matching); default: a process warning. */
  onCertificateError?: (names: string[], message: string) => void;
}

/** Latency summary (milliseconds) estimated from a histogram. */
export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
}

/** Counters shared by routes and instances. */
export interface TrafficMetrics {
  inFlight: number;
  requests: number;
  /** Requests by status class: `1xx` .. `5xx`. */
  byStatus: Record<string, number>;
  bytes: number;
  latencyMs: LatencySummary;
  /** Histogram bucket upper bounds in ms (last is +Inf) and cumulative-free counts per bucket. */
  buckets: { le: number[]; counts: number[] };
  /** Sum of all observed latencies in ms (for Prometheus `_sum`). */
  sumMs: number;
  /** Connections refused or timed out (instances; 0 for routes). */
  connectErrors: number;
  /** ISO time of the last request, or null. */
  lastRequestAt: string | null;
}

/** Per-route traffic, labelled for the autoscaler and Prometheus. */
export interface RouteMetrics extends TrafficMetrics {
  appId: string;
  serviceId: string;
  path: string;
  /** The app's and service's names at the last route push (labels beside the ids in /metrics). */
  appName?: string;
  serviceName?: string;
}

/** What `Edge.metrics()` returns: keyed by instance id, by `appId serviceId path` and by app id. */
export interface EdgeMetrics {
  instances: Record<string, TrafficMetrics>;
  routes: Record<string, RouteMetrics>;
  apps: Record<string, { lastRequestAt: string | null; held: number; requests: number }>;
  /**
   * The TCP proxy's connections per instance (added beside the edge's counters where a TCP proxy runs): open now,
   * and when one last opened or closed (epoch ms). Activity for the idle rule, as requests are.
   */
  tcp?: Record<string, { open: number; lastAt: number }>;
  /** Client connections closed at once because a listener was at its cap (EdgeOptions.maxConnections); summed over workers. */
  connectionsDropped?: number;
}

/** A running edge. */
export interface Edge {
  /** `http://host:port` the edge listens on. */
  url: string;
  /** `https://host:port` of the TLS listener, when `tlsAddr` was given. */
  tlsUrl?: string;
  /** Replace every certificate the TLS listener may present; new handshakes use the new set at once. */
  setCertificates(certs: EdgeCertificate[]): void;
  /** Replace the ACME HTTP-01 answers the edge serves (for any host, before routing, never redirected). */
  setAcmeChallenges(c: AcmeChallenges): void;
  /**
   * Replace the whole routing table; removed upstreams get no new requests. `domain` replaces the platform domain
   * the app hosts are under (a regional edge learns it from its first table, after it binds).
   */
  setRoutes(apps: AppRoutes[], domain?: string): void;
  /** Resolve when the instance has no request in flight, or after `timeoutMs`. */
  drain(instanceId: string, timeoutMs: number): Promise<void>;
  /** Traffic counters for the autoscaler (with workers: as of their last report, at most ~250 ms old). */
  metrics(): EdgeMetrics;
  /** Ask worker processes for fresh counters now (a no-op with one process). */
  refreshMetrics?(): Promise<void>;
  /** The same counters in Prometheus text format. */
  prometheus(): string;
  /** Stop listening, close upstream connections, fail held requests. */
  close(): Promise<void>;
}

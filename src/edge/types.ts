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
  /** Basic-auth users and API keys guarding the route (already interpolated). */
  basicAuths?: { username: string; password: string }[];
  apiKeys?: string[];
}

/** Everything the edge needs to serve one app. */
export interface AppRoutes {
  appId: string;
  appName: string;
  organizationId: string;
  /** Host names that reach this app (`<app>-<org>.<domain>` and attached custom domains), lower-case, no port. */
  hosts: string[];
  routes: RouteEntry[];
  /** Set while the app's services sleep (scale-to-zero): the edge holds requests and calls this to wake them. */
  sleeping?: boolean;
}

// The routing table as the hot path wants it: one Map lookup by host, then a scan of the app's routes,
// longest prefix first. Everything per-route (policy, upstream lists per region, counters) is precomputed
// here, when `setRoutes` runs, not per request.
import { LoadMeter } from './load-watch.ts';
import { Traffic } from './metrics.ts';
import { compilePolicy, type AccessPolicy } from './security.ts';
import type { AppRoutes, RouteEntry } from './types.ts';
import { InstanceTraffic, UpstreamState, type PoolSettings } from './upstream.ts';

/** One app as routed. */
export interface CompiledApp {
  readonly def: AppRoutes;
  readonly traffic: Traffic;
  /** Longest prefix first. */
  readonly routes: CompiledRoute[];
}

/** One route as routed. */
export interface CompiledRoute {
  readonly app: CompiledApp;
  readonly entry: RouteEntry;
  /** Normalised prefix: leading '/', no trailing '/' except the root itself. */
  readonly prefix: string;
  readonly policy: AccessPolicy | null;
  readonly traffic: Traffic;
  /** Arrivals counted for the entry's loadWatch (load-watch.ts); survives table updates. */
  readonly load: LoadMeter;
  readonly upstreams: UpstreamState[];
  readonly byRegion: Map<string, UpstreamState[]>;
  /** Metrics key: `appId serviceId path`. */
  readonly key: string;
}

/** Result of matching a request path. */
export interface RouteMatch {
  route: CompiledRoute;
  /** Path and query to send upstream (prefix stripped). */
  forwardPath: string;
}

/** Normalise a route prefix: `/api/` → `/api`, `` → `/`. */
export function normalizePrefix(p: string): string {
  let s = p.startsWith('/') ? p : '/' + p;
  while (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/** Host header → lookup key: lower-case, port and trailing dot removed. */
export function hostKey(h: string | undefined): string {
  if (!h) return '';
  let end = h.length;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const i = h.indexOf(']');
    if (i > 0) end = i + 1;
  } else {
    const i = h.indexOf(':');
    if (i >= 0) end = i;
  }
  if (end > 0 && h.charCodeAt(end - 1) === 46 /* . */) end--;
  return (end === h.length ? h : h.slice(0, end)).toLowerCase();
}

/** Longest segment-aware prefix match (`/api` matches `/api`, `/api/x`, `/api?q`, never `/apix`). */
export function matchRoute(app: CompiledApp, url: string): RouteMatch | null {
  const q = url.indexOf('?');
  const pathLen = q < 0 ? url.length : q;
  for (const route of app.routes) {
    const p = route.prefix;
    if (p.length === 1) return { route, forwardPath: url };
    if (pathLen < p.length || !url.startsWith(p)) continue;
    if (pathLen === p.length) return { route, forwardPath: '/' + url.slice(p.length) };
    if (url.charCodeAt(p.length) === 47 /* / */) return { route, forwardPath: url.slice(p.length) };
  }
  return null;
}

/** Long-lived state that must survive routing updates: upstream pools, ejections and counters. */
export class EdgeState {
  readonly upstreams = new Map<string, UpstreamState>();
  readonly instances = new Map<string, InstanceTraffic>();
  readonly routeTraffic = new Map<string, { traffic: Traffic; load: LoadMeter; appId: string; serviceId: string; path: string; appName: string; serviceName: string }>();
  readonly appTraffic = new Map<string, Traffic>();

  constructor(private readonly settings: PoolSettings) {}

  /** Counters of an instance, created on first sight. */
  instance(id: string): InstanceTraffic {
    let t = this.instances.get(id);
    if (!t) this.instances.set(id, (t = new InstanceTraffic()));
    return t;
  }

  /**
   * Build a new host table from the control plane's view. Upstreams no longer listed are retired: they get no
   * new requests and close their connections once their in-flight requests finish.
   */
  compile(apps: AppRoutes[], domain: string): Map<string, CompiledApp> {
    const hosts = new Map<string, CompiledApp>();
    const seenUpstreams = new Set<string>();
    const seenRoutes = new Set<string>();
    const seenApps = new Set<string>();
    for (const def of apps) {
      let appTraffic = this.appTraffic.get(def.appId);
      if (!appTraffic) this.appTraffic.set(def.appId, (appTraffic = new Traffic()));
      seenApps.add(def.appId);
      const routes: CompiledRoute[] = [];
      const app: CompiledApp = { def, traffic: appTraffic, routes };
      for (const entry of def.routes) {
        const prefix = normalizePrefix(entry.path);
        const key = `${def.appId} ${entry.serviceId} ${prefix}`;
        seenRoutes.add(key);
        let rt = this.routeTraffic.get(key);
        if (!rt) this.routeTraffic.set(key, (rt = { traffic: new Traffic(), load: new LoadMeter(), appId: def.appId, serviceId: entry.serviceId, path: prefix, appName: '', serviceName: '' }));
        // Names label /metrics beside the ids; a rename shows from the next route push on.
        rt.appName = def.appName;
        rt.serviceName = entry.serviceName;
        const upstreams: UpstreamState[] = [];
        const byRegion = new Map<string, UpstreamState[]>();
        for (const up of entry.upstreams) {
          const k = UpstreamState.keyOf(up);
          seenUpstreams.add(k);
          let st = this.upstreams.get(k);
          if (!st) this.upstreams.set(k, (st = new UpstreamState(up, this.instance(up.instanceId), this.settings)));
          if (upstreams.includes(st)) continue;
          upstreams.push(st);
          const list = byRegion.get(up.region);
          if (list) list.push(st);
          else byRegion.set(up.region, [st]);
        }
        routes.push({ app, entry, prefix, policy: compilePolicy(entry, def.appName), traffic: rt.traffic, load: rt.load, upstreams, byRegion, key });
      }
      routes.sort((a, b) => b.prefix.length - a.prefix.length);
      const names = new Set(def.hosts.map(hostKey));
      names.add(hostKey(`${def.appName}-${def.organizationName ?? def.organizationId}.${domain}`));
      for (const h of names) if (h) hosts.set(h, app);
    }
    for (const [k, st] of this.upstreams) {
      if (seenUpstreams.has(k)) continue;
      this.upstreams.delete(k);
      st.retire();
    }
    // Forget counters nobody routes to any more, once nothing is in flight there.
    for (const [k, rt] of this.routeTraffic) if (!seenRoutes.has(k) && rt.traffic.inFlight === 0) this.routeTraffic.delete(k);
    for (const k of this.appTraffic.keys()) if (!seenApps.has(k)) this.appTraffic.delete(k);
    const liveInstances = new Set([...this.upstreams.values()].map((u) => u.up.instanceId));
    for (const [id, t] of this.instances) if (!liveInstances.has(id) && t.inFlight === 0) this.instances.delete(id);
    return hosts;
  }
}

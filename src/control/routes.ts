// What the edge is told: per app, its hosts and each web service's routes from its ACTIVE deployment (or, before the
// first one is promoted, from the first deployment), with upstreams = the HEALTHY instances of that deployment (and of
// a ROLLING one replacing it) on the route's port. Pure given the rows it is handed.
import { loadWatchOf } from '../autoscale/index.ts';
import { CANCELABLE_DEPLOYMENT_STATUSES } from '../domain/status.ts';
import type { App, Deployment, DeploymentStatus, Instance, Organization, Service } from '../domain/types.ts';
import type { Endpoint } from '../runtime/contract.ts';
import type { AppRoutes, RouteEntry, TcpProxyEntry, Upstream } from '../edge/types.ts';
import type { ControlState } from './ports.ts';

/** The rows the route table is computed from. */
export interface RouteInput {
  domain: string;
  apps: App[];
  organizations: Map<string, Organization>;
  services: Service[];
  /** Active deployment of each service, by service id. */
  active: Map<string, Deployment>;
  /**
   * The first deployment of a service that has no active one yet (building or starting), by service id: its routes
   * are published before it is promoted, so a request meanwhile hears the service is starting (503, or held while
   * its instances start) instead of "no route", and its first HEALTHY instance serves as soon as the table says so.
   */
  first?: Map<string, Deployment>;
  /** A ROLLING deployment replacing the active one, by service id: its healthy instances serve alongside. */
  upcoming?: Map<string, Deployment>;
  /** Live instances, by deployment id (instance.xyz_deployment_id). */
  instances: Map<string, Instance[]>;
  /** Where each instance's ports are published (known only to the controller). */
  endpoints: (instanceId: string) => Endpoint[] | undefined;
}

/** The hosts of an app: `<app>-<org>.<domain>` plus its verified custom domains, lower-case. */
export function appHosts(app: App, org: Organization | undefined, domain: string): string[] {
  const hosts = [`${app.name}-${org?.name ?? 'pier'}.${domain}`];
  // An unverified claim is never routed: anyone may claim a name, only its owner's DNS proves it (src/certs).
  for (const d of app.domains ?? []) if (d.type === 'CUSTOM' && d.name && d.verified_at) hosts.push(d.name);
  return [...new Set(hosts.map((h) => h.toLowerCase()))];
}

/** Computes every app's routes; stable order (apps by name, routes longest path first) so equal inputs compare equal. */
export function computeRoutes(input: RouteInput): AppRoutes[] {
  const out: AppRoutes[] = [];
  for (const app of [...input.apps].sort((a, b) => a.name.localeCompare(b.name))) {
    if (app.status === 'DELETED' || app.status === 'DELETING') continue;
    const routes: RouteEntry[] = [];
    for (const svc of input.services) {
      if (svc.app_id !== app.id || svc.type !== 'WEB' || svc.status === 'DELETED') continue;
      const dep = input.active.get(svc.id) ?? input.first?.get(svc.id);
      if (!dep) continue;
      const def = dep.definition;
      const healthy = healthyOf(input, svc.id, dep);
      for (const r of def.routes ?? []) {
        const protocol = def.ports?.find((p) => p.port === r.port)?.protocol === 'http2' ? 'http2' : 'http';
        const upstreams = upstreamsOn(input, healthy, r.port, protocol);
        const entry: RouteEntry = { path: r.path, serviceId: svc.id, serviceName: svc.name, serviceStatus: svc.status, port: r.port, upstreams };
        const watch = loadWatchOf(def.scalings ?? []);
        if (watch) entry.loadWatch = watch;
        const sp = r.security_policies;
        if (sp?.basic_auths?.length) entry.basicAuths = sp.basic_auths.map((b) => ({ username: b.username, password: b.password }));
        if (sp?.api_keys?.length) entry.apiKeys = [...sp.api_keys];
        routes.push(entry);
      }
    }
    routes.sort((a, b) => b.path.length - a.path.length || a.path.localeCompare(b.path));
    const entry: AppRoutes = { appId: app.id, appName: app.name, organizationId: app.organization_id, hosts: appHosts(app, input.organizations.get(app.organization_id), input.domain), routes };
    const tcp = tcpProxiesOf(input, app.id);
    if (tcp.length) entry.tcpProxies = tcp;
    if (isSleeping(input, app.id)) entry.sleeping = true;
    if (app.pier?.https_redirect) entry.httpsRedirect = true;
    out.push(entry);
  }
  return out;
}

/**
 * The TCP proxy ports of the app's services: each public port the serving deployment holds (its metadata.proxy_ports,
 * given at deploy time), with the HEALTHY instances of that deployment (and of a ROLLING one replacing it) on the
 * port. Ordered by public port.
 */
function tcpProxiesOf(input: RouteInput, appId: string): TcpProxyEntry[] {
  const out: TcpProxyEntry[] = [];
  for (const svc of input.services) {
    if (svc.app_id !== appId || svc.type !== 'WEB' || svc.status === 'DELETED' || svc.status === 'DELETING') continue;
    const dep = input.active.get(svc.id);
    if (!dep?.metadata?.proxy_ports?.length) continue;
    const healthy = healthyOf(input, svc.id, dep);
    for (const pp of dep.metadata.proxy_ports) {
      out.push({ publicPort: pp.public_port, serviceId: svc.id, serviceName: svc.name, port: pp.port, upstreams: upstreamsOn(input, healthy, pp.port, 'http') });
    }
  }
  return out.sort((a, b) => a.publicPort - b.publicPort);
}

/** The HEALTHY instances serving a service: its deployment `dep`'s and those of a ROLLING one replacing it. */
function healthyOf(input: RouteInput, serviceId: string, dep: Deployment): Instance[] {
  const next = input.upcoming?.get(serviceId);
  return [...(input.instances.get(dep.id) ?? []), ...(next ? input.instances.get(next.id) ?? [] : [])].filter((i) => i.status === 'HEALTHY');
}

/** Where `instances` publish their container port `port`, as upstreams ordered by instance id. */
function upstreamsOn(input: RouteInput, instances: Instance[], port: number, protocol: 'http' | 'http2'): Upstream[] {
  return instances.flatMap((i) => {
    const ep = input.endpoints(i.id)?.find((e) => e.containerPort === port);
    return ep ? [{ instanceId: i.id, host: ep.host, port: ep.hostPort, region: i.region, protocol }] : [];
  }).sort((a, b) => a.instanceId.localeCompare(b.instanceId));
}

/**
 * Whether a web service of the app sleeps or is waking (scale-to-zero), or its first deployment's instances are
 * starting: the edge then holds requests that find no upstream instead of answering 503 (a service's first HEALTHY
 * instance is in the API a moment before it is in the edge's table). An active deployment is STARTING only while it
 * wakes from SLEEPING. A SLEEPING
 * instance counts too: the scaler marks the instance first and the deployment's SLEEPING is rolled up later in the
 * pass, and a table published in between (the scaler publishes at once) would otherwise have no upstream and no
 * sleep, so a request in that window got a 503 instead of a wake-up (seen in CI).
 */
function isSleeping(input: RouteInput, appId: string): boolean {
  return input.services.some((s) => {
    if (s.app_id !== appId || s.type !== 'WEB') return false;
    const dep = input.active.get(s.id) ?? input.first?.get(s.id);
    if (!dep) return false;
    return ['SLEEPING', 'STARTING'].includes(dep.status) || (input.instances.get(dep.id) ?? []).some((i) => i.status === 'SLEEPING');
  });
}

/** A deployment with instances coming or serving: one replacing the active deployment serves alongside it. */
const ROLLING_OUT: readonly DeploymentStatus[] = ['ALLOCATING', 'STARTING', 'HEALTHY', 'DEGRADED', 'UNHEALTHY'];
/** The statuses of a first deployment whose routes are published before its promotion (building up to healthy). */
const FIRST_ROUTED: readonly DeploymentStatus[] = [...CANCELABLE_DEPLOYMENT_STATUSES, ...ROLLING_OUT];

/**
 * Reads the rows routes need from the state and computes the table. `thawed`: SLEEPING instances a wake-up has
 * already thawed (light sleep), routed as HEALTHY before the pass that marks them so (reconcile-scaling.ts), also
 * between its two marks (STARTING, then HEALTHY). `standby`: the standbys of this life (standby.ts), left out.
 */
export async function collectRoutes(state: ControlState, domain: string, endpoints: RouteInput['endpoints'], thawed?: ReadonlySet<string>, standby?: { has(id: string): boolean }): Promise<AppRoutes[]> {
  const [apps, services, live] = await Promise.all([state.listApps(), state.listServices(), state.listLiveInstances()]);
  const organizations = new Map<string, Organization>();
  for (const a of apps) {
    if (!organizations.has(a.organization_id)) {
      const org = await state.getOrganization(a.organization_id);
      if (org) organizations.set(org.id, org);
    }
  }
  const active = new Map<string, Deployment>();
  const upcoming = new Map<string, Deployment>();
  const first = new Map<string, Deployment>();
  for (const s of services) {
    if (!s.active_deployment_id) {
      if (s.type !== 'WEB' || !s.latest_deployment_id) continue;
      const d = await state.getDeployment(s.latest_deployment_id);
      if (d && FIRST_ROUTED.includes(d.status)) first.set(s.id, d);
      continue;
    }
    const d = await state.getDeployment(s.active_deployment_id);
    if (d) active.set(s.id, d);
    if (!d || !s.latest_deployment_id || s.latest_deployment_id === d.id) continue;
    const next = await state.getDeployment(s.latest_deployment_id);
    const t = next?.definition.strategy?.type;
    const rolling = !t || ['DEPLOYMENT_STRATEGY_TYPE_DEFAULT', 'DEPLOYMENT_STRATEGY_TYPE_INVALID', 'DEPLOYMENT_STRATEGY_TYPE_ROLLING'].includes(t);
    if (next && rolling && ROLLING_OUT.includes(next.status)) upcoming.set(s.id, next);
  }
  const instances = new Map<string, Instance[]>();
  for (let i of live) {
    // A standby (an autoscaled region's frozen spare) serves nothing, and its SLEEPING does not mean the app sleeps.
    if (standby?.has(i.id)) continue;
    if ((i.status === 'SLEEPING' || i.status === 'STARTING') && thawed?.has(i.id)) i = { ...i, status: 'HEALTHY' };
    const list = instances.get(i.xyz_deployment_id) ?? [];
    list.push(i);
    instances.set(i.xyz_deployment_id, list);
  }
  return computeRoutes({ domain, apps, organizations, services, active, first, upcoming, instances, endpoints });
}

// Ports, routes, TCP proxy ports and health checks of a definition: what a service listens on and how it is
// reached and checked. Workers have none of these; a web service has at least one port.
import {
  FieldErrors, absent, compact, isObject, readArray, readInt, readObject, readString, rejectUnknown, quote,
} from './fields.ts';
import { routePrefix } from './route-clash.ts';
import type {
  DeploymentHealthCheck, DeploymentPort, DeploymentProxyPort, DeploymentRoute, HTTPHeader, PortProtocol,
  SecurityPolicies,
} from './types.ts';

/** What the network checks share: where errors go and the path prefix (`definition`). */
export interface NetworkContext { errors: FieldErrors; path: string; isWorker: boolean }

/** The normalised network part of a definition. */
export interface NetworkPart {
  ports: DeploymentPort[];
  routes: DeploymentRoute[];
  proxy_ports: DeploymentProxyPort[];
  health_checks: DeploymentHealthCheck[];
}

const PROTOCOLS: PortProtocol[] = ['http', 'http2', 'tcp'];
const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Health check bounds and defaults (the Koyeb dashboard's, which are looser than its docs). */
export const HEALTH_CHECK_LIMITS = {
  grace_period: { min: 0, max: 900, default: 5 },
  interval: { min: 1, max: 300, default: 30 },
  restart_limit: { min: 1, max: 10, default: 3 },
  timeout: { min: 1, max: 600, default: 5 },
} as const;

/** Validates and defaults ports, routes, proxy ports and health checks. */
export function normalizeNetwork(c: NetworkContext, raw: Record<string, unknown>): NetworkPart {
  const out: NetworkPart = { ports: [], routes: [], proxy_ports: [], health_checks: [] };
  if (c.isWorker) {
    for (const key of ['ports', 'routes', 'proxy_ports', 'health_checks'] as const) {
      if (Array.isArray(raw[key]) && (raw[key] as unknown[]).length > 0) {
        c.errors.add(`${c.path}.${key}`, `workers cannot have ${key.replace('_', ' ')}: remove ${key} or make the service a web service (type WEB)`);
      } else readArray(c.errors, raw[key], `${c.path}.${key}`);
    }
    return out;
  }
  out.ports = normalizePorts(c, raw.ports);
  if (out.ports.length === 0 && (absent(raw.ports) || (Array.isArray(raw.ports) && raw.ports.length === 0))) {
    c.errors.add(`${c.path}.ports`, "a web service needs at least one port: add {port: 8000, protocol: 'http'} (CLI: --ports 8000:http), or make it a worker (type WORKER)");
  }
  const declared = new Map(out.ports.map((p) => [p.port, p.protocol!]));
  out.routes = normalizeRoutes(c, raw.routes, declared);
  out.proxy_ports = normalizeProxyPorts(c, raw.proxy_ports, declared);
  out.health_checks = normalizeHealthChecks(c, raw.health_checks, declared);
  return out;
}

function normalizePorts(c: NetworkContext, raw: unknown): DeploymentPort[] {
  const out: DeploymentPort[] = [];
  readArray(c.errors, raw, `${c.path}.ports`).forEach((item, i) => {
    const path = `${c.path}.ports[${i}]`;
    const obj = readObject(c.errors, item, path);
    if (!obj) return;
    rejectUnknown(c.errors, obj, ['port', 'protocol'], path);
    const port = requiredPort(c, obj.port, `${path}.port`, 'the port your app listens on');
    const protocol = absent(obj.protocol) ? 'http' : obj.protocol;
    if (!PROTOCOLS.includes(protocol as PortProtocol)) {
      c.errors.add(`${path}.protocol`, `must be http, http2 or tcp, got ${quote(protocol)}`);
      return;
    }
    if (port === undefined) return;
    if (out.some((p) => p.port === port)) {
      c.errors.add(`${path}.port`, `port ${port} is declared twice: remove one of the entries`);
      return;
    }
    out.push({ port, protocol: protocol as PortProtocol });
  });
  return out;
}

function requiredPort(c: NetworkContext, v: unknown, path: string, what: string): number | undefined {
  if (absent(v)) {
    c.errors.add(path, `is required: ${what}, between 1 and 65535`);
    return undefined;
  }
  return readInt(c.errors, v, path, 1, 65535);
}

function normalizeRoutes(c: NetworkContext, raw: unknown, declared: Map<number, PortProtocol>): DeploymentRoute[] {
  const out: DeploymentRoute[] = [];
  readArray(c.errors, raw, `${c.path}.routes`).forEach((item, i) => {
    const path = `${c.path}.routes[${i}]`;
    const obj = readObject(c.errors, item, path);
    if (!obj) return;
    rejectUnknown(c.errors, obj, ['port', 'path', 'security_policies'], path);
    const routePath = readString(c.errors, obj.path, `${path}.path`);
    let pathOk = routePath !== undefined;
    if (routePath === undefined) {
      if (absent(obj.path)) c.errors.add(`${path}.path`, 'is required: a path prefix starting with "/", e.g. "/" or "/api"');
    } else if (!routePath.startsWith('/') || /\s/.test(routePath)) {
      c.errors.add(`${path}.path`, `must start with "/" and contain no spaces, got ${quote(routePath)}`);
      pathOk = false;
    } else if (out.some((r) => routePrefix(r.path) === routePrefix(routePath))) {
      // "/api" and "/api/" are one prefix at the edge: the second would never be reached.
      c.errors.add(`${path}.path`, `route ${routePath} is declared twice: remove one of the entries`);
      pathOk = false;
    }
    const port = requiredPort(c, obj.port, `${path}.port`, 'the declared port this route sends traffic to');
    let portOk = port !== undefined;
    if (port !== undefined && !declared.has(port)) {
      c.errors.add(`${path}.port`, `route port ${port} is not declared in ports; add {port: ${port}, protocol: 'http'} to ports`);
      portOk = false;
    } else if (port !== undefined && declared.get(port) === 'tcp') {
      c.errors.add(`${path}.port`, `route port ${port} is declared as tcp; routes need an http or http2 port: change its protocol or route another port`);
      portOk = false;
    }
    const policies = normalizeSecurityPolicies(c, obj.security_policies, `${path}.security_policies`);
    if (!pathOk || !portOk) return;
    out.push(compact({ port: port!, path: routePath!, security_policies: policies }));
  });
  return out;
}

function normalizeSecurityPolicies(c: NetworkContext, raw: unknown, path: string): SecurityPolicies | undefined {
  const obj = readObject(c.errors, raw, path);
  if (!obj) return undefined;
  rejectUnknown(c.errors, obj, ['basic_auths', 'api_keys'], path);
  const basic: SecurityPolicies['basic_auths'] = [];
  readArray(c.errors, obj.basic_auths, `${path}.basic_auths`).forEach((item, i) => {
    const p = `${path}.basic_auths[${i}]`;
    const a = readObject(c.errors, item, p);
    if (!a) return;
    rejectUnknown(c.errors, a, ['username', 'password'], p);
    const username = readString(c.errors, a.username, `${p}.username`);
    const password = readString(c.errors, a.password, `${p}.password`);
    if (!username) c.errors.add(`${p}.username`, 'is required and must not be empty');
    else if (username.includes(':')) c.errors.add(`${p}.username`, 'must not contain ":" (HTTP basic auth separates user and password with it)');
    if (!password) c.errors.add(`${p}.password`, 'is required and must not be empty; use {{ secret.NAME }} to keep it out of the definition');
    if (username && password && !username.includes(':')) basic.push({ username, password });
  });
  const keys: string[] = [];
  readArray(c.errors, obj.api_keys, `${path}.api_keys`).forEach((k, i) => {
    if (typeof k !== 'string' || k === '') c.errors.add(`${path}.api_keys[${i}]`, 'must be a non-empty string');
    else keys.push(k);
  });
  if (!basic.length && !keys.length) return undefined;
  return compact({ basic_auths: basic.length ? basic : undefined, api_keys: keys.length ? keys : undefined });
}

function normalizeProxyPorts(c: NetworkContext, raw: unknown, declared: Map<number, PortProtocol>): DeploymentProxyPort[] {
  const out: DeploymentProxyPort[] = [];
  readArray(c.errors, raw, `${c.path}.proxy_ports`).forEach((item, i) => {
    const path = `${c.path}.proxy_ports[${i}]`;
    const obj = readObject(c.errors, item, path);
    if (!obj) return;
    rejectUnknown(c.errors, obj, ['port', 'protocol'], path);
    if (!absent(obj.protocol) && obj.protocol !== 'tcp') {
      c.errors.add(`${path}.protocol`, `must be tcp (the only protocol of the TCP proxy), got ${quote(obj.protocol)}`);
      return;
    }
    const port = requiredPort(c, obj.port, `${path}.port`, 'the declared tcp port to expose');
    if (port === undefined) return;
    if (!declared.has(port)) {
      c.errors.add(`${path}.port`, `proxy port ${port} is not declared in ports; add {port: ${port}, protocol: 'tcp'} to ports`);
    } else if (declared.get(port) !== 'tcp') {
      c.errors.add(`${path}.port`, `proxy port ${port} is declared as ${declared.get(port)}; the TCP proxy needs a tcp port: set its protocol to tcp`);
    } else if (out.some((p) => p.port === port)) {
      c.errors.add(`${path}.port`, `proxy port ${port} is declared twice: remove one of the entries`);
    } else {
      out.push({ port, protocol: 'tcp' });
    }
  });
  return out;
}

function normalizeHealthChecks(c: NetworkContext, raw: unknown, declared: Map<number, PortProtocol>): DeploymentHealthCheck[] {
  const out: DeploymentHealthCheck[] = [];
  const checked = new Set<number>();
  readArray(c.errors, raw, `${c.path}.health_checks`).forEach((item, i) => {
    const path = `${c.path}.health_checks[${i}]`;
    const obj = readObject(c.errors, item, path);
    if (!obj) return;
    rejectUnknown(c.errors, obj, ['grace_period', 'interval', 'restart_limit', 'timeout', 'tcp', 'http'], path);
    const before = c.errors.count;
    const timing = {} as Record<keyof typeof HEALTH_CHECK_LIMITS, number>;
    for (const [key, lim] of Object.entries(HEALTH_CHECK_LIMITS) as [keyof typeof HEALTH_CHECK_LIMITS, { min: number; max: number; default: number }][]) {
      timing[key] = readInt(c.errors, obj[key], `${path}.${key}`, lim.min, lim.max, 'seconds') ?? lim.default;
    }
    if (absent(obj.tcp) === absent(obj.http)) {
      c.errors.add(path, 'must set exactly one of tcp or http, e.g. {tcp: {port: 8000}} or {http: {port: 8000, path: "/health"}}');
      return;
    }
    const probe = absent(obj.tcp) ? normalizeHttpProbe(c, obj.http, `${path}.http`) : normalizeTcpProbe(c, obj.tcp, `${path}.tcp`);
    if (!probe) return;
    const kind = absent(obj.tcp) ? 'http' : 'tcp';
    const port = probe.port;
    if (!declared.has(port)) {
      c.errors.add(`${path}.${kind}.port`, `health check port ${port} is not declared in ports; add {port: ${port}, protocol: 'http'} to ports or check a declared port`);
      return;
    }
    if (checked.has(port)) {
      c.errors.add(`${path}.${kind}.port`, `port ${port} already has a health check: keep one check per port`);
      return;
    }
    checked.add(port);
    if (c.errors.count !== before) return;
    out.push({ ...timing, [kind]: probe });
  });
  // Every exposed port gets a TCP check unless it has its own (Koyeb's default).
  for (const port of declared.keys()) {
    if (!checked.has(port)) out.push({ ...defaultTiming(), tcp: { port } });
  }
  return out;
}

function defaultTiming(): Required<Pick<DeploymentHealthCheck, 'grace_period' | 'interval' | 'restart_limit' | 'timeout'>> {
  const l = HEALTH_CHECK_LIMITS;
  return { grace_period: l.grace_period.default, interval: l.interval.default, restart_limit: l.restart_limit.default, timeout: l.timeout.default };
}

function normalizeTcpProbe(c: NetworkContext, raw: unknown, path: string): { port: number } | undefined {
  const obj = readObject(c.errors, raw, path);
  if (!obj) return undefined;
  rejectUnknown(c.errors, obj, ['port'], path);
  const port = requiredPort(c, obj.port, `${path}.port`, 'the declared port to check');
  return port === undefined ? undefined : { port };
}

function normalizeHttpProbe(c: NetworkContext, raw: unknown, path: string): NonNullable<DeploymentHealthCheck['http']> | undefined {
  const obj = readObject(c.errors, raw, path);
  if (!obj) return undefined;
  rejectUnknown(c.errors, obj, ['port', 'path', 'method', 'headers'], path);
  const port = requiredPort(c, obj.port, `${path}.port`, 'the declared port to check');
  const probePath = readString(c.errors, obj.path, `${path}.path`) ?? (absent(obj.path) ? '/' : undefined);
  let ok = port !== undefined && probePath !== undefined;
  if (probePath !== undefined && (!probePath.startsWith('/') || /\s/.test(probePath))) {
    c.errors.add(`${path}.path`, `must start with "/" and contain no spaces, got ${quote(probePath)}`);
    ok = false;
  }
  const rawMethod = readString(c.errors, obj.method, `${path}.method`);
  const method = (rawMethod ?? 'GET').toUpperCase();
  if (!HTTP_METHODS.includes(method)) {
    c.errors.add(`${path}.method`, `must be one of ${HTTP_METHODS.join(', ')}, got ${quote(rawMethod)}`);
    ok = false;
  }
  const headers: HTTPHeader[] = [];
  readArray(c.errors, obj.headers, `${path}.headers`).forEach((h, i) => {
    const p = `${path}.headers[${i}]`;
    if (!isObject(h) || typeof h.key !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(h.key) || typeof h.value !== 'string') {
      c.errors.add(p, 'must be {key, value} with a valid header name, e.g. {key: "Host", value: "example.com"}');
      ok = false;
      return;
    }
    headers.push({ key: h.key, value: h.value });
  });
  if (!ok) return undefined;
  return compact({ port: port!, path: probePath!, method, headers: headers.length ? headers : undefined });
}

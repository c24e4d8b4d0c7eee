// A small in-memory stand-in for Pier's Koyeb-shaped API, so the console's UI logic can be driven in a real
// browser before the whole stack runs end to end. Deployments advance through their statuses on a timer.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { handleConsole } from '../../src/console/serve.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** Options for the fake: which token is valid, whether /v1/credentials exists, how fast deployments progress. */
export interface FakeOptions { token?: string; credentials?: boolean; stageMs?: number }

/** A running fake API + console + edge. */
export interface FakeApi {
  url: string;
  edgeUrl: string;
  token: string;
  state: { apps: Json[]; services: Json[]; deployments: Json[]; instances: Json[]; secrets: Json[]; logs: Json[]; credentials: Json[]; volumes: Json[]; snapshots: Json[] };
  /** Stops deployments from advancing (to look at one in progress) or lets them go again. */
  hold(on: boolean): void;
  /** Advances every deployment by one status (useful while held). */
  step(): void;
  close(): Promise<void>;
}

const PROGRESS = ['PENDING', 'PROVISIONING', 'SCHEDULED', 'ALLOCATING', 'STARTING', 'HEALTHY'];
const now = () => new Date().toISOString();

/** Starts the fake on loopback ports. */
export async function startFakeApi(opts: FakeOptions = {}): Promise<FakeApi> {
  const token = opts.token ?? 'test-token';
  const stageMs = opts.stageMs ?? 300;
  const state: FakeApi['state'] = { apps: [], services: [], deployments: [], instances: [], secrets: [], logs: [], credentials: [], volumes: [], snapshots: [] };
  const listeners = new Set<(entry: Json) => void>();
  let held = false;
  let edgePort = 0;

  const log = (labels: Json, msg: string) => {
    const entry = { msg, created_at: now(), labels: { stream: 'stdout', ...labels } };
    state.logs.push(entry);
    for (const l of listeners) l(entry);
  };

  const timer = setInterval(() => { if (!held) advance(); }, stageMs);

  function advance() {
    for (const s of state.snapshots) {
      if (s.status === 'SNAPSHOT_STATUS_CREATING') { s.status = 'SNAPSHOT_STATUS_AVAILABLE'; s.messages = ['available: taken while no instance mounted the volume; 0 MB stored.']; }
    }
    for (const d of state.deployments) {
      const i = PROGRESS.indexOf(d.status);
      if (i < 0 || i === PROGRESS.length - 1) continue;
      d.status = PROGRESS[i + 1];
      d.updated_at = now();
      const svc = state.services.find((s) => s.id === d.service_id);
      const labels = { type: 'build', service_id: d.service_id, deployment_id: d.id, app_id: d.app_id };
      if (d.status === 'PROVISIONING') {
        d.provisioning_info.stages = [{ name: 'build', status: 'RUNNING', messages: [], started_at: now(), finished_at: null, build_attempts: [] }];
        log(labels, `Pulling ${d.definition.docker?.image ?? d.definition.git?.repository ?? `archive ${d.definition.archive?.id}`}`);
      }
      if (d.status === 'SCHEDULED') {
        d.provisioning_info.stages[0].status = 'COMPLETED';
        log(labels, 'Build complete');
      }
      if (d.status === 'STARTING') {
        const inst = { id: randomUUID(), service_id: d.service_id, app_id: d.app_id, regional_deployment_id: '', allocation_id: randomUUID(), type: d.definition.instance_types?.[0]?.type ?? 'nano', replica_index: 0, region: d.definition.regions?.[0] ?? 'local', datacenter: 'local1', hypervisor: 'docker', status: 'STARTING', messages: ['Instance is starting... Waiting for health checks to pass.'], created_at: now(), updated_at: now(), started_at: now(), succeeded_at: null, terminated_at: null, organization_id: 'org', xyz_deployment_id: d.id };
        state.instances.push(inst);
        log({ type: 'runtime', stream: 'koyeb', service_id: d.service_id, instance_id: inst.id }, 'Instance created. Preparing to start...');
      }
      if (d.status === 'HEALTHY' && svc) {
        for (const old of state.deployments) {
          if (old.service_id === d.service_id && old.id !== d.id && old.status === 'HEALTHY') old.status = 'STOPPED';
        }
        for (const inst of state.instances) {
          if (inst.service_id !== d.service_id) continue;
          inst.status = inst.xyz_deployment_id === d.id ? 'HEALTHY' : 'STOPPED';
          if (inst.status === 'HEALTHY') { inst.messages = []; log({ type: 'runtime', service_id: d.service_id, instance_id: inst.id }, `listening on port ${d.definition.ports?.[0]?.port ?? 8000} (v${d.version})`); }
        }
        svc.active_deployment_id = d.id;
        svc.status = 'HEALTHY';
        svc.messages = [];
        svc.updated_at = now();
      }
    }
  }

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (!url.pathname.startsWith('/v1/')) {
      if (handleConsole(req, res)) return;
      res.writeHead(404).end('not found');
      return;
    }
    if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, { status: 401, code: 'authentication_error', message: 'invalid token' });
    let body: Json = {};
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (chunks.length) body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    try {
      const [status, reply] = route(req.method ?? 'GET', url, body);
      send(res, status, reply);
    } catch (err) {
      send(res, 500, { status: 500, code: 'api_error', message: String(err) });
    }
  });

  function route(method: string, url: URL, body: Json): [number, Json] {
    const p = url.pathname;
    const q = url.searchParams;
    const m = (re: RegExp) => re.exec(p);
    let mm: RegExpExecArray | null;
    if (p === '/v1/pier/info') return [200, { domain: 'pier.localhost', edge_url: `http://127.0.0.1:${edgePort}`, version: '0.1.0-fake' }];
    if (p === '/v1/catalog/instances') return [200, { instances: [{ id: 'nano', display_name: 'Nano', vcpu_shares: 0.25, memory: '256MB', disk: '2GB' }, { id: 'small', display_name: 'Small', vcpu_shares: 1, memory: '1GB', disk: '8GB' }], count: 2 }];
    if (p === '/v1/catalog/regions') return [200, { regions: [{ id: 'local', name: 'Local' }, { id: 'edge', name: 'Edge' }], count: 2 }];
    if (p === '/v1/apps' && method === 'GET') return [200, { apps: state.apps, count: state.apps.length, limit: 100, offset: 0, has_next: false }];
    if (p === '/v1/apps' && method === 'POST') {
      if (!body.name || !/^[a-z0-9-]+$/.test(body.name)) return invalid([{ field: 'name', description: 'must be lowercase letters, digits and dashes' }]);
      const app = { id: randomUUID(), name: body.name, status: 'HEALTHY', messages: [], created_at: now(), updated_at: now(), domains: [{ id: randomUUID(), name: `${body.name}-acme.pier.localhost`, type: 'AUTOASSIGNED', status: 'ACTIVE' }], version: '1' };
      state.apps.push(app);
      return [200, { app }];
    }
    if ((mm = m(/^\/v1\/apps\/([^/]+)$/))) {
      const app = state.apps.find((a) => a.id === mm![1]);
      if (!app) return notFound('app');
      if (method === 'DELETE') { state.apps = state.apps.filter((a) => a !== app); state.services = state.services.filter((s) => s.app_id !== app.id); return [200, {}]; }
      return [200, { app }];
    }
    if (p === '/v1/services' && method === 'GET') {
      const list = state.services.filter((s) => !q.get('app_id') || s.app_id === q.get('app_id'));
      return [200, { services: list, count: list.length, limit: 100, offset: 0, has_next: false }];
    }
    if (p === '/v1/services' && method === 'POST') {
      const errors = validate(body.definition ?? {});
      if (!body.name) errors.unshift({ field: 'name', description: 'cannot be blank' });
      if (!state.apps.some((a) => a.id === body.app_id)) errors.unshift({ field: 'app_id', description: 'unknown app' });
      if (errors.length) return invalid(errors);
      if (q.get('dry_run') === 'true') return [200, { service: null }];
      const svc = { id: randomUUID(), name: body.name, app_id: body.app_id, type: body.definition.type === 'WORKER' ? 'WORKER' : 'WEB', status: 'STARTING', messages: ['Deployment v1 is starting'], created_at: now(), updated_at: now(), active_deployment_id: '', latest_deployment_id: '', version: '1', organization_id: 'org' };
      state.services.push(svc);
      deploy(svc, body.definition, { type: 'UNKNOWN_TYPE', actor: 'USER' });
      return [200, { service: svc }];
    }
    if ((mm = m(/^\/v1\/services\/([^/]+)(?:\/(pause|resume|redeploy))?$/))) {
      const svc = state.services.find((s) => s.id === mm![1]);
      if (!svc) return notFound('service');
      const verb = mm[2];
      if (verb === 'pause') { svc.status = 'PAUSED'; for (const i of state.instances) if (i.service_id === svc.id) i.status = 'STOPPED'; return [200, {}]; }
      if (verb === 'resume') { svc.status = 'STARTING'; deploy(svc, latest(svc).definition, { type: 'RESUME', actor: 'USER' }); return [200, {}]; }
      if (verb === 'redeploy') {
        const from = body.deployment_id ? state.deployments.find((d) => d.id === body.deployment_id) : latest(svc);
        if (!from) return notFound('deployment');
        const d = deploy(svc, from.definition, { type: 'UNKNOWN_TYPE', actor: 'USER' }, body.deployment_id);
        return [200, { deployment: d }];
      }
      if (method === 'DELETE') { state.services = state.services.filter((s) => s !== svc); return [200, {}]; }
      if (method === 'PUT' || method === 'PATCH') {
        const errors = validate(body.definition ?? {});
        if (errors.length) return invalid(errors);
        if (q.get('dry_run') !== 'true') deploy(svc, body.definition, { type: 'UNKNOWN_TYPE', actor: 'USER' });
        return [200, { service: svc }];
      }
      return [200, { service: svc }];
    }
    if (p === '/v1/deployments') {
      const list = state.deployments.filter((d) => d.service_id === q.get('service_id')).sort((a, b) => Number(b.version) - Number(a.version));
      return [200, { deployments: list, count: list.length, limit: 50, offset: 0, has_next: false }];
    }
    if ((mm = m(/^\/v1\/deployments\/([^/]+)(\/diff)?$/))) {
      const d = state.deployments.find((x) => x.id === mm![1]);
      if (!d) return notFound('deployment');
      if (!mm[2]) return [200, { deployment: d }];
      const other = state.deployments.find((x) => x.id === q.get('against'));
      if (!other) return notFound('deployment');
      return [200, diff(other.definition, d.definition)];
    }
    if (p === '/v1/regional_deployments') {
      const d = state.deployments.find((x) => x.id === q.get('deployment_id'));
      return [200, { regional_deployments: d ? (d.definition.regions ?? ['local']).map((r: string) => ({ id: `${d.id}-${r}`, region: r, status: d.status, deployment_id: d.id })) : [] }];
    }
    if (p === '/v1/instances') {
      const list = state.instances.filter((i) => i.service_id === q.get('service_id'));
      return [200, { instances: list, count: list.length }];
    }
    if (p === '/v1/secrets' && method === 'GET') return [200, { secrets: state.secrets.map(({ value: _v, ...s }) => s), count: state.secrets.length }];
    if (p === '/v1/secrets' && method === 'POST') {
      if (!body.name) return invalid([{ field: 'name', description: 'cannot be blank' }]);
      if (state.secrets.some((s) => s.name === body.name)) return [409, { status: 409, code: 'already_exists', message: `secret ${body.name} already exists` }];
      const secret = { id: randomUUID(), name: body.name, type: body.type ?? 'SIMPLE', value: body.value, created_at: now(), updated_at: now() };
      state.secrets.push(secret);
      return [200, { secret: { ...secret, value: undefined } }];
    }
    if ((mm = m(/^\/v1\/secrets\/([^/]+)(\/reveal)?$/))) {
      const secret = state.secrets.find((s) => s.id === mm![1]);
      if (!secret) return notFound('secret');
      if (mm[2]) return [200, { value: secret.value }];
      if (method === 'DELETE') { state.secrets = state.secrets.filter((s) => s !== secret); return [200, {}]; }
      return [200, { secret: { ...secret, value: undefined } }];
    }
    // Volumes and snapshots (the console's volumes page), with the real API's 409 for a volume a service names.
    if (p === '/v1/volumes' && method === 'GET') return [200, { volumes: state.volumes, count: state.volumes.length }];
    if (p === '/v1/volumes' && method === 'POST') {
      const snap = body.snapshot_id ? state.snapshots.find((x) => x.id === body.snapshot_id) : undefined;
      const size = body.max_size ?? snap?.size;
      const errors = [!body.name && { field: 'name', description: 'cannot be blank' }, !(size >= 1) && { field: 'max_size', description: 'must be 1 to 1000 GB' }].filter(Boolean);
      if (errors.length) return invalid(errors);
      if (state.volumes.some((v) => v.name === body.name)) return [409, { status: 409, code: 'already_exists', message: `volume ${body.name} already exists` }];
      const v = { id: randomUUID(), name: body.name, region: snap?.region ?? body.region, max_size: size, snapshot_id: body.snapshot_id ?? '', service_id: '', status: 'PERSISTENT_VOLUME_STATUS_DETACHED',
        messages: [`Ready: ${size} GB, no instance mounts it.`], used_bytes: 0, total_bytes: size * 1e9, cur_size: 0, created_at: now(), updated_at: now() };
      state.volumes.push(v);
      return [200, { volume: v }];
    }
    if ((mm = m(/^\/v1\/volumes\/([^/]+)$/))) {
      const v = state.volumes.find((x) => x.id === mm![1]);
      if (!v) return notFound('volume');
      if (method === 'DELETE') {
        const svc = state.services.find((x) => x.id === v.service_id);
        if (svc) return [409, { status: 409, code: 'invalid_state', message: `Cannot delete volume ${v.name}: it is attached to service ${svc.name} (${svc.id}). Remove it from that service (pier service update ... --volumes '!${v.name}') or delete the service first.` }];
        state.volumes = state.volumes.filter((x) => x !== v);
        return [200, { volume: { ...v, status: 'PERSISTENT_VOLUME_STATUS_DELETING' } }];
      }
      if (method === 'POST') {
        if (body.max_size !== undefined && !(body.max_size > v.max_size)) return invalid([{ field: 'max_size', description: `can only grow: the volume has ${v.max_size} GB, got ${body.max_size}` }]);
        Object.assign(v, body.max_size ? { max_size: body.max_size, total_bytes: body.max_size * 1e9, messages: [`Ready: ${body.max_size} GB, no instance mounts it.`] } : {}, body.name ? { name: body.name } : {});
      }
      return [200, { volume: v }];
    }
    if (p === '/v1/snapshots' && method === 'GET') return [200, { snapshots: state.snapshots, count: state.snapshots.length }];
    if (p === '/v1/snapshots' && method === 'POST') {
      const v = state.volumes.find((x) => x.id === body.parent_volume_id);
      if (!body.name || !v) return invalid([!body.name ? { field: 'name', description: 'cannot be blank' } : { field: 'parent_volume_id', description: 'no such volume' }]);
      const snap = { id: randomUUID(), name: body.name, parent_volume_id: v.id, region: v.region, size: v.max_size, status: 'SNAPSHOT_STATUS_CREATING', type: 'SNAPSHOT_TYPE_LOCAL', messages: ['Copying the volume (no instance mounts it).'], created_at: now(), updated_at: now() };
      state.snapshots.push(snap);
      return [200, { snapshot: snap }];
    }
    if ((mm = m(/^\/v1\/snapshots\/([^/]+)$/))) {
      const snap = state.snapshots.find((x) => x.id === mm![1]);
      if (!snap) return notFound('snapshot');
      if (method === 'DELETE') { state.snapshots = state.snapshots.filter((x) => x !== snap); return [200, { snapshot: { ...snap, status: 'SNAPSHOT_STATUS_DELETING' } }]; }
      return [200, { snapshot: snap }];
    }
    if (p.startsWith('/v1/credentials')) {
      if (!opts.credentials) return [501, { status: 501, code: 'not_implemented', message: 'credentials are not implemented yet' }];
      if (method === 'GET') return [200, { credentials: state.credentials.map(({ token: _t, ...c }) => c), count: state.credentials.length }];
      if (method === 'POST') {
        if (!body.name) return invalid([{ field: 'name', description: 'cannot be blank' }]);
        const c = { id: randomUUID(), name: body.name, description: body.description, type: 'USER', token: `pier_${randomUUID()}`, created_at: now() };
        state.credentials.push(c);
        return [200, { credential: c }];
      }
      if (method === 'DELETE') { state.credentials = state.credentials.filter((c) => !p.endsWith(c.id)); return [200, {}]; }
    }
    if (p === '/v1/streams/logs/query') {
      const data = filterLogs(q).slice(-Number(q.get('limit') ?? 100));
      return [200, { data, pagination: { has_more: false } }];
    }
    if (p === '/v1/streams/metrics') return [200, { metrics: metrics(q.get('service_id') ?? '', q.get('name') ?? '') }];
    return notFound('route');
  }

  function validate(def: Json): Json[] {
    const errors: Json[] = [];
    if (!def.docker?.image && !def.git?.repository && !def.archive?.id) errors.push({ field: 'definition.docker.image', description: 'cannot be blank' });
    (def.ports ?? []).forEach((pt: Json, i: number) => {
      if (!Number.isInteger(pt.port) || pt.port < 1 || pt.port > 65535) errors.push({ field: `definition.ports[${i}].port`, description: 'must be between 1 and 65535' });
    });
    (def.routes ?? []).forEach((r: Json, i: number) => {
      if (!(def.ports ?? []).some((pt: Json) => pt.port === r.port)) errors.push({ field: `definition.routes[${i}].port`, description: 'must match a declared port' });
    });
    const s = def.scalings?.[0];
    if (s && s.max < s.min) errors.push({ field: 'definition.scalings[0].max', description: 'must be >= min' });
    return errors;
  }

  function latest(svc: Json): Json {
    return state.deployments.find((d) => d.id === svc.latest_deployment_id);
  }

  function deploy(svc: Json, definition: Json, trigger: Json, rollbackOf?: string): Json {
    const version = String(state.deployments.filter((d) => d.service_id === svc.id).length + 1);
    // Public ports of the TCP proxy as Pier gives them (the range's first ones, in port order).
    const appName = state.apps.find((a) => a.id === svc.app_id)?.name;
    const proxyPorts = (definition.proxy_ports ?? []).map((p: Json, i: number) => ({ host: `${appName}-pier.localhost`, public_port: 20000 + i, port: p.port, protocol: 'tcp' }));
    const d = { id: randomUUID(), service_id: svc.id, app_id: svc.app_id, status: 'PENDING', version, definition: structuredClone(definition), messages: [], metadata: { trigger, ...(rollbackOf ? { rollback_of: rollbackOf } : {}), ...(proxyPorts.length ? { proxy_ports: proxyPorts } : {}) }, provisioning_info: { stages: [] }, created_at: now(), updated_at: now(), role: 'UPCOMING' };
    state.deployments.push(d);
    svc.latest_deployment_id = d.id;
    if (svc.status !== 'HEALTHY') svc.status = 'STARTING';
    return d;
  }

  function filterLogs(q: URLSearchParams): Json[] {
    const type = q.get('type') ?? 'runtime';
    const text = q.get('text');
    const start = q.get('start') ? Date.parse(q.get('start')!) : 0;
    return state.logs.filter((e) => matches(e, q, type, text, start));
  }

  function matches(e: Json, q: URLSearchParams, type: string, text: string | null, start: number): boolean {
    if ((e.labels.type ?? 'runtime') !== type) return false;
    if (q.get('service_id') && e.labels.service_id !== q.get('service_id')) return false;
    if (q.get('deployment_id') && e.labels.deployment_id !== q.get('deployment_id')) return false;
    if (text && !e.msg.toLowerCase().includes(text.toLowerCase())) return false;
    return Date.parse(e.created_at) >= start;
  }

  function metrics(serviceId: string, name: string): Json[] {
    const insts = state.instances.filter((i) => i.service_id === serviceId && i.status === 'HEALTHY');
    if (insts.length === 0) return [];
    const base = Date.now() - 30 * 60e3;
    const samples = (f: (k: number) => number) => Array.from({ length: 30 }, (_, k) => ({ timestamp: new Date(base + k * 60e3).toISOString(), value: f(k) }));
    if (name === 'CPU_TOTAL_PERCENT') return insts.map((i) => ({ labels: { instance_id: i.id }, samples: samples((k) => 10 + (k % 7) * 3) }));
    if (name === 'MEM_RSS') return insts.map((i) => ({ labels: { instance_id: i.id }, samples: samples((k) => 40e6 + k * 1e6) }));
    if (name === 'HTTP_THROUGHPUT') return [{ labels: {}, samples: samples((k) => (k % 5) + 1) }];
    if (name === 'INSTANCE_COUNT') return [{ labels: { service_id: serviceId }, samples: samples(() => insts.length) }];
    if (name === 'PUBLIC_DATA_TRANSFER_OUT') return [{ labels: { service_id: serviceId }, samples: samples((k) => 2048 + (k % 3) * 512) }];
    if (name.startsWith('HTTP_RESPONSE_TIME')) return [{ labels: {}, samples: samples((k) => 5 + (k % 4) * (name.endsWith('99P') ? 6 : 2)) }];
    return [];
  }

  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has('Bearer') ? 'Bearer' : false),
  });
  server.on('upgrade', (req, socket, head) => {
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/v1/streams/logs/tail' || protocols[0] !== 'Bearer' || protocols[1] !== token) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const q = url.searchParams;
      for (const e of filterLogs(q)) ws.send(JSON.stringify({ result: e }));
      const type = q.get('type') ?? 'runtime';
      const listener = (e: Json) => { if (matches(e, q, type, q.get('text'), 0)) ws.send(JSON.stringify({ result: e })); };
      listeners.add(listener);
      ws.on('close', () => listeners.delete(listener));
    });
  });

  // The "edge": answers for any service host, as the real edge proxy would for a healthy service.
  const edge = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`hello from ${req.headers.host}\n`);
  });

  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => edge.listen(0, '127.0.0.1', r));
  edgePort = (edge.address() as AddressInfo).port;
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    edgeUrl: `http://127.0.0.1:${edgePort}`,
    token,
    state,
    hold(on) { held = on; },
    step: advance,
    async close() {
      clearInterval(timer);
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      edge.closeAllConnections();
      await Promise.all([new Promise((r) => server.close(r)), new Promise((r) => edge.close(r))]);
    },
  };
}

function send(res: http.ServerResponse, status: number, body: Json) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function invalid(fields: Json[]): [number, Json] {
  return [400, { status: 400, code: 'invalid_argument', message: `Validation failed: ${fields.map((f) => `${f.field}: ${f.description}`).join('; ')}`, fields }];
}

function notFound(kind: string): [number, Json] {
  return [404, { status: 404, code: 'unknown_resource', message: `${kind} not found` }];
}

function diff(a: Json, b: Json): Json {
  const flat = (v: Json, prefix = '', out: Record<string, Json> = {}) => {
    if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) flat(x, Array.isArray(v) ? `${prefix}[${k}]` : prefix ? `${prefix}.${k}` : k, out);
    else out[prefix] = v;
    return out;
  };
  const fa = flat(a);
  const fb = flat(b);
  const changes = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort()
    .filter((k) => JSON.stringify(fa[k]) !== JSON.stringify(fb[k]))
    .map((k) => ({ path: k, before: fa[k], after: fb[k] }));
  const lines = changes.flatMap((c) => [c.before !== undefined ? `- ${c.path}: ${JSON.stringify(c.before)}` : null, c.after !== undefined ? `+ ${c.path}: ${JSON.stringify(c.after)}` : null].filter(Boolean));
  return { changes, lines };
}

// A real Pier for the edge suites: SQLite store in a temp dir, API and edge on free loopback ports, the Docker
// runtime and the controller. Helpers create apps and services through the public API, wait on conditions with
// bounded deadlines, probe from inside containers through the Engine API's exec (argv, no shell) and remove
// every container and network this Pier created when it closes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { edgeGet as sharedEdgeGet, type EdgeReply } from '../support/edge-get.ts';

export type { EdgeReply };
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { installationId } from '../../src/platform.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { DockerRuntime } from '../../src/runtime/docker/driver.ts';
import { MANAGED_LABEL } from '../../src/runtime/common.ts';
import { ensureTestImage } from '../../src/runtime/testing/images.ts';
import { socketCommand } from '../../src/edge/haproxy/process.ts';
import { NODE_BACKEND, NODE_TLS_BACKEND } from '../../src/edge/haproxy/config.ts';
import { socketPath } from '../../src/socket-path.ts';
import { localCaDir } from '../../src/certs/index.ts';

/** True when a Docker engine answers on the default socket. */
export const engineUp = await new DockerEngine().ping(3000).then(() => true, () => false);

/** A reply of the Pier API: status and parsed JSON body. */
export interface Reply<T = any> { status: number; body: T }

/** A reply through the edge. */

/** A running Pier with docker instances and the helpers the edge suites share. */
export interface EdgePier {
  pier: PierHandle;
  edgeUrl: string;
  /** The operator token (for a regional edge of this Pier). */
  token: string;
  /** The edge's HTTPS address (/v1/pier/info `edge_tls_url`), when it has one. */
  tlsUrl?: string;
  /** The root of Pier's local CA, which signs the apps' certificates (PEM). */
  caRootPem(): string;
  /** The data plane serving the public address, as Pier reports it (/v1/pier/info `edge_dataplane`). */
  dataplane: 'node' | 'haproxy';
  image: string;
  engine: DockerEngine;
  /** `<app>-<org>.localhost`. */
  hostOf(appName: string): string;
  api<T = any>(method: string, path: string, body?: unknown): Promise<Reply<T>>;
  createApp(name: string): Promise<string>;
  /** Creates the app's private network up front, as the runtime would on the app's first instance. */
  ensureAppNetwork(appId: string): Promise<void>;
  createService(appId: string, name: string, definition: Record<string, unknown>): Promise<any>;
  service(id: string): Promise<any>;
  /** Live instances of a service (optionally only those with a status). */
  instances(serviceId: string, status?: string): Promise<any[]>;
  /** GET through the edge with this Host (and extra headers). */
  get(host: string, path?: string, headers?: Record<string, string>): Promise<EdgeReply>;
  /** Runs argv inside a container; resolves with its exit code and output. */
  exec(containerId: string, argv: string[]): Promise<{ code: number; output: string }>;
  close(): Promise<void>;
}

import { until } from '../support/until.ts';
import { apiClient } from '../support/api-client.ts';

export { until };

/** Plain GET (no keep-alive) with a Host header and a 5 s bound. */
export function edgeGet(edgeUrl: string, host: string, path = '/', headers: Record<string, string> = {}): Promise<EdgeReply> {
  return sharedEdgeGet(edgeUrl, host, path, { headers, timeoutMs: 5000 });
}

/** A web service definition on the test image: HTTP on 8000, routed at `path` (none when null). */
export function webDef(image: string, path: string | null, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'WEB',
    docker: { image },
    ports: [{ port: 8000, protocol: 'http' }],
    routes: path === null ? [] : [{ port: 8000, path }],
    regions: ['was'],
    scalings: [{ min: 1, max: 1 }],
    instance_types: [{ type: 'nano' }],
    ...over,
  };
}


/** What a suite may choose: the data plane (else PIER_EDGE_DATAPLANE from the environment, as `pier up` reads it). */
export interface EdgePierOptions { dataplane?: 'node' | 'haproxy' }

/** Starts Pier with the docker runtime; the test image is built first when missing. */
export async function startEdgePier(opts: EdgePierOptions = {}): Promise<EdgePier> {
  const image = await ensureTestImage();
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-edge-'));
  const token = `tok-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const config = loadConfig(
    { 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', runtime: 'docker' },
    // The tests deploy local git repositories with the operator's token: an operator setting (off by default).
    { ...process.env, PIER_TOKEN: token, PIER_GIT_ALLOW_LOCAL: 'operator', ...(opts.dataplane ? { PIER_EDGE_DATAPLANE: opts.dataplane } : {}) },
  );
  const pier = await startPier(config, { log: () => {} });
  const scope = installationId(dataDir);
  const engine = new DockerEngine();
  const appIds: string[] = [];

  const api = apiClient(pier.apiUrl, token);
  const info = await api<{ edge_url: string; edge_tls_url?: string; edge_dataplane: 'node' | 'haproxy' }>('GET', '/v1/pier/info');
  if (!info.body.edge_url) throw new Error(`no edge_url in /v1/pier/info: ${JSON.stringify(info.body)}`);
  const edgeUrl = info.body.edge_url;
  if (info.body.edge_dataplane === 'haproxy') haproxySockets.set(edgeUrl, socketPath(join(dataDir, 'edge-haproxy'), 'admin.sock'));

  return {
    pier, edgeUrl, token, image, engine, api, dataplane: info.body.edge_dataplane, tlsUrl: info.body.edge_tls_url || undefined,
    caRootPem: () => readFileSync(join(localCaDir(dataDir), 'root.pem'), 'utf8'),
    hostOf: (appName) => `${appName}-${config.orgName}.${config.domain}`,
    async createApp(name) {
      const r = await api<{ app: { id: string } }>('POST', '/v1/apps', { name });
      if (r.status !== 200) throw new Error(`create app ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      appIds.push(r.body.app.id);
      return r.body.app.id;
    },
    ensureAppNetwork: (appId) => new DockerRuntime({ scope }).ensureNetwork(`pier-app-${appId}`),
    async createService(appId, name, definition) {
      const r = await api('POST', '/v1/services', { app_id: appId, name, definition: { name, ...definition } });
      if (r.status !== 200) throw new Error(`create service ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.service;
    },
    async service(id) {
      return (await api('GET', `/v1/services/${id}`)).body.service;
    },
    async instances(serviceId, status) {
      const q = `service_id=${serviceId}${status ? `&statuses=${status}` : ''}`;
      return (await api('GET', `/v1/instances?${q}`)).body.instances ?? [];
    },
    get: (host, path, headers) => edgeGet(edgeUrl, host, path, headers),
    async exec(containerId, argv) {
      const ex = await engine.json<{ Id: string }>('POST', `/containers/${containerId}/exec`, {
        body: { Cmd: argv, AttachStdout: true, AttachStderr: true },
      });
      const res = await engine.request('POST', `/exec/${ex.Id}/start`, { body: { Detach: false, Tty: false }, timeoutMs: 15_000 });
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const code = (await engine.json<{ ExitCode: number | null }>('GET', `/exec/${ex.Id}/json`)).ExitCode ?? -1;
      return { code, output: demux(Buffer.concat(chunks)) };
    },
    async close() {
      haproxySockets.delete(edgeUrl);
      try {
        await pier.close();
      } finally {
        // Only this installation's containers (scope label) and the networks of apps this test created.
        const rt = new DockerRuntime({ scope });
        for (const h of await rt.recover()) {
          await rt.stop(h.runtimeId, 0).catch(() => undefined);
          await rt.remove(h.runtimeId).catch(() => undefined);
        }
        // By id, not name: a name may match two networks when two creations raced (see removeAppNetworks).
        await removeAppNetworks(engine, appIds);
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

/** Joins the payloads of the engine's multiplexed stdout/stderr stream (8-byte frame headers). */
function demux(buf: Buffer): string {
  let out = '';
  let i = 0;
  while (i + 8 <= buf.length) {
    const len = buf.readUInt32BE(i + 4);
    out += buf.subarray(i + 8, i + 8 + len).toString('utf8');
    i += 8 + len;
  }
  return out;
}


/** Removes the Pier-managed networks of these apps, by id so that duplicates left by a creation race go too. */
async function removeAppNetworks(engine: DockerEngine, appIds: string[]): Promise<void> {
  for (const appId of appIds) {
    const name = `pier-app-${appId}`;
    const nets = await engine.json<{ Id: string; Name: string; Labels: Record<string, string> | null }[]>('GET', '/networks', {
      query: { filters: JSON.stringify({ name: [name] }) },
    });
    for (const n of nets) {
      if (n.Name === name && n.Labels?.[MANAGED_LABEL] === 'true') await engine.jsonOrNull('DELETE', `/networks/${n.Id}`).catch(() => undefined);
    }
  }
}

/** The HAProxy admin socket of each running Pier whose data plane is HAProxy, by edge URL (for underLoad's report). */
const haproxySockets = new Map<string, string>();

/**
 * What HAProxy holds now, in short: each server that is or was in use (backend/slot, address, operational and
 * admin state: op 2 = up, adm 0 = ready, adm 1 = maint set at run time) and the map. Empty for the Node edge.
 */
export async function haproxyState(edgeUrl: string): Promise<string> {
  const sock = haproxySockets.get(edgeUrl);
  if (sock === undefined) return '';
  try {
    const servers = (await socketCommand(sock, 'show servers state', 2000)).split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 18 && /^\d+$/.test(f[0]!) && (f[4] !== '127.0.0.1' || f[18] !== '1')) // not never-used slots
      .map((f) => `${f[1]}/${f[3]} ${f[4]}:${f[18]} op${f[5]} adm${f[6]}`);
    const map = await socketCommand(sock, `show map ${join(dirname(sock), 'routes.map')}`, 2000);
    return `haproxy servers: ${servers.join(' | ')}; map: ${map.trim().split('\n').map((l) => l.split(' ').slice(1).join(' ')).join(' | ')}`;
  } catch (err) {
    return `haproxy admin socket: ${(err as Error).message}`;
  }
}

/**
 * Requests HAProxy answered through Pier's app backends (not its Node edge fallback), from `show stat`: the sum of
 * the BACKEND rows' cumulated sessions. Undefined for a Pier whose data plane is the Node edge.
 */
export async function haproxyDirectRequests(edgeUrl: string): Promise<number | undefined> {
  const sock = haproxySockets.get(edgeUrl);
  if (sock === undefined) return undefined;
  const rows = (await socketCommand(sock, 'show stat', 2000)).split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(','));
  // Fields: pxname, svname, ..., stot is the 8th (index 7).
  return rows.filter((f) => f[1] === 'BACKEND' && f[0] !== NODE_BACKEND && f[0] !== NODE_TLS_BACKEND)
    .reduce((n, f) => n + Number(f[7] ?? 0), 0);
}

/** Outcome of a load run. */
export interface LoadStats { ok: number; failures: string[]; bodies: Set<string> }

/** underLoad's bounds: every load loop stops after this long or this many requests, whichever comes first. */
const LOAD_MAX_MS = 120_000;
const LOAD_MAX_REQUESTS = 200_000;

/**
 * Runs `clients` keep-alive clients in a loop against the edge until `during` settles (bounded: LOAD_MAX_MS and
 * LOAD_MAX_REQUESTS). `seen` holds the greetings observed so far, so `during` can wait for a switch.
 */
export async function underLoad(edgeUrl: string, host: string, clients: number, during: (seen: Set<string>) => Promise<void>): Promise<LoadStats> {
  const u = new URL(edgeUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const stats: LoadStats = { ok: 0, failures: [], bodies: new Set() };
  const deadline = Date.now() + LOAD_MAX_MS;
  const atBound = () => Date.now() >= deadline || stats.ok + stats.failures.length >= LOAD_MAX_REQUESTS;
  let stop = false;
  const once = () => new Promise<void>((resolve) => {
    const req = http.get({ host: u.hostname, port: Number(u.port), path: '/', agent, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => {
        const m = /hello from pier (\S+)/.exec(body);
        if (res.statusCode === 200 && m) {
          stats.ok++;
          stats.bodies.add(m[1]);
        } else {
          stats.failures.push(`${res.statusCode} ${body.slice(0, 160)}`);
        }
        resolve();
      });
      res.on('error', (err) => { stats.failures.push(`response: ${err.message}`); resolve(); });
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => { stats.failures.push(`request: ${err.message}`); resolve(); });
  });
  const loops = Array.from({ length: clients }, async () => {
    while (!stop && !atBound()) await once();
  });
  try {
    await during(stats.bodies);
  } catch (err) {
    // A wait inside `during` that timed out would hide what the clients saw: say it, and what HAProxy holds.
    if (err instanceof Error) {
      const failed = stats.failures.slice(-3).map((f) => f.slice(0, 120)).join(' | ');
      const bound = atBound() ? ' (the load had stopped at its bound)' : '';
      const state = await haproxyState(edgeUrl);
      err.message += `; load so far${bound}: ${stats.ok} answered by ${[...stats.bodies].join(', ') || 'none'}, `
        + `${stats.failures.length} failed${failed ? ` (last: ${failed})` : ''}${state ? `; ${state}` : ''}`;
    }
    throw err;
  } finally {
    stop = true;
    await Promise.all(loops);
    agent.destroy();
  }
  return stats;
}

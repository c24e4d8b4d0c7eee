// A real Pier for the autoscaling suites and the benchmark: SQLite in a temp dir, API and edge on free loopback
// ports, short autoscaler windows (PIER_AUTOSCALE_*), and either the default platform with the Docker runtime or the
// process runtime. Process instances need an app directory, which an image deployment cannot name, so that variant
// gives the default platform (src/platform.ts) a process driver that runs the test app directory for every instance. Helpers create services through the public API, load the
// edge with bounded loops and wait on conditions with deadlines.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { edgeGet as sharedEdgeGet, type EdgeReply } from '../support/edge-get.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierComponent, type PierCore, type PierHandle } from '../../src/main.ts';
import { platformComponents } from '../../src/platform.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { containerFreezer } from '../../src/runtime/docker/freezer.ts';
import { ProcessRuntime } from '../../src/runtime/process/driver.ts';
import { detectCgroupLayout, InstanceCgroup } from '../../src/runtime/process/cgroups.ts';
import type { Runtime } from '../../src/runtime/contract.ts';
import { ensureTestImage, prepareTestAppDir } from '../../src/runtime/testing/images.ts';

/** True when a Docker engine answers on the default socket. */
export const engineUp = await new DockerEngine().ping(3000).then(() => true, () => false);

/** Short windows so a test sees a full up-and-down cycle in seconds. */
export const FAST_AUTOSCALE = {
  PIER_AUTOSCALE_STABLE_WINDOW_MS: '6000',
  PIER_AUTOSCALE_PANIC_WINDOW_MS: '2000',
  PIER_AUTOSCALE_SCALE_DOWN_DELAY_MS: '2000',
  PIER_AUTOSCALE_TICK_MS: '500',
};

/** A reply through the edge. */
export type { EdgeReply };

/** A running Pier and the helpers the autoscaling suites share. */
export interface ScalePier {
  pier: PierHandle;
  runtime: 'docker' | 'process';
  edgeUrl: string;
  hostOf(appName: string): string;
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  createApp(name: string): Promise<string>;
  createService(appId: string, name: string, definition: Record<string, unknown>): Promise<{ id: string; latest_deployment_id: string }>;
  deployment(id: string): Promise<any>;
  /** Instances of a service with one of the statuses. */
  instances(serviceId: string, statuses: string[]): Promise<any[]>;
  /** Scaling events of a service, oldest first. */
  scalingEvents(serviceId: string): Promise<string[]>;
  get(host: string, path?: string): Promise<EdgeReply>;
  /** Whether the runtime still has the workload of this allocation id (container or process sandbox). */
  workloadExists(allocationId: string): Promise<boolean>;
  /** Whether that workload runs (a deep sleep stops it: Docker keeps the stopped container, issue #23). */
  workloadRunning(allocationId: string): Promise<boolean>;
  /** Whether that workload is frozen (light sleep): a paused or cgroup-frozen container, or a frozen cgroup. */
  frozen(allocationId: string): Promise<boolean>;
  close(): Promise<void>;
}

import { until } from '../support/until.ts';
import { apiClient } from '../support/api-client.ts';
import { appDirRuntime } from '../support/app-dir-runtime.ts';

export { until };

/** A web service on the test app: HTTP on 8000 routed at /, answering with its instance id; HTTP health check. */
export function webDef(runtime: 'docker' | 'process', scaling: Record<string, unknown>, image = 'pier-test/busybox:1'): Record<string, unknown> {
  return {
    type: 'WEB',
    docker: { image: runtime === 'docker' ? image : 'pier-test/directory' },
    ports: [{ port: 8000, protocol: 'http' }],
    routes: [{ port: 8000, path: '/' }],
    regions: ['was'],
    scalings: [scaling],
    instance_types: [{ type: 'nano' }],
    env: [{ key: 'GREETING', value: 'instance-{{ KOYEB_INSTANCE_ID }}' }],
    // HTTP, not TCP: Docker's userland proxy accepts connections before the app listens, so a TCP check passes
    // too early there and a woken instance would get traffic it cannot answer yet.
    health_checks: [{ http: { port: 8000, path: '/health' }, grace_period: 5, interval: 5 }],
  };
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** GET through the edge with this Host (keep-alive, 20 s bound). */
export function edgeGet(edgeUrl: string, host: string, path = '/'): Promise<EdgeReply> {
  return sharedEdgeGet(edgeUrl, host, path, { agent, timeoutMs: 20_000 });
}


/** A bounded load: `workers` loops of GETs (pause `gapMs` between), until stop() or `maxMs`; counts outcomes. */
export function startLoad(edgeUrl: string, host: string, workers: number, gapMs: number, maxMs = 60_000) {
  let running = true;
  // bodies: the distinct answers (each instance answers with its id); firstAt: when each was first answered (epoch ms).
  const stats = { ok: 0, failed: 0, failures: [] as string[], bodies: new Set<string>(), firstAt: new Map<string, number>() };
  const deadline = Date.now() + maxMs;
  const loops = Array.from({ length: workers }, async () => {
    while (running && Date.now() < deadline) {
      try {
        const r = await edgeGet(edgeUrl, host);
        if (r.status === 200) {
          stats.ok++;
          const body = r.body.trim();
          if (!stats.bodies.has(body)) { stats.bodies.add(body); stats.firstAt.set(body, Date.now()); }
        } else { stats.failed++; if (stats.failures.length < 5) stats.failures.push(`${r.status} ${/<p>(.*?)<\/p>/s.exec(r.body)?.[1] ?? r.body.slice(0, 160)}`); }
      } catch (err) {
        stats.failed++;
        if (stats.failures.length < 5) stats.failures.push((err as Error).message);
      }
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    }
  });
  return { stats, async stop() { running = false; await Promise.all(loops); } };
}

/** The process driver running the test app directory for every instance (deployments cannot name one yet). */
function testAppRuntime(stateDir: string, dataDir: string): Runtime {
  const inner = new ProcessRuntime({ stateDir });
  // Inside the data dir (beside the driver's state), so closing the Pier removes it too.
  const app = prepareTestAppDir(dataDir);
  return appDirRuntime(inner, app, { network: undefined, networkAliases: undefined });
}

/** The default platform over the test-app process runtime; closing the Pier also removes its instances. */
async function processComponents(core: PierCore, holder: { runtime?: Runtime }): Promise<PierComponent[]> {
  const dir = join(core.config.dataDir, 'process');
  mkdirSync(dir, { recursive: true });
  const runtime = testAppRuntime(dir, core.config.dataDir);
  holder.runtime = runtime;
  // Instances keep running when Pier stops (adoption); a test Pier removes its own, after everything else stopped.
  const cleanup: PierComponent = {
    name: 'remove-test-instances',
    start() {},
    async stop() { for (const h of await runtime.recover()) { await runtime.stop(h.runtimeId, 2000); await runtime.remove(h.runtimeId); } },
  };
  return [cleanup, ...await platformComponents(core, { runtime })];
}

/** Starts Pier with short autoscaler windows on the chosen runtime. */
export async function startScalePier(runtime: 'docker' | 'process', env: Record<string, string> = FAST_AUTOSCALE): Promise<ScalePier> {
  if (runtime === 'docker') await ensureTestImage();
  Object.assign(process.env, env, { PIER_EDGE_WORKERS: '1' });
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-autoscale-'));
  const token = `tok-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const config = loadConfig(
    { 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', runtime },
    { ...process.env, PIER_TOKEN: token },
  );
  const holder: { runtime?: Runtime } = {};
  const pier = await startPier(config, runtime === 'process' ? { log: () => {}, components: (core) => processComponents(core, holder) } : { log: () => {} });
  const engine = new DockerEngine();
  const apps: string[] = [];
  const api = apiClient(pier.apiUrl, token);
  const info = await api<{ edge_url: string }>('GET', '/v1/pier/info');
  const edgeUrl = info.body.edge_url;
  return {
    pier, runtime, edgeUrl, api,
    hostOf: (name) => `${name}-${config.orgName}.${config.domain}`,
    async createApp(name) {
      const r = await api('POST', '/v1/apps', { name });
      if (r.status !== 200) throw new Error(`create app ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      apps.push(r.body.app.id);
      return r.body.app.id;
    },
    async createService(appId, name, definition) {
      const r = await api('POST', '/v1/services', { app_id: appId, name, definition: { name, ...definition } });
      if (r.status !== 200) throw new Error(`create service ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.service;
    },
    deployment: async (id) => (await api('GET', `/v1/deployments/${id}`)).body.deployment,
    async instances(serviceId, statuses) {
      const q = statuses.map((s) => `&statuses=${s}`).join('');
      return (await api('GET', `/v1/instances?service_id=${serviceId}${q}&limit=100`)).body.instances ?? [];
    },
    async scalingEvents(serviceId) {
      const r = await api('GET', `/v1/service_events?service_id=${serviceId}&limit=100&order=asc`);
      return (r.body.events ?? []).filter((e: any) => e.type === 'autoscaled').map((e: any) => e.message as string);
    },
    get: (host, path) => edgeGet(edgeUrl, host, path),
    async workloadExists(id) {
      if (holder.runtime) return (await holder.runtime.inspect(id)) != null;
      return (await engine.jsonOrNull('GET', `/containers/${id}/json`)) !== null;
    },
    async workloadRunning(id) {
      if (holder.runtime) return (await holder.runtime.inspect(id))?.running === true;
      return (await engine.jsonOrNull<{ State: { Running: boolean } }>('GET', `/containers/${id}/json`))?.State.Running === true;
    },
    async frozen(id) {
      // The process driver names each instance's cgroup after its id (the allocation id), under `pier`.
      if (holder.runtime) { const layout = detectCgroupLayout(); return layout !== null && new InstanceCgroup(layout, 'pier', id).frozen(); }
      // Paused by the engine, or frozen through its own cgroup (the driver's light sleep, which the engine does not see).
      const c = await engine.jsonOrNull<{ Id: string; State: { Paused: boolean; Pid: number } }>('GET', `/containers/${id}/json`);
      return c !== null && (c.State.Paused || containerFreezer(c.Id, c.State.Pid)?.frozen() === true);
    },
    async close() {
      // Deleting the apps stops and removes their instances (Docker containers included) before Pier stops.
      for (const id of apps) await api('DELETE', `/v1/apps/${id}`);
      await until('apps deleted', async () => {
        const r = await api('GET', '/v1/instances?limit=100&statuses=ALLOCATING&statuses=STARTING&statuses=HEALTHY&statuses=UNHEALTHY&statuses=STOPPING&statuses=SLEEPING');
        return (r.body.instances ?? []).length === 0;
      }, 60_000, 250).catch(() => undefined);
      await pier.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// A real Pier for the function suites and the benchmark: SQLite in a temp dir, API and edge on free loopback ports,
// short autoscaler windows, the default platform components on the chosen runtime. Helpers upload a directory as
// an archive, create function services with the CLI's defaults, wait for deployments and call the edge.
import http from 'node:http';
import { edgeGet as sharedEdgeGet, type EdgeReply } from '../support/edge-get.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { packDirectory } from '../../src/cli/commands/deploy.ts';
import { functionDefinition, type FunctionOptions } from '../../src/build/functions/definition.ts';
import { apiClient } from '../support/api-client.ts';
import { until } from '../support/until.ts';

/** Short autoscaler windows so sleep and wake happen within seconds. */
export const FAST_AUTOSCALE = {
  PIER_AUTOSCALE_STABLE_WINDOW_MS: '6000',
  PIER_AUTOSCALE_PANIC_WINDOW_MS: '2000',
  PIER_AUTOSCALE_SCALE_DOWN_DELAY_MS: '2000',
  PIER_AUTOSCALE_TICK_MS: '500',
};

/** A reply through the edge. */
export type { EdgeReply };

/** GET through the edge with this Host (keep-alive, 30 s bound). */
export function edgeGet(edgeUrl: string, host: string, path = '/', headers: Record<string, string> = {}): Promise<EdgeReply> {
  return sharedEdgeGet(edgeUrl, host, path, { headers, agent, timeoutMs: 30_000 });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** A running Pier with function helpers. */
export interface FunctionPier {
  pier: PierHandle;
  /** The API token (for CLI runs). */
  token: string;
  dataDir: string;
  edgeUrl: string;
  api: ReturnType<typeof apiClient>;
  hostOf(appName: string): string;
  /** Packs and uploads a directory; resolves with the archive id. */
  upload(dir: string): Promise<string>;
  createApp(name: string): Promise<string>;
  /** Creates a function service (functionDefinition defaults) in app `appId`. */
  createFunction(appId: string, o: FunctionOptions): Promise<{ id: string; latest_deployment_id: string }>;
  /** Waits until the deployment reaches one of `statuses`; throws when it ends in another final status. */
  waitDeployment(id: string, statuses: string[], ms?: number): Promise<any>;
  get(host: string, path?: string, headers?: Record<string, string>): Promise<EdgeReply>;
  close(): Promise<void>;
}


const FINAL = new Set(['ERROR', 'CANCELED', 'STOPPED']);

/** Starts Pier on `runtime` with short autoscaler windows. */
export async function startFunctionPier(runtime: 'process' | 'docker', env: Record<string, string> = FAST_AUTOSCALE): Promise<FunctionPier> {
  Object.assign(process.env, env, { PIER_EDGE_WORKERS: '1' });
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-functions-'));
  const token = `tok-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const config = loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', runtime }, {
    // Functions from local git repositories, deployed with the operator's token: an operator setting (off by default).
    ...process.env, PIER_TOKEN: token, PIER_GIT_ALLOW_LOCAL: 'operator',
  });
  const pier = await startPier(config, { log: () => {} });
  const api = apiClient(pier.apiUrl, token);
  const edgeUrl = (await api<{ edge_url: string }>('GET', '/v1/pier/info')).body.edge_url;
  const apps: string[] = [];
  return {
    pier, token, dataDir, edgeUrl, api,
    hostOf: (name) => `${name}-${config.orgName}.${config.domain}`,
    async upload(dir) {
      const { data } = await packDirectory(dir);
      const r = await api('POST', '/v1/archives', { size: String(data.length) });
      if (r.status !== 200) throw new Error(`archive: ${r.status} ${JSON.stringify(r.body)}`);
      const up = await fetch(r.body.archive.upload_url, { method: 'PUT', body: new Uint8Array(data), headers: { 'content-type': 'application/gzip' } });
      if (!up.ok) throw new Error(`upload: HTTP ${up.status}`);
      return r.body.archive.id as string;
    },
    async createApp(name) {
      const r = await api('POST', '/v1/apps', { name });
      if (r.status !== 200) throw new Error(`create app ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      apps.push(r.body.app.id);
      return r.body.app.id;
    },
    async createFunction(appId, o) {
      const r = await api('POST', '/v1/services', { app_id: appId, name: o.name, definition: functionDefinition(o) });
      if (r.status !== 200) throw new Error(`create service ${o.name}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.service;
    },
    async waitDeployment(id, statuses, ms = 180_000) {
      // A final status other than the wanted ones ends the wait at once (until() would keep polling on a throw).
      const seen = await until(`deployment ${id} ${statuses.join('|')}`, async () => {
        const d = (await api('GET', `/v1/deployments/${id}`)).body.deployment;
        return statuses.includes(d.status) || FINAL.has(d.status) ? d : undefined;
      }, ms, 250);
      if (!statuses.includes(seen.status)) throw new Error(`deployment ${id} is ${seen.status}: ${(seen.messages ?? []).join(' | ')}`);
      return seen;
    },
    get: (host, path, headers) => edgeGet(edgeUrl, host, path, headers),
    async close() {
      // Every app, including those the CLI created.
      const all = (await api('GET', '/v1/apps?limit=100')).body.apps ?? [];
      for (const id of new Set([...apps, ...all.map((a: { id: string }) => a.id)])) await api('DELETE', `/v1/apps/${id}`);
      await until('apps deleted', async () => {
        const r = await api('GET', '/v1/instances?limit=100&statuses=ALLOCATING&statuses=STARTING&statuses=HEALTHY&statuses=UNHEALTHY&statuses=STOPPING&statuses=SLEEPING');
        return (r.body.instances ?? []).length === 0;
      }, 60_000, 250).catch(() => undefined);
      await pier.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

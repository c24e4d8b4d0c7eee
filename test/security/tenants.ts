// A real Pier API (SQLite in a temp dir, no runtime) whose installation organization is `ops`, so tests can create
// tenant organizations with any name (even `pier`) through the operator route and act with their own admin tokens.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { apiClient, type ApiReply } from '../support/api-client.ts';

/** A JSON client of one token. */
export type Api = <T = any>(method: string, path: string, body?: unknown) => Promise<ApiReply<T>>;

/** A running Pier with an operator and a way to add tenants. */
export interface Tenants {
  pier: PierHandle;
  url: string;
  dataDir: string;
  /** The operator (a full-access token of the installation organization `ops`). */
  operator: Api;
  /** Creates organization `name` through the operator route; its first admin token and a client of it. */
  tenant(name: string): Promise<{ token: string; api: Api; organizationId: string }>;
  close(): Promise<void>;
}

/** Starts Pier; `env` adds settings (PIER_GIT_ALLOW_LOCAL ...) on top of a clean environment. */
export async function startTenants(env: Record<string, string> = {}): Promise<Tenants> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-tenants-'));
  const token = `ops-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  // Like test/api/helpers.ts: with PIER_TEST_POSTGRES_ADMIN_URL set, each Pier gets a fresh PostgreSQL database.
  const pgAdmin = process.env.PIER_TEST_POSTGRES_ADMIN_URL;
  const db = pgAdmin ? { DATABASE_URL: await (await import('../postgres/cluster.ts')).createDatabaseOn(pgAdmin, 'tenants') } : {};
  const config = loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'org-name': 'ops' }, { ...env, ...db, PIER_TOKEN: token });
  const pier = await startPier(config, { log: () => {}, components: () => [] });
  const operator = apiClient(pier.apiUrl, token) as Api;
  return {
    pier, url: pier.apiUrl, dataDir, operator,
    async tenant(name) {
      const r = await operator('POST', '/v1/pier/organizations', { name });
      if (r.status !== 200) throw new Error(`create organization ${name}: ${r.status} ${JSON.stringify(r.body)}`);
      const t = r.body.credential.token as string;
      return { token: t, api: apiClient(pier.apiUrl, t) as Api, organizationId: r.body.organization.id as string };
    },
    async close() {
      await pier.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A valid web service definition (docker image, HTTP on 8080) routed at `path`, with overrides. */
export function webService(path = '/', over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'WEB', docker: { image: 'nginx:1.27' }, ports: [{ port: 8080, protocol: 'http' }], routes: [{ port: 8080, path }],
    regions: ['fra'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }], ...over,
  };
}

/** A git-sourced web definition (no docker image) for `repository`. */
export function gitService(repository: string, git: Record<string, unknown> = {}, path = '/'): Record<string, unknown> {
  const def = webService(path, { git: { repository, branch: 'main', ...git } });
  delete def.docker;
  return def;
}

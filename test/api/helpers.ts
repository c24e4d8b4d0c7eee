// Starts a real Pier (SQLite store in a temp dir, API on a free loopback port) and makes requests to it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { generateToken, insertOrganization, insertToken } from '../../src/store/organizations.ts';

/** A reply: status and parsed JSON body. */
export interface Reply<T = any> { status: number; body: T }

/** A running test Pier plus request helpers. */
export interface TestPier {
  pier: PierHandle;
  url: string;
  token: string;
  organizationId: string;
  /** Sends a JSON request with the admin token (or `token` when given; `null` for none). */
  req<T = any>(method: string, path: string, body?: unknown, token?: string | null): Promise<Reply<T>>;
  /** A token of a second, unrelated organization. */
  otherOrgToken(): Promise<string>;
  close(): Promise<void>;
}

/** Starts Pier on port 0 in a fresh temp data dir. */
export async function startTestPier(opts: { env?: Record<string, string> } = {}): Promise<TestPier> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-api-'));
  // test/postgres/api.test.ts re-runs these suites on PostgreSQL: a fresh database per Pier on its test cluster.
  const pgAdmin = process.env.PIER_TEST_POSTGRES_ADMIN_URL;
  const env = pgAdmin ? { DATABASE_URL: await (await import('../postgres/cluster.ts')).createDatabaseOn(pgAdmin, 'api') } : {};
  const config = loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0' }, { ...opts.env, ...env });
  const pier = await startPier(config, { log: () => {}, components: () => [] });
  const { readFileSync } = await import('node:fs');
  const creds = JSON.parse(readFileSync(pier.credentialsPath, 'utf8')) as { token: string; url: string; organization_id: string };
  const url = pier.apiUrl;
  async function req<T>(method: string, path: string, body?: unknown, token: string | null = creds.token): Promise<Reply<T>> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* non-JSON replies (metrics) stay text */ }
    return { status: res.status, body: parsed as T };
  }
  return {
    pier, url, token: creds.token, organizationId: creds.organization_id, req,
    async otherOrgToken() {
      const org = await insertOrganization(pier.store.db, `other-${Math.random().toString(36).slice(2, 8)}`);
      const t = generateToken();
      await insertToken(pier.store.db, org.id, 'other', t);
      return t;
    },
    async close() {
      await pier.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A minimal valid web service definition (docker image, one HTTP port routed at /). */
export function webDefinition(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'WEB',
    docker: { image: 'nginx:1.27' },
    ports: [{ port: 8080, protocol: 'http' }],
    routes: [{ port: 8080, path: '/' }],
    env: [{ key: 'GREETING', value: 'hello' }],
    regions: ['fra'],
    scalings: [{ min: 1, max: 1 }],
    instance_types: [{ type: 'nano' }],
    ...overrides,
  };
}

/** Creates an app and returns its id. */
export async function createApp(t: TestPier, name: string): Promise<string> {
  const r = await t.req<{ app: { id: string } }>('POST', '/v1/apps', { name });
  if (r.status !== 200) throw new Error(`create app ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.app.id;
}

/** Creates a service and returns its wire object; by default it is routed at `/<name>`, so services of one app never clash. */
export async function createService(
  t: TestPier, appId: string, name: string, definition = webDefinition({ routes: [{ port: 8080, path: `/${name}` }] }),
): Promise<any> {
  const r = await t.req('POST', '/v1/services', { app_id: appId, name, definition });
  if (r.status !== 200) throw new Error(`create service ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.service;
}

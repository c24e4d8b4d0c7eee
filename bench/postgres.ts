// API latency on PostgreSQL against SQLite, measured in the same run: a Pier with the API only (no components) on
// each store, the same services created through the API, then sequential GETs of one service and of a 20-service
// page. PostgreSQL is a throwaway cluster (test/postgres/cluster.ts) on loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { startPier } from '../src/main.ts';
import { apiClient } from '../test/support/api-client.ts';
import { postgresUnavailable, startPgCluster } from '../test/postgres/cluster.ts';
import type { Row } from './run.ts';

interface Percentiles { p50: number; p99: number; runs: number }

function percentiles(xs: number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p99: at(0.99), runs: s.length };
}

async function timed(n: number, fn: () => Promise<void>): Promise<Percentiles> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return percentiles(out);
}

/** One store's numbers. */
interface StoreResult { create_service: Percentiles; get_service: Percentiles; list_services_20: Percentiles }

async function measure(databaseUrl: string | undefined, services: number, requests: number): Promise<StoreResult> {
  const dir = mkdtempSync(join(tmpdir(), 'pier-bench-pg-'));
  const token = 'pier-bench-postgres-token-0123456789';
  // One token sends every request: no rate limit (it would measure 429s, not the store).
  const env: Record<string, string> = { PIER_TOKEN: token, PIER_API_RATE_LIMIT: '0', ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) };
  const pier = await startPier(loadConfig({ 'data-dir': dir, 'api-addr': '127.0.0.1:0' }, env), { log: () => {}, components: () => [] });
  try {
    const api = apiClient(pier.apiUrl, token);
    const appId = (await api('POST', '/v1/apps', { name: 'bench' })).body.app.id as string;
    const def = {
      type: 'WEB', docker: { image: 'nginx:1.27' }, ports: [{ port: 8080, protocol: 'http' }], routes: [{ port: 8080, path: '/' }],
      regions: ['fra'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }],
    };
    let i = 0;
    let lastId = '';
    const create_service = await timed(services, async () => {
      const r = await api('POST', '/v1/services', { app_id: appId, name: `svc-${i++}`, definition: def });
      if (r.status !== 200) throw new Error(`create service: ${r.status} ${JSON.stringify(r.body)}`);
      lastId = r.body.service.id;
    });
    const get_service = await timed(requests, async () => { if ((await api('GET', `/v1/services/${lastId}`)).status !== 200) throw new Error('get failed'); });
    const list_services_20 = await timed(requests, async () => { const r = await api('GET', '/v1/services?limit=20'); if (r.status !== 200) throw new Error(`list failed: ${r.status} ${JSON.stringify(r.body)}`); });
    return { create_service, get_service, list_services_20 };
  } finally {
    await pier.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the comparison; `skipped` says why PostgreSQL could not run here. */
export async function postgresBench(opts: { services?: number; requests?: number } = {}): Promise<{ sqlite?: StoreResult; postgres?: StoreResult; skipped?: string; rows: Row[] }> {
  const services = opts.services ?? 200;
  const requests = opts.requests ?? 300;
  // Sequential requests measure the store, not the per-token rate limit (as bench/api.ts does).
  process.env.PIER_API_RATE_LIMIT = '0';
  const skipped = postgresUnavailable();
  if (skipped) return { skipped, rows: [{ bench: 'API on PostgreSQL', measured: `skipped: ${skipped}`, baseline: '-', target: '-' }] };
  const sqlite = await measure(undefined, services, requests);
  const cluster = await startPgCluster();
  let postgres: StoreResult;
  try {
    postgres = await measure(await cluster.createDatabase('bench'), services, requests);
  } finally {
    await cluster.stop();
  }
  const ms = (x: number) => `${x.toFixed(2)} ms`;
  const row = (what: string, k: keyof StoreResult, target: number): Row => ({
    bench: `${what} on PostgreSQL (${services} services, loopback)`,
    measured: `p50 ${ms(postgres[k].p50)}, p99 ${ms(postgres[k].p99)}`,
    baseline: `SQLite p50 ${ms(sqlite[k].p50)}, p99 ${ms(sqlite[k].p99)}`,
    target: `p99 < ${target} ms`, met: postgres[k].p99 < target,
  });
  return {
    sqlite, postgres,
    rows: [row('API GET /v1/services/{id}', 'get_service', 10), row('API list 20 services', 'list_services_20', 20), row('API create service', 'create_service', 50)],
  };
}

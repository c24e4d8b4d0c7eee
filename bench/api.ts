// API benchmark: fills a temp store with N services through the actions layer (batched in transactions), then
// measures p50/p99 latencies over real HTTP on loopback and the control plane's idle RSS.
// Standalone: `node bin/run-ts.mjs bench/api.ts [N...]` prints JSON (default: 1000 and 10000 services).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { startPier } from '../src/main.ts';
import { createApp, createService } from '../src/actions/index.ts';
import type { ActionContext } from '../src/actions/index.ts';

/** Latency summary of one request kind, in milliseconds. */
export interface Latency { count: number; p50: number; p99: number; max: number }

/** What benchApi reports. */
export interface Result {
  services: number;
  fill_seconds: number;
  get_service: Latency;
  list_services_20: Latency;
  list_services_100: Latency;
  create_service: Latency;
  idle_rss_mb: number;
}

function summarize(samples: number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => Number(s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(3));
  return { count: s.length, p50: at(0.5), p99: at(0.99), max: Number(s[s.length - 1]!.toFixed(3)) };
}

const definition = {
  type: 'WEB', docker: { image: 'nginx:1.27' }, ports: [{ port: 8080, protocol: 'http' }], routes: [{ port: 8080, path: '/' }],
  regions: ['fra'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }],
};

async function timed(n: number, fn: (i: number) => Promise<void>): Promise<Latency> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

/** Runs the benchmark for one store size. */
export async function benchApi(opts: { services: number; samples?: number }): Promise<Result> {
  const samples = opts.samples ?? 300;
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-bench-'));
  // The API and store alone: this measures the control-plane path, not instances. One token sends every request,
  // so the per-token rate limit is off here (it would measure 429s, not the API).
  const pier = await startPier(loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0' }, { PIER_API_RATE_LIMIT: '0' }), { log: () => {}, components: () => [] });
  try {
    const { readFileSync } = await import('node:fs');
    const { token } = JSON.parse(readFileSync(pier.credentialsPath, 'utf8')) as { token: string };
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const t0 = performance.now();
    // 16 services per app (Koyeb's documented limit per app), 500 services per transaction.
    const ids: string[] = [];
    const appIds: string[] = [];
    for (let start = 0; start < opts.services; start += 500) {
      await pier.store.db.transaction(async (tx) => {
        const ctx: ActionContext = { store: { ...pier.store, db: tx }, organizationId: pier.organizationId };
        for (let i = start; i < Math.min(opts.services, start + 500); i++) {
          if (i % 16 === 0) appIds.push((await createApp(ctx, { name: `app-${i / 16}` })).id);
          ids.push((await createService(ctx, { app_id: appIds[appIds.length - 1], name: `svc-${i}`, definition })).id);
        }
      });
    }
    const fillSeconds = (performance.now() - t0) / 1000;
    const get = (path: string) => fetch(pier.apiUrl + path, { headers }).then(async (r) => {
      if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
      await r.arrayBuffer();
    });
    const getService = await timed(samples, (i) => get(`/v1/services/${ids[(i * 7919) % ids.length]}`));
    const list20 = await timed(samples, (i) => get(`/v1/services?limit=20&offset=${(i * 20) % Math.max(1, opts.services - 20)}`));
    const list100 = await timed(samples, (i) => get(`/v1/services?limit=100&offset=${(i * 100) % Math.max(1, opts.services - 100)}`));
    const benchApp = (await createApp({ store: pier.store, organizationId: pier.organizationId }, { name: 'bench-create' })).id;
    const create = await timed(Math.min(samples, 200), async (i) => {
      const r = await fetch(pier.apiUrl + '/v1/services', {
        method: 'POST', headers, body: JSON.stringify({ app_id: benchApp, name: `new-${i}`, definition }),
      });
      if (r.status !== 200) throw new Error(`create: ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    });
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 200));
    return {
      services: opts.services, fill_seconds: Number(fillSeconds.toFixed(2)), get_service: getService,
      list_services_20: list20, list_services_100: list100, create_service: create,
      // In-process: includes the benchmark client, so it is an upper bound of the control plane's idle RSS.
      idle_rss_mb: Number((process.memoryUsage().rss / 1024 / 1024).toFixed(1)),
    };
  } finally {
    await pier.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
  const results: Result[] = [];
  for (const n of sizes.length ? sizes : [1000, 10000]) results.push(await benchApi({ services: n }));
  console.log(JSON.stringify(results, null, 2));
}

// Deploy benchmark through a real Pier (startPier: API + store + runtime + edge + controller), per runtime:
//   create → HEALTHY: from `POST /v1/services` until the service reads HEALTHY (docker: image already local;
//                     process: a local git repository, so the directory build is included);
//   redeploy → serving: from `PATCH /v1/services/{id}` (new env) until the edge answers with the new deployment.
// Plus the sandbox-vs-bare-spawn overhead from bench/runtime.ts. Every wait is bounded.
// Standalone: `node bin/run-ts.mjs bench/deploy.ts [runs]` prints a table.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { startPier } from '../src/main.ts';
import { ensureTestImage, prepareTestAppDir } from '../src/runtime/testing/images.ts';
import { runtimeBench, type Timing } from './runtime.ts';
import { breakdown, medianSteps, publishedAt, watchRouteFeed, type Breakdown } from './deploy-breakdown.ts';
import { rawDockerRunToFirst200 } from './deploy-baseline.ts';
import { onDockerStartTimings, type StartTimings } from '../src/runtime/docker/timing.ts';

/** p50/p95 of one measured step, in milliseconds. */
export interface Percentiles { runs: number; p50: number; p95: number; max: number; /** The first sample, in run order. */ first?: number }

/** One runtime's numbers, or why it was skipped. */
export interface RuntimeDeployResult {
  create_to_healthy_ms?: Percentiles; redeploy_to_serving_ms?: Percentiles;
  /** Median per step of create → first request served (bench/deploy-breakdown.ts), and every run's steps. */
  create_steps_ms?: Record<keyof Breakdown, number>; create_runs?: Breakdown[];
  /** Create → first request served through the edge (the last step of the breakdown). */
  create_to_serving_ms?: Percentiles;
  /**
   * Docker only: where the driver's time went per create (src/runtime/docker/timing.ts spans, ms; `network_*` for the
   * app network's create, `gap_*` from the instance row to the driver's first call), median over runs.
   */
  driver_spans_ms?: Record<string, number>;
  /** Docker only: the same image's `docker run -p` to its first 200, no Pier (bench/deploy-baseline.ts), same run. */
  raw_docker_run_ms?: Percentiles;
  skipped?: string;
}

/** Everything deployBench measured. */
export interface DeployBenchResult {
  docker: RuntimeDeployResult;
  process: RuntimeDeployResult;
  /** p50 of a sandboxed start+wait+remove minus p50 of a bare spawn of the same program (absent if unmeasured). */
  sandbox_overhead_ms?: number;
  sandbox: Timing[];
  skipped: string[];
}

const STEP_TIMEOUT_MS = 120_000;

function percentiles(samples: number[]): Percentiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => +s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)].toFixed(1);
  return { runs: s.length, p50: at(0.5), p95: at(0.95), max: +s[s.length - 1].toFixed(1), first: +samples[0].toFixed(1) };
}

function viaEdge(edgeUrl: string, host: string): Promise<string> {
  return new Promise((resolve) => {
    const req = http.get(`${edgeUrl}/`, { headers: { host }, timeout: 2000, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(res.statusCode === 200 ? body : ''));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(''));
  });
}

/** Polls `probe` every `everyMs` (default 10) until it holds; throws after STEP_TIMEOUT_MS. */
async function until(what: string, probe: () => Promise<boolean>, everyMs = 10): Promise<void> {
  const deadline = Date.now() + STEP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A local git repository holding the test app, with a Procfile the directory builder launches. */
function testRepo(): string {
  const app = prepareTestAppDir();
  writeFileSync(join(app.dir, 'Procfile'), `web: ${app.entrypoint.join(' ')}\n`);
  const git = (...args: string[]) => execFileSync('git', ['-C', app.dir, ...args], { stdio: 'ignore', env: { ...process.env, GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@pier.invalid', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@pier.invalid' } });
  git('init', '-q', '-b', 'main');
  git('add', '.');
  git('commit', '-q', '-m', 'test app');
  return app.dir;
}

/** One create's driver spans: the instance's start, its app network's create, and the gaps before them. */
function driverSpans(timings: StartTimings[], instanceId: string, appId: string, createdAt: number): Record<string, number> {
  const start = timings.find((t) => t.instanceId === instanceId);
  const net = timings.find((t) => t.instanceId.startsWith('network ') && t.instanceId.endsWith(appId));
  const out: Record<string, number> = {};
  if (net) Object.assign(out, { gap_to_network: net.startedAt - createdAt, ...net.spans });
  if (start) Object.assign(out, { gap_to_start: start.startedAt - createdAt, driver_start: start.totalMs, ...start.spans });
  return out;
}

/** Per key, the median over runs that have it. */
function medianOf(runs: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set(runs.flatMap((r) => Object.keys(r)))) {
    const v = runs.map((r) => r[k]).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    out[k] = +v[Math.floor((v.length - 1) / 2)].toFixed(1);
  }
  return out;
}

/** Runs `runs` create/redeploy cycles against a Pier on `runtime`, each in its own app, deleted afterwards. */
async function benchRuntime(runtime: 'docker' | 'process', runs: number): Promise<RuntimeDeployResult> {
  const dataDir = mkdtempSync(join(tmpdir(), `pier-bench-deploy-${runtime}-`));
  const token = randomBytes(24).toString('hex');
  let repo: string | undefined;
  let pier: Awaited<ReturnType<typeof startPier>> | undefined;
  try {
    let source: Record<string, unknown>;
    if (runtime === 'docker') source = { docker: { image: await ensureTestImage() } };
    else source = { git: { repository: (repo = testRepo()), branch: 'main' } };
    pier = await startPier(loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', runtime }, { ...process.env, PIER_TOKEN: token, PIER_GIT_ALLOW_LOCAL: 'operator' }), { log: () => {} });
    const base = pier.apiUrl;
    const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
      return (text ? JSON.parse(text) : {}) as T;
    };
    const info = await api<{ edge_url?: string; runtime?: string }>('GET', '/v1/pier/info');
    if (info.runtime !== runtime) return { skipped: `Pier chose runtime ${info.runtime}` };
    if (!info.edge_url) return { skipped: 'no edge_url in /v1/pier/info' };
    const definition = (greeting: string) => ({
      name: 'web', type: 'WEB', ...source, env: [{ key: 'GREETING', value: greeting }],
      ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }],
      health_checks: [{ http: { port: 8000, path: '/health' }, grace_period: 0, interval: 1, timeout: 1 }],
      regions: ['fra'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }],
    });
    const create: number[] = [];
    const redeploy: number[] = [];
    const steps: Breakdown[] = [];
    const feed = watchRouteFeed(pier.routeFeed);
    const timings: StartTimings[] = [];
    const spans: Record<string, number>[] = [];
    if (runtime === 'docker') onDockerStartTimings((t) => timings.push(t));
    try {
      for (let i = 0; i < runs; i++) {
        const { app } = await api<{ app: { id: string; domains?: { name: string }[] } }>('POST', '/v1/apps', { name: `bench${i}` });
        const host = app.domains?.[0]?.name;
        if (!host) throw new Error('the app has no domain');
        const t0 = performance.now();
        const sent = Date.now();
        // The first 200 through the edge, polled every 5 ms from the POST on (bounded by STEP_TIMEOUT_MS).
        let served: number | undefined;
        const serving = until('first deployment serving', async () => {
          const ok = (await viaEdge(info.edge_url!, host)).includes(`hello from pier a${i}`);
          if (ok) served = Date.now();
          return ok;
        }, 5);
        const { service } = await api<{ service: { id: string } }>('POST', '/v1/services', { app_id: app.id, definition: definition(`a${i}`) });
        const replied = Date.now();
        await until('HEALTHY', async () => (await api<{ service: { status: string } }>('GET', `/v1/services/${service.id}`)).service.status === 'HEALTHY');
        create.push(performance.now() - t0);
        await serving;
        const { instances } = await api<{ instances: { id: string; created_at: string; started_at: string | null; succeeded_at: string | null }[] }>('GET', `/v1/instances?service_id=${service.id}`);
        const inst = instances[0];
        const { deployments } = await api<{ deployments: { allocated_at: string | null }[] }>('GET', `/v1/deployments?service_id=${service.id}`);
        steps.push(breakdown({
          sent, replied, allocated: deployments[0]?.allocated_at, created: inst?.created_at, started: inst?.started_at, healthy: inst?.succeeded_at,
          routed: inst ? publishedAt(feed.tables, inst.id, sent) : undefined, served,
        }));
        if (runtime === 'docker' && inst) spans.push(driverSpans(timings, inst.id, app.id, Date.parse(inst.created_at)));
        const t1 = performance.now();
        await api('PATCH', `/v1/services/${service.id}`, { definition: definition(`b${i}`) });
        await until('redeploy serving', async () => (await viaEdge(info.edge_url!, host)).includes(`hello from pier b${i}`));
        redeploy.push(performance.now() - t1);
        await api('DELETE', `/v1/apps/${app.id}`);
        await until('app deleted', async () => {
          const res = await fetch(`${base}/v1/apps/${app.id}`, { headers: { authorization: `Bearer ${token}` } });
          if (res.status === 404) return true;
          return ((await res.json()) as { app?: { status?: string } }).app?.status === 'DELETED';
        });
      }
    } finally {
      feed.stop();
      onDockerStartTimings(undefined);
    }
    const serving = steps.map((x) => x.api_write + x.provision + x.pickup + x.runtime_start + x.first_probe_pass + x.route_published + x.first_request).filter(Number.isFinite);
    const raw = runtime === 'docker' ? await rawDockerRunToFirst200(runs) : [];
    return {
      create_to_healthy_ms: percentiles(create), redeploy_to_serving_ms: percentiles(redeploy), create_steps_ms: medianSteps(steps), create_runs: steps,
      ...(spans.length ? { driver_spans_ms: medianOf(spans) } : {}),
      ...(serving.length ? { create_to_serving_ms: percentiles(serving) } : {}), ...(raw.length ? { raw_docker_run_ms: percentiles(raw) } : {}),
    };
  } finally {
    await pier?.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (repo) rmSync(repo, { recursive: true, force: true });
  }
}

/** Runs the deploy benchmark: `runs` cycles per runtime (1..20), then the sandbox overhead benchmark. */
export async function deployBench(opts: { runs?: number; runtimes?: ('docker' | 'process')[]; sandbox?: boolean } = {}): Promise<DeployBenchResult> {
  // 20 by default: with fewer, the nearest-rank p95 is the maximum (with 5, the first create after Pier started, which
  // pays the control plane's warm-up: its first build, its first instance); the maximum and that first one are kept.
  const runs = Math.min(20, Math.max(1, opts.runs ?? 20));
  const out: DeployBenchResult = { docker: {}, process: {}, sandbox: [], skipped: [] };
  for (const rt of opts.runtimes ?? ['docker', 'process']) {
    try {
      out[rt] = await benchRuntime(rt, runs);
    } catch (err) {
      out[rt] = { skipped: (err as Error).message };
    }
  }
  // bench/run.ts measures the sandbox in its own section and asks for sandbox: false, so it runs once per bench run.
  if (opts.sandbox === false) return out;
  const sandbox = await runtimeBench(20);
  out.sandbox = sandbox.timings;
  out.skipped = sandbox.skipped;
  const bare = sandbox.timings.find((t) => t.name.startsWith('bare spawn'));
  const boxed = sandbox.timings.find((t) => t.name.startsWith('process sandbox'));
  if (bare && boxed) out.sandbox_overhead_ms = +(boxed.p50 - bare.p50).toFixed(2);
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const r = await deployBench({ runs: Number(process.argv[2]) || 20 });
  const row = (name: string, p?: Percentiles) => console.log(`${name.padEnd(44)} ${p ? `p50 ${String(p.p50).padStart(8)} ms  p95 ${String(p.p95).padStart(8)} ms  (n=${p.runs})` : '-'}`);
  for (const rt of ['docker', 'process'] as const) {
    if (r[rt].skipped) { console.log(`${rt}: skipped: ${r[rt].skipped}`); continue; }
    row(`${rt}: service create → HEALTHY`, r[rt].create_to_healthy_ms);
    row(`${rt}: redeploy → new deployment serving`, r[rt].redeploy_to_serving_ms);
    row(`${rt}: service create → first request served`, r[rt].create_to_serving_ms);
    if (r[rt].raw_docker_run_ms) row('docker run -p → first 200 (no Pier)', r[rt].raw_docker_run_ms);
    console.log(`${rt}: create steps (median ms) ${JSON.stringify(r[rt].create_steps_ms)}`);
    if (r[rt].driver_spans_ms) console.log(`${rt}: driver spans (median ms) ${JSON.stringify(r[rt].driver_spans_ms)}`);
    for (const x of r[rt].create_runs ?? []) console.log(`  ${JSON.stringify(Object.fromEntries(Object.entries(x).map(([k, v]) => [k, Math.round(v)])))}`);
  }
  for (const t of r.sandbox) console.log(`${t.name.padEnd(62)} p50 ${String(t.p50).padStart(8)} ms  p90 ${String(t.p90).padStart(8)} ms  (n=${t.runs})`);
  if (r.sandbox_overhead_ms !== undefined) console.log(`${'sandbox overhead vs bare spawn (p50)'.padEnd(62)} ${r.sandbox_overhead_ms} ms`);
  for (const s of r.skipped) console.log(`skipped: ${s}`);
}

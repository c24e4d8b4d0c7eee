// Functions benchmark on the process runtime, through a whole Pier and its edge: for a hello-world handler in
// JavaScript, TypeScript and Python, the cold start (asleep for real: SLEEPING and its workload gone; then one
// request timed to its full body) p50/p95 over N wakes, and the warm latency p50/p99. Baselines in the same run:
// a bare `node -e` HTTP server and Pier's JS wrapper alone, each from spawn to its first response (no platform).
// Every loop is bounded in count and time. Standalone: `node bin/run-ts.mjs bench/functions.ts [wakes] [javascript,typescript,python]`
// (BENCH_FUNCTION_INSTANCE_TYPE=small runs the functions on another instance type than the default nano).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProcessRuntime } from '../src/runtime/process/driver.ts';
import { findHandler, FUNCTION_DIR } from '../src/build/functions/detect.ts';
import { prepareFunction } from '../src/build/functions/build.ts';
import { dirView } from '../src/build/builder.ts';
import { startFunctionPier, type FunctionPier } from '../test/functions/platform.ts';
import { writeDir } from '../test/functions/support.ts';
import { until } from '../test/support/until.ts';
import { freePort } from '../test/support/ports.ts';

/** A summary row in bench/run.ts's table. */
interface Row { bench: string; measured: string; baseline: string; target: string; met?: boolean }

/** Percentiles of one series, ms. */
interface Stats { n: number; p50: number; p95: number; p99: number; max: number }

/** What one language measured. */
export interface LanguageResult { language: string; cold: Stats; warm: Stats; coldSamplesMs: number[]; failed: number; failures: string[] }

const HANDLERS: Record<string, Record<string, string>> = {
  javascript: { 'handler.mjs': 'export default { fetch() { return new Response("hello world"); } };\n' },
  typescript: { 'handler.ts': 'export default { fetch(_request: Request): Response { return new Response("hello world"); } };\n' },
  python: { 'handler.py': 'def handler(request):\n    return "hello world"\n' },
};

const BENCH_ENV = {
  PIER_AUTOSCALE_STABLE_WINDOW_MS: '6000',
  PIER_AUTOSCALE_PANIC_WINDOW_MS: '2000',
  PIER_AUTOSCALE_SCALE_DOWN_DELAY_MS: '2000',
  PIER_AUTOSCALE_TICK_MS: '250',
};

const TARGET_JS_COLD_P50_MS = 300;

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! : NaN);
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) };
}

/** Spawns argv with PORT set and times until the first 200 answer (polling every 2 ms, 10 s bound). */
async function spawnToFirstResponse(argv: string[], env: Record<string, string> = {}): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: String(port), ...env }, stdio: 'ignore' });
  try {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/`);
        await r.text();
        if (r.status === 200) return performance.now() - t0;
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 2));
    }
    throw new Error(`${argv.join(' ')} did not answer within 10 s`);
  } finally {
    child.kill('SIGKILL');
  }
}

async function baselines(n: number): Promise<{ bareNode: Stats; jsWrapper: Stats; pythonWrapper: Stats }> {
  const bare = ['-e', 'require("http").createServer((q, s) => s.end("hello world")).listen(process.env.PORT)'];
  const js = writeDir(HANDLERS.javascript!);
  const py = writeDir(HANDLERS.python!);
  for (const dir of [js, py]) await prepareFunction(dir, findHandler(dirView(dir))!);
  const series = { bareNode: [] as number[], jsWrapper: [] as number[], pythonWrapper: [] as number[] };
  for (let i = 0; i < n; i++) {
    series.bareNode.push(await spawnToFirstResponse([process.execPath, ...bare]));
    series.jsWrapper.push(await spawnToFirstResponse([process.execPath, join(js, FUNCTION_DIR, 'wrapper.mjs')]));
    series.pythonWrapper.push(await spawnToFirstResponse(['python3', join(py, FUNCTION_DIR, 'wrapper.py')]));
  }
  return { bareNode: stats(series.bareNode), jsWrapper: stats(series.jsWrapper), pythonWrapper: stats(series.pythonWrapper) };
}

async function measureLanguage(p: FunctionPier, runtime: ProcessRuntime, language: string, wakes: number, warmN: number, budgetMs: number): Promise<LanguageResult> {
  const appName = `bench-${language.slice(0, 2)}`;
  const app = await p.createApp(appName);
  const archive = await p.upload(writeDir(HANDLERS[language]!));
  const svc = await p.createFunction(app, { name: 'hello', source: { archive: { id: archive, buildpack: {} } }, sleepSeconds: 1, instanceType: process.env.BENCH_FUNCTION_INSTANCE_TYPE });
  await p.waitDeployment(svc.latest_deployment_id, ['HEALTHY', 'SLEEPING']);
  const host = p.hostOf(appName);
  const failures: string[] = [];
  let failed = 0;
  const note = (what: string) => { failed++; if (failures.length < 5) failures.push(what); };

  // Warm: a burst right after a wake keeps the instance up; 20 requests of warm-up, then warmN timed ones.
  const warm: number[] = [];
  for (let i = 0; i < warmN + 20; i++) {
    const r = await p.get(host, '/');
    if (r.status !== 200) { note(`warm ${r.status} ${r.body.slice(0, 100)}`); continue; }
    if (i >= 20) warm.push(r.ms);
  }

  const cold: number[] = [];
  const deadline = Date.now() + budgetMs;
  for (let i = 0; i < wakes && Date.now() < deadline; i++) {
    const asleep = await until('asleep', async () => {
      const s = (await p.api('GET', `/v1/instances?service_id=${svc.id}&statuses=SLEEPING&limit=10`)).body.instances ?? [];
      return s.length === 1 && !(await runtime.inspect(s[0].allocation_id));
    }, 60_000, 50).catch(() => false);
    if (!asleep) { failures.push('did not fall asleep within 60 s'); break; }
    try {
      const r = await p.get(host, '/');
      if (r.status === 200 && r.body === 'hello world') cold.push(r.ms); else note(`cold ${r.status} ${r.body.slice(0, 100)}`);
    } catch (err) { note((err as Error).message); }
  }
  return { language, cold: stats(cold), warm: stats(warm), coldSamplesMs: cold.map((x) => Number(x.toFixed(1))), failed, failures };
}

/** Runs the benchmark: baselines, then each language on the process runtime. */
export async function functionsBench(opts: { wakes?: number; warm?: number; budgetMs?: number; languages?: string[] } = {}): Promise<{ baseline: Awaited<ReturnType<typeof baselines>>; results: LanguageResult[]; skipped: string[]; rows: Row[] }> {
  const wakes = opts.wakes ?? 20;
  const baseline = await baselines(wakes);
  const results: LanguageResult[] = [];
  const skipped: string[] = [];
  let p: FunctionPier | undefined;
  try {
    p = await startFunctionPier('process', BENCH_ENV);
    const runtime = new ProcessRuntime({ stateDir: join(p.dataDir, 'process') });
    for (const language of opts.languages ?? ['javascript', 'typescript', 'python']) {
      try {
        results.push(await measureLanguage(p, runtime, language, wakes, opts.warm ?? 200, opts.budgetMs ?? 180_000));
      } catch (err) {
        skipped.push(`${language}: ${(err as Error).message}`);
      }
    }
  } catch (err) {
    skipped.push(`process: ${(err as Error).message}`);
  } finally {
    await p?.close().catch(() => undefined);
  }
  return { baseline, results, skipped, rows: rowsOf(baseline, results, wakes, skipped) };
}

function rowsOf(b: Awaited<ReturnType<typeof baselines>>, results: LanguageResult[], wanted: number, skipped: string[]): Row[] {
  const ms = (x: number) => (Number.isNaN(x) ? 'n/a' : `${Math.round(x)} ms`);
  const fine = (x: number) => (Number.isNaN(x) ? 'n/a' : `${x.toFixed(2)} ms`);
  const rows: Row[] = [];
  for (const r of results) {
    const name = r.language === 'javascript' ? 'JavaScript' : r.language === 'typescript' ? 'TypeScript' : 'Python';
    const base = r.language === 'python' ? `wrapper alone, spawn to 1st response p50 ${ms(b.pythonWrapper.p50)}`
      : `bare node -e server p50 ${ms(b.bareNode.p50)}; wrapper alone p50 ${ms(b.jsWrapper.p50)}`;
    rows.push({
      bench: `Function cold start (${name}, process): from SLEEPING, first request to response, ${r.cold.n} wakes`,
      measured: `p50 ${ms(r.cold.p50)}, p95 ${ms(r.cold.p95)}`, baseline: base,
      target: r.language === 'javascript' ? `p50 < ${TARGET_JS_COLD_P50_MS} ms, >= ${wanted} wakes` : 'recorded',
      met: r.language === 'javascript' ? r.cold.n >= wanted && r.cold.p50 < TARGET_JS_COLD_P50_MS : undefined,
    });
    rows.push({ bench: `Function warm latency (${name}, process, through the edge), ${r.warm.n} requests`, measured: `p50 ${fine(r.warm.p50)}, p99 ${fine(r.warm.p99)}`, baseline: '-', target: 'recorded' });
    if (r.failed) rows.push({ bench: `Functions (${name}): failed requests`, measured: `${r.failed}: ${r.failures.join(' | ')}`, baseline: '-', target: '0', met: false });
  }
  for (const s of skipped) rows.push({ bench: 'functions (skipped)', measured: s, baseline: '-', target: '-' });
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const out = await functionsBench({ wakes: Number(process.argv[2]) || 20, languages: process.argv[3]?.split(',') });
  for (const r of out.rows) console.log(`${r.bench.padEnd(90)} ${r.measured.padEnd(30)} ${r.baseline}`);
  console.log(JSON.stringify(out.results.map((r) => ({ language: r.language, cold: r.coldSamplesMs }))));
  process.exit(0);
}

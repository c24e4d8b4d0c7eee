// Functions benchmark on the process runtime, through a whole Pier and its edge: for a hello-world handler in
// JavaScript, TypeScript and Python, the cold start (asleep for real: SLEEPING and its workload gone; then one
// request timed to its full body) p50/p95 over N wakes, and the warm latency p50/p99. Baselines in the same run:
// a bare `node -e` HTTP server and Pier's JS wrapper alone, each from spawn to its first response (no platform), and
// both again inside a cgroup with the function's CPU limit (nano: 0.25 vCPU, as the instance gets): the floor a
// cold start on that instance type cannot beat. Each cold start is broken down from the control plane's timestamps
// (bench/deploy-breakdown.ts's way): request sent -> new instance row (wake picked up) -> STARTING (runtime start
// done) -> HEALTHY (first passing probe) -> route table naming it handed to the edge -> full response.
// Every loop is bounded in count and time. Standalone: `node bin/run-ts.mjs bench/functions.ts [wakes] [javascript,typescript,python]`
// (BENCH_FUNCTION_INSTANCE_TYPE=small runs the functions on another instance type than the default nano).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ProcessRuntime } from '../src/runtime/process/driver.ts';
import { InstanceCgroup, detectCgroupLayout } from '../src/runtime/process/cgroups.ts';
import { instanceResources } from '../src/domain/catalog.ts';
import { publishedAt, watchRouteFeed } from './deploy-breakdown.ts';
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

/** Where one cold start's time went, ms (wall clock of this process, which runs the control plane and the edge). */
export interface ColdSteps { pickup: number; runtime_start: number; first_probe_pass: number; route_published: number; forward_response: number }
const COLD_STEPS: (keyof ColdSteps)[] = ['pickup', 'runtime_start', 'first_probe_pass', 'route_published', 'forward_response'];

/** What one language measured. */
export interface LanguageResult {
  language: string; cold: Stats; warm: Stats; coldSamplesMs: number[]; failed: number; failures: string[];
  /** Per step, the median over the cold starts (NaN where a mark was missing). */
  coldSteps: ColdSteps;
}

function medianOfSteps(runs: ColdSteps[]): ColdSteps {
  const out = {} as ColdSteps;
  for (const k of COLD_STEPS) {
    const v = runs.map((r) => r[k]).filter(Number.isFinite).sort((a, b) => a - b);
    out[k] = v.length ? Math.round(v[Math.floor((v.length - 1) / 2)]!) : NaN;
  }
  return out;
}

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

/** Issue #23's goal. */
const TARGET_JS_COLD_P50_MS = 120;

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]! : NaN);
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: at(1) };
}

/**
 * Spawns argv with PORT set and times until the first 200 answer (polling every 2 ms, 10 s bound). With `cpu`, the
 * program runs in a fresh cgroup limited to that many vCPUs (the instance's limit), entered before it execs.
 */
async function spawnToFirstResponse(argv: string[], cpu?: number): Promise<number> {
  const port = await freePort();
  const cg = cpu ? quotaCgroup(cpu) : undefined;
  const run = cg ? ['/bin/bash', '-c', 'for f in $PIER_BENCH_PROCS; do echo $$ > "$f"; done; exec "$@"', 'bench', ...argv] : argv;
  const t0 = performance.now();
  const child = spawn(run[0]!, run.slice(1), { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: String(port), ...(cg ? { PIER_BENCH_PROCS: cg.procsFiles().join(' ') } : {}) }, stdio: 'ignore' });
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
    if (cg) {
      if (child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
      for (let i = 0; i < 100; i++) { try { cg.destroy(); break; } catch { await new Promise((r) => setTimeout(r, 10)); } }
    }
  }
}

let quotaSeq = 0;
/** A cgroup under `pier-bench` limited to `cpu` vCPUs (memory and pids generous), or undefined where none can be made. */
function quotaCgroup(cpu: number): InstanceCgroup | undefined {
  const layout = detectCgroupLayout();
  if (!layout) return undefined;
  const cg = new InstanceCgroup(layout, 'pier-bench', `functions-${process.pid}-${++quotaSeq}`);
  try { cg.create({ cpu, memoryBytes: 1024 * 1024 * 1024, pids: 256 }); return cg; } catch { return undefined; }
}

/** The CPU limit a function's instance gets (the bench's instance type, nano by default). */
function functionCpu(): number { return instanceResources(process.env.BENCH_FUNCTION_INSTANCE_TYPE || 'nano')?.cpu ?? 0.25; }

async function baselines(n: number): Promise<{ bareNode: Stats; jsWrapper: Stats; pythonWrapper: Stats; bareNodeLimited: Stats; jsWrapperLimited: Stats; cpu: number }> {
  const bare = ['-e', 'require("http").createServer((q, s) => s.end("hello world")).listen(process.env.PORT)'];
  const js = writeDir(HANDLERS.javascript!);
  const py = writeDir(HANDLERS.python!);
  for (const dir of [js, py]) await prepareFunction(dir, findHandler(dirView(dir))!);
  const series = { bareNode: [] as number[], jsWrapper: [] as number[], pythonWrapper: [] as number[], bareNodeLimited: [] as number[], jsWrapperLimited: [] as number[] };
  const cpu = functionCpu();
  const limited = quotaCgroup(cpu);
  limited?.destroy();
  for (let i = 0; i < n; i++) {
    series.bareNode.push(await spawnToFirstResponse([process.execPath, ...bare]));
    series.jsWrapper.push(await spawnToFirstResponse([process.execPath, join(js, FUNCTION_DIR, 'wrapper.mjs')]));
    series.pythonWrapper.push(await spawnToFirstResponse(['python3', join(py, FUNCTION_DIR, 'wrapper.py')]));
    if (!limited) continue; // no cgroups here (not root): no floor row
    series.bareNodeLimited.push(await spawnToFirstResponse([process.execPath, ...bare], cpu));
    series.jsWrapperLimited.push(await spawnToFirstResponse([process.execPath, join(js, FUNCTION_DIR, 'wrapper.mjs')], cpu));
  }
  if (limited) try { new InstanceCgroup(limited.layout, '', limited.parent).destroy(); } catch { /* another run's still there */ }
  return {
    bareNode: stats(series.bareNode), jsWrapper: stats(series.jsWrapper), pythonWrapper: stats(series.pythonWrapper),
    bareNodeLimited: stats(series.bareNodeLimited), jsWrapperLimited: stats(series.jsWrapperLimited), cpu,
  };
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
  const steps: ColdSteps[] = [];
  const feed = watchRouteFeed(p.pier.routeFeed);
  const deadline = Date.now() + budgetMs;
  for (let i = 0; i < wakes && Date.now() < deadline; i++) {
    const asleep = await until('asleep', async () => {
      const s = (await p.api('GET', `/v1/instances?service_id=${svc.id}&statuses=SLEEPING&limit=10`)).body.instances ?? [];
      return s.length === 1 && !(await runtime.inspect(s[0].allocation_id));
    }, 60_000, 50).catch(() => false);
    if (!asleep) { failures.push('did not fall asleep within 60 s'); break; }
    try {
      const sent = Date.now();
      const r = await p.get(host, '/');
      const served = Date.now();
      if (r.status === 200 && r.body === 'hello world') cold.push(r.ms); else { note(`cold ${r.status} ${r.body.slice(0, 100)}`); continue; }
      // The instance this wake started (a deep sleep's workload is gone: a new row), from the control plane's marks.
      const rows: { id: string; created_at: string; started_at: string | null; succeeded_at: string | null }[] = (await p.api('GET', `/v1/instances?service_id=${svc.id}&limit=10`)).body.instances ?? [];
      const inst = rows.find((x) => Date.parse(x.created_at) >= sent - 1);
      const t = (s?: string | null) => (s ? Date.parse(s) : NaN);
      const routed = inst ? publishedAt(feed.tables, inst.id, sent) ?? NaN : NaN;
      if (inst) {
        steps.push({
          pickup: t(inst.created_at) - sent, runtime_start: t(inst.started_at) - t(inst.created_at), first_probe_pass: t(inst.succeeded_at) - t(inst.started_at),
          route_published: routed - t(inst.succeeded_at), forward_response: served - routed,
        });
      }
    } catch (err) { note((err as Error).message); }
  }
  feed.stop();
  return { language, cold: stats(cold), warm: stats(warm), coldSamplesMs: cold.map((x) => Number(x.toFixed(1))), failed, failures, coldSteps: medianOfSteps(steps) };
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
    const limited = b.bareNodeLimited.n ? `; within ${b.cpu} vCPU (the instance's limit): bare node p50 ${ms(b.bareNodeLimited.p50)}, wrapper p50 ${ms(b.jsWrapperLimited.p50)}` : '';
    const base = r.language === 'python' ? `wrapper alone, spawn to 1st response p50 ${ms(b.pythonWrapper.p50)}`
      : `bare node -e server p50 ${ms(b.bareNode.p50)}; wrapper alone p50 ${ms(b.jsWrapper.p50)}${limited}`;
    rows.push({
      bench: `Function cold start (${name}, process): from SLEEPING, first request to response, ${r.cold.n} wakes`,
      measured: `p50 ${ms(r.cold.p50)}, p95 ${ms(r.cold.p95)}`, baseline: base,
      target: r.language === 'javascript' ? `p50 < ${TARGET_JS_COLD_P50_MS} ms, >= ${wanted} wakes` : 'recorded',
      met: r.language === 'javascript' ? r.cold.n >= wanted && r.cold.p50 < TARGET_JS_COLD_P50_MS : undefined,
    });
    const s = r.coldSteps;
    rows.push({
      bench: `Function cold start (${name}) where the time goes, medians: request -> instance row -> runtime started -> first passing probe -> route to the edge -> response`,
      measured: `pickup ${ms(s.pickup)} / start ${ms(s.runtime_start)} / probe ${ms(s.first_probe_pass)} / route ${ms(s.route_published)} / response ${ms(s.forward_response)}`,
      baseline: '-', target: 'recorded',
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

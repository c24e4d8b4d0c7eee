// Autoscaling benchmark over a whole Pier per runtime (process, docker): the time from a load step to the extra
// instances serving, and the first-request latency from zero (p50/p95 over N wakes: idle until the workload is
// gone, then one request timed to its full body), plus every request that failed along the way (target zero).
// Short autoscaler windows and a 1 s idle delay keep it quick; every loop is bounded in count and time.
// Standalone: `node bin/run-ts.mjs bench/autoscale.ts [wakes] [process,docker]`.
import { pathToFileURL } from 'node:url';
import { engineUp, startLoad, startScalePier, until, webDef, type ScalePier } from '../test/autoscale/harness.ts';

/** What one runtime measured. */
export interface RuntimeScaleResult {
  runtime: 'process' | 'docker';
  /** ms from the load step until a second instance answered, and until every instance up to max did. */
  loadStep: { firstExtraMs: number | null; allMs: number | null; max: number };
  /** Wakes from deep sleep (workload stopped: a new one starts). */
  wakes: { n: number; p50: number; p95: number; max: number; samplesMs: number[] };
  /** Wakes from light sleep (workload frozen: thawed), and a request to the same service awake (the baseline). */
  lightWakes?: { n: number; p50: number; p95: number; max: number; samplesMs: number[] };
  warm?: { n: number; p50: number; p95: number; max: number };
  failed: number;
  failures: string[];
}

/** Options of the benchmark. */
export interface AutoscaleBenchOptions {
  /** Wake-ups measured per runtime (default 20). */
  wakes?: number;
  runtimes?: ('process' | 'docker')[];
  /** sleep_idle_delay of the scale-to-zero service, seconds (default 1). */
  idleSeconds?: number;
  /** Time budget per runtime (default 5 min). */
  budgetMs?: number;
}

/** A summary row in bench/run.ts's table. */
interface Row { bench: string; measured: string; baseline: string; target: string; met?: boolean }

const TARGET_P50_MS = { process: 500, docker: 150 } as const;
/** Issue #23: a frozen instance thaws in milliseconds. */
const LIGHT_TARGET_P50_MS = 20;
const BENCH_ENV = {
  PIER_AUTOSCALE_STABLE_WINDOW_MS: '6000',
  PIER_AUTOSCALE_PANIC_WINDOW_MS: '2000',
  PIER_AUTOSCALE_SCALE_DOWN_DELAY_MS: '2000',
  PIER_AUTOSCALE_TICK_MS: '250',
};

function pct(sorted: number[], q: number): number {
  return sorted.length ? Number(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)].toFixed(1)) : NaN;
}

async function loadStep(p: ScalePier, budgetMs: number): Promise<{ result: RuntimeScaleResult['loadStep']; failed: number; failures: string[] }> {
  const max = 3;
  const app = await p.createApp('step');
  const svc = await p.createService(app, 'web', webDef(p.runtime, { min: 1, max, targets: [{ requests_per_second: { value: 5 } }] }));
  await until('one healthy instance', async () => (await p.instances(svc.id, ['HEALTHY'])).length === 1, 120_000, 200);
  // Warm the route (and the edge's keep-alive connection) before the step.
  await until('routed', async () => (await p.get(p.hostOf('step'))).status === 200, 30_000, 100);
  const t0 = performance.now();
  const load = startLoad(p.edgeUrl, p.hostOf('step'), 4, 20, Math.min(budgetMs, 90_000));
  let firstExtraMs: number | null = null;
  let allMs: number | null = null;
  try {
    await until('every instance serving', async () => {
      const n = load.stats.bodies.size;
      if (n >= 2 && firstExtraMs === null) firstExtraMs = performance.now() - t0;
      if (n >= max) allMs = performance.now() - t0;
      return n >= max;
    }, Math.min(budgetMs, 90_000), 20).catch(() => undefined);
  } finally {
    await load.stop();
  }
  return { result: { firstExtraMs, allMs, max }, failed: load.stats.failed, failures: load.stats.failures };
}

/** Wakes from `mode` sleep, timed to the full body: idle until asleep for real (deep: workload gone; light: frozen). */
async function wakes(p: ScalePier, n: number, mode: 'deep' | 'light', idleSeconds: number, budgetMs: number): Promise<{ samples: number[]; warm: number[]; failed: number; failures: string[] }> {
  const name = mode === 'deep' ? 'sleepy' : 'dozy';
  const app = await p.createApp(name);
  const sleep = mode === 'deep' ? { deep_sleep_value: idleSeconds } : { light_sleep_value: idleSeconds, deep_sleep_value: 3600 };
  const svc = await p.createService(app, 'web', webDef(p.runtime, { min: 0, max: 1, targets: [{ sleep_idle_delay: sleep }] }));
  await until('healthy', async () => (await p.instances(svc.id, ['HEALTHY'])).length === 1, 120_000, 200);
  const samples: number[] = [];
  const warm: number[] = [];
  const failures: string[] = [];
  let failed = 0;
  const deadline = Date.now() + budgetMs;
  const get = async (into: number[]) => {
    try {
      const r = await p.get(p.hostOf(name));
      if (r.status === 200) into.push(r.ms);
      else { failed++; if (failures.length < 5) failures.push(`${r.status} ${/<p>(.*?)<\/p>/s.exec(r.body)?.[1] ?? r.body.slice(0, 160)}`); }
    } catch (err) {
      failed++;
      if (failures.length < 5) failures.push((err as Error).message);
    }
  };
  for (let i = 0; i < n && Date.now() < deadline; i++) {
    // Asleep for real: the replica SLEEPING and its workload gone (deep) or frozen (light).
    const asleep = await until('asleep', async () => {
      const s = await p.instances(svc.id, ['SLEEPING']);
      if (s.length !== 1) return false;
      return mode === 'deep' ? !(await p.workloadExists(s[0].allocation_id)) : await p.frozen(s[0].allocation_id);
    }, 60_000, 50).catch(() => false);
    if (!asleep) { failures.push(`did not fall into ${mode} sleep within 60 s`); break; }
    await get(samples);
    // The same request to the awake service: the baseline of this row.
    if (mode === 'light') await get(warm);
  }
  return { samples, warm, failed, failures };
}

/** Runs the benchmark on each available runtime. */
export async function autoscaleBench(opts: AutoscaleBenchOptions = {}): Promise<{ results: RuntimeScaleResult[]; skipped: string[]; rows: Row[] }> {
  const n = opts.wakes ?? 20;
  const budgetMs = opts.budgetMs ?? 300_000;
  const results: RuntimeScaleResult[] = [];
  const skipped: string[] = [];
  for (const runtime of opts.runtimes ?? ['process', 'docker']) {
    if (runtime === 'docker' && !engineUp) { skipped.push('docker: engine not reachable'); continue; }
    let p: ScalePier | undefined;
    try {
      p = await startScalePier(runtime, BENCH_ENV);
      const step = await loadStep(p, budgetMs / 3);
      const w = await wakes(p, n, 'deep', opts.idleSeconds ?? 1, budgetMs);
      const l = await wakes(p, n, 'light', opts.idleSeconds ?? 1, budgetMs);
      const stats = (xs: number[]) => { const sorted = [...xs].sort((a, b) => a - b); return { n: sorted.length, p50: pct(sorted, 0.5), p95: pct(sorted, 0.95), max: pct(sorted, 1) }; };
      results.push({
        runtime, loadStep: step.result,
        wakes: { ...stats(w.samples), samplesMs: w.samples.map((x) => Number(x.toFixed(1))) },
        lightWakes: { ...stats(l.samples), samplesMs: l.samples.map((x) => Number(x.toFixed(1))) },
        warm: stats(l.warm),
        failed: step.failed + w.failed + l.failed, failures: [...step.failures, ...w.failures, ...l.failures],
      });
    } catch (err) {
      skipped.push(`${runtime}: ${(err as Error).message}`);
    } finally {
      await p?.close().catch(() => undefined);
    }
  }
  return { results, skipped, rows: rowsOf(results, n) };
}

function rowsOf(results: RuntimeScaleResult[], wanted: number): Row[] {
  const rows: Row[] = [];
  const ms = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : `${Math.round(x)} ms`);
  for (const r of results) {
    rows.push({
      bench: `Autoscale (${r.runtime}): load step to extra instances serving (1 -> ${r.loadStep.max})`,
      measured: `2nd instance ${ms(r.loadStep.firstExtraMs)}, all ${r.loadStep.max} ${ms(r.loadStep.allMs)}`, baseline: '-', target: '-',
    });
    const target = TARGET_P50_MS[r.runtime];
    const warm = r.warm && r.warm.n ? `same service awake p50 ${ms(r.warm.p50)}` : '-';
    const ratio = (x: number) => (r.warm && r.warm.n && r.warm.p50 > 0 ? ` = ${(x / r.warm.p50).toFixed(1)}x awake` : '');
    rows.push({
      bench: `Wake from deep sleep (${r.runtime}, workload stopped): first request latency, ${r.wakes.n} wakes`,
      measured: `p50 ${ms(r.wakes.p50)}, p95 ${ms(r.wakes.p95)}${ratio(r.wakes.p50)}`, baseline: warm, target: `p50 < ${target} ms, >= ${wanted} wakes`,
      met: r.wakes.n >= wanted && r.wakes.p50 < target,
    });
    if (r.lightWakes) {
      rows.push({
        bench: `Wake from light sleep (${r.runtime}, workload frozen): first request latency, ${r.lightWakes.n} wakes`,
        measured: `p50 ${ms(r.lightWakes.p50)}, p95 ${ms(r.lightWakes.p95)}${ratio(r.lightWakes.p50)}`, baseline: warm, target: `p50 < ${LIGHT_TARGET_P50_MS} ms, >= ${wanted} wakes`,
        met: r.lightWakes.n >= wanted && r.lightWakes.p50 < LIGHT_TARGET_P50_MS,
      });
    }
    rows.push({ bench: `Autoscale (${r.runtime}): requests failed during the run`, measured: String(r.failed), baseline: '-', target: '0', met: r.failed === 0 });
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runtimes = process.argv[3]?.split(',').filter((x): x is 'process' | 'docker' => x === 'process' || x === 'docker');
  const out = await autoscaleBench({ wakes: Number(process.argv[2]) || 20, runtimes });
  for (const r of out.rows) console.log(`${r.bench.padEnd(72)} ${r.measured.padEnd(36)} target ${r.target}${r.met === undefined ? '' : r.met ? '  ok' : '  MISSED'}`);
  for (const r of out.results) if (r.failures.length) console.log(`${r.runtime} failures: ${r.failures.join(' | ')}`);
  for (const s of out.skipped) console.log(`skipped: ${s}`);
  console.log(JSON.stringify(out.results.map((r) => ({ runtime: r.runtime, wakes: r.wakes.samplesMs, light: r.lightWakes?.samplesMs }))));
  process.exit(0);
}

// Density benchmark (issue #26): the control plane's idle CPU with N idle process-runtime instances, each followed by
// the control plane's LogCollector as in production. Idle instances must cost (almost) nothing: the target is under
// 2 % of a core at 200 instances (and at 1,000), flat in N. Standalone: `node bin/run-ts.mjs bench/density.ts [N,N,...] [idleSeconds]`.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LogCollector } from '../src/control/logs.ts';
import type { ControlState } from '../src/control/ports.ts';
import type { Instance } from '../src/domain/types.ts';
import { InstanceCgroup, detectCgroupLayout } from '../src/runtime/process/cgroups.ts';
import { ProcessRuntime } from '../src/runtime/process/driver.ts';
import { prepareTestAppDir } from '../src/runtime/testing/images.ts';

/** One measured instance count. */
export interface DensityPoint {
  instances: number;
  /** Control-plane CPU (user + system of this process) over the idle window, in % of one core. */
  idle_cpu_percent: number;
  idle_seconds: number;
  /** Wall time to start the N instances, divided by N. */
  start_ms_per_instance: number;
  /** Log lines the followers delivered (each instance prints one line when it starts). */
  lines_collected: number;
}

/** What the density bench measured; `skipped` says why when the process runtime is unavailable. */
export interface DensityResult { points: DensityPoint[]; skipped?: string; rows: { bench: string; measured: string; baseline: string; target: string; met?: boolean }[] }

const TARGET_PERCENT = 2;

/** Starts N idle instances per count (on the host network, so namespaces do not dominate the start), follows them all. */
export async function densityBench(opts: { counts?: number[]; idleSeconds?: number } = {}): Promise<DensityResult> {
  const counts = opts.counts ?? [10, 50, 200];
  const idleSeconds = Math.min(60, Math.max(5, opts.idleSeconds ?? 20));
  const app = prepareTestAppDir();
  const stateDir = mkdtempSync(join(tmpdir(), 'pier-density-'));
  const cgroupParent = `pier-density-${process.pid}`;
  const rt = new ProcessRuntime({ stateDir, cgroupParent, network: 'host' });
  const points: DensityPoint[] = [];
  let skipped: string | undefined;
  try {
    await rt.capabilities();
    for (const n of counts) points.push(await measureCount(rt, app, n, idleSeconds));
  } catch (err) {
    skipped = `process runtime: ${(err as Error).message}`;
  } finally {
    for (const h of await rt.recover()) await rt.remove(h.runtimeId).catch(() => undefined);
    const layout = detectCgroupLayout();
    if (layout) try { new InstanceCgroup(layout, '', cgroupParent).destroy(); } catch { /* best effort */ }
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(app.dir, { recursive: true, force: true });
  }
  const rows = points.map((p) => ({
    bench: `Process runtime: control-plane CPU while ${p.instances} instances idle (log followers attached, ${p.idle_seconds} s window)`,
    measured: `${p.idle_cpu_percent} % of a core`,
    baseline: `start ${p.start_ms_per_instance} ms per instance`,
    target: `< ${TARGET_PERCENT} %, flat in N`,
    met: p.idle_cpu_percent < TARGET_PERCENT,
  }));
  if (skipped) rows.push({ bench: 'density (skipped)', measured: skipped, baseline: '-', target: '-', met: undefined as unknown as boolean });
  return { points, skipped, rows };
}

async function measureCount(rt: ProcessRuntime, app: { dir: string; entrypoint: string[] }, n: number, idleSeconds: number): Promise<DensityPoint> {
  let lines = 0;
  const state = { appendLog: async () => { lines++; } } as unknown as ControlState;
  const collector = new LogCollector(state, rt, { now: () => new Date() } as never, () => undefined);
  const ids: string[] = [];
  try {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const h = await rt.start({ instanceId: randomUUID(), labels: {}, appDir: app.dir, entrypoint: app.entrypoint, command: ['sleep'], env: {}, ports: [], cpu: 0.1, memoryBytes: 32 << 20 });
      ids.push(h.runtimeId);
      collector.follow({ id: h.instanceId } as Instance, h, []);
    }
    const startMs = (performance.now() - t0) / n;
    await new Promise((r) => setTimeout(r, 2000)); // let the starts' own work settle
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const cpu = process.cpuUsage(cpu0);
    const wallUs = (performance.now() - w0) * 1000;
    return {
      instances: n, idle_seconds: idleSeconds, lines_collected: lines,
      idle_cpu_percent: +(((cpu.user + cpu.system) / wallUs) * 100).toFixed(2),
      start_ms_per_instance: +startMs.toFixed(1),
    };
  } finally {
    await collector.stopAll();
    for (const id of ids) await rt.remove(id).catch(() => undefined);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const counts = process.argv[2]?.split(',').map(Number).filter((x) => Number.isInteger(x) && x > 0 && x <= 1000);
  densityBench({ counts, idleSeconds: Number(process.argv[3]) || undefined })
    .then((r) => console.log(JSON.stringify(r, null, 2)))
    .catch((err) => { console.error(err); process.exitCode = 1; });
}

// Runtime benchmarks: the process sandbox's spawn overhead against a bare spawn of the same program, and the time
// the Docker driver takes to start a container. Standalone: `node bin/run-ts.mjs bench/runtime.ts [runs]`.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DockerRuntime } from '../src/runtime/docker/driver.ts';
import { ProcessRuntime } from '../src/runtime/process/driver.ts';
import { InstanceCgroup, detectCgroupLayout } from '../src/runtime/process/cgroups.ts';
import { ensureTestImage, prepareTestAppDir, TEST_IMAGE } from '../src/runtime/testing/images.ts';
import { ensureBaseImage } from '../src/build/base-images.ts';
import { DockerEngine } from '../src/runtime/docker/engine.ts';

/** Percentiles of one measured operation, in milliseconds. */
export interface Timing { name: string; runs: number; p50: number; p90: number; min: number }

/** Everything the runtime benchmark measured; a section is absent (with a reason) when its driver is unavailable. */
export interface RuntimeBenchResult { timings: Timing[]; skipped: string[] }

export function summarise(name: string, samples: number[]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  return { name, runs: s.length, p50: +at(0.5).toFixed(2), p90: +at(0.9).toFixed(2), min: +s[0].toFixed(2) };
}

export async function measure(runs: number, budgetMs: number, op: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  const deadline = Date.now() + budgetMs;
  for (let i = 0; i < runs && Date.now() < deadline; i++) {
    const t0 = performance.now();
    await op();
    samples.push(performance.now() - t0);
  }
  return samples;
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}`))));
  });
}

/**
 * The startup CPU boost on Docker (InstanceSpec.startupCpu): a Node HTTP server (Pier's Node base image) on the nano
 * type's 0.25 vCPU, start → first 200 at its address, with a 1 vCPU boost and without, interleaved (n=8 each).
 */
async function startupBoostBench(docker: DockerRuntime): Promise<Timing[]> {
  const image = await ensureBaseImage(new DockerEngine(), 'node');
  const server = `require('http').createServer((q, r) => r.end('ok')).listen(8000)`;
  const network = `pier-bench-boost-${process.pid}`;
  const series: Record<'boost' | 'plain', number[]> = { boost: [], plain: [] };
  try {
    for (let i = 0; i < 8; i++) {
      for (const mode of ['plain', 'boost'] as const) {
        const t0 = performance.now();
        const h = await docker.start({
          instanceId: randomUUID(), labels: { bench: 'true' }, image, entrypoint: ['node', '-e', server], env: {}, ports: [8000],
          cpu: 0.25, memoryBytes: 256 << 20, network, ...(mode === 'boost' ? { startupCpu: 1 } : {}),
        });
        try {
          const ep = h.endpoints[0]!;
          let ok = false;
          for (let j = 0; j < 2000 && !ok; j++) {
            ok = await fetch(`http://${ep.host}:${ep.hostPort}/`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
            if (!ok) await new Promise((r) => setTimeout(r, 5));
          }
          if (!ok) throw new Error('the Node server did not answer within 2000 polls');
          series[mode].push(performance.now() - t0);
        } finally {
          await docker.remove(h.runtimeId).catch(() => undefined);
        }
      }
    }
  } finally {
    await docker.removeNetwork(network).catch(() => undefined);
  }
  return [summarise('docker startup boost: node server on nano, start to first 200, boosted to 1 vCPU', series.boost),
    summarise('docker startup boost: node server on nano, start to first 200, without', series.plain)];
}

/** Runs the benchmark: `runs` iterations per operation (at least 20), each operation bounded to ~60 s. */
export async function runtimeBench(runs = 20): Promise<RuntimeBenchResult> {
  runs = Math.max(20, runs);
  const timings: Timing[] = [];
  const skipped: string[] = [];
  const app = prepareTestAppDir();
  const argv = [...app.entrypoint, 'exit', '0'];
  try {
    timings.push(summarise('bare spawn: busybox sh app.sh exit 0', await measure(runs, 60_000, () => run(argv[0], argv.slice(1).map((a) => a.replace('/app/', `${app.dir}/`))))));

    const stateDir = mkdtempSync(join(tmpdir(), 'pier-bench-'));
    const cgroupParent = `pier-bench-${process.pid}`;
    const proc = new ProcessRuntime({ stateDir, cgroupParent });
    try {
      await proc.capabilities();
      timings.push(summarise('process sandbox: start + wait + remove (bwrap, cgroup)', await measure(runs, 60_000, async () => {
        const h = await proc.start({ instanceId: randomUUID(), labels: {}, appDir: app.dir, entrypoint: app.entrypoint, command: ['exit', '0'], env: {}, ports: [], cpu: 1, memoryBytes: 128 << 20 });
        await proc.wait(h.runtimeId, AbortSignal.timeout(10_000));
        await proc.remove(h.runtimeId);
      })));
    } catch (err) {
      skipped.push(`process runtime: ${(err as Error).message}`);
    } finally {
      for (const h of await proc.recover()) await proc.remove(h.runtimeId).catch(() => undefined);
      const layout = detectCgroupLayout();
      if (layout) try { new InstanceCgroup(layout, '', cgroupParent).destroy(); } catch { /* best effort */ }
      rmSync(stateDir, { recursive: true, force: true });
    }

    const docker = new DockerRuntime();
    try {
      await docker.capabilities();
      await ensureTestImage();
      const ids: string[] = [];
      timings.push(summarise('docker: start (create + start + inspect) until running', await measure(Math.min(runs, 20), 120_000, async () => {
        const h = await docker.start({ instanceId: randomUUID(), labels: { bench: 'true' }, image: TEST_IMAGE, command: ['sleep'], env: {}, ports: [8000], cpu: 1, memoryBytes: 128 << 20 });
        ids.push(h.runtimeId);
      })));
      for (const id of ids) await docker.remove(id).catch(() => undefined);
      timings.push(...await startupBoostBench(docker));
    } catch (err) {
      skipped.push(`docker: ${(err as Error).message}`);
    }
  } finally {
    rmSync(app.dir, { recursive: true, force: true });
  }
  return { timings, skipped };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runtimeBench(Number(process.argv[2]) || 20);
  for (const t of result.timings) console.log(`${t.name.padEnd(62)} p50 ${String(t.p50).padStart(8)} ms  p90 ${String(t.p90).padStart(8)} ms  (n=${t.runs})`);
  for (const s of result.skipped) console.log(`skipped: ${s}`);
}

// What stronger instance isolation costs (issue #19): the same test app (busybox httpd, testing/images.ts) started
// on the docker driver (runc) and on gVisor (runsc), interleaved in one run. Per runtime: driver start() until the
// app answers HTTP 200 on its endpoint (what the health checker waits for), request latency on that endpoint once
// it serves, and the memory the engine charges an idle instance. A runtime that cannot run here is skipped with
// the reason. The microVM runs under TCG where KVM cannot boot a stock guest (these machines): its memory is the QEMU
// process's RSS (guest RAM it touched), the others' what the engine charges the container. Standalone: `node bin/run-ts.mjs bench/sandboxes.ts [runs]`.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { InstanceSpec, Runtime } from '../src/runtime/contract.ts';
import { DockerRuntime } from '../src/runtime/docker/driver.ts';
import { GvisorRuntime } from '../src/runtime/docker/gvisor.ts';
import { MicrovmRuntime } from '../src/runtime/microvm/driver.ts';
import { ensureTestImage, TEST_IMAGE } from '../src/runtime/testing/images.ts';
import { summarise, type Timing } from './runtime.ts';

/** One runtime's numbers; absent runtimes are in `skipped`. */
export interface SandboxRuntimeResult { runtime: string; startToHttp: Timing; request: Timing; idleMemoryMiB: number }

export interface SandboxBenchResult { runtimes: SandboxRuntimeResult[]; skipped: string[]; rows: { bench: string; measured: string; baseline: string; target: string }[] }

const MiB = 1024 * 1024;

function spec(): InstanceSpec {
  return { instanceId: randomUUID(), labels: { bench: 'sandboxes' }, image: TEST_IMAGE, command: ['serve'], ports: [8000], cpu: 1, memoryBytes: 128 * MiB, env: { PORT: '8000' } };
}

async function untilHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; Date.now() < deadline && i < 10_000; i++) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch { /* not serving yet */ }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/** Runs `runs` instances per runtime, interleaved (bounded: 2 minutes per runtime). */
export async function sandboxesBench(runs = 10, requests = 50): Promise<SandboxBenchResult> {
  await ensureTestImage();
  const candidates: { name: string; rt: Runtime }[] = [
    { name: 'docker', rt: new DockerRuntime({ log: () => undefined }) },
    { name: 'gvisor', rt: new GvisorRuntime({ log: () => undefined }) },
    { name: 'microvm', rt: new MicrovmRuntime({ log: () => undefined }) },
  ];
  const skipped: string[] = [];
  const live: { name: string; rt: Runtime; start: number[]; req: number[]; mem: number[]; budget: number }[] = [];
  for (const c of candidates) {
    try {
      await c.rt.capabilities();
      live.push({ ...c, start: [], req: [], mem: [], budget: Date.now() + 120_000 });
    } catch (err) {
      skipped.push(`${c.name}: ${(err as Error).message}`);
    }
  }
  for (let i = 0; i < runs; i++) {
    for (const r of live) {
      if (Date.now() > r.budget) continue;
      const t0 = performance.now();
      const h = await r.rt.start(spec());
      try {
        const ep = h.endpoints[0];
        const url = `http://${ep.host}:${ep.hostPort}/`;
        await untilHttp(url, 60_000);
        r.start.push(performance.now() - t0);
        for (let k = 0; k < requests; k++) {
          const q0 = performance.now();
          const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
          await res.arrayBuffer();
          r.req.push(performance.now() - q0);
        }
        await new Promise((res) => setTimeout(res, 1000)); // idle
        r.mem.push((await r.rt.stats(h.runtimeId)).memoryBytes / MiB);
      } finally {
        await r.rt.remove(h.runtimeId).catch(() => undefined);
      }
    }
  }
  const runtimes = live.filter((r) => r.start.length).map((r) => ({
    runtime: r.name,
    startToHttp: summarise(`${r.name} start→HTTP 200`, r.start),
    request: summarise(`${r.name} GET /`, r.req),
    idleMemoryMiB: +summarise('mem', r.mem).p50.toFixed(1),
  }));
  const base = runtimes.find((r) => r.runtime === 'docker');
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const rows = runtimes.filter((r) => r.runtime !== 'docker').flatMap((r) => [
    { bench: `Instance isolation: ${r.runtime} start() until the app answers HTTP 200 (n=${r.startToHttp.runs})`, measured: `p50 ${ms(r.startToHttp.p50)}, p90 ${ms(r.startToHttp.p90)}`, baseline: base ? `docker (runc) p50 ${ms(base.startToHttp.p50)}, p90 ${ms(base.startToHttp.p90)}` : '-', target: 'recorded' },
    { bench: `Instance isolation: ${r.runtime} request latency, GET / of busybox httpd on its endpoint (n=${r.request.runs})`, measured: `p50 ${ms(r.request.p50)}, p90 ${ms(r.request.p90)}`, baseline: base ? `docker (runc) p50 ${ms(base.request.p50)}, p90 ${ms(base.request.p90)}` : '-', target: 'recorded' },
    { bench: `Instance isolation: ${r.runtime} memory ${r.runtime === 'microvm' ? 'of the QEMU process of' : 'charged to'} an idle instance`, measured: `${r.idleMemoryMiB} MiB`, baseline: base ? `docker (runc) ${base.idleMemoryMiB} MiB` : '-', target: 'recorded' },
  ]);
  for (const s of skipped) rows.push({ bench: 'Instance isolation (skipped)', measured: s, baseline: '-', target: '-' });
  return { runtimes, skipped, rows };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await sandboxesBench(Number(process.argv[2]) || 10), null, 2));
}

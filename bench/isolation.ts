// What tenant isolation costs a build step: the same one-line step (`true`) run the way builds ran before #16 (on the
// host, as Pier's own user) and the way they run now (the process runtime's bubblewrap build sandbox, and a Docker
// build container), measured in one run. Instance start costs are the runtime section's rows (new sandbox, disk).
// Standalone: `node bin/run-ts.mjs bench/isolation.ts [runs]`.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBaseImage } from '../src/build/base-images.ts';
import { runStep } from '../src/build/exec.ts';
import { HOST_STEP_ENV } from '../src/build/sandbox.ts';
import { runSandboxedSteps } from '../src/build/sandbox-process.ts';
import { runContainerSteps } from '../src/build/sandbox-docker.ts';
import { DockerEngine } from '../src/runtime/docker/engine.ts';
import { measure, summarise, type Timing } from './runtime.ts';

/** Percentiles of one measured step, in milliseconds. */
export type StepTiming = Timing;

/** What the isolation benchmark measured; a way that cannot run here is listed in `skipped` with the reason. */
export interface IsolationBenchResult { steps: StepTiming[]; skipped: string[] }

/** Runs `runs` steps each way (bounded to a minute each). */
export async function isolationBench(runs = 20): Promise<IsolationBenchResult> {
  const steps: StepTiming[] = [];
  const skipped: string[] = [];
  const top = mkdtempSync(join(tmpdir(), 'pier-bench-isolation-'));
  const appDir = join(top, 'app');
  const cacheDir = join(top, 'cache');
  mkdirSync(appDir);
  mkdirSync(cacheDir);
  const signal = new AbortController().signal;
  const log = () => {};
  try {
    steps.push(summarise('host (before #16): sh -c true as Pier', await measure(runs, 60_000, () =>
      runStep(['/bin/sh', '-c', 'true'], { cwd: appDir, env: HOST_STEP_ENV, signal, onLine: log }))));
    try {
      steps.push(summarise('process build sandbox (setpriv + bwrap, userns, seccomp)', await measure(runs, 60_000, () =>
        runSandboxedSteps(['true'], { appDir, cacheDir, env: {}, signal, log, diskBytes: 1 << 30, tmpBytes: 64 << 20 }))));
    } catch (err) {
      skipped.push(`process build sandbox: ${(err as Error).message}`);
    }
    const engine = new DockerEngine();
    try {
      await engine.ping(3000);
      const image = await ensureBaseImage(engine, 'busybox');
      steps.push(summarise('docker build container (create, start, wait, remove)', await measure(Math.min(runs, 10), 60_000, () =>
        runContainerSteps(['true'], {
          engine, image, buildDir: appDir, cacheDir, env: {}, cpu: 1, memoryBytes: 256 << 20,
          diskBytes: 1 << 30, tmpBytes: 64 << 20, labels: { 'dev.pier.bench': 'isolation' }, signal, log,
        }))));
    } catch (err) {
      skipped.push(`docker build container: ${(err as Error).message}`);
    }
  } finally {
    rmSync(top, { recursive: true, force: true });
  }
  return { steps, skipped };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(JSON.stringify(await isolationBench(Number(process.argv[2]) || 20), null, 2));
}

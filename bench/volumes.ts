// Volume benchmarks (issue #20), each against a baseline measured in the same run: create a 1 GiB volume (against a
// bare truncate + mkfs.ext4 of the same size), snapshot a 1 GiB volume holding ~1 GiB (against `cp --sparse=always`
// of the same image), restore it (same size, and grown to 2 GiB), and what mounting a volume adds to a start until
// the first HTTP 200 on Docker and on the process runtime (interleaved with and without a volume).
// Everything lives in a temp data dir, unmounted and deleted at the end (also on failure).
// Standalone: `node bin/run-ts.mjs bench/volumes.ts [--quick]` prints JSON.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { InstanceSpec, Runtime } from '../src/runtime/contract.ts';
import { DockerRuntime } from '../src/runtime/docker/driver.ts';
import { ProcessRuntime } from '../src/runtime/process/driver.ts';
import { ensureTestImage, prepareTestAppDir, TEST_IMAGE } from '../src/runtime/testing/images.ts';
import { LocalVolumeDriver } from '../src/runtime/volumes/local.ts';
import { summarise, type Timing } from './runtime.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

interface Row { bench: string; measured: string; baseline: string; target: string; met?: boolean }

export interface VolumesBenchResult { sizeBytes: number; dataBytes: number; timings: Timing[]; skipped: string[]; rows: Row[] }

const ms = (x: number) => `${Number(x.toFixed(1))} ms`;
const delta = (x: number) => `${x >= 0 ? '+' : '−'}${ms(Math.abs(x))}`;

async function time(op: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await op();
  return performance.now() - t0;
}

/** Drops the page cache's dirty data so each copy starts from the same state (sync only: reads may stay cached). */
function sync(): void { execFileSync('sync'); }

function fill(path: string, bytes: number): void {
  const chunk = Buffer.alloc(4 * MiB);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i); // not zeros: no sparse shortcut
  const fd = openSync(path, 'w');
  try { for (let done = 0; done < bytes; done += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done)); } finally { closeSync(fd); }
}

async function httpOk(url: string, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (let i = 0; Date.now() < end && i < 2000; i++) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no HTTP 200 from ${url}`);
}

/** start() until the first HTTP 200, interleaved with and without a volume at /data; n runs of each. */
async function attachOverhead(rt: Runtime, volumes: LocalVolumeDriver, base: (id: string) => InstanceSpec, n: number): Promise<{ without: number[]; with: number[] }> {
  const volId = randomUUID();
  const vol = await volumes.create(volId, 64 * MiB);
  const out = { without: [] as number[], with: [] as number[] };
  try {
    for (let i = 0; i < n * 2; i++) {
      const withVolume = i % 2 === 1;
      const spec = { ...base(randomUUID()), ...(withVolume ? { volumes: [{ volumeId: volId, hostPath: vol.hostPath, path: '/data' }] } : {}) };
      let runtimeId: string | undefined;
      try {
        const t = await time(async () => {
          const h = await rt.start(spec);
          runtimeId = h.runtimeId;
          const ep = h.endpoints[0]!;
          await httpOk(`http://${ep.host}:${ep.hostPort}/health`, 30_000);
        });
        (withVolume ? out.with : out.without).push(t);
      } finally {
        if (runtimeId) await rt.remove(runtimeId).catch(() => undefined);
      }
    }
  } finally {
    await volumes.remove(volId);
  }
  return out;
}

/** Runs the benchmark; `quick` uses 256 MiB instead of 1 GiB and fewer runs. */
export async function volumesBench(opts: { quick?: boolean } = {}): Promise<VolumesBenchResult> {
  const size = opts.quick ? 256 * MiB : GiB;
  const data = size - (opts.quick ? 32 : 96) * MiB; // "~full": what fits beside ext4's journal and tables
  const runs = opts.quick ? 3 : 5;
  const root = mkdtempSync(join(tmpdir(), 'pier-bench-volumes-'));
  const volumes = new LocalVolumeDriver({ dataDir: root });
  const timings: Timing[] = [];
  const skipped: string[] = [];
  const rows: Row[] = [];
  const ids: string[] = [];
  const snaps: string[] = [];
  const label = opts.quick ? '256 MiB' : '1 GiB';
  try {
    const why = await volumes.unavailable();
    if (why) throw new Error(`volumes unavailable: ${why}`);

    // 1. create (truncate + mkfs.ext4 + mount) against a bare truncate + mkfs.ext4 of the same size.
    const create: number[] = [];
    const mkfs: number[] = [];
    for (let i = 0; i < runs; i++) {
      const img = join(root, `baseline-${i}.ext4`);
      mkfs.push(await time(() => { execFileSync('truncate', ['-s', String(size), img]); execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', img]); }));
      rmSync(img, { force: true });
      const id = randomUUID();
      ids.push(id);
      create.push(await time(() => volumes.create(id, size)));
    }
    const tc = summarise('volume create', create);
    const tm = summarise('truncate + mkfs.ext4', mkfs);
    timings.push(tc, tm);
    rows.push({ bench: `Volume create, ${label} (sparse image, mkfs.ext4, loop mount)`, measured: `p50 ${ms(tc.p50)} (n=${tc.runs})`, baseline: `truncate + mkfs.ext4 alone p50 ${ms(tm.p50)} (${(tc.p50 / tm.p50).toFixed(2)}x)`, target: 'recorded' });
    for (const id of ids.splice(1)) await volumes.remove(id);

    // 2. snapshot of a ~full volume: stopped and frozen, against cp --sparse=always of the same image.
    const src = ids[0]!;
    const v = await volumes.inspect(src);
    fill(join(v!.hostPath, 'data.bin'), data);
    sync();
    const image = join(root, 'volumes', `${src}.ext4`);
    const cp = await time(() => execFileSync('cp', ['--sparse=always', image, join(root, 'baseline-copy.ext4')]));
    rmSync(join(root, 'baseline-copy.ext4'), { force: true });
    sync();
    const sStopped = randomUUID();
    snaps.push(sStopped);
    const stopped = await time(() => volumes.snapshot(src, sStopped, { attached: false }));
    sync();
    const sFrozen = randomUUID();
    snaps.push(sFrozen);
    const frozen = await time(() => volumes.snapshot(src, sFrozen, { attached: true }));
    const stored = (await volumes.inspectSnapshot(sFrozen))!.storedBytes;
    rows.push({
      bench: `Snapshot of a ${label} volume holding ${Math.round(data / MiB)} MiB (fsfreeze + sparse copy)`,
      measured: `${ms(frozen)} attached (frozen that long), ${ms(stopped)} unattached; ${Math.round(stored / MiB)} MiB stored`,
      baseline: `cp --sparse=always of the image ${ms(cp)} (${(frozen / cp).toFixed(2)}x)`, target: 'recorded',
    });
    await volumes.removeSnapshot(sStopped);
    sync();

    // 3. restore into a volume of the same size and into one twice as large (resize2fs), against the same cp.
    const same = randomUUID();
    ids.push(same);
    const tSame = await time(() => volumes.create(same, size, { fromSnapshotId: sFrozen }));
    await volumes.remove(same);
    sync();
    const grown = randomUUID();
    ids.push(grown);
    const tGrown = await time(() => volumes.create(grown, 2 * size, { fromSnapshotId: sFrozen }));
    const check = await volumes.inspect(grown);
    if (!check || check.usedBytes < data) throw new Error(`restored volume holds ${check?.usedBytes} bytes, expected at least ${data}`);
    await volumes.remove(grown);
    rows.push({
      bench: `Restore a ${label} snapshot into a new volume (copy; grown to 2x with e2fsck + resize2fs)`,
      measured: `${ms(tSame)} same size, ${ms(tGrown)} grown`, baseline: `cp --sparse=always ${ms(cp)}`, target: 'recorded',
    });
    await volumes.remove(src);
    await volumes.removeSnapshot(sFrozen);

    // 4. what a volume adds to start → first HTTP 200, interleaved, per runtime.
    const n = opts.quick ? 3 : 8;
    try {
      const docker = new DockerRuntime();
      await docker.capabilities();
      await ensureTestImage();
      const r = await attachOverhead(docker, volumes, (id) => ({ instanceId: id, labels: {}, image: TEST_IMAGE, command: ['serve'], ports: [8000], cpu: 1, memoryBytes: 128 * MiB, env: { PORT: '8000' } }), n);
      const a = summarise('docker with volume', r.with); const b = summarise('docker without', r.without);
      timings.push(a, b);
      rows.push({ bench: 'Attach a volume: Docker start → first HTTP 200, with a volume at /data', measured: `p50 ${ms(a.p50)} (${delta(a.p50 - b.p50)})`, baseline: `without p50 ${ms(b.p50)} (n=${b.runs} each, interleaved)`, target: 'recorded' });
    } catch (err) {
      skipped.push(`docker: ${(err as Error).message}`);
    }
    const stateDir = mkdtempSync(join(tmpdir(), 'pier-bench-volumes-proc-'));
    const app = prepareTestAppDir();
    try {
      const proc = new ProcessRuntime({ stateDir, cgroupParent: `pier-bench-volumes-${process.pid}` });
      await proc.capabilities();
      const r = await attachOverhead(proc, volumes, (id) => ({ instanceId: id, labels: {}, appDir: app.dir, entrypoint: app.entrypoint, command: ['serve'], ports: [8000], cpu: 1, memoryBytes: 128 * MiB, env: {} }), n);
      const a = summarise('process with volume', r.with); const b = summarise('process without', r.without);
      timings.push(a, b);
      rows.push({ bench: 'Attach a volume: process sandbox start → first HTTP 200, with a volume at /data', measured: `p50 ${ms(a.p50)} (${delta(a.p50 - b.p50)})`, baseline: `without p50 ${ms(b.p50)} (n=${b.runs} each, interleaved)`, target: 'recorded' });
      // The uid handover when the volume's owner cannot be reused: chown -R of 10,000 files.
      const vid = randomUUID();
      ids.push(vid);
      const vol = await volumes.create(vid, 256 * MiB);
      for (let d = 0; d < 100; d++) {
        execFileSync('mkdir', [join(vol.hostPath, `d${d}`)]);
        execFileSync('touch', Array.from({ length: 100 }, (_, f) => join(vol.hostPath, `d${d}`, `f${f}`)));
      }
      const chown = await time(() => execFileSync('chown', ['-R', '-h', '-P', '2000000001:2000000001', '--', vol.hostPath]));
      rows.push({ bench: 'Process runtime: volume handed to a new sandbox uid (chown -R -h, 10,000 files)', measured: ms(chown), baseline: 'none when the instance reuses the uid that owns the volume', target: 'recorded' });
      await volumes.remove(vid);
    } catch (err) {
      skipped.push(`process: ${(err as Error).message}`);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(app.dir, { recursive: true, force: true });
    }
    for (const s of skipped) rows.push({ bench: 'volumes (skipped)', measured: s, baseline: '-', target: '-' });
    return { sizeBytes: size, dataBytes: data, timings, skipped, rows };
  } finally {
    for (const id of ids) await volumes.remove(id).catch(() => undefined);
    for (const s of snaps) await volumes.removeSnapshot(s).catch(() => undefined);
    await volumes.unmountAll().catch(() => undefined);
    const stillMounted = readFileSync('/proc/self/mountinfo', 'utf8').includes(root);
    if (!stillMounted) rmSync(root, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await volumesBench({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
}

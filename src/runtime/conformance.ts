// The one conformance suite every runtime driver passes for real (after Hono's shared router tests).
// Drivers differ only in the fixtures: how to run the test app (testing/images.ts), and how to look behind the driver
// (enforced limits, leftovers, a foreign workload). Every test removes what it started, even when it fails.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecSession, ExitStatus, InstanceHandle, InstanceSpec, LogLine, Runtime } from './contract.ts';
import { RuntimeError } from './errors.ts';
import type { VolumeDriver } from './volumes/contract.ts';
import { LocalVolumeDriver } from './volumes/local.ts';

/** What a driver's test file provides to the suite. */
export interface ConformanceFixtures {
  /** A spec that runs the test app with these arguments (e.g. ['exit', '3']); `over` wins over the defaults. */
  spec(instanceId: string, args: string[], over?: Partial<InstanceSpec>): InstanceSpec;
  /** The CPU (vCPUs) and memory (bytes) limits the engine or kernel enforces for the instance. */
  enforcedLimits(runtimeId: string): Promise<{ cpu: number; memoryBytes: number }>;
  /** Anything the driver left behind for the instance (container, cgroup, state directory...); [] when clean. */
  leftovers(runtimeId: string, instanceId: string): Promise<string[]>;
  /** Starts a workload on this machine that Pier does not own. */
  startForeign(): Promise<{ id: string; alive(): Promise<boolean>; cleanup(): Promise<void> }>;
  /** One-time preparation (build the test image...) and its undoing. */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /**
   * How many times longer than a container the driver's workloads may take for CPU- and memory-bound work (an
   * emulated CPU: QEMU's TCG); default 1. The bound of the OOM case scales with it (its allocation is one read of
   * /dev/zero, a kernel memset: 2-3 s to the kill in a microVM under TCG, where a pipe of zeros took minutes).
   */
  slowdown?: number;
  /**
   * Set by a test double that emulates the test app (test/control/fake-runtime.ts): the tests that need a real
   * workload (HTTP on its endpoint, enforced limits, an OOM kill, stats, serving across a restart) are skipped, the
   * others (exit codes, logs, stop and its grace period, remove, idempotence) run as for a real driver.
   */
  emulated?: boolean;
  /**
   * The volume driver whose volumes the runtime mounts (issue #20); default: the local driver on a temporary data
   * directory, removed afterwards. Used only when the runtime's capabilities say `volumes: true`.
   */
  volumeDriver?(): VolumeDriver;
}

const MiB = 1024 * 1024;
const TEST_TIMEOUT_MS = 90_000;

/** Polls `probe` until it returns a value (not undefined) or the bounded time runs out. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (let i = 0; Date.now() < deadline && i < 1000; i++) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) { lastError = err; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

async function httpGet(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: await res.text() };
}

async function collect(it: AsyncIterable<LogLine>): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of it) out.push(l);
  return out;
}

async function logsOnce(rt: Runtime, id: string): Promise<LogLine[]> {
  return collect(rt.logs(id, { follow: false, signal: AbortSignal.timeout(10_000) }));
}

/** Waits until the instance logged a line containing `text`. */
async function awaitLog(rt: Runtime, id: string, text: string): Promise<LogLine[]> {
  return eventually(`log line "${text}"`, async () => {
    const lines = await logsOnce(rt, id);
    return lines.some((l) => l.line.includes(text)) ? lines : undefined;
  });
}

function waitBounded(rt: Runtime, id: string, ms = 30_000): Promise<ExitStatus> {
  return rt.wait(id, AbortSignal.timeout(ms));
}

/** Registers the suite for one driver. `makeDriver` is called again to simulate a control-plane restart. */
export function runRuntimeConformance(name: string, makeDriver: () => Runtime | Promise<Runtime>, fixtures: ConformanceFixtures): void {
  /** Options of a test that needs a real workload: skipped for an emulating double. */
  const real = { timeout: TEST_TIMEOUT_MS, skip: fixtures.emulated ? 'needs a real workload (the double emulates the test app)' : false };
  describe(`runtime conformance: ${name}`, { timeout: 15 * 60_000 }, () => {
    let rt: Runtime;
    before(async () => {
      await fixtures.setup?.();
      rt = await makeDriver();
      await rt.capabilities();
    });
    after(async () => { await fixtures.teardown?.(); });

    /** Runs body with a start() that remembers what it started, then removes all of it whatever happened. */
    async function withInstances(body: (start: (args: string[], over?: Partial<InstanceSpec>) => Promise<InstanceHandle>) => Promise<void>): Promise<void> {
      const started: string[] = [];
      try {
        await body(async (args, over) => {
          const h = await rt.start(fixtures.spec(randomUUID(), args, over));
          started.push(h.runtimeId);
          return h;
        });
      } finally {
        for (const id of started) await rt.remove(id).catch(() => undefined);
      }
    }

    test('capabilities name the driver', { timeout: TEST_TIMEOUT_MS }, async () => {
      const caps = await rt.capabilities();
      assert.equal(caps.name, rt.name);
      assert.ok(caps.enforcesMemory && caps.enforcesCpu);
    });

    test('a started instance answers HTTP on its endpoint and sees its environment', real, async () => {
      await withInstances(async (start) => {
        const h = await start(['serve'], { env: { GREETING: 'conformance-42' }, labels: { service_id: 'svc-1' } });
        assert.equal(h.labels.service_id, 'svc-1');
        assert.equal(h.endpoints.length, 1);
        const ep = h.endpoints[0];
        assert.equal(ep.containerPort, 8000);
        // Loopback (ports published on the host) or the instance's own address (a private network namespace).
        assert.ok(isIP(ep.host) !== 0, `endpoint host is an address: ${ep.host}`);
        const root = await eventually('HTTP /', async () => httpGet(`http://${ep.host}:${ep.hostPort}/`));
        assert.equal(root.status, 200);
        assert.match(root.body, /hello from pier conformance-42/);
        const health = await httpGet(`http://${ep.host}:${ep.hostPort}/health`);
        assert.equal(health.status, 200);
        const state = await rt.inspect(h.runtimeId);
        assert.equal(state?.running, true);
        assert.ok(state?.startedAt && !Number.isNaN(Date.parse(state.startedAt)));
      });
    });

    test('logs return stdout and stderr lines with timestamps', { timeout: TEST_TIMEOUT_MS }, async () => {
      await withInstances(async (start) => {
        const h = await start(['serve'], { env: { GREETING: 'logged' } });
        const lines = await awaitLog(rt, h.runtimeId, 'a line on stderr');
        await awaitLog(rt, h.runtimeId, 'GREETING=logged');
        const err = lines.find((l) => l.line === 'a line on stderr');
        assert.equal(err?.stream, 'stderr');
        const out = (await logsOnce(rt, h.runtimeId)).find((l) => l.line.startsWith('starting on port'));
        assert.equal(out?.stream, 'stdout');
        assert.ok(out && !Number.isNaN(Date.parse(out.time)));
      });
    });

    test('logs follow streams new lines and ends when the instance exits', { timeout: TEST_TIMEOUT_MS }, async () => {
      await withInstances(async (start) => {
        const h = await start(['logs', '3', '0.4']);
        const lines = await collect(rt.logs(h.runtimeId, { follow: true, signal: AbortSignal.timeout(30_000) }));
        assert.deepEqual(lines.filter((l) => l.stream === 'stdout').map((l) => l.line), ['out 1', 'out 2', 'out 3']);
        assert.deepEqual(lines.filter((l) => l.stream === 'stderr').map((l) => l.line), ['err 1', 'err 2', 'err 3']);
        const times = lines.filter((l) => l.stream === 'stdout').map((l) => Date.parse(l.time));
        assert.ok(times[0] <= times[1] && times[1] <= times[2], 'timestamps follow the order of output');
        const since = await collect(rt.logs(h.runtimeId, { follow: false, since: new Date(times[2]) }));
        assert.ok(!since.some((l) => l.line === 'out 1'), 'since filters older lines');
      });
    });

    test('exit code and exit time are reported (exit 3)', { timeout: TEST_TIMEOUT_MS }, async () => {
      await withInstances(async (start) => {
        const h = await start(['exit', '3']);
        const exit = await waitBounded(rt, h.runtimeId);
        assert.equal(exit.exitCode, 3);
        assert.equal(exit.oomKilled, false);
        assert.ok(exit.finishedAt && exit.startedAt && Date.parse(exit.finishedAt) >= Date.parse(exit.startedAt) - 1000);
        const state = await rt.inspect(h.runtimeId);
        assert.equal(state?.running, false);
        assert.equal(state?.exit?.exitCode, 3);
        const lines = await logsOnce(rt, h.runtimeId);
        assert.ok(lines.some((l) => l.line === 'exiting with 3' && l.stream === 'stdout'));
        assert.ok(lines.some((l) => l.line === 'goodbye from stderr' && l.stream === 'stderr'));
      });
    });

    test('an instance ends with its main process: a child it left running does not keep it up', { timeout: TEST_TIMEOUT_MS }, async () => {
      await withInstances(async (start) => {
        const h = await start(['orphan']);
        const exit = await waitBounded(rt, h.runtimeId);
        assert.equal(exit.exitCode, 4, 'the main process\'s own exit code');
        assert.equal((await rt.inspect(h.runtimeId))?.running, false);
        await awaitLog(rt, h.runtimeId, 'left a child behind');
      });
    });

    test('stop lets an instance that handles SIGTERM exit by itself', { timeout: TEST_TIMEOUT_MS }, async () => {
      await withInstances(async (start) => {
        const h = await start(['serve']);
        await awaitLog(rt, h.runtimeId, 'starting on port');
        await rt.stop(h.runtimeId, 20_000);
        const exit = await waitBounded(rt, h.runtimeId);
        assert.equal(exit.exitCode, 0, 'exited by itself, not killed');
        await awaitLog(rt, h.runtimeId, 'got SIGTERM, exiting');
      });
    });

    test('stop kills an instance that ignores SIGTERM once the grace period is over', { timeout: TEST_TIMEOUT_MS }, async () => {
      await withInstances(async (start) => {
        const h = await start(['ignore-term']);
        await awaitLog(rt, h.runtimeId, 'ready');
        const stopping = rt.stop(h.runtimeId, 4000);
        await awaitLog(rt, h.runtimeId, 'ignoring SIGTERM'); // it got SIGTERM first...
        assert.equal((await rt.inspect(h.runtimeId))?.running, true, '...and keeps running during the grace period');
        await stopping;
        const exit = await waitBounded(rt, h.runtimeId);
        assert.equal(exit.exitCode, 137, 'killed with SIGKILL once the grace period is over');
        assert.equal(exit.signal, 'SIGKILL');
        assert.equal((await rt.inspect(h.runtimeId))?.running, false);
      });
    });

    const slowdown = Math.max(1, fixtures.slowdown ?? 1);
    test('the memory limit is enforced: allocating past it is an OOM kill', { ...real, timeout: TEST_TIMEOUT_MS * slowdown }, async () => {
      await withInstances(async (start) => {
        // 64 MB: a third past the limit, and what a microVM's kernel (48 + 96 MiB of RAM) still lets one malloc have
        // (96 MB: "dd: out of memory", exit 1, no OOM kill).
        const h = await start(['oom', '64'], { memoryBytes: 48 * MiB });
        const exit = await waitBounded(rt, h.runtimeId, 60_000 * slowdown);
        assert.equal(exit.oomKilled, true);
        assert.notEqual(exit.exitCode, 0);
        assert.equal((await rt.inspect(h.runtimeId))?.exit?.oomKilled, true);
      });
    });

    test('cpu and memory limits are applied to the instance', real, async () => {
      await withInstances(async (start) => {
        const h = await start(['sleep'], { cpu: 0.5, memoryBytes: 96 * MiB });
        const limits = await fixtures.enforcedLimits(h.runtimeId);
        assert.equal(limits.cpu, 0.5);
        assert.equal(limits.memoryBytes, 96 * MiB);
      });
    });

    test('stats return numbers', real, async () => {
      await withInstances(async (start) => {
        const h = await start(['serve'], { memoryBytes: 80 * MiB });
        await awaitLog(rt, h.runtimeId, 'starting on port');
        const s = await rt.stats(h.runtimeId);
        assert.ok(Number.isFinite(s.cpuPercent) && s.cpuPercent >= 0);
        assert.ok(Number.isFinite(s.memoryBytes) && s.memoryBytes > 0, 'a running shell and httpd use some memory');
        assert.equal(s.memoryLimitBytes, 80 * MiB);
      });
    });

    test('recover: a new driver adopts running instances, can stop them, and ignores foreign workloads', real, async () => {
      const foreign = await fixtures.startForeign();
      try {
        await withInstances(async (start) => {
          const h = await start(['serve'], { labels: { deployment_id: 'dep-7' } });
          const ep = h.endpoints[0];
          await eventually('HTTP /', async () => httpGet(`http://${ep.host}:${ep.hostPort}/`));
          const restarted = await makeDriver(); // the control plane restarted: no memory of what it started
          const recovered = await restarted.recover();
          const mine = recovered.find((r) => r.instanceId === h.instanceId);
          assert.ok(mine, 'the running instance is adopted');
          assert.equal(mine.runtimeId, h.runtimeId);
          assert.deepEqual(mine.endpoints, h.endpoints);
          assert.equal(mine.labels.deployment_id, 'dep-7');
          assert.ok(!recovered.some((r) => r.runtimeId === foreign.id || r.instanceId === foreign.id), 'foreign workloads are not listed');
          assert.equal((await restarted.inspect(h.runtimeId))?.running, true);
          assert.equal((await httpGet(`http://${ep.host}:${ep.hostPort}/health`)).status, 200, 'still serving after the restart');
          await restarted.stop(h.runtimeId, 10_000);
          const exit = await waitBounded(restarted, h.runtimeId);
          assert.equal(exit.exitCode, 0);
          assert.equal(await foreign.alive(), true, 'the foreign workload is untouched');
        });
      } finally {
        await foreign.cleanup();
      }
    });

    test('remove cleans up everything and inspect then knows nothing', { timeout: TEST_TIMEOUT_MS }, async () => {
      const h = await rt.start(fixtures.spec(randomUUID(), ['serve']));
      try {
        await rt.remove(h.runtimeId); // removing a running instance stops it first
        assert.equal(await rt.inspect(h.runtimeId), null);
        assert.deepEqual(await fixtures.leftovers(h.runtimeId, h.instanceId), []);
        assert.ok(!(await rt.recover()).some((r) => r.instanceId === h.instanceId));
      } finally {
        await rt.remove(h.runtimeId).catch(() => undefined);
      }
    });

    // Light sleep (issue #23): optional; drivers without freeze/thaw sleep deeply and skip these.
    const freezeSkip = (r: Runtime) => (typeof r.freeze !== 'function' || typeof r.thaw !== 'function' ? `${r.name} has no freeze/thaw (light sleep falls back to deep sleep)` : false);

    test('freeze holds a request unanswered, thaw answers it; both are idempotent; unknown instances are not_found', real, async (t) => {
      const skip = freezeSkip(rt);
      if (skip) return t.skip(skip);
      await withInstances(async (start) => {
        const h = await start(['serve'], { env: { GREETING: 'frozen-1' } });
        const ep = h.endpoints[0];
        const url = `http://${ep.host}:${ep.hostPort}/`;
        await eventually('HTTP /', async () => httpGet(url));
        await rt.freeze!(h.runtimeId);
        await rt.freeze!(h.runtimeId);
        assert.equal((await rt.inspect(h.runtimeId))?.running, true, 'a frozen instance still runs (it is not exited)');
        let answered = false;
        const pending = fetch(url, { signal: AbortSignal.timeout(15_000) }).then(async (r) => { answered = true; return { status: r.status, body: await r.text() }; });
        await new Promise((r) => setTimeout(r, 500));
        assert.equal(answered, false, 'a frozen instance answers nothing');
        await rt.thaw!(h.runtimeId);
        await rt.thaw!(h.runtimeId);
        const r = await pending;
        assert.equal(r.status, 200);
        assert.match(r.body, /hello from pier frozen-1/, 'the request sent while frozen is answered by the thawed instance');
        await assert.rejects(rt.freeze!(`pier-unknown-${randomUUID()}`), (e: unknown) => e instanceof RuntimeError && e.code === 'not_found');
        // A frozen instance still stops and is removed (the drivers thaw or kill it).
        await rt.freeze!(h.runtimeId);
        await rt.stop(h.runtimeId, 1000);
        await rt.remove(h.runtimeId);
        assert.equal(await rt.inspect(h.runtimeId), null);
      });
    });

    // Exec (issue #18, `koyeb instances exec`): optional; drivers without it skip with the reason.
    test('exec runs a command inside the instance (its env, stdout and stderr apart, stdin, exit code, a resizable tty); unknown and stopped instances are not_found', real, async (t) => {
      if (typeof rt.exec !== 'function') return t.skip(`${rt.name} has no exec`);
      await withInstances(async (start) => {
        const h = await start(['sleep'], { env: { GREETING: 'exec-42' } });
        const run = async (command: string[], tty: boolean, input?: string, during?: (s: ExecSession, out: () => string) => Promise<void>) => {
          const s = await rt.exec!(h.runtimeId, { command, tty, ...(tty ? { size: { cols: 100, rows: 30 } } : {}) });
          let out = '';
          let err = '';
          s.stdout.on('data', (d: Buffer) => { out += d.toString(); });
          s.stderr.on('data', (d: Buffer) => { err += d.toString(); });
          if (input !== undefined) { s.stdin.write(Buffer.from(input)); if (!tty) s.stdin.end(); }
          await during?.(s, () => out);
          const code = await Promise.race([s.exit, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`exec ${command.join(' ')} did not end: ${out} ${err}`)), 30_000).unref())]);
          return { code, out, err };
        };
        assert.deepEqual(await run(['sh', '-c', 'echo "$GREETING"; echo oops >&2; exit 3'], false), { code: 3, out: 'exec-42\n', err: 'oops\n' });
        assert.deepEqual(await run(['cat'], false, 'piped\n'), { code: 0, out: 'piped\n', err: '' });
        const tty = await run(['sh', '-c', 'echo ready; read x; stty size; exit 4'], true, undefined, async (s, out) => {
          await eventually('the exec says ready', async () => (out().includes('ready') ? true : undefined));
          await s.resize(120, 40);
          s.stdin.write(Buffer.from('x\r'));
        });
        assert.equal(tty.code, 4, tty.out);
        assert.match(tty.out, /40 120/, tty.out);
        await assert.rejects(rt.exec!(`pier-unknown-${randomUUID()}`, { command: ['true'], tty: false }), (e: unknown) => e instanceof RuntimeError && e.code === 'not_found');
        await rt.stop(h.runtimeId, 1000);
        await assert.rejects(rt.exec!(h.runtimeId, { command: ['true'], tty: false }), (e: unknown) => e instanceof RuntimeError && e.code === 'not_found');
      });
    });

    test('stop and remove are idempotent, also for unknown instances', { timeout: TEST_TIMEOUT_MS }, async () => {
      const unknown = `pier-unknown-${randomUUID()}`;
      await rt.stop(unknown, 1000);
      await rt.remove(unknown);
      assert.equal(await rt.inspect(unknown), null);
      await withInstances(async (start) => {
        const h = await start(['exit', '0']);
        await waitBounded(rt, h.runtimeId);
        await rt.stop(h.runtimeId, 1000);
        await rt.stop(h.runtimeId, 1000);
        await rt.remove(h.runtimeId);
        await rt.remove(h.runtimeId);
        assert.equal(await rt.inspect(h.runtimeId), null);
      });
    });

    // Persistent volumes (issue #20). The instance runs a shell script (busybox sh, in the image and on the host).
    describe('volumes', () => {
      let volumes: VolumeDriver | undefined;
      let tempDataDir: string | undefined;
      let skip: string | false = false;
      const created: string[] = [];
      before(async () => {
        if (fixtures.emulated) { skip = 'needs a real workload (the double emulates the test app)'; return; }
        if ((await rt.capabilities()).volumes !== true) { skip = `${rt.name} does not mount volumes (capabilities.volumes is not true)`; return; }
        if (fixtures.volumeDriver) volumes = fixtures.volumeDriver();
        else {
          tempDataDir = mkdtempSync(join(tmpdir(), 'pier-conformance-volumes-'));
          volumes = new LocalVolumeDriver({ dataDir: tempDataDir });
        }
        const why = await volumes.unavailable();
        if (why) skip = `volumes are unavailable here: ${why}`;
      });
      after(async () => {
        for (const id of created) await volumes?.remove(id).catch(() => undefined);
        if (tempDataDir) rmSync(tempDataDir, { recursive: true, force: true });
      });
      const script = (sh: string): Partial<InstanceSpec> => ({ entrypoint: ['/bin/busybox', 'sh', '-c'], command: [sh] });
      async function newVolume(bytes: number): Promise<{ volumeId: string; hostPath: string }> {
        const id = randomUUID();
        created.push(id);
        return volumes!.create(id, bytes);
      }
      /** Runs a script to its end in a new instance that mounts `vol` at /data; its exit and its output. */
      async function runWith(vol: { volumeId: string; hostPath: string }, sh: string, readOnly = false): Promise<{ exit: ExitStatus; out: string }> {
        let result: { exit: ExitStatus; out: string } | undefined;
        await withInstances(async (start) => {
          const h = await start([], { ...script(sh), volumes: [{ volumeId: vol.volumeId, hostPath: vol.hostPath, path: '/data', ...(readOnly ? { readOnly } : {}) }] });
          const exit = await waitBounded(rt, h.runtimeId, 60_000);
          result = { exit, out: (await logsOnce(rt, h.runtimeId)).map((l) => l.line).join('\n') };
        });
        return result!;
      }

      test('data written in one instance is there, writable, in the next instance that mounts the volume; a read-only mount reads it and refuses writes', { timeout: TEST_TIMEOUT_MS }, async (t) => {
        if (skip) return t.skip(skip);
        const vol = await newVolume(32 * MiB);
        const token = randomUUID();
        const first = await runWith(vol, `mkdir -p /data/sub && echo ${token} > /data/sub/f && echo written && grep ' /data ' /proc/self/mounts`);
        assert.equal(first.exit.exitCode, 0, first.out);
        assert.match(first.out, /written/);
        const mountLine = first.out.split('\n').find((l) => / \/data /.test(l)) ?? '';
        assert.match(mountLine, /\brw\b/, `read-write: ${mountLine}`);
        // The host kernel's own mount (Docker, the process sandbox): no setuid program and no device file from tenant
        // data. Under a user-space kernel (gVisor: a 9p mount served by its gofer) the host's flags are not what the
        // instance sees, and setuid inside only reaches that sandbox's own kernel.
        if (mountLine.split(' ')[2] === 'ext4') {
          assert.match(mountLine, /\bnosuid\b/, `no setuid programs from a volume: ${mountLine}`);
          assert.match(mountLine, /\bnodev\b/, `no device files from a volume: ${mountLine}`);
        }
        // The first instance is removed (withInstances): the second one is a new instance, as after a redeploy.
        const second = await runWith(vol, 'cat /data/sub/f && echo again >> /data/sub/f && touch /data/new && echo appended');
        assert.equal(second.exit.exitCode, 0, second.out);
        assert.match(second.out, new RegExp(token));
        assert.match(second.out, /appended/, 'the next instance can write what the previous one wrote');
        // A read-only volume (read_only at creation): the data is there, every write fails with EROFS, the mount says ro.
        const third = await runWith(vol, `cat /data/sub/f; touch /data/sub/f /data/other 2>&1; echo "touch exit $?"; grep ' /data ' /proc/self/mounts`, true);
        assert.match(third.out, new RegExp(`${token}\\s+again`));
        assert.match(third.out, /Read-only file system/, third.out);
        assert.match(third.out, /touch exit [1-9]/, third.out);
        assert.match(third.out.split('\n').find((l) => / \/data /.test(l)) ?? '', /\bro\b/, third.out);
        const after = await runWith(vol, 'ls /data');
        assert.doesNotMatch(after.out, /other/, 'nothing was written through the read-only mount');
      });

      test('writing past the volume size fails with ENOSPC inside the instance', { timeout: TEST_TIMEOUT_MS }, async (t) => {
        if (skip) return t.skip(skip);
        const vol = await newVolume(16 * MiB);
        const r = await runWith(vol, 'dd if=/dev/zero of=/data/big bs=1048576 count=64 2>&1; echo "dd exit $?"; ls -l /data/big');
        assert.match(r.out, /No space left on device/, r.out);
        assert.match(r.out, /dd exit [1-9]/);
        const info = await volumes!.inspect(vol.volumeId);
        assert.ok(info && info.usedBytes > 15 * MiB && info.usedBytes <= 16 * MiB, `the volume is full, not the host: ${JSON.stringify(info)}`);
      });
    });

    test('a spec with volumes the driver cannot honour is refused with invalid_spec', real, async () => {
      const caps = await rt.capabilities();
      const notMounted = mkdtempSync(join(tmpdir(), 'pier-not-a-volume-'));
      try {
        const asks: Partial<InstanceSpec>[] = [
          { volumes: [{ volumeId: randomUUID(), hostPath: notMounted, path: '/data' }] }, // not a mounted volume
        ];
        if (caps.volumes) {
          asks.push({ volumes: [{ volumeId: randomUUID(), hostPath: notMounted, path: 'data' }] }); // not absolute
          asks.push({ volumes: [{ volumeId: randomUUID(), hostPath: notMounted, path: '/data/../etc' }] });
        }
        for (const over of asks) {
          await withInstances(async (start) => {
            await assert.rejects(start(['serve'], over), (err: unknown) => err instanceof RuntimeError && err.code === 'invalid_spec', JSON.stringify(over.volumes));
          });
        }
      } finally {
        rmSync(notMounted, { recursive: true, force: true });
      }
    });
  });
}

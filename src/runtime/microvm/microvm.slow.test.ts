// Runs the runtime conformance suite against the microVM driver for real (QEMU microvm; TCG on these machines, where
// /dev/kvm is PVM), plus what only a VM shows: the instance runs on its own kernel, not the host's. Skipped, with the
// reason, where the driver cannot work (not root, no QEMU, no guest kernel, no Docker engine for the image).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRuntimeConformance } from '../conformance.ts';
import type { InstanceSpec } from '../contract.ts';
import { ensureTestImage, TEST_IMAGE } from '../testing/images.ts';
import { MicrovmRuntime, parseConsole } from './driver.ts';
import { tapName } from './net.ts';

const MiB = 1024 * 1024;
const stateDir = mkdtempSync(join(tmpdir(), 'pier-microvm-test-'));
const make = () => new MicrovmRuntime({ stateDir, log: () => undefined });

async function unavailable(): Promise<string | undefined> {
  try {
    await make().capabilities();
    await ensureTestImage();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function spec(instanceId: string, args: string[], over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    instanceId, labels: {}, image: TEST_IMAGE, command: args, ports: [8000], cpu: 1, memoryBytes: 128 * MiB, diskBytes: 64 * MiB,
    ...over,
    env: { PORT: '8000', ...over.env },
  };
}

function consoleOf(runtimeId: string): string {
  try { return readFileSync(join(stateDir, 'instances', runtimeId, 'console.log'), 'latin1'); } catch { return ''; }
}

const skip = await unavailable();

if (skip) {
  test('microvm runtime suite', { skip }, () => undefined);
} else {
  runRuntimeConformance('microvm', make, {
    spec,
    // TCG on these machines: the OOM case took 14 s on an idle core and passed 60 s in one loaded CI run.
    slowdown: 4,
    async enforcedLimits(id) {
      // What the guest kernel enforces for the app's cgroup, as Pier's init read it back (its `L` console line).
      for (let i = 0; i < 300; i++) {
        const l = parseConsole(consoleOf(id)).find((e) => e.kind === 'limits');
        if (l && l.kind === 'limits') {
          const [quota, period] = l.cpuMax.split('/').map(Number);
          return { cpu: quota / period, memoryBytes: Number(l.memoryMax) };
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`the guest never reported its limits: ${consoleOf(id).slice(-500)}`);
    },
    async leftovers(id, instanceId) {
      const left: string[] = [];
      if (existsSync(join(stateDir, 'instances', id))) left.push(`state directory of ${id}`);
      if (existsSync(`/sys/class/net/${tapName(instanceId)}`)) left.push(`tap ${tapName(instanceId)}`);
      return left;
    },
    async startForeign() {
      // A QEMU this driver did not start (paused, no guest): never listed, never stopped.
      const child = spawn('qemu-system-x86_64', ['-M', 'microvm', '-display', 'none', '-nodefaults', '-S', '-m', '16M'], { stdio: 'ignore', detached: true });
      const pid = child.pid as number;
      return {
        id: `foreign-${pid}`,
        alive: async () => existsSync(`/proc/${pid}`) && child.exitCode === null,
        cleanup: async () => { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } },
      };
    },
    teardown: async () => {
      const rt = make();
      for (const h of await rt.recover()) await rt.remove(h.runtimeId).catch(() => undefined);
      rmSync(stateDir, { recursive: true, force: true });
    },
  });

  test('microvm: the instance runs on its own kernel, not the host\'s, its env never reaches the host\'s ps, its tap is isolated', { timeout: 90_000 }, async () => {
    const rt = make();
    const secret = `s3cret-${randomUUID()}`;
    const h = await rt.start(spec(randomUUID(), [], { entrypoint: ['/bin/sh', '-c', 'cat /proc/version; uname -r; echo "secret=$SECRET_TOKEN"'], ports: [], env: { SECRET_TOKEN: secret } }));
    try {
      const port = execFileSync('bridge', ['-d', 'link', 'show', 'dev', tapName(h.instanceId)], { encoding: 'utf8' });
      assert.match(port, /isolated on/, 'its tap is an isolated bridge port: no VM reaches another');
      const ps = readFileSync(`/proc/${readFileSync(join(stateDir, 'instances', h.runtimeId, 'qemu.pid'), 'utf8').trim()}/cmdline`, 'latin1');
      assert.ok(!ps.includes(secret), 'the secret is not on QEMU\'s command line');
      const exit = await rt.wait(h.runtimeId, AbortSignal.timeout(60_000));
      assert.equal(exit.exitCode, 0);
      const lines: string[] = [];
      for await (const l of rt.logs(h.runtimeId, { follow: false })) lines.push(l.line);
      assert.ok(lines.includes(`secret=${secret}`), lines.join('\n'));
      const version = lines.find((l) => l.startsWith('Linux version')) ?? '';
      const uname = lines[1] ?? '';
      assert.match(version, /Linux version \d/);
      assert.notEqual(uname, release(), `the guest kernel (${uname}) is not the host's (${release()})`);
      assert.ok(!version.includes(release()));
    } finally {
      await rt.remove(h.runtimeId);
    }
  });
}

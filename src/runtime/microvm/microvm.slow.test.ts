// Runs the runtime conformance suite against the microVM driver for real (QEMU microvm; TCG on these machines, where
// /dev/kvm is PVM), plus what only a VM shows: the instance runs on its own kernel, not the host's, and its volumes
// (virtio-9p shares of the host's mounts) behave as host files: owners, an attached snapshot, an online grow. Skipped,
// with the reason, where the driver cannot work (not root, no QEMU, no guest kernel, no Docker engine for the image).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRuntimeConformance } from '../conformance.ts';
import type { InstanceSpec } from '../contract.ts';
import { RuntimeError } from '../errors.ts';
import { ensureTestImage, TEST_IMAGE } from '../testing/images.ts';
import { MicrovmRuntime, parseConsole } from './driver.ts';
import { tapName } from './net.ts';
import { LocalVolumeDriver } from '../volumes/local.ts';

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
    // TCG on these machines: a guest boots in 2-3 s on an idle core, 10-20 s on a loaded one (docs/limits.md).
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

  test('microvm volumes: guest writes are host files at once (owners, modes), an attached snapshot taken while the guest writes is consistent, an online grow is seen inside, a read-only one stays so', { timeout: 180_000 }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pier-microvm-volumes-'));
    const volumes = new LocalVolumeDriver({ dataDir });
    const why = await volumes.unavailable();
    if (why) { rmSync(dataDir, { recursive: true, force: true }); return t.skip(`volumes are unavailable here: ${why}`); }
    const rt = make();
    const vol = await volumes.create(randomUUID(), 32 * MiB);
    const ro = await volumes.create(randomUUID(), 16 * MiB);
    writeFileSync(join(ro.hostPath, 'kept'), 'read-only data');
    const snapshotId = randomUUID();
    const restoredId = randomUUID();
    // The guest appends numbered lines until the host writes /data/stop (bounded), then reports the volume's size.
    // A second volume, read-only: QEMU refuses the writes even after the guest's root remounts it read-write.
    const sh = [
      'cat /ro/kept; echo; mount -o remount,rw /ro; echo "remount $?"; echo x > /ro/kept; echo "write $?"',
      'echo one > /data/owned && chown 1234:2345 /data/owned && chmod 640 /data/owned',
      'i=0; while [ ! -e /data/stop ] && [ $i -lt 5000 ]; do echo "line $i" >> /data/log; i=$((i+1)); done',
      'echo "wrote $i"; df -k /data | tail -1',
    ].join('; ');
    const h = await rt.start(spec(randomUUID(), [], { entrypoint: ['/bin/busybox', 'sh', '-c'], command: [sh], ports: [], volumes: [
      { volumeId: vol.volumeId, hostPath: vol.hostPath, path: '/data' }, { volumeId: ro.volumeId, hostPath: ro.hostPath, path: '/ro', readOnly: true },
    ] }));
    try {
      const lines = () => { try { return readFileSync(join(vol.hostPath, 'log'), 'utf8').split('\n').filter(Boolean).length; } catch { return 0; } };
      for (let i = 0; i < 1200 && lines() < 20; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(lines() >= 20, `the guest's appends reach the host file as they happen (${lines()} lines)`);
      const owned = statSync(join(vol.hostPath, 'owned'));
      assert.deepEqual([owned.uid, owned.gid, owned.mode & 0o7777], [1234, 2345, 0o640], 'the owner and mode the guest set are the host file\'s');
      const snap = await volumes.snapshot(vol.volumeId, snapshotId, { attached: true });
      assert.equal(snap.consistency, 'frozen');
      const atSnapshot = lines();
      for (let i = 0; i < 600 && lines() < atSnapshot + 20; i++) await new Promise((r) => setTimeout(r, 100));
      assert.ok(lines() >= atSnapshot + 20, 'the guest goes on writing after the thaw');
      // An online grow needs CAP_SYS_RESOURCE (not here): refused as unavailable, the volume untouched, as on Docker.
      let grown = true;
      try { await volumes.grow(vol.volumeId, 64 * MiB); } catch (err) {
        assert.ok(err instanceof RuntimeError && err.code === 'unavailable', String(err));
        grown = false;
        t.diagnostic('online grow refused on this host (no CAP_SYS_RESOURCE): the size the guest sees is checked unchanged');
      }
      writeFileSync(join(vol.hostPath, 'stop'), '');
      const exit = await rt.wait(h.runtimeId, AbortSignal.timeout(120_000));
      const out: string[] = [];
      for await (const l of rt.logs(h.runtimeId, { follow: false })) out.push(l.line);
      assert.equal(exit.exitCode, 0, out.join('\n'));
      assert.ok(out.includes('read-only data'), out.join('\n'));
      assert.match(out.join('\n'), /Read-only file system[^]*write [1-9]/, 'the write after the remount fails');
      assert.equal(readFileSync(join(ro.hostPath, 'kept'), 'utf8'), 'read-only data');
      const wrote = Number(/wrote (\d+)/.exec(out.join('\n'))?.[1]);
      assert.equal(lines(), wrote, 'every append the guest made is in the host file');
      const df = out.find((l) => /\/data$/.test(l)) ?? '';
      const sizeKiB = Number(df.trim().split(/\s+/)[1]);
      assert.ok(grown ? sizeKiB > 48 * 1024 : sizeKiB > 24 * 1024 && sizeKiB <= 32 * 1024, `the guest sees the volume's ${grown ? 'grown ' : ''}size: ${df}`);
      // The snapshot holds whole lines 0..n-1, none torn: the copy is of one moment of the guest's writes.
      const restored = await volumes.create(restoredId, 32 * MiB, { fromSnapshotId: snapshotId });
      const snapLines = readFileSync(join(restored.hostPath, 'log'), 'utf8').split('\n');
      assert.equal(snapLines.pop(), '', 'the snapshot ends with a whole line');
      assert.ok(snapLines.length >= 20 && snapLines.length < wrote, `${snapLines.length} lines at the snapshot of ${wrote}`);
      snapLines.forEach((l, i) => assert.equal(l, `line ${i}`));
    } finally {
      await rt.remove(h.runtimeId);
      for (const id of [vol.volumeId, ro.volumeId, restoredId]) await volumes.remove(id).catch(() => undefined);
      await volumes.removeSnapshot(snapshotId).catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

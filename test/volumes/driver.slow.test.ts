// The local volume driver for real (issue #20): ext4 images on loop devices under a temporary data directory. The
// VolumeDriver conformance suite (src/runtime/volumes/conformance.ts), then what is particular to loop-mounted images.
// Needs root, a loop device, e2fsprogs and util-linux; skipped with the reason otherwise. Everything it mounts or
// attaches is undone in after(), also when a test fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeError } from '../../src/runtime/errors.ts';
import { LocalVolumeDriver, isMountPoint } from '../../src/runtime/volumes/local.ts';
import { createVolumeDriver } from '../../src/runtime/volumes/index.ts';
import { runVolumeDriverConformance } from '../../src/runtime/volumes/conformance.ts';

const MiB = 1024 * 1024;
const dataDir = mkdtempSync(join(tmpdir(), 'pier-volumes-test-'));
let driver: LocalVolumeDriver;
let skip: string | false = false;

before(async () => {
  driver = new LocalVolumeDriver({ dataDir });
  const why = await driver.unavailable();
  if (why) skip = why;
});

after(async () => {
  // Unmount every mount under the data directory (also several stacked ones), detach loop devices of its images.
  for (let i = 0; i < 20; i++) {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((p) => p?.startsWith(dataDir));
    if (mounts.length === 0) break;
    for (const m of mounts) { try { execFileSync('umount', ['-l', m!]); } catch { /* next round */ } }
  }
  const loops = execFileSync('losetup', ['-n', '-O', 'NAME,BACK-FILE', '-l'], { encoding: 'utf8' }).split('\n')
    .map((l) => l.trim().split(/\s+/)).filter(([, file]) => file?.startsWith(dataDir));
  for (const [dev] of loops) { try { execFileSync('losetup', ['-d', dev!]); } catch { /* already gone */ } }
  rmSync(dataDir, { recursive: true, force: true });
});

runVolumeDriverConformance('local (ext4 images on loop devices)', () => new LocalVolumeDriver({ dataDir }), {
  // What a reboot leaves: images and records, no mount, no loop device (mount -o loop set autoclear).
  async simulateReboot(volumeId, hostPath) {
    execFileSync('umount', [hostPath]);
    assert.deepEqual(loopDevicesOf(join(dataDir, 'volumes', `${volumeId}.ext4`)), []);
  },
});

const isCode = (code: string) => (err: unknown) => err instanceof RuntimeError && err.code === code;

function loopDevicesOf(image: string): string[] {
  return execFileSync('losetup', ['-n', '-O', 'NAME', '-j', image], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

test('create makes an ext4 filesystem of exactly the size, mounted nodev,nosuid; idempotent; bad ids and sizes refused', async (t) => {
  if (skip) return t.skip(skip);
  const id = randomUUID();
  const v = await driver.create(id, 32 * MiB);
  assert.equal(v.volumeId, id);
  assert.equal(v.sizeBytes, 32 * MiB);
  assert.equal(v.hostPath, join(dataDir, 'volumes', 'mnt', id));
  assert.ok(isMountPoint(v.hostPath));
  assert.equal(statSync(join(dataDir, 'volumes', `${id}.ext4`)).size, 32 * MiB, 'the image is exactly the size');
  const fs = statfsSync(v.hostPath);
  assert.ok(fs.blocks * fs.bsize <= 32 * MiB && fs.blocks * fs.bsize > 24 * MiB, `usable (less ext4's journal and tables) ${fs.blocks * fs.bsize}`);
  const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4] === v.hostPath)!;
  assert.match(line, /\bnodev\b/);
  assert.match(line, /\bnosuid\b/);
  assert.match(line, / - ext4 \/dev\/loop/);
  assert.deepEqual(await driver.create(id, 32 * MiB), { ...v, usedBytes: (await driver.inspect(id))!.usedBytes }, 'a repeated create is the same volume');
  await assert.rejects(driver.create(id, 64 * MiB), isCode('conflict'));
  for (const bad of ['../../etc', 'a/b', '', `${id}/..`]) await assert.rejects(driver.create(bad, 32 * MiB), isCode('invalid_spec'), bad);
  await assert.rejects(driver.create(randomUUID(), 4 * MiB), isCode('invalid_spec'));
  await assert.rejects(driver.mount('../x'), isCode('invalid_spec'));
  await assert.rejects(driver.mount(randomUUID()), isCode('not_found'));
  assert.equal(await driver.inspect(randomUUID()), null);
  assert.ok((await driver.list()).volumes.includes(id));
  await driver.remove(id);
});

test('after a reboot-like umount: inspect reads the superblock without mounting, mount attaches one loop device again', async (t) => {
  if (skip) return t.skip(skip);
  const id = randomUUID();
  const v = await driver.create(id, 16 * MiB);
  writeFileSync(join(v.hostPath, 'kept'), 'before the restart');
  const restarted = createVolumeDriver({ dataDir });
  assert.equal((await restarted.mount(id)).hostPath, v.hostPath);
  assert.equal(readFileSync(join(v.hostPath, 'kept'), 'utf8'), 'before the restart');
  execFileSync('umount', [v.hostPath]); // what a host reboot leaves: the image, its record, no mount, no loop device
  assert.equal(isMountPoint(v.hostPath), false);
  assert.deepEqual(loopDevicesOf(join(dataDir, 'volumes', `${id}.ext4`)), [], 'the loop device went with the mount');
  const unmounted = (await restarted.inspect(id))!;
  assert.equal(isMountPoint(v.hostPath), false, 'inspect does not mount');
  assert.ok(unmounted.usedBytes > 0 && unmounted.usedBytes < 16 * MiB, `used from the superblock: ${unmounted.usedBytes}`);
  const again = await createVolumeDriver({ dataDir }).mount(id);
  assert.ok(isMountPoint(again.hostPath));
  assert.equal(readFileSync(join(again.hostPath, 'kept'), 'utf8'), 'before the restart');
  assert.equal(loopDevicesOf(join(dataDir, 'volumes', `${id}.ext4`)).length, 1);
  await restarted.remove(id);
});

test('mount reuses the loop device an instance still holds (never two loop devices over one image)', async (t) => {
  if (skip) return t.skip(skip);
  const id = randomUUID();
  const v = await driver.create(id, 16 * MiB);
  const image = join(dataDir, 'volumes', `${id}.ext4`);
  // An instance's mount namespace holding the volume: here a second mount of the same filesystem elsewhere.
  const held = mkdtempSync(join(dataDir, 'held-'));
  execFileSync('mount', ['--bind', v.hostPath, held]);
  try {
    execFileSync('umount', [v.hostPath]); // the host's mount is gone, the instance's is not
    assert.equal(loopDevicesOf(image).length, 1);
    await driver.mount(id);
    assert.equal(loopDevicesOf(image).length, 1, 'the same loop device, mounted again');
    writeFileSync(join(v.hostPath, 'x'), 'one filesystem');
    assert.equal(readFileSync(join(held, 'x'), 'utf8'), 'one filesystem');
  } finally {
    execFileSync('umount', [held]);
  }
  await driver.remove(id);
  assert.deepEqual(loopDevicesOf(image), []);
});

test('a snapshot cut short while frozen is thawed by the next mount (a crashed control plane)', async (t) => {
  if (skip) return t.skip(skip);
  const id = randomUUID();
  const v = await driver.create(id, 16 * MiB);
  writeFileSync(join(dataDir, 'volumes', `${id}.frozen`), 'crashed');
  execFileSync('fsfreeze', ['-f', v.hostPath]);
  await createVolumeDriver({ dataDir }).mount(id);
  // A write now completes (it would hang on a frozen filesystem: bounded by the test's own timeout).
  writeFileSync(join(v.hostPath, 'after'), 'thawed');
  assert.equal(readFileSync(join(v.hostPath, 'after'), 'utf8'), 'thawed');
  await driver.remove(id);
});

test('remove leaves nothing behind: no mount, no mount point, no loop device, no record', async (t) => {
  if (skip) return t.skip(skip);
  const id = randomUUID();
  const snap = randomUUID();
  const v = await driver.create(id, 16 * MiB);
  await driver.snapshot(id, snap, { attached: false });
  const listed = await driver.list();
  assert.ok(listed.volumes.includes(id) && listed.snapshots.includes(snap));
  await driver.remove(id);
  await driver.remove(id);
  await driver.remove(randomUUID());
  await driver.removeSnapshot(snap);
  await driver.removeSnapshot(snap);
  assert.equal(await driver.inspect(id), null);
  assert.equal(await driver.inspectSnapshot(snap), null);
  const after = await driver.list();
  assert.ok(!after.volumes.includes(id) && !after.snapshots.includes(snap));
  assert.equal(isMountPoint(v.hostPath), false);
  assert.equal(existsSync(v.hostPath), false, 'the mount point directory is gone');
  assert.deepEqual(loopDevicesOf(join(dataDir, 'volumes', `${id}.ext4`)), []);
});

test('a volume the host disk could not hold once full is refused (unavailable), naming the free space', async (t) => {
  if (skip) return t.skip(skip);
  const s = statfsSync(dataDir);
  const tooBig = Math.ceil((s.bavail * s.bsize + 1024 * MiB) / MiB) * MiB;
  await assert.rejects(driver.create(randomUUID(), tooBig), (err: unknown) => err instanceof RuntimeError && err.code === 'unavailable' && /not enough disk on this host/.test(err.message));
});

test('grow while an instance holds the volume: online with CAP_SYS_RESOURCE, else refused with one loop device kept, then grown once free', async (t) => {
  if (skip) return t.skip(skip);
  const id = randomUUID();
  const v = await driver.create(id, 32 * MiB);
  const image = join(dataDir, 'volumes', `${id}.ext4`);
  const held = mkdtempSync(join(dataDir, 'held-')); // stands in for an instance's bind of the volume
  execFileSync('mount', ['--bind', v.hostPath, held]);
  const online = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]!;
  const canOnline = (BigInt(`0x${online}`) & (1n << 24n)) !== 0n;
  writeFileSync(join(v.hostPath, 'x'), 'one filesystem');
  try {
    if (canOnline) {
      assert.equal((await driver.grow(id, 64 * MiB)).sizeBytes, 64 * MiB);
    } else {
      await assert.rejects(driver.grow(id, 64 * MiB), (err: unknown) => isCode('unavailable')(err) && /an instance mounts it.*CAP_SYS_RESOURCE/.test((err as Error).message));
      assert.ok(isMountPoint(v.hostPath), 'mounted again on the host');
      assert.equal(loopDevicesOf(image).length, 1, 'the same loop device: one writer');
      writeFileSync(join(v.hostPath, 'y'), 'still one filesystem');
      assert.equal(readFileSync(join(held, 'y'), 'utf8'), 'still one filesystem');
      assert.equal((await driver.inspect(id))?.sizeBytes, 32 * MiB);
    }
  } finally {
    execFileSync('umount', [held]);
  }
  const g = await driver.grow(id, 64 * MiB);
  assert.equal(g.sizeBytes, 64 * MiB);
  assert.ok(statfsSync(v.hostPath).blocks * statfsSync(v.hostPath).bsize > 48 * MiB);
  assert.equal(readFileSync(join(v.hostPath, 'x'), 'utf8'), 'one filesystem', 'data kept');
  assert.equal(loopDevicesOf(image).length, 1);
  t.diagnostic(canOnline ? 'grown online (CAP_SYS_RESOURCE)' : 'no CAP_SYS_RESOURCE here: refused while held, grown offline once free');
  await driver.remove(id);
});

test('growing past what the host disk could hold is refused (unavailable), the volume keeps its size', async (t) => {
  if (skip) return t.skip(skip);
  const id = randomUUID();
  await driver.create(id, 16 * MiB);
  const s = statfsSync(dataDir);
  const tooBig = Math.ceil((s.bavail * s.bsize + 1024 * MiB) / MiB) * MiB;
  await assert.rejects(driver.grow(id, tooBig), (err: unknown) => isCode('unavailable')(err) && /not enough disk on this host for growing volume/.test((err as Error).message));
  assert.equal((await driver.inspect(id))?.sizeBytes, 16 * MiB);
  assert.equal(statSync(join(dataDir, 'volumes', `${id}.ext4`)).size, 16 * MiB, 'the image was not made larger');
  await driver.remove(id);
});

test('a grow cut short after resize2fs (before its record) is finished by the next grow of that size, never shrunk back', async (t) => {
  if (skip) return t.skip(skip);
  const id = randomUUID();
  const v = await driver.create(id, 32 * MiB);
  writeFileSync(join(v.hostPath, 'kept'), 'before the crash');
  const image = join(dataDir, 'volumes', `${id}.ext4`);
  // What a crash mid-grow leaves: image and filesystem at 96 MiB, the record still at 32 MiB.
  execFileSync('umount', [v.hostPath]);
  execFileSync('truncate', ['-s', String(96 * MiB), image]);
  execFileSync('e2fsck', ['-f', '-p', image]);
  execFileSync('resize2fs', [image, `${96 * 1024}K`], { stdio: 'ignore' });
  assert.equal((await driver.inspect(id))?.sizeBytes, 32 * MiB);
  await assert.rejects(driver.grow(id, 64 * MiB), (err: unknown) => isCode('conflict')(err) && /already has 100663296 bytes/.test((err as Error).message));
  const g = await driver.grow(id, 96 * MiB);
  assert.equal(g.sizeBytes, 96 * MiB);
  assert.equal(readFileSync(join(v.hostPath, 'kept'), 'utf8'), 'before the crash');
  assert.ok(statfsSync(v.hostPath).blocks * statfsSync(v.hostPath).bsize > 80 * MiB);
  await driver.remove(id);
});

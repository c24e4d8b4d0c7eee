// The local volume driver for real (issue #20): ext4 images on loop devices under a temporary data directory. Needs
// root, a loop device, e2fsprogs and util-linux; skipped with the reason otherwise. Everything it mounts or attaches is
// undone in after(), also when a test fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeError } from '../../src/runtime/errors.ts';
import { LocalVolumeDriver, isMountPoint } from '../../src/runtime/volumes/local.ts';
import { createVolumeDriver } from '../../src/runtime/volumes/index.ts';

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

const isCode = (code: string) => (err: unknown) => err instanceof RuntimeError && err.code === code;

function loopDevicesOf(image: string): string[] {
  return execFileSync('losetup', ['-n', '-O', 'NAME', '-j', image], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

/** Writes `bytes` of data (not zeros: no sparse shortcut) into a file of the volume from the host. */
function fill(path: string, bytes: number): void {
  const chunk = Buffer.alloc(MiB, 'pier');
  const fd = openSync(path, 'w');
  try { for (let done = 0; done < bytes; done += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done)); } finally { closeSync(fd); }
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

test('writing past the size fails with ENOSPC; the volume reports itself full', async (t) => {
  if (skip) return t.skip(skip);
  const id = randomUUID();
  const v = await driver.create(id, 16 * MiB);
  const chunk = Buffer.alloc(MiB, 'x');
  const fd = openSync(join(v.hostPath, 'big'), 'w');
  let written = 0;
  let error: NodeJS.ErrnoException | undefined;
  try {
    for (let i = 0; i < 64 && !error; i++) {
      try { written += writeSync(fd, chunk); } catch (err) { error = err as NodeJS.ErrnoException; }
    }
  } finally { closeSync(fd); }
  assert.equal(error?.code, 'ENOSPC');
  assert.ok(written < 16 * MiB && written > 8 * MiB, `wrote ${written} bytes`);
  const info = (await driver.inspect(id))!;
  assert.ok(info.usedBytes >= written, `usedBytes ${info.usedBytes} counts what was written`);
  // ext4 answers ENOSPC to a 1 MiB write with ~400 KiB still free (kept for the metadata of writes in flight).
  assert.ok(16 * MiB - info.usedBytes < MiB, `a full volume reads as its size (metadata counts as used): ${info.usedBytes}`);
  await driver.remove(id);
});

test('after a restart (a new driver on the same data dir) and after a host reboot (unmounted behind its back) the data is there', async (t) => {
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

test('snapshots of an unattached and of an attached (frozen) volume; restore into a larger, independent volume', async (t) => {
  if (skip) return t.skip(skip);
  const src = randomUUID();
  const v = await driver.create(src, 32 * MiB);
  fill(join(v.hostPath, 'data'), 8 * MiB);
  writeFileSync(join(v.hostPath, 'note'), 'first');
  const s1 = randomUUID();
  const snap1 = await driver.snapshot(src, s1, { attached: false });
  assert.equal(snap1.consistency, 'stopped');
  assert.equal(snap1.sizeBytes, 32 * MiB);
  assert.ok(snap1.storedBytes >= 8 * MiB && snap1.storedBytes < 32 * MiB, `sparse copy: ${snap1.storedBytes} bytes stored`);
  assert.deepEqual(await driver.snapshot(src, s1, { attached: false }), snap1, 'a repeated snapshot is the same one');

  // Attached: a writer is busy on the volume while it is frozen and copied; its writes wait, then go on.
  writeFileSync(join(v.hostPath, 'note'), 'second');
  const writer = spawn('/bin/sh', ['-c', `i=0; while [ $i -lt 2000 ]; do echo $i >> "$1/log"; i=$((i+1)); done; echo done`, 'sh', v.hostPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  const writerDone = new Promise<string>((resolve) => { let o = ''; writer.stdout.on('data', (c) => { o += c; }); writer.on('close', () => resolve(o)); });
  const s2 = randomUUID();
  const snap2 = await driver.snapshot(src, s2, { attached: true });
  assert.equal(snap2.consistency, 'frozen');
  const writerOut = await writerDone;
  assert.match(writerOut, /done/, 'the writer went on after the thaw');
  assert.equal(readFileSync(join(v.hostPath, 'log'), 'utf8').trim().split('\n').length, 2000);
  assert.ok(!existsSync(join(dataDir, 'volumes', `${src}.frozen`)), 'thawed');
  assert.deepEqual((await driver.inspectSnapshot(s2)), snap2);

  const restored = randomUUID();
  const r = await driver.create(restored, 64 * MiB, { fromSnapshotId: s1 });
  assert.equal(r.sizeBytes, 64 * MiB);
  const fs = statfsSync(r.hostPath);
  assert.ok(fs.blocks * fs.bsize > 48 * MiB, `grown to the new size: ${fs.blocks * fs.bsize}`);
  assert.equal(readFileSync(join(r.hostPath, 'note'), 'utf8'), 'first', 'the snapshot is of its moment');
  assert.equal(statSync(join(r.hostPath, 'data')).size, 8 * MiB);
  const fromFrozen = randomUUID();
  const f = await driver.create(fromFrozen, 32 * MiB, { fromSnapshotId: s2 });
  assert.equal(readFileSync(join(f.hostPath, 'note'), 'utf8'), 'second');

  // Independent: delete the source and the snapshot; the restored volume keeps its data and can grow it.
  await driver.remove(src);
  await driver.removeSnapshot(s1);
  assert.equal(readFileSync(join(r.hostPath, 'note'), 'utf8'), 'first');
  writeFileSync(join(r.hostPath, 'note'), 'restored and written');
  execFileSync('umount', [r.hostPath]);
  await driver.mount(restored);
  assert.equal(readFileSync(join(r.hostPath, 'note'), 'utf8'), 'restored and written');
  assert.equal(readFileSync(join(f.hostPath, 'note'), 'utf8'), 'second', 'two restores share nothing');

  await assert.rejects(driver.create(randomUUID(), 16 * MiB, { fromSnapshotId: s2 }), isCode('invalid_spec'), 'smaller than the snapshot');
  await assert.rejects(driver.create(randomUUID(), 32 * MiB, { fromSnapshotId: s1 }), isCode('not_found'), 'deleted snapshot');
  await assert.rejects(driver.snapshot(randomUUID(), randomUUID(), { attached: false }), isCode('not_found'));
  await driver.remove(restored);
  await driver.remove(fromFrozen);
  await driver.removeSnapshot(s2);
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

test('remove and removeSnapshot are idempotent; list holds what exists and nothing is left behind', async (t) => {
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

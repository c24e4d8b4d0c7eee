import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diskFullMessage, isStorageOptRefusal } from './disk.ts';
import { EngineError } from './engine.ts';

const MiB = 1024 * 1024;

test('a storage driver refusing StorageOpt is told apart from other create failures', () => {
  assert.ok(isStorageOptRefusal(new EngineError(500, "--storage-opt is supported only for overlay over xfs with 'pquota' mount option")));
  assert.ok(isStorageOptRefusal(new EngineError(400, 'Storage Option overlay2.size only supported for backingFS XFS')));
  assert.ok(!isStorageOptRefusal(new EngineError(404, 'No such image: x')));
  assert.ok(!isStorageOptRefusal(new EngineError(0, 'Docker engine not reachable')));
  assert.ok(!isStorageOptRefusal(new Error('storage-opt')), 'only engine answers count');
});

test('a failed exit with the disk (nearly) full says so; btrfs counts the whole root filesystem, overlay2 the writable layer', () => {
  const limitBytes = 2560 * MiB;
  const full = { SizeRw: 2550 * MiB, SizeRootFs: 2552 * MiB };
  assert.equal(diskFullMessage({ limitBytes, sizes: full, storageDriver: 'overlay2', exitCode: 1, afterMs: 4000 }),
    'exited with code 1 after 4 s: disk full: 2.5 GB used of the instance type\'s 2.5 GB disk');
  assert.equal(diskFullMessage({ limitBytes, sizes: { SizeRw: 10 * MiB, SizeRootFs: 900 * MiB }, storageDriver: 'overlay2', exitCode: 1, afterMs: 0 }), undefined);
  assert.match(diskFullMessage({ limitBytes, sizes: { SizeRw: 1600 * MiB, SizeRootFs: 2550 * MiB }, storageDriver: 'btrfs', exitCode: 1, afterMs: 0 }) ?? '', /disk full/);
  assert.equal(diskFullMessage({ limitBytes, sizes: { SizeRw: 1600 * MiB, SizeRootFs: 2550 * MiB }, storageDriver: 'overlay2', exitCode: 1, afterMs: 0 }), undefined);
  assert.equal(diskFullMessage({ limitBytes: 0, sizes: full, storageDriver: 'overlay2', exitCode: 1, afterMs: 0 }), undefined);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diskFullMessage, isStorageOptRefusal, nearlyFull } from './disk.ts';
import { layerDirOf, mkfsArgs, upperDisksUnavailable } from './upper-disk.ts';
import { EngineError } from './engine.ts';

const MiB = 1024 * 1024;

test('a storage driver refusing StorageOpt is told apart from other create failures', () => {
  assert.ok(isStorageOptRefusal(new EngineError(500, "--storage-opt is supported only for overlay over xfs with 'pquota' mount option")));
  assert.ok(isStorageOptRefusal(new EngineError(400, 'Storage Option overlay2.size only supported for backingFS XFS')));
  assert.ok(!isStorageOptRefusal(new EngineError(404, 'No such image: x')));
  assert.ok(!isStorageOptRefusal(new EngineError(0, 'Docker engine not reachable')));
  assert.ok(!isStorageOptRefusal(new Error('storage-opt')), 'only engine answers count');
});

test('a failed exit with the disk (nearly) full says so; a success or a disk with room left does not', () => {
  const limitBytes = 2560 * MiB;
  assert.equal(diskFullMessage({ limitBytes, usedBytes: 2555 * MiB, freeBytes: 0, exitCode: 1, afterMs: 4000 }),
    'exited with code 1 after 4 s: disk full (the instance type\'s 2.5 GB disk; 2.5 GB in use)');
  assert.match(diskFullMessage({ limitBytes, usedBytes: 2540 * MiB, freeBytes: 20 * MiB, exitCode: 2, afterMs: 0 }) ?? '', /disk full/, 'within 2%: full enough');
  assert.equal(diskFullMessage({ limitBytes, usedBytes: 900 * MiB, freeBytes: 1660 * MiB, exitCode: 1, afterMs: 0 }), undefined);
  assert.equal(diskFullMessage({ limitBytes: 0, usedBytes: 1, freeBytes: 0, exitCode: 1, afterMs: 0 }), undefined);
  assert.ok(nearlyFull(64 * MiB, 8 * MiB), 'small disks: 8 MB left counts as full');
  assert.ok(!nearlyFull(64 * MiB, 9 * MiB));
});

test('per-instance disks: the overlay2 layer directory is the common parent of diff and work, nothing else', () => {
  const d = '/var/lib/docker/overlay2/abc';
  assert.equal(layerDirOf({ Name: 'overlay2', Data: { UpperDir: `${d}/diff`, WorkDir: `${d}/work`, MergedDir: `${d}/merged` } }), d);
  assert.equal(layerDirOf({ Name: 'overlay2', Data: { UpperDir: `${d}/diff`, WorkDir: '/elsewhere/work' } }), undefined);
  assert.equal(layerDirOf({ Name: 'overlay2', Data: { UpperDir: `${d}/upper`, WorkDir: `${d}/work` } }), undefined);
  assert.equal(layerDirOf({ Name: 'btrfs', Data: null }), undefined);
  assert.equal(layerDirOf({ Name: 'overlay2', Data: { UpperDir: 'relative/diff', WorkDir: 'relative/work' } }), undefined);
});

test('per-instance disks: ext4 made from the layer directory, exactly the disk size, no journal, no root reserve', () => {
  assert.deepEqual(mkfsArgs('/d/x.ext4', '/var/lib/docker/overlay2/abc', 2560 * MiB),
    ['-q', '-F', '-m', '0', '-O', '^has_journal', '-d', '/var/lib/docker/overlay2/abc', '/d/x.ext4', `${2560 * 1024}k`]);
});

test('per-instance disks need overlay2 and a data root visible here', () => {
  assert.match(upperDisksUnavailable({ Driver: 'btrfs', DockerRootDir: '/var/lib/docker' }) ?? '', /overlay2/);
  assert.match(upperDisksUnavailable({ Driver: 'overlay2', DockerRootDir: '/nonexistent/docker' }) ?? '', /not visible|root|installed/);
});

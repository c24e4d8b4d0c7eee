import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mountTarget, volumeMountsProblem } from './mounts.ts';

const v = (path: string, volumeId = 'v1', hostPath = '/var/lib/pier/volumes/mnt/v1') => ({ volumeId, hostPath, path });

test('plain absolute paths pass; trailing and repeated slashes are normalised', () => {
  assert.equal(volumeMountsProblem(undefined), null);
  assert.equal(volumeMountsProblem([v('/data'), v('/var/lib/postgresql/data/', 'v2')]), null);
  assert.equal(mountTarget(v('//data//x/')), '/data/x');
});

test('refused, each with a message naming the field and the fix', () => {
  const cases: [ReturnType<typeof v>[], RegExp][] = [
    [[v('data')], /volumes\[0\]\.path must be an absolute path/],
    [[v('/')], /cannot be \//],
    [[v('/data/../etc')], /no \. or \.\. segments/],
    [[v('/data/./x')], /no \. or \.\. segments/],
    [[v('/data', 'v1', 'relative/dir')], /hostPath must be the absolute path/],
    [[v('/data'), v('/data/', 'v2')], /already the mount point of volume v1/],
    [[v('/data'), v('/data/sub', 'v2')], /nested with \/data/],
  ];
  for (const [vols, re] of cases) assert.match(volumeMountsProblem(vols) ?? 'accepted', re, JSON.stringify(vols));
});

test('reserved paths of a runtime: neither covered, nor sat under, nor containing them', () => {
  const reserved = ['/usr', '/proc', '/run/pier-network'];
  assert.match(volumeMountsProblem([v('/usr/local/data')], reserved) ?? '', /overlaps \/usr/);
  assert.match(volumeMountsProblem([v('/proc')], reserved) ?? '', /overlaps \/proc/);
  assert.match(volumeMountsProblem([v('/run')], reserved) ?? '', /overlaps \/run\/pier-network/);
  assert.equal(volumeMountsProblem([v('/usrdata')], reserved), null, 'a prefix of the name is not a parent');
});

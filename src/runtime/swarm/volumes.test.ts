import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickVolumeNode } from './volumes.ts';
import { HELPER_SCRIPT, helperLayer, nodeVolumeRoot, parseMounted } from './volumes-helper.ts';
import { readTar } from './push.ts';
import type { NodeJson } from './spec.ts';

const node = (id: string, region: string, state = 'ready', availability = 'active'): NodeJson =>
  ({ ID: id, Spec: { Labels: { 'dev.pier.region': region }, Availability: availability } as NodeJson['Spec'], Status: { State: state } });

test('a new volume goes to a ready, active node of its region holding the fewest volumes, ties by node id', () => {
  const nodes = [node('c', 'fra'), node('b', 'fra'), node('a', 'was'), node('d', 'fra', 'down'), node('e', 'fra', 'ready', 'drain')];
  assert.equal(pickVolumeNode(nodes, 'fra', new Map())?.ID, 'b');
  assert.equal(pickVolumeNode(nodes, 'fra', new Map([['b', 2], ['c', 1]]))?.ID, 'c');
  assert.equal(pickVolumeNode(nodes, 'sin', new Map()), undefined);
  assert.equal(pickVolumeNode([node('d', 'fra', 'down')], 'fra', new Map()), undefined, 'never a node that is down');
});

test('the helper: fixed script with positional parameters, its layer reads back, its output parses', () => {
  assert.equal(nodeVolumeRoot('/var/lib/docker/'), '/var/lib/pier-volumes');
  assert.equal(nodeVolumeRoot('/docker'), '/pier-volumes');
  assert.match(HELPER_SCRIPT, /^set -eu\nop=\$1 root=\$2 id=\$\{3:-\} size=\$\{4:-0\}\n/);
  assert.doesNotMatch(HELPER_SCRIPT, /\\\$/, 'no escaped dollar left from the template');
  const files = readTar(helperLayer([{ path: 'bin/busybox', data: Buffer.from('x'), mode: 0o755 }, { path: 'lib/a/b.so', data: Buffer.alloc(700, 1), mode: 0o755 }]));
  assert.deepEqual([...files.keys()], ['bin/busybox', 'lib/a/b.so']);
  assert.equal(files.get('lib/a/b.so')?.length, 700);
  assert.deepEqual([...parseMounted('mounted v1 1024\nnoise\nmounted v2 0\n')], [['v1', 1024], ['v2', 0]]);
});

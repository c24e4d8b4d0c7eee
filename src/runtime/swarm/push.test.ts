import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTar } from '../testing/tar.ts';
import { readTar } from './push.ts';

test('readTar returns the regular files of an archive (what docker save produces)', () => {
  const tar = createTar([
    { type: 'dir', path: 'abc' },
    { type: 'file', path: 'abc/layer.tar', data: Buffer.alloc(700, 7) },
    { type: 'file', path: 'manifest.json', data: '[{"Config":"c.json"}]' },
    { type: 'symlink', path: 'link', target: 'manifest.json' },
  ]);
  const files = readTar(tar);
  assert.deepEqual([...files.keys()].sort(), ['abc/layer.tar', 'manifest.json']);
  assert.equal(files.get('abc/layer.tar')?.length, 700);
  assert.equal(files.get('manifest.json')?.toString(), '[{"Config":"c.json"}]');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildsRunning, duringBuild, whileIdle } from './image-gate.ts';

test('a removal runs only while no build does; a build waits for a removal in progress; engines are apart', async () => {
  const socket = `/tmp/gate-test-${process.pid}.sock`;
  const order: string[] = [];
  let finishBuild!: () => void;
  const build = duringBuild(socket, () => new Promise<void>((r) => { order.push('build'); finishBuild = r; }));
  await new Promise((r) => setImmediate(r));
  assert.equal(buildsRunning(socket), 1);
  assert.equal(await whileIdle(socket, async () => 'removed'), 'building', 'kept while the build runs');
  assert.equal(await whileIdle(`${socket}.other`, async () => 'removed'), 'removed', 'another engine is not held');
  finishBuild();
  await build;
  assert.equal(buildsRunning(socket), 0);

  let finishRemoval!: () => void;
  const removal = whileIdle(socket, () => new Promise<string>((r) => { order.push('removal'); finishRemoval = () => r('removed'); }));
  const next = duringBuild(socket, async () => { order.push('next build'); });
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(order, ['build', 'removal'], 'the build waits for the removal');
  finishRemoval();
  assert.equal(await removal, 'removed');
  await next;
  assert.deepEqual(order, ['build', 'removal', 'next build']);

  // A failed build or removal releases the gate.
  await assert.rejects(duringBuild(socket, async () => { throw new Error('boom'); }), /boom/);
  await assert.rejects(whileIdle(socket, async () => { throw new Error('gone wrong'); }), /gone wrong/);
  assert.equal(await whileIdle(socket, async () => 'removed'), 'removed');
  assert.equal(await duringBuild(socket, async () => 'built'), 'built');
});

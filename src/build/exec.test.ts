import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { reasonOf, timeLimited } from './exec.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('timeLimited fires after its limit even when garbage collection runs meanwhile', async () => {
  const outer = new AbortController();
  const limited = timeLimited(outer.signal, 150);
  for (let i = 0; i < 5; i++) { gc(); await sleep(10); }
  await sleep(300);
  assert.ok(limited.signal.aborted, 'the time limit aborted the signal');
  assert.equal(reasonOf(limited.signal), 'build time limit reached');
  limited.dispose();
});

test('timeLimited follows the outer signal, and dispose stops the timer', async () => {
  const outer = new AbortController();
  const a = timeLimited(outer.signal, 10_000);
  outer.abort(new Error('deployment canceled'));
  assert.equal(reasonOf(a.signal), 'deployment canceled');
  a.dispose();
  const b = timeLimited(new AbortController().signal, 50);
  b.dispose();
  await sleep(120);
  assert.equal(b.signal.aborted, false);
  const pre = new AbortController(); pre.abort(new Error('already'));
  assert.equal(reasonOf(timeLimited(pre.signal, 10_000).signal), 'already');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobQueue } from './queue.ts';

test('jobs run one at a time, in order', async () => {
  const q = jobQueue(() => undefined);
  const seen: string[] = [];
  let inside = 0;
  const job = (name: string) => async () => {
    inside++;
    assert.equal(inside, 1, 'two jobs at once');
    await new Promise((r) => setTimeout(r, 5));
    seen.push(name);
    inside--;
  };
  void q.push('a', job('a'));
  void q.push('b', job('b'));
  await q.push('c', job('c'));
  assert.deepEqual(seen, ['a', 'b', 'c']);
});

test('a job that throws is reported and the jobs after it still run; idle() never rejects', async () => {
  const errors: string[] = [];
  const q = jobQueue((what, err) => errors.push(`${what}: ${err.message}`));
  const ran: string[] = [];
  void q.push('apply', () => { throw new Error('plan failed'); });
  void q.push('apply', async () => { await Promise.resolve(); throw new Error('async failure'); });
  await q.push('apply', () => { ran.push('third'); });
  await q.idle();
  assert.deepEqual(errors, ['apply: plan failed', 'apply: async failure']);
  assert.deepEqual(ran, ['third']);
});

test('a throwing reporter does not break the queue', async () => {
  const q = jobQueue(() => { throw new Error('reporter'); });
  void q.push('x', () => { throw new Error('job'); });
  let ran = false;
  await q.push('y', () => { ran = true; });
  assert.equal(ran, true);
});

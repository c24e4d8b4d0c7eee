import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countingState } from './controller.ts';
import type { ControlState } from './ports.ts';

/** A read that holds the thread for `ms`, as a big synchronous SQLite query does under its promise. */
const busy = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end) { /* hold the thread */ } };

test('the controller state, when asked to breathe, lets the event loop turn during a run of synchronous reads', async () => {
  const state = countingState({ listApps: async () => { busy(3); return []; } } as unknown as ControlState, () => {}, () => true);
  let turned = 0;
  const tick = () => { turned++; };
  setImmediate(tick);
  // Three reads of 3 ms each: with nothing awaited for real, no I/O callback could run until the last one ended.
  await state.listApps();
  await state.listApps();
  const afterTwo = turned;
  setImmediate(tick);
  await state.listApps();
  assert.ok(afterTwo >= 1, 'the loop turned during the reads');
  assert.equal(turned, 2, 'and again once the budget was spent');
});

test('without breathing the reads run through (a burst of passes stays one unbroken run for API readers)', async () => {
  let on = false;
  const state = countingState({ listApps: async () => { busy(3); return []; } } as unknown as ControlState, () => {}, () => on);
  let turned = 0;
  setImmediate(() => { turned++; });
  await state.listApps();
  await state.listApps();
  assert.equal(turned, 0);
  on = true;
  await state.listApps();
  assert.equal(turned, 1);
});

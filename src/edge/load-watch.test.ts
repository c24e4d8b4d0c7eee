import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOAD_REPORT_GAP_MS, LoadMeter } from './load-watch.ts';

/** Feeds `n` arrivals `gapMs` apart from `startMs`; returns the times a report was due. */
function feed(m: LoadMeter, watch: Parameters<LoadMeter['arrive']>[0], serving: number, n: number, gapMs: number, startMs = 1000, inFlight = 1): number[] {
  const due: number[] = [];
  for (let i = 0; i < n; i++) {
    const at = startMs + i * gapMs;
    if (m.arrive(watch, serving, inFlight, at)) due.push(at);
  }
  return due;
}

test('a rate above what the serving instances take is reported, within about a tenth of a second of the rise', () => {
  const watch = { max: 3, perSecond: 5 };
  // 4 requests per second on one instance at target 5: never.
  assert.deepEqual(feed(new LoadMeter(), watch, 1, 40, 250), []);
  // 100 per second: reported once the first 100 ms window closes, then at most every LOAD_REPORT_GAP_MS.
  const due = feed(new LoadMeter(), watch, 1, 100, 10);
  assert.equal(due[0], 1100);
  for (let i = 1; i < due.length; i++) assert.ok(due[i]! - due[i - 1]! >= LOAD_REPORT_GAP_MS, due.join(','));
  // The same 100 per second over 20 instances (target 5 each) is what they take: never.
  assert.deepEqual(feed(new LoadMeter(), { max: 30, perSecond: 5 }, 20, 100, 10), []);
});

test('one lone pair of requests is no rate: a window needs two arrivals after its first', () => {
  const m = new LoadMeter();
  const watch = { max: 3, perSecond: 5 };
  // Idle for long, then two requests 100 ms apart: 10 per second if believed, but one arrival proves nothing.
  assert.equal(m.arrive(watch, 1, 1, 0), false);
  assert.equal(m.arrive(watch, 1, 1, 100), false);
  assert.equal(m.arrive(watch, 1, 1, 60_000), false);
  assert.equal(m.arrive(watch, 1, 1, 60_100), false);
});

test('in-flight requests above what the serving instances take are reported at once', () => {
  const m = new LoadMeter();
  const watch = { max: 4, inFlight: 10 };
  assert.equal(m.arrive(watch, 2, 20, 0), false, '10 each on two instances is the target');
  assert.equal(m.arrive(watch, 2, 21, 1), true);
  assert.equal(m.arrive(watch, 2, 22, 2), false, 'not again within the gap');
  assert.equal(m.arrive(watch, 2, 22, 2 + LOAD_REPORT_GAP_MS), true);
});

test('a route already at its max is never reported: no count could follow', () => {
  assert.deepEqual(feed(new LoadMeter(), { max: 3, perSecond: 5 }, 3, 100, 5), []);
  assert.equal(new LoadMeter().arrive({ max: 2, inFlight: 1 }, 2, 50, 0), false);
});

test('a rise goes on being reported every gap while it lasts, and stops once a window closes under the watch', () => {
  const m = new LoadMeter();
  const watch = { max: 3, perSecond: 5 };
  // 100 per second for 300 ms: reported at 1100 (the first window closes), then every gap, not every window.
  const due = feed(m, watch, 1, 31, 10);
  assert.deepEqual(due, [1100, 1150, 1200, 1250, 1300]);
  // Then one request per 300 ms: the window closing at 1600 is under the watch, and nothing more is reported.
  assert.deepEqual(feed(m, watch, 1, 10, 300, 1600), []);
});

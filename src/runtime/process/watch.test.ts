// The shared safety poll wakes every watched directory about once a period, a slice per tick, never all at once
// (issue #26: one burst over 1,000 followers stalled the event loop every 5 s).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirectoryWatches } from './watch.ts';

test('the safety poll wakes a slice of the directories per tick, and every one of them within a period or so', async () => {
  const root = mkdtempSync(join(tmpdir(), 'pier-watch-test-'));
  const watches = new DirectoryWatches(200);
  const polls: number[][] = []; // per directory: when the poll woke it (ms since subscribing)
  const unsubscribe: (() => void)[] = [];
  try {
    const t0 = performance.now();
    for (let i = 0; i < 40; i++) {
      polls.push([]);
      // Directories that do not exist: no inotify watch, only the poll wakes them.
      unsubscribe.push(watches.subscribe(join(root, `missing-${i}`), (why) => { if (why === 'poll') polls[i]!.push(performance.now() - t0); }));
    }
    const deadline = Date.now() + 5_000;
    while (polls.some((p) => p.length < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(polls.every((p) => p.length >= 2), 'every directory is polled again and again');
    // Never all at once: the first wakes of the 40 directories fall on several distinct ticks.
    const firstTicks = new Set(polls.map((p) => Math.round(p[0]! / 20)));
    assert.ok(firstTicks.size >= 4, `the first wakes came in ${firstTicks.size} tick(s)`);
  } finally {
    for (const u of unsubscribe) u();
    rmSync(root, { recursive: true, force: true });
  }
  assert.equal(watches.size, 0, 'the shared timer stops with the last subscriber');
});

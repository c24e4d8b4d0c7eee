// The process runtime's log follower is event-driven: with the safety poll set to a minute, only inotify can wake it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogLine } from '../contract.ts';
import { readLogFiles } from './logs.ts';
import { DirectoryWatches } from './watch.ts';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'pier-logs-test-'));
  const files = { stdout: join(dir, 'stdout.log'), stderr: join(dir, 'stderr.log') };
  writeFileSync(files.stdout, '');
  writeFileSync(files.stderr, '');
  return { dir, files, exit: join(dir, 'exit.json'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Pulls lines from the iterator one by one (bounded by `ms`), so the test can write between them. */
function reader(it: AsyncIterable<LogLine>) {
  const iter = it[Symbol.asyncIterator]();
  return {
    next: (ms = 5_000) => Promise.race([
      iter.next(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no line within ${ms} ms`)), ms).unref()),
    ]),
  };
}

test('follow delivers appended lines on the inotify event, then ends when exit.json appears', async () => {
  const s = setup();
  const watches = new DirectoryWatches(60_000);
  try {
    const it = reader(readLogFiles(s.files, { follow: true, ended: () => existsSync(s.exit), wakes: (w) => watches.subscribe(s.dir, w) }));
    const first = it.next();
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(s.files.stdout, '1700000000.000001 hello\n');
    assert.deepEqual((await first).value, { stream: 'stdout', line: 'hello', time: new Date(1700000000000).toISOString() });
    appendFileSync(s.files.stderr, '1700000001.000000 oops\n');
    assert.equal((await it.next()).value?.line, 'oops');
    // The supervisor writes its last (unterminated) output before exit.json: both arrive, then the stream ends.
    appendFileSync(s.files.stdout, '1700000002.000000 last words');
    writeFileSync(s.exit, '{"exitCode":0}\n');
    assert.equal((await it.next()).value?.line, 'last words');
    assert.equal((await it.next()).done, true);
    assert.equal(watches.size, 0, 'the watch goes with its last follower');
  } finally {
    s.cleanup();
  }
});

test('a truncated log file is read again from its start', async () => {
  const s = setup();
  const watches = new DirectoryWatches(60_000);
  const abort = new AbortController();
  try {
    appendFileSync(s.files.stdout, '1700000000.000000 before truncation, a long line\n');
    const it = reader(readLogFiles(s.files, { follow: true, signal: abort.signal, ended: () => false, wakes: (w) => watches.subscribe(s.dir, w) }));
    assert.equal((await it.next()).value?.line, 'before truncation, a long line');
    const next = it.next();
    truncateSync(s.files.stdout, 0);
    appendFileSync(s.files.stdout, '1700000001.000000 after\n');
    assert.equal((await next).value?.line, 'after');
    abort.abort();
    assert.equal((await it.next()).done, true, 'abort ends the follower');
    assert.equal(watches.size, 0);
  } finally {
    s.cleanup();
  }
});

test('without an inotify watch, the shared safety poll still wakes followers (thorough checks only then)', async () => {
  const s = setup();
  const watches = new DirectoryWatches(50);
  const reasons: boolean[] = [];
  try {
    // A directory that cannot be watched (missing): only the poll can wake the follower.
    const unwatchable = join(s.dir, 'missing');
    let done = false;
    const it = reader(readLogFiles(s.files, {
      follow: true, ended: (thorough) => { reasons.push(thorough); return done && thorough; },
      wakes: (w) => watches.subscribe(unwatchable, w),
    }));
    const first = it.next();
    appendFileSync(s.files.stdout, '1700000000.000000 seen by the poll\n');
    assert.equal((await first).value?.line, 'seen by the poll');
    done = true;
    assert.equal((await it.next()).done, true);
    assert.ok(reasons.every((r) => r), 'every wake here came from the poll');
    assert.equal(watches.size, 0, 'the shared timer stops with the last subscriber');
  } finally {
    s.cleanup();
  }
});

test('not following reads what is there once, and needs no wake source', async () => {
  const s = setup();
  try {
    appendFileSync(s.files.stdout, '1700000001.000000 b\n');
    appendFileSync(s.files.stderr, '1700000000.000000 a\n');
    const lines: string[] = [];
    for await (const l of readLogFiles(s.files, { follow: false, ended: () => false })) lines.push(l.line);
    assert.deepEqual(lines, ['a', 'b']);
    const since: string[] = [];
    for await (const l of readLogFiles(s.files, { follow: false, since: new Date(1700000000500), ended: () => false })) since.push(l.line);
    assert.deepEqual(since, ['b']);
  } finally {
    s.cleanup();
  }
});

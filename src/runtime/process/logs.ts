// Reads the supervisor's timestamped log files ("<epoch seconds> <line>"), once or following them. A follower keeps
// both files open and reads from its last offset only when woken (watch.ts: an inotify event on the instance
// directory, or the shared slow safety poll), never on a timer of its own: an idle instance costs nothing.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { LogLine } from '../contract.ts';
import { LineSplitter } from '../common.ts';
import { epochToIso } from './sandbox.ts';
import type { WakeReason } from './watch.ts';

/** Most bytes read from one file per wake-up; the rest follows at once, so a large backlog never blocks long. */
const READ_SLICE = 1 << 20;

/**
 * One read buffer for every tail of this process: reads are synchronous and decoded at once, so no two ever use it
 * together. A buffer per tail cost 128 KiB per followed instance (two files), most of the control plane's growth
 * per idle instance at N = 1,000 (issue #26).
 */
const READ_BUF = Buffer.alloc(64 * 1024);

/** Incremental reader of one log file from a byte offset, through a descriptor kept open between reads. */
class FileTail {
  private fd?: number;
  private offset = 0;
  private readonly splitter = new LineSplitter();
  constructor(private readonly path: string, private readonly stream: 'stdout' | 'stderr') {}

  /**
   * Reads what was appended since the last call (up to READ_SLICE; `more` says whether bytes remain); with `final`,
   * everything and the unterminated last line too. A file truncated below the offset is read again from its start
   * (the supervisor only appends; it never rotates).
   */
  read(final: boolean, out: LogLine[]): boolean {
    if (this.fd === undefined) {
      try { this.fd = openSync(this.path, 'r'); } catch { return false; } // not created yet
    }
    let size: number;
    try { size = fstatSync(this.fd).size; } catch { return false; }
    if (size < this.offset) this.offset = 0;
    let budget = final ? Infinity : READ_SLICE;
    while (this.offset < size && budget > 0) {
      const bytesRead = readSync(this.fd, READ_BUF, 0, READ_BUF.length, this.offset);
      if (bytesRead === 0) break;
      this.offset += bytesRead;
      budget -= bytesRead;
      for (const raw of this.splitter.push(READ_BUF.subarray(0, bytesRead).toString('utf8'))) out.push(parse(this.stream, raw));
    }
    if (final) for (const raw of this.splitter.flush()) out.push(parse(this.stream, raw));
    return this.offset < size;
  }

  close(): void {
    if (this.fd !== undefined) try { closeSync(this.fd); } catch { /* already closed */ }
    this.fd = undefined;
  }
}

function parse(stream: 'stdout' | 'stderr', raw: string): LogLine {
  const space = raw.indexOf(' ');
  const time = space > 0 ? epochToIso(raw.slice(0, space)) : undefined;
  return time ? { stream, line: raw.slice(space + 1), time } : { stream, line: raw, time: new Date().toISOString() };
}

/** How a follower learns that something may have changed: `subscribe` returns its unsubscribe function. */
export type WakeSource = (wake: (why: WakeReason) => void) => () => void;

/**
 * Streams both files merged by time. With follow, it sleeps until `wakes` signals a change, and ends once
 * `ended(thorough)` is true and nothing new remains; `thorough` is false after an inotify event (check only what
 * such an event can reveal, e.g. exit.json) and true on the first round and on safety polls.
 */
export async function* readLogFiles(
  files: { stdout: string; stderr: string },
  opts: { follow: boolean; since?: Date; signal?: AbortSignal; ended: (thorough: boolean) => boolean; wakes?: WakeSource },
): AsyncIterable<LogLine> {
  if (opts.follow && !opts.wakes) throw new Error('readLogFiles: follow needs a wake source');
  const tails = [new FileTail(files.stdout, 'stdout'), new FileTail(files.stderr, 'stderr')];
  const since = opts.since?.getTime();
  // Woken state: set by the watch (or abort) and consumed by each round, so no change between rounds is lost.
  let pending: WakeReason | undefined = 'poll';
  let resume: (() => void) | undefined;
  const wake = (why: WakeReason) => {
    if (pending !== 'poll') pending = why;
    resume?.();
  };
  const onAbort = () => resume?.();
  const unsubscribe = opts.follow && opts.wakes ? opts.wakes(wake) : undefined;
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (opts.signal?.aborted) return;
      const thorough = pending === 'poll';
      pending = undefined;
      // Check the end before reading: the supervisor flushes all output before it writes exit.json.
      const finished = !opts.follow || opts.ended(thorough);
      const batch: LogLine[] = [];
      let more = false;
      for (const t of tails) more = t.read(finished, batch) || more;
      batch.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
      for (const l of batch) if (since === undefined || Date.parse(l.time) >= since) yield l;
      if (finished) return;
      if (more) { pending ??= 'change'; continue; }
      if (pending === undefined && !opts.signal?.aborted) {
        await new Promise<void>((resolve) => { resume = resolve; });
        resume = undefined;
      }
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    unsubscribe?.();
    for (const t of tails) t.close();
  }
}

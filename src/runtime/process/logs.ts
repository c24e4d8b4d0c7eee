// Reads the supervisor's timestamped log files ("<epoch seconds> <line>"), once or following them by polling.
import { open } from 'node:fs/promises';
import type { LogLine } from '../contract.ts';
import { LineSplitter } from '../common.ts';
import { epochToIso } from './sandbox.ts';

/** Polling interval of follow mode; bounded so a followed log costs little and ends soon after the instance. */
export const FOLLOW_POLL_MS = 150;

/** Incremental reader of one log file from a byte offset. */
class FileTail {
  private offset = 0;
  private readonly splitter = new LineSplitter();
  constructor(private readonly path: string, private readonly stream: 'stdout' | 'stderr') {}

  /** Reads what was appended since the last call; with `final`, also the unterminated last line. */
  async read(final: boolean): Promise<LogLine[]> {
    const out: LogLine[] = [];
    let fh;
    try { fh = await open(this.path, 'r'); } catch { return out; }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        for (const raw of this.splitter.push(buf.subarray(0, bytesRead).toString('utf8'))) out.push(parse(this.stream, raw));
      }
    } finally {
      await fh.close();
    }
    if (final) for (const raw of this.splitter.flush()) out.push(parse(this.stream, raw));
    return out;
  }
}

function parse(stream: 'stdout' | 'stderr', raw: string): LogLine {
  const space = raw.indexOf(' ');
  const time = space > 0 ? epochToIso(raw.slice(0, space)) : undefined;
  return time ? { stream, line: raw.slice(space + 1), time } : { stream, line: raw, time: new Date().toISOString() };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal?.removeEventListener('abort', done); resolve(); }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Streams both files merged by time; with follow, polls until `ended()` is true and nothing new remains. */
export async function* readLogFiles(
  files: { stdout: string; stderr: string },
  opts: { follow: boolean; since?: Date; signal?: AbortSignal; ended: () => boolean },
): AsyncIterable<LogLine> {
  const tails = [new FileTail(files.stdout, 'stdout'), new FileTail(files.stderr, 'stderr')];
  const since = opts.since?.getTime();
  for (;;) {
    if (opts.signal?.aborted) return;
    // Check the end before reading: the supervisor flushes all output before it marks the exit.
    const finished = !opts.follow || opts.ended();
    const batch = (await Promise.all(tails.map((t) => t.read(finished)))).flat();
    batch.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    for (const l of batch) if (since === undefined || Date.parse(l.time) >= since) yield l;
    if (finished) return;
    await sleep(FOLLOW_POLL_MS, opts.signal);
  }
}

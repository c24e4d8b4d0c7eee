// Docker's multiplexed log stream (no TTY): 8-byte headers [stream, 0, 0, 0, size(uint32 BE)] then the payload.
// With timestamps=1 every line starts with an RFC 3339 nano timestamp and a space.
import type { LogLine } from '../contract.ts';
import { LineSplitter, isoTime } from '../common.ts';

/** Turns chunks of a multiplexed stream into log lines, buffering partial frames and partial lines per stream. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private readonly splitters = { stdout: new LineSplitter(), stderr: new LineSplitter() };

  /** Feeds bytes; returns the complete lines they finished. */
  push(chunk: Buffer): LogLine[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: LogLine[] = [];
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const stream = this.pending[0] === 2 ? 'stderr' : 'stdout';
      const payload = this.pending.subarray(8, 8 + size).toString('utf8');
      this.pending = this.pending.subarray(8 + size);
      for (const raw of this.splitters[stream].push(payload)) out.push(parseStamped(stream, raw));
    }
    return out;
  }

  /** Returns what is left when the stream ends (unterminated last lines). */
  end(): LogLine[] {
    const out: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) for (const raw of this.splitters[stream].flush()) out.push(parseStamped(stream, raw));
    return out;
  }
}

function parseStamped(stream: 'stdout' | 'stderr', raw: string): LogLine {
  const space = raw.indexOf(' ');
  const time = space > 0 ? isoTime(raw.slice(0, space)) : undefined;
  if (time) return { stream, line: raw.slice(space + 1), time };
  return { stream, line: raw, time: new Date().toISOString() };
}

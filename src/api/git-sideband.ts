// git's pkt-line framing on the receive-pack reply: with side-band-64k (which every git client asks for on push),
// the reply is packets tagged band 1 (report-status), 2 (progress: the client prints it as "remote: ...") or 3 (fatal),
// ended by a flush packet "0000". The relay forwards git http-backend's packets as they come but holds that final
// flush, so Pier can add its own progress lines (the build, the deployment's status, the URL) before the push ends.

/** The largest payload of one side-band-64k packet: 65520 bytes minus the 4-byte length and the band byte. */
const MAX_PAYLOAD = 65515;

/** Encodes `text` as band-2 (progress) packets, each line ending in "\n" so git prints one "remote:" line per line. */
export function progressPackets(text: string): Buffer {
  const parts: Buffer[] = [];
  for (const line of text.split('\n')) {
    // A control character would let an app's build output rewrite the user's terminal: shown as "?" (a CR from a
    // progress bar is dropped: git ends each line itself).
    // eslint-disable-next-line no-control-regex
    const clean = Buffer.from(`${line.replace(/\r/g, '').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '?')}\n`, 'utf8').subarray(0, MAX_PAYLOAD);
    const len = (clean.length + 5).toString(16).padStart(4, '0');
    parts.push(Buffer.from(len, 'ascii'), Buffer.from([2]), clean);
  }
  return Buffer.concat(parts);
}

/**
 * Forwards a receive-pack reply packet by packet. `sideband` is known once the first packet is seen (its first byte is
 * a band number); `finish(extra)` writes `extra` progress packets (sideband only) and then the held final flush.
 */
export class SidebandRelay {
  private buf: Buffer = Buffer.alloc(0);
  private heldFlush = false;
  private first = true;
  /** Whether the client negotiated side-band (only then can progress lines be added). */
  sideband = false;
  /** Set when the bytes are not pkt-lines: everything is passed through untouched. */
  private raw = false;

  constructor(private readonly write: (chunk: Buffer) => void) {}

  /** Takes the next bytes of the backend's reply body. */
  push(chunk: Buffer): void {
    if (this.raw) { this.write(chunk); return; }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 4) {
      const len = Number.parseInt(this.buf.subarray(0, 4).toString('ascii'), 16);
      if (!/^[0-9a-f]{4}$/.test(this.buf.subarray(0, 4).toString('ascii')) || (len > 0 && len < 4)) {
        this.raw = true;
        this.flushHeld();
        this.write(this.buf);
        this.buf = Buffer.alloc(0);
        return;
      }
      const size = len === 0 ? 4 : len;
      if (this.buf.length < size) return;
      const packet = this.buf.subarray(0, size);
      this.buf = this.buf.subarray(size);
      if (this.first && len > 4) {
        this.first = false;
        this.sideband = packet[4] === 1 || packet[4] === 2 || packet[4] === 3;
      }
      this.flushHeld();
      // Without side-band the report itself ends in a flush and nothing may follow it: only side-band's is held.
      if (len === 0 && this.sideband) this.heldFlush = true;
      else this.write(packet);
    }
  }

  /** Adds progress lines (when side-band was negotiated), then ends the reply with the held flush and any rest. */
  finish(extra: string[] = []): void {
    if (this.sideband && this.heldFlush) for (const line of extra) this.write(progressPackets(line));
    this.flushHeld();
    if (this.buf.length) this.write(this.buf);
    this.buf = Buffer.alloc(0);
  }

  /** Writes progress lines now (side-band only), before the held flush; false when they cannot be shown. */
  progress(line: string): boolean {
    if (!this.sideband || !this.heldFlush) return false;
    this.write(progressPackets(line));
    return true;
  }

  private flushHeld(): void {
    if (!this.heldFlush) return;
    this.heldFlush = false;
    this.write(Buffer.from('0000', 'ascii'));
  }
}

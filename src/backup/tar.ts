// A minimal ustar writer and streaming reader (PAX headers for long paths), so a backup needs no tar dependency and
// the reader can verify checksums of a gzip stream without writing anything to disk.

/** One archive member's header. */
export interface TarHeader {
  name: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  linkname?: string;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function rawHeader(h: { name: string; typeflag: string; size: number; mode: number; mtime: number; uid: number; gid: number; linkname: string }): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(h.name, 0, 100, 'utf8');
  b.write(octal(h.mode & 0o7777, 8), 100, 'ascii');
  b.write(octal(h.uid, 8), 108, 'ascii');
  b.write(octal(h.gid, 8), 116, 'ascii');
  b.write(octal(h.size, 12), 124, 'ascii');
  b.write(octal(Math.floor(h.mtime), 12), 136, 'ascii');
  b.write(h.typeflag, 156, 'ascii');
  b.write(h.linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 'ascii');
  b.write('00', 263, 'ascii');
  b.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(octal(sum, 7) + ' ', 148, 'ascii');
  return b;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** The header block(s) of one member: a PAX header first when a path or link target does not fit ustar's fields. */
export function encodeHeader(h: TarHeader): Buffer {
  const typeflag = h.type === 'file' ? '0' : h.type === 'dir' ? '5' : '2';
  const linkname = h.linkname ?? '';
  const long = Buffer.byteLength(h.name) > 99 || Buffer.byteLength(linkname) > 99;
  const main = rawHeader({ ...h, typeflag, linkname: long ? '' : linkname, name: long ? h.name.slice(0, 99) : h.name });
  if (!long) return main;
  const pax = Buffer.from(paxRecord('path', h.name) + (linkname ? paxRecord('linkpath', linkname) : ''), 'utf8');
  const paxHeader = rawHeader({ name: 'PaxHeader', typeflag: 'x', size: pax.length, mode: 0o644, mtime: h.mtime, uid: 0, gid: 0, linkname: '' });
  return Buffer.concat([paxHeader, pax, padding(pax.length), main]);
}

/** Zero bytes that pad a member's body to a whole block. */
export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The two zero blocks that end an archive. */
export function endOfArchive(): Buffer {
  return Buffer.alloc(BLOCK * 2);
}

/** What the reader calls: a member starts, its body arrives in chunks, it ends. */
export interface TarHandlers {
  entry(h: TarHeader): void;
  data(chunk: Buffer): void;
  end(): void;
}

/** Thrown for a malformed archive (bad header checksum, unknown member type). */
export class TarFormatError extends Error {}

function field(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function num(b: Buffer, start: number, len: number): number {
  const text = field(b, start, len).trim();
  return text ? parseInt(text, 8) : 0;
}

/** A push parser: feed() gunzipped bytes in any chunking; finish() says whether the end-of-archive marker was seen. */
export class TarReader {
  private buf: Buffer = Buffer.alloc(0);
  private remaining = 0; // body bytes of the current member still to come
  private pad = 0;
  private paxNext: Record<string, string> | undefined;
  private collectingPax: Buffer[] | undefined;
  private ended = false;
  constructor(private readonly on: TarHandlers) {}

  feed(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.ended) { this.buf = Buffer.alloc(0); return; }
      if (this.remaining > 0) {
        if (this.buf.length === 0) return;
        const take = Math.min(this.remaining, this.buf.length);
        const part = this.buf.subarray(0, take);
        if (this.collectingPax) this.collectingPax.push(Buffer.from(part)); else this.on.data(part);
        this.buf = this.buf.subarray(take);
        this.remaining -= take;
        if (this.remaining > 0) return;
        this.finishMember();
        continue;
      }
      if (this.pad > 0) {
        const take = Math.min(this.pad, this.buf.length);
        this.buf = this.buf.subarray(take);
        this.pad -= take;
        if (this.pad > 0) return;
      }
      if (this.buf.length < BLOCK) return;
      const block = this.buf.subarray(0, BLOCK);
      this.buf = this.buf.subarray(BLOCK);
      if (block.every((x) => x === 0)) { this.ended = true; continue; }
      this.header(block);
    }
  }

  private header(block: Buffer): void {
    const stored = num(block, 148, 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i]!;
    if (sum !== stored) throw new TarFormatError('a member header is damaged (header checksum mismatch)');
    const typeflag = field(block, 156, 1) || '0';
    const size = num(block, 124, 12);
    this.pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (typeflag === 'x') {
      this.collectingPax = [];
      this.remaining = size;
      if (size === 0) this.finishMember();
      return;
    }
    const type = typeflag === '0' ? 'file' : typeflag === '5' ? 'dir' : typeflag === '2' ? 'symlink' : undefined;
    if (!type) throw new TarFormatError(`unsupported member type ${JSON.stringify(typeflag)}`);
    const pax = this.paxNext ?? {};
    this.paxNext = undefined;
    const prefix = field(block, 345, 155);
    const name = pax.path ?? (prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100));
    const linkname = pax.linkpath ?? field(block, 157, 100);
    this.on.entry({
      name, type, size: type === 'file' ? size : 0, mode: num(block, 100, 8), mtime: num(block, 136, 12),
      uid: num(block, 108, 8), gid: num(block, 116, 8), ...(type === 'symlink' ? { linkname } : {}),
    });
    this.remaining = type === 'file' ? size : 0;
    if (this.remaining === 0) this.finishMember();
  }

  private finishMember(): void {
    if (this.collectingPax) {
      const text = Buffer.concat(this.collectingPax).toString('utf8');
      this.collectingPax = undefined;
      const records: Record<string, string> = {};
      for (const m of text.matchAll(/^\d+ ([^=\n]+)=([^\n]*)$/gm)) records[m[1]!] = m[2]!;
      this.paxNext = records;
      return;
    }
    this.on.end();
  }

  /** Whether the archive ended properly: the end marker seen and no member cut short. */
  complete(): boolean {
    return this.ended && this.remaining === 0;
  }
}

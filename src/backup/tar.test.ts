import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeHeader, endOfArchive, padding, TarFormatError, TarReader, type TarHeader } from './tar.ts';

function archive(members: { h: TarHeader; body?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  for (const { h, body } of members) {
    parts.push(encodeHeader(h));
    if (body) parts.push(body, padding(body.length));
  }
  parts.push(endOfArchive());
  return Buffer.concat(parts);
}

function read(bytes: Buffer, chunk: number): { entries: TarHeader[]; bodies: string[]; complete: boolean } {
  const entries: TarHeader[] = [];
  const bodies: string[] = [];
  let cur: Buffer[] = [];
  const r = new TarReader({ entry: (h) => { entries.push(h); cur = []; }, data: (c) => cur.push(Buffer.from(c)), end: () => bodies.push(Buffer.concat(cur).toString()) });
  for (let i = 0; i < bytes.length; i += chunk) r.feed(bytes.subarray(i, i + chunk));
  return { entries, bodies, complete: r.complete() };
}

const base = { mode: 0o644, mtime: 1700000000, uid: 1000, gid: 1000 };
const long = `git/${'deep/'.repeat(40)}file.txt`;
const members: { h: TarHeader; body?: Buffer }[] = [
  { h: { ...base, name: 'tls', type: 'dir' as const, size: 0, mode: 0o700 } },
  { h: { ...base, name: 'tls/a.pem', type: 'file' as const, size: 5 }, body: Buffer.from('hello') },
  { h: { ...base, name: long, type: 'file' as const, size: 600 }, body: Buffer.alloc(600, 'x') },
  { h: { ...base, name: 'builds/x/link', type: 'symlink' as const, size: 0, linkname: `../${'t/'.repeat(60)}target` } },
  { h: { ...base, name: 'archives/empty', type: 'file' as const, size: 0 }, body: Buffer.alloc(0) },
];

test('members round-trip (long paths and link targets through PAX), whatever the chunking', () => {
  const bytes = archive(members);
  for (const chunk of [1, 7, 512, 513, 100_000]) {
    const { entries, bodies, complete } = read(bytes, chunk);
    assert.equal(complete, true);
    assert.deepEqual(entries.map((e) => [e.name, e.type, e.size, e.mode, e.uid, e.linkname]), members.map((m) => [m.h.name, m.h.type, m.h.size, m.h.mode, m.h.uid, m.h.linkname]));
    assert.deepEqual(bodies, ['', 'hello', 'x'.repeat(600), '', '']);
  }
});

test('an archive cut short is incomplete; a damaged header is refused', () => {
  const bytes = archive(members);
  assert.equal(read(bytes.subarray(0, bytes.length - 1024), 4096).complete, false);
  assert.equal(read(bytes.subarray(0, 700), 4096).complete, false);
  const damaged = Buffer.from(bytes);
  damaged[10] = damaged[10]! ^ 0xff;
  assert.throws(() => read(damaged, 4096), TarFormatError);
});

// Docker's multiplexed exec stream split back into stdout and stderr bytes, across arbitrary chunk boundaries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamDemuxer } from './exec.ts';

function frame(stream: number, data: string): Buffer {
  const payload = Buffer.from(data);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

test('StreamDemuxer: frames split anywhere come out whole, per stream, binary-safe', () => {
  const wire = Buffer.concat([frame(1, 'hello '), frame(2, 'oops\n'), frame(1, ''), frame(1, 'world\n\u0000\u00ff')]);
  for (let cut = 1; cut < wire.length; cut++) {
    const d = new StreamDemuxer();
    const got = { stdout: '', stderr: '' };
    for (const part of [wire.subarray(0, cut), wire.subarray(cut)]) d.push(part, (s, data) => { got[s] += data.toString('latin1'); });
    assert.deepEqual(got, { stdout: 'hello world\n\u0000' + Buffer.from('\u00ff').toString('latin1'), stderr: 'oops\n' }, `cut at ${cut}`);
  }
});

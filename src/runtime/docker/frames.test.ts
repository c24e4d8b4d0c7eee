import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder } from './frames.ts';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

test('frames split across chunks and lines split across frames come out whole', () => {
  const d = new FrameDecoder();
  const bytes = Buffer.concat([
    frame(1, '2024-05-01T10:00:00.123456789Z hello\n2024-05-01T10:00:01.000000000Z wor'),
    frame(2, '2024-05-01T10:00:00.500000000Z oops\n'),
    frame(1, 'ld\n'),
  ]);
  const out = [...d.push(bytes.subarray(0, 5)), ...d.push(bytes.subarray(5, 40)), ...d.push(bytes.subarray(40))];
  assert.deepEqual(out, [
    { stream: 'stdout', line: 'hello', time: '2024-05-01T10:00:00.123Z' },
    { stream: 'stderr', line: 'oops', time: '2024-05-01T10:00:00.500Z' },
    { stream: 'stdout', line: 'world', time: '2024-05-01T10:00:01.000Z' },
  ]);
  assert.deepEqual(d.end(), []);
});

test('an unterminated last line is returned at the end', () => {
  const d = new FrameDecoder();
  assert.deepEqual(d.push(frame(1, '2024-05-01T10:00:00Z tail')), []);
  assert.deepEqual(d.end(), [{ stream: 'stdout', line: 'tail', time: '2024-05-01T10:00:00.000Z' }]);
});

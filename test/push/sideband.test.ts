// The receive-pack reply relay: git http-backend's packets pass through byte for byte, split anywhere; with side-band
// Pier's progress lines go in before the final flush; without it nothing is added (git would read them as garbage).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SidebandRelay, progressPackets } from '../../src/api/git-sideband.ts';

const pkt = (payload: Buffer | string): Buffer => {
  const b = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([Buffer.from((b.length + 4).toString(16).padStart(4, '0')), b]);
};
const band = (n: number, text: string): Buffer => pkt(Buffer.concat([Buffer.from([n]), Buffer.from(text)]));

test('side-band reply: progress lines go before the final flush, whatever the chunking', () => {
  const report = Buffer.concat([pkt('unpack ok\n'), pkt('ok refs/heads/main\n'), Buffer.from('0000')]);
  const reply = Buffer.concat([band(2, 'resolving deltas\n'), band(1, report.toString('latin1')), Buffer.from('0000')]);
  for (const size of [1, 3, 7, reply.length]) {
    const out: Buffer[] = [];
    const relay = new SidebandRelay((c) => out.push(Buffer.from(c)));
    for (let i = 0; i < reply.length; i += size) relay.push(reply.subarray(i, i + size));
    assert.equal(relay.sideband, true);
    assert.equal(relay.progress('building\x1b[2J'), true);
    relay.finish();
    const expected = Buffer.concat([reply.subarray(0, reply.length - 4), progressPackets('building?[2J'), Buffer.from('0000')]);
    assert.deepEqual(Buffer.concat(out), expected, `chunks of ${size}`);
  }
});

test('a reply without side-band passes through untouched and takes no progress lines', () => {
  const reply = Buffer.concat([pkt('unpack ok\n'), pkt('ok refs/heads/main\n'), Buffer.from('0000')]);
  const out: Buffer[] = [];
  const relay = new SidebandRelay((c) => out.push(Buffer.from(c)));
  relay.push(reply);
  assert.equal(relay.sideband, false);
  assert.equal(relay.progress('building'), false);
  relay.finish(['ignored']);
  assert.deepEqual(Buffer.concat(out), reply);
});

test('progress packets: one band-2 packet per line, each ending in a newline', () => {
  assert.deepEqual(progressPackets('a\nbc'), Buffer.concat([band(2, 'a\n'), band(2, 'bc\n')]));
  assert.deepEqual(progressPackets('50%\r100%\x07'), band(2, '50%100%?\n'));
});

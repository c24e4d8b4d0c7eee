import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimUid, claimedUids, releaseUid, uidRangeConflict } from './uids.ts';

function scratch() {
  const root = mkdtempSync(join(tmpdir(), 'pier-uids-'));
  return { root, opts: { dir: join(root, 'claims'), lockPath: join(root, 'claims.lock') }, owner: (name: string) => { const d = join(root, name); mkdirSync(d, { recursive: true }); return d; } };
}

test('each owner gets its own uid from the range, the same one when it asks again, and gives it back', async () => {
  const s = scratch();
  try {
    const range = { base: 5000, count: 4 };
    const owners = ['a', 'b', 'c', 'd'].map(s.owner);
    const uids = [];
    for (const o of owners) uids.push(await claimUid(range, o, s.opts));
    assert.equal(new Set(uids).size, 4, `distinct: ${uids}`);
    for (const u of uids) assert.ok(u >= 5000 && u < 5004);
    assert.equal(await claimUid(range, owners[0], s.opts), uids[0], 'asking again is idempotent');
    await assert.rejects(claimUid(range, s.owner('e'), s.opts), /every sandbox uid/);
    releaseUid(uids[1], owners[0], s.opts); // not its owner: a no-op
    assert.equal(claimedUids(s.opts).length, 4);
    releaseUid(uids[1], owners[1], s.opts);
    assert.equal(await claimUid(range, s.owner('e'), s.opts), uids[1], 'a released uid is handed out again');
  } finally {
    rmSync(s.root, { recursive: true, force: true });
  }
});

test('concurrent claims never share a uid; a claim whose owner directory is gone is taken over', async () => {
  const s = scratch();
  try {
    const range = { base: 7000, count: 16 };
    const owners = Array.from({ length: 16 }, (_, i) => s.owner(`o${i}`));
    const uids = await Promise.all(owners.map((o) => claimUid(range, o, s.opts)));
    assert.equal(new Set(uids).size, 16);
    rmSync(owners[3], { recursive: true }); // a control plane killed mid-start left this claim behind
    assert.equal(await claimUid(range, s.owner('late'), s.opts), uids[3]);
  } finally {
    rmSync(s.root, { recursive: true, force: true });
  }
});

test('a range overlapping host users, groups or subordinate ids is refused, naming the clash', () => {
  const root = mkdtempSync(join(tmpdir(), 'pier-uids-'));
  try {
    const f = { passwd: join(root, 'passwd'), group: join(root, 'group'), subuid: join(root, 'subuid'), subgid: join(root, 'subgid') };
    writeFileSync(f.passwd, 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n');
    writeFileSync(f.group, 'root:x:0:\n');
    writeFileSync(f.subuid, 'alice:100000:65536\n');
    writeFileSync(f.subgid, '');
    assert.equal(uidRangeConflict({ base: 2_000_000_000, count: 65536 }, f), null);
    assert.match(uidRangeConflict({ base: 150000, count: 65536 }, f) ?? '', /subuid gives alice ids 100000\+65536/);
    assert.match(uidRangeConflict({ base: 999, count: 10 }, f) ?? '', /above 1000/);
    assert.match(uidRangeConflict({ base: 1000, count: 10 }, f) ?? '', /alice with id 1000/);
    assert.match(uidRangeConflict({ base: 2 ** 31 - 10, count: 65536 }, f) ?? '', /below 2\^31/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a preferred uid (the owner of a volume) is taken when free, never when another instance holds it', async () => {
  const s = scratch();
  try {
    const range = { base: 9000, count: 8 };
    const first = s.owner('first');
    const u = await claimUid(range, first, { ...s.opts, prefer: 9005 });
    assert.equal(u, 9005, 'free: taken');
    const second = s.owner('second');
    const v = await claimUid(range, second, { ...s.opts, prefer: 9005 });
    assert.notEqual(v, 9005, 'held by a live instance: another uid');
    releaseUid(u, first, s.opts);
    assert.equal(await claimUid(range, s.owner('third'), { ...s.opts, prefer: 9005 }), 9005, 'released: taken again');
    const outside = await claimUid(range, s.owner('fourth'), { ...s.opts, prefer: 0 });
    assert.ok(outside >= 9000 && outside < 9008, 'a preference outside the range (root: a fresh volume) is ignored');
  } finally {
    rmSync(s.root, { recursive: true, force: true });
  }
});

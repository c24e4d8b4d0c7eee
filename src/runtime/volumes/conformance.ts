// The conformance suite every VolumeDriver passes for real (issue #20), as runtime drivers pass ../conformance.ts:
// exact size and ENOSPC at it, data across a restart (a new driver object) and a host reboot, snapshots of unattached
// and attached volumes, restores that are independent of their source, an online grow (never a shrink), idempotent
// removes, ids that are not UUIDs refused. Writes go through `hostPath` from this process (root), as a runtime would bind it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync, statSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { RuntimeError } from '../errors.ts';
import type { VolumeDriver } from './contract.ts';

const MiB = 1024 * 1024;
const TIMEOUT_MS = 60_000;

/** What a driver's test file provides. */
export interface VolumeConformanceFixtures {
  /** What a host reboot does to a volume (its mounts gone, its data kept), if the driver can be put through it. */
  simulateReboot?(volumeId: string, hostPath: string): Promise<void>;
  teardown?(): Promise<void>;
}

const isCode = (code: string) => (err: unknown) => err instanceof RuntimeError && err.code === code;

/** Writes `bytes` of non-zero data (no sparse shortcut) into `path`. */
export function fillFile(path: string, bytes: number): void {
  const chunk = Buffer.alloc(MiB, 'pier');
  const fd = openSync(path, 'w');
  try { for (let done = 0; done < bytes; done += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done)); } finally { closeSync(fd); }
}

/** Registers the suite. `makeDriver` is called again to simulate a restart of the control plane. */
export function runVolumeDriverConformance(name: string, makeDriver: () => VolumeDriver, fixtures: VolumeConformanceFixtures = {}): void {
  describe(`volume driver conformance: ${name}`, { timeout: 10 * 60_000 }, () => {
    let d: VolumeDriver;
    let skip: string | false = false;
    const volumes = new Set<string>();
    const snapshots = new Set<string>();
    before(async () => {
      d = makeDriver();
      const why = await d.unavailable();
      if (why) skip = why;
    });
    after(async () => {
      for (const id of volumes) await d.remove(id).catch(() => undefined);
      for (const id of snapshots) await d.removeSnapshot(id).catch(() => undefined);
      await fixtures.teardown?.();
    });
    const newVolume = (bytes: number, opts?: { fromSnapshotId?: string }) => {
      const id = randomUUID();
      volumes.add(id);
      return d.create(id, bytes, opts);
    };
    const newSnapshot = (volumeId: string, attached: boolean) => {
      const id = randomUUID();
      snapshots.add(id);
      return d.snapshot(volumeId, id, { attached });
    };

    test('create gives a mounted volume of the size; a repeat is the same volume, another size a conflict', { timeout: TIMEOUT_MS }, async (t) => {
      if (skip) return t.skip(skip);
      const v = await newVolume(32 * MiB);
      assert.equal(v.sizeBytes, 32 * MiB);
      assert.ok(v.hostPath.startsWith('/'), v.hostPath);
      const fs = statfsSync(v.hostPath);
      assert.ok(fs.blocks * fs.bsize <= 32 * MiB && fs.blocks * fs.bsize > 24 * MiB, `usable ${fs.blocks * fs.bsize} of 32 MiB`);
      assert.ok(v.usedBytes >= 0 && v.usedBytes < 32 * MiB);
      const again = await d.create(v.volumeId, 32 * MiB);
      assert.equal(again.hostPath, v.hostPath);
      await assert.rejects(d.create(v.volumeId, 64 * MiB), isCode('conflict'));
      assert.equal((await d.inspect(v.volumeId))?.hostPath, v.hostPath);
      assert.ok((await d.list()).volumes.includes(v.volumeId));
    });

    test('ids that are not UUIDs are refused before they reach a path; unknown ids are not found', { timeout: TIMEOUT_MS }, async (t) => {
      if (skip) return t.skip(skip);
      for (const bad of ['../../etc', 'a/b', '', '..', `${randomUUID()}/..`]) {
        await assert.rejects(d.create(bad, 32 * MiB), isCode('invalid_spec'), bad);
        await assert.rejects(d.mount(bad), isCode('invalid_spec'), bad);
        await assert.rejects(d.remove(bad), isCode('invalid_spec'), bad);
        await assert.rejects(d.removeSnapshot(bad), isCode('invalid_spec'), bad);
      }
      await assert.rejects(d.mount(randomUUID()), isCode('not_found'));
      assert.equal(await d.inspect(randomUUID()), null);
      assert.equal(await d.inspectSnapshot(randomUUID()), null);
      await assert.rejects(d.snapshot(randomUUID(), randomUUID(), { attached: false }), isCode('not_found'));
      await assert.rejects(d.create(randomUUID(), 32 * MiB, { fromSnapshotId: randomUUID() }), isCode('not_found'));
    });

    test('writing past the size fails with ENOSPC, and the volume then reads as (nearly) all used', { timeout: TIMEOUT_MS }, async (t) => {
      if (skip) return t.skip(skip);
      const v = await newVolume(16 * MiB);
      const chunk = Buffer.alloc(MiB, 'x');
      const fd = openSync(join(v.hostPath, 'big'), 'w');
      let written = 0;
      let error: NodeJS.ErrnoException | undefined;
      try {
        for (let i = 0; i < 64 && !error; i++) {
          try { written += writeSync(fd, chunk); } catch (err) { error = err as NodeJS.ErrnoException; }
        }
      } finally { closeSync(fd); }
      assert.equal(error?.code, 'ENOSPC');
      assert.ok(written < 16 * MiB && written > 8 * MiB, `wrote ${written} bytes`);
      const info = (await d.inspect(v.volumeId))!;
      assert.ok(info.usedBytes >= written, `usedBytes ${info.usedBytes} counts what was written`);
      // ext4 answers ENOSPC to a 1 MiB write with ~400 KiB still free (kept for the metadata of writes in flight).
      assert.ok(16 * MiB - info.usedBytes < MiB, `a full volume reads as its size: ${info.usedBytes}`);
    });

    test('the data survives a restart of the control plane and a host reboot', { timeout: TIMEOUT_MS }, async (t) => {
      if (skip) return t.skip(skip);
      const v = await newVolume(16 * MiB);
      writeFileSync(join(v.hostPath, 'kept'), 'before the restart');
      const restarted = makeDriver();
      const m = await restarted.mount(v.volumeId);
      assert.equal(m.hostPath, v.hostPath);
      assert.equal(readFileSync(join(m.hostPath, 'kept'), 'utf8'), 'before the restart');
      if (!fixtures.simulateReboot) return;
      await fixtures.simulateReboot(v.volumeId, v.hostPath);
      const info = await makeDriver().inspect(v.volumeId);
      assert.ok(info, 'a volume is still known after a reboot');
      const again = await makeDriver().mount(v.volumeId);
      assert.equal(readFileSync(join(again.hostPath, 'kept'), 'utf8'), 'before the restart');
      writeFileSync(join(again.hostPath, 'kept'), 'after the reboot');
      assert.equal(readFileSync(join(again.hostPath, 'kept'), 'utf8'), 'after the reboot');
    });

    test('snapshots: unattached ("stopped") and attached ("frozen", a writer busy meanwhile), each of its moment', { timeout: TIMEOUT_MS }, async (t) => {
      if (skip) return t.skip(skip);
      const v = await newVolume(32 * MiB);
      fillFile(join(v.hostPath, 'data'), 8 * MiB);
      writeFileSync(join(v.hostPath, 'note'), 'first');
      const s1 = await newSnapshot(v.volumeId, false);
      assert.equal(s1.consistency, 'stopped');
      assert.equal(s1.volumeId, v.volumeId);
      assert.equal(s1.sizeBytes, 32 * MiB);
      assert.ok(s1.storedBytes >= 8 * MiB, `stored ${s1.storedBytes}`);
      assert.deepEqual(await d.snapshot(v.volumeId, s1.snapshotId, { attached: false }), s1, 'a repeated snapshot is the same one');
      assert.deepEqual(await d.inspectSnapshot(s1.snapshotId), s1);

      writeFileSync(join(v.hostPath, 'note'), 'second');
      const writer = spawn('/bin/sh', ['-c', 'i=0; while [ $i -lt 2000 ]; do echo $i >> "$1/log"; i=$((i+1)); done; echo done', 'sh', v.hostPath], { stdio: ['ignore', 'pipe', 'inherit'] });
      const writerDone = new Promise<string>((resolve) => { let o = ''; writer.stdout.on('data', (c) => { o += c; }); writer.on('close', () => resolve(o)); });
      const s2 = await newSnapshot(v.volumeId, true);
      assert.equal(s2.consistency, 'frozen');
      assert.match(await writerDone, /done/, 'the writer goes on after the snapshot');
      assert.equal(readFileSync(join(v.hostPath, 'log'), 'utf8').trim().split('\n').length, 2000);
      writeFileSync(join(v.hostPath, 'after'), 'writable after the snapshot');

      const r1 = await newVolume(32 * MiB, { fromSnapshotId: s1.snapshotId });
      assert.equal(readFileSync(join(r1.hostPath, 'note'), 'utf8'), 'first');
      assert.equal(statSync(join(r1.hostPath, 'data')).size, 8 * MiB);
      const r2 = await newVolume(32 * MiB, { fromSnapshotId: s2.snapshotId });
      assert.equal(readFileSync(join(r2.hostPath, 'note'), 'utf8'), 'second');
      assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(`${r2.hostPath}/`), 'nothing mounted inside a restored volume');
    });

    test('a restore may grow the volume, never shrink it, and is independent of its source and its snapshot', { timeout: TIMEOUT_MS }, async (t) => {
      if (skip) return t.skip(skip);
      const src = await newVolume(32 * MiB);
      writeFileSync(join(src.hostPath, 'note'), 'original');
      const snap = await newSnapshot(src.volumeId, false);
      await assert.rejects(d.create(randomUUID(), 16 * MiB, { fromSnapshotId: snap.snapshotId }), isCode('invalid_spec'), 'smaller than the snapshot');
      const grown = await newVolume(64 * MiB, { fromSnapshotId: snap.snapshotId });
      assert.equal(grown.sizeBytes, 64 * MiB);
      const fs = statfsSync(grown.hostPath);
      assert.ok(fs.blocks * fs.bsize > 48 * MiB, `grown to the new size: ${fs.blocks * fs.bsize}`);
      const twin = await newVolume(32 * MiB, { fromSnapshotId: snap.snapshotId });
      writeFileSync(join(grown.hostPath, 'note'), 'changed in the restore');
      assert.equal(readFileSync(join(src.hostPath, 'note'), 'utf8'), 'original', 'the source is untouched');
      assert.equal(readFileSync(join(twin.hostPath, 'note'), 'utf8'), 'original', 'two restores share nothing');
      await d.remove(src.volumeId);
      await d.removeSnapshot(snap.snapshotId);
      assert.equal(readFileSync(join(grown.hostPath, 'note'), 'utf8'), 'changed in the restore');
      const again = await makeDriver().mount(grown.volumeId);
      assert.equal(readFileSync(join(again.hostPath, 'note'), 'utf8'), 'changed in the restore');
      fillFile(join(grown.hostPath, 'more'), 40 * MiB); // more than the source's whole size: the space is really there
    });

    test('grow: data kept, the new size usable, a write past the old size fits; never shrinks; repeat is a no-op', { timeout: TIMEOUT_MS }, async (t) => {
      if (skip) return t.skip(skip);
      const v = await newVolume(32 * MiB);
      writeFileSync(join(v.hostPath, 'note'), 'before the grow');
      const chunk = Buffer.alloc(MiB, 'g');
      let before = 0;
      let full: NodeJS.ErrnoException | undefined;
      const fd = openSync(join(v.hostPath, 'fill'), 'w');
      try {
        for (let i = 0; i < 64 && !full; i++) {
          try { before += writeSync(fd, chunk); } catch (err) { full = err as NodeJS.ErrnoException; }
        }
      } finally { closeSync(fd); }
      assert.equal(full?.code, 'ENOSPC', 'the old size is full');
      await assert.rejects(d.grow(v.volumeId, 16 * MiB), isCode('invalid_spec'), 'shrinking is refused');
      const g = await d.grow(v.volumeId, 96 * MiB);
      assert.equal(g.sizeBytes, 96 * MiB);
      assert.equal(g.hostPath, v.hostPath, 'the same host path: instances keep their bind');
      assert.ok(g.usedBytes >= before && g.usedBytes < 64 * MiB, `used after the grow: ${g.usedBytes}`);
      const fs = statfsSync(v.hostPath);
      assert.ok(fs.blocks * fs.bsize > 80 * MiB && fs.blocks * fs.bsize <= 96 * MiB, `usable after the grow: ${fs.blocks * fs.bsize}`);
      fillFile(join(v.hostPath, 'more'), 48 * MiB); // past the old 32 MiB: the space is really there
      assert.equal(statSync(join(v.hostPath, 'fill')).size, before);
      assert.equal(readFileSync(join(v.hostPath, 'note'), 'utf8'), 'before the grow');
      assert.deepEqual(await d.grow(v.volumeId, 96 * MiB), await d.inspect(v.volumeId), 'a repeat is a no-op');
      const restarted = makeDriver();
      assert.equal((await restarted.inspect(v.volumeId))?.sizeBytes, 96 * MiB, 'the new size is recorded');
      assert.equal(readFileSync(join((await restarted.mount(v.volumeId)).hostPath, 'note'), 'utf8'), 'before the grow');
      await assert.rejects(d.grow(randomUUID(), 64 * MiB), isCode('not_found'));
      await assert.rejects(d.grow('../x', 64 * MiB), isCode('invalid_spec'));
    });

    test('grow while a writer has the volume open: online, or refused (unavailable) with the volume untouched', { timeout: TIMEOUT_MS }, async (t) => {
      if (skip) return t.skip(skip);
      const v = await newVolume(32 * MiB);
      const chunk = Buffer.alloc(MiB, 'w');
      const fd = openSync(join(v.hostPath, 'open'), 'w');
      try {
        for (let i = 0; i < 8; i++) writeSync(fd, chunk);
        let grown = true;
        try {
          await d.grow(v.volumeId, 64 * MiB);
        } catch (err) {
          assert.ok(isCode('unavailable')(err), `a grow it cannot do online is refused as unavailable: ${(err as Error).message}`);
          grown = false;
        }
        t.diagnostic(grown ? 'grown online with a file open' : 'online grow refused on this host (the volume grows when nothing holds it)');
        assert.equal((await d.inspect(v.volumeId))?.sizeBytes, grown ? 64 * MiB : 32 * MiB);
        const more = grown ? 40 : 8; // past the old size only when grown
        for (let i = 0; i < more; i++) writeSync(fd, chunk); // the same descriptor keeps writing either way
      } finally { closeSync(fd); }
      assert.ok(statSync(join(v.hostPath, 'open')).size >= 16 * MiB);
    });

    test('remove and removeSnapshot are idempotent; list then holds neither', { timeout: TIMEOUT_MS }, async (t) => {
      if (skip) return t.skip(skip);
      const v = await newVolume(16 * MiB);
      const s = await newSnapshot(v.volumeId, false);
      const listed = await d.list();
      assert.ok(listed.volumes.includes(v.volumeId) && listed.snapshots.includes(s.snapshotId));
      await d.remove(v.volumeId);
      await d.remove(v.volumeId);
      await d.remove(randomUUID());
      await d.removeSnapshot(s.snapshotId);
      await d.removeSnapshot(s.snapshotId);
      assert.equal(await d.inspect(v.volumeId), null);
      assert.equal(await d.inspectSnapshot(s.snapshotId), null);
      await assert.rejects(d.mount(v.volumeId), isCode('not_found'));
      const after = await d.list();
      assert.ok(!after.volumes.includes(v.volumeId) && !after.snapshots.includes(s.snapshotId));
    });
  });
}

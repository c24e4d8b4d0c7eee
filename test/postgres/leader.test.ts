// The leader lease (src/control/leader.ts) on both dialects: compare-and-set acquisition, renewal keeping the term,
// takeover after expiry with a new term, release, fenced writes, and the component that starts/stops singletons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fencedDb, Lease, LeaseLostError, leaderComponent } from '../../src/control/leader.ts';
import { migrate } from '../../src/store/migrations.ts';
import type { Db } from '../../src/store/db.ts';
import type { PierComponent } from '../../src/main.ts';
import { forEachDialect } from './dialects.ts';
import { until } from '../support/until.ts';

/** A component that records its starts and stops. */
function recorder(name: string, log: string[]): PierComponent {
  return { name, start: () => { log.push(`start ${name}`); }, stop: () => { log.push(`stop ${name}`); } };
}

/** A Db whose lease statements can be made to fail (a control plane cut off from the database). */
function breakable(db: Db): { db: Db; broken: { on: boolean } } {
  const broken = { on: false };
  const guard = <T>(f: () => Promise<T>) => (broken.on ? Promise.reject(new Error('connection lost')) : f());
  return {
    broken,
    db: {
      dialect: db.dialect,
      all: (s, p) => guard(() => db.all(s, p)),
      get: (s, p) => guard(() => db.get(s, p)),
      run: (s, p) => guard(() => db.run(s, p)),
      exec: (s) => guard(() => db.exec(s)),
      transaction: (fn) => guard(() => db.transaction(fn)),
      close: () => db.close(),
    },
  };
}

forEachDialect((dialect) => {
  test('one holder at a time; renewals keep the term, a takeover after expiry bumps it; fenced writes follow', async () => {
    const db = await dialect.openDb();
    await migrate(db);
    await db.exec('CREATE TABLE fenced (n INTEGER)');
    const other = dialect.reopen() ?? db;
    const a = new Lease(db, { holder: 'a', ttlMs: 600, renewMs: 100 });
    const b = new Lease(other, { holder: 'b', ttlMs: 600, renewMs: 100 });
    assert.equal(await a.renew(), true);
    assert.equal(a.term, 1);
    assert.equal(await b.renew(), false);
    assert.equal(await a.renew(), true);
    assert.equal(a.term, 1, 'a renewal keeps the term');
    assert.deepEqual((await b.current())?.holder, 'a');

    await fencedDb(db, a).run('INSERT INTO fenced (n) VALUES (?)', [1]);
    await assert.rejects(fencedDb(other, b).run('INSERT INTO fenced (n) VALUES (?)', [2]), LeaseLostError);

    // a stops renewing: b takes over once the lease expired (by the database's clock), with a new term.
    await until('b to take the expired lease', () => b.renew(), 5000, 50);
    assert.equal(b.term, 2);
    assert.equal(a.held, false, 'a counts its lease lost by its own clock');
    await assert.rejects(fencedDb(db, a).transaction((tx) => tx.run('INSERT INTO fenced (n) VALUES (3)')), LeaseLostError);
    await fencedDb(other, b).run('INSERT INTO fenced (n) VALUES (?)', [4]);
    assert.equal(await a.renew(), false);
    await assert.rejects(fencedDb(db, a).run('INSERT INTO fenced (n) VALUES (5)'), LeaseLostError);

    await b.release();
    assert.equal(await a.renew(), true, 'a released lease is free at once');
    assert.equal(a.term, 3);
    assert.deepEqual((await db.all<{ n: number }>('SELECT n FROM fenced ORDER BY n')).map((r) => r.n), [1, 4]);
    if (other !== db) await other.close();
    await db.close();
  });

  test('takeover mode (SQLite, one process) takes an unexpired lease once, at start, and fences the old holder', async () => {
    const db = await dialect.openDb();
    await migrate(db);
    const old = new Lease(db, { holder: 'old', ttlMs: 60_000, renewMs: 1000, takeover: true });
    assert.equal(await old.renew(), true);
    const restarted = new Lease(db, { holder: 'new', ttlMs: 60_000, renewMs: 1000, takeover: true });
    assert.equal(await restarted.renew(), true);
    assert.equal(restarted.term, 2);
    await assert.rejects(fencedDb(db, old).exec('SELECT 1'), LeaseLostError);
    // Only the first attempt takes over: the old holder does not take it back in turn.
    assert.equal(await old.renew(), false);
    assert.equal(await restarted.renew(), true);
    assert.equal(restarted.term, 2);
    await db.close();
  });

  test('the leader component runs singletons only on the holder and hands over on stop and on lost renewals', async () => {
    const db = await dialect.openDb();
    await migrate(db);
    const other = dialect.reopen() ?? db;
    const logA: string[] = [];
    const logB: string[] = [];
    const cut = breakable(db);
    const leaseA = new Lease(cut.db, { holder: 'a', ttlMs: 700, renewMs: 150 });
    const leaseB = new Lease(other, { holder: 'b', ttlMs: 700, renewMs: 150 });
    const compA = leaderComponent({ lease: leaseA, components: [recorder('edge', logA), recorder('controller', logA)] });
    const compB = leaderComponent({ lease: leaseB, components: [recorder('edge', logB), recorder('controller', logB)] });
    try {
      await compA.start();
      assert.deepEqual(logA, ['start edge', 'start controller'], 'a lone control plane leads when start() returns');
      await compB.start();
      assert.equal(compB.isLeader(), false);
      assert.deepEqual(logB, []);

      // A loses the database: it must stop its singletons by its deadline, and B takes over afterwards.
      cut.broken.on = true;
      await until('a to stop its singletons', async () => logA.length === 4, 5000, 20);
      assert.deepEqual(logA.slice(2), ['stop controller', 'stop edge']);
      await until('b to take over', async () => compB.isLeader(), 5000, 20);
      assert.deepEqual(logB, ['start edge', 'start controller']);
      assert.equal(leaseB.term, 2);

      // A comes back: it stays a follower while B renews.
      cut.broken.on = false;
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(compA.isLeader(), false);
      assert.equal(logA.length, 4);

      // B stops gracefully: it releases, and A takes over well before B's lease would have expired.
      await compB.stop();
      assert.deepEqual(logB.slice(2), ['stop controller', 'stop edge']);
      await until('a to take over after b stopped', async () => compA.isLeader(), 5000, 20);
      assert.equal(leaseA.term, 3);
    } finally {
      await compA.stop();
      await compB.stop();
      if (other !== db) await other.close();
      await db.close();
    }
  });
});

// The log relay (src/store/log-relay.ts) on both dialects: a control plane that does not collect log lines publishes
// on its own bus the lines another process appended, once each and in order, only while somebody tails there, a
// line committed late behind the cursor included; the collecting one (the lease holder) relays nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogBus, type LogLine } from '../../src/store/log-bus.ts';
import { LogRelay } from '../../src/store/log-relay.ts';
import { appendLogLines } from '../../src/store/logs.ts';
import type { Db } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrations.ts';
import { forEachDialect, type Dialect } from './dialects.ts';

const line = (msg: string): LogLine => ({
  organization_id: 'o1', app_id: 'a1', service_id: 's1', deployment_id: 'd1', regional_deployment_id: 'r1', instance_id: 'i1',
  region: 'fra', type: 'runtime', stream: 'stdout', msg, created_at: new Date().toISOString(),
});

/** A migrated database of the dialect and two handles on it (one per "process"; one handle on SQLite). */
async function twoPlanes(dialect: Dialect, fn: (leaderDb: Db, followerDb: Db) => Promise<void>): Promise<void> {
  const leaderDb = await dialect.openDb();
  await migrate(leaderDb);
  const followerDb = dialect.reopen() ?? leaderDb;
  try {
    await fn(leaderDb, followerDb);
  } finally {
    if (followerDb !== leaderDb) await followerDb.close();
    await leaderDb.close();
  }
}

forEachDialect((dialect) => {
  test('a follower\'s bus gets the lines the leader appends: once, in order, only while tailed, late commits too', async () => {
    await twoPlanes(dialect, async (leaderDb, followerDb) => {
      const leaderBus = new LogBus();
      const bus = new LogBus();
      let collecting = false;
      const relay = new LogRelay({ db: followerDb, bus, collecting: () => collecting });
      await appendLogLines(leaderDb, [line('before')], leaderBus);
      assert.equal(await relay.poll(), 0, 'the first pass only finds the end');
      // Nobody tails: lines pass by unread, and are not sent later to a tail opened afterwards (its backlog has them).
      await appendLogLines(leaderDb, [line('untailed')], leaderBus);
      assert.equal(await relay.poll(), 0);
      const got: string[] = [];
      const off = bus.subscribe((l) => got.push(l.msg));
      await appendLogLines(leaderDb, [line('one'), line('two')], leaderBus);
      await appendLogLines(leaderDb, [line('three')], leaderBus);
      assert.equal(await relay.poll(), 3);
      assert.equal(await relay.poll(), 0, 'nothing twice');
      assert.deepEqual(got, ['one', 'two', 'three']);
      // A line whose sequence number was taken before the last one read, committed after it: still relayed, once.
      const { n } = (await leaderDb.get<{ n: number }>('SELECT MAX(seq) AS n FROM log_lines'))!;
      const insert = (seq: number, msg: string) => leaderDb.run(
        `INSERT INTO log_lines (seq, organization_id, app_id, service_id, deployment_id, regional_deployment_id, instance_id,
          region, type, stream, msg, created_at) VALUES (?, 'o1', 'a1', 's1', 'd1', 'r1', 'i1', 'fra', 'runtime', 'stdout', ?, ?)`,
        [seq, msg, new Date().toISOString()]);
      await insert(Number(n) + 10, 'ahead');
      assert.equal(await relay.poll(), 1);
      await insert(Number(n) + 5, 'late');
      assert.equal(await relay.poll(), 1);
      assert.equal(await relay.poll(), 0);
      assert.deepEqual(got.slice(3), ['ahead', 'late']);
      // Once this process collects (it took the lease), its own appends publish: the relay reads nothing.
      collecting = true;
      await insert(Number(n) + 20, 'mine');
      assert.equal(await relay.poll(), 0);
      assert.deepEqual(got.slice(5), []);
      off();
    });
  });
});

forEachDialect((dialect) => {
  test('a tail that subscribes while the relay reads the end of the table still gets the line appended meanwhile', async () => {
    await twoPlanes(dialect, async (leaderDb, followerDb) => {
      const bus = new LogBus();
      const got: string[] = [];
      let race: (() => Promise<void>) | undefined;
      // The follower's reads, with a hook that runs just before the relay's query of the end: there a tail
      // subscribes and the leader appends a line, so the end the relay reads already holds a line the tail waits for.
      const db: Db = {
        dialect: followerDb.dialect,
        all: (sql, params) => followerDb.all(sql, params),
        get: async (sql, params) => {
          const r = race;
          race = undefined;
          if (r) await r();
          return followerDb.get(sql, params);
        },
        run: (sql, params) => followerDb.run(sql, params),
        exec: (sql) => followerDb.exec(sql),
        transaction: (fn) => followerDb.transaction(fn),
        close: () => followerDb.close(),
      };
      const relay = new LogRelay({ db, bus, collecting: () => false });
      await relay.init();
      race = async () => {
        bus.subscribe((l) => got.push(l.msg));
        await appendLogLines(leaderDb, [line('meanwhile')]);
      };
      await relay.poll();
      if (got.length === 0) await relay.poll();
      assert.deepEqual(got, ['meanwhile']);
    });
  });
});

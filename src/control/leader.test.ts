// The lease on a busy machine: a lone control plane on SQLite never loses its lease to itself (a renewal stuck behind
// a long transaction, a clock that jumped), and no lost lease stops the edge: only the reconcilers stop and restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSqlite, type Db } from '../store/db.ts';
import { migrate } from '../store/migrations.ts';
import type { PierComponent } from '../component.ts';
import { fencedDb, Lease, leaderComponent } from './leader.ts';

/** A component that records its starts and stops. */
function recorder(name: string, log: string[]): PierComponent {
  return { name, start: () => { log.push(`start ${name}`); }, stop: () => { log.push(`stop ${name}`); } };
}

/** A Db whose lease statements wait `delay.ms` first: a renewal queued behind a long transaction. */
function slowLeases(db: Db): { db: Db; delay: { ms: number } } {
  const delay = { ms: 0 };
  const wait = () => new Promise((r) => setTimeout(r, delay.ms));
  const slow = <T>(sql: string, f: () => Promise<T>) => (/\bleases\b/.test(sql) && delay.ms > 0 ? wait().then(f) : f());
  return {
    delay,
    db: {
      dialect: db.dialect,
      all: (s, p) => slow(s, () => db.all(s, p)),
      get: (s, p) => slow(s, () => db.get(s, p)),
      run: (s, p) => slow(s, () => db.run(s, p)),
      exec: (s) => db.exec(s),
      transaction: (fn) => db.transaction(fn),
      close: () => db.close(),
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SQLite: a renewal stuck past any ttl and a clock jump of a day never cost the lone control plane its lease', async () => {
  const raw = openSqlite(':memory:');
  await migrate(raw);
  await raw.exec('CREATE TABLE fenced (n INTEGER)');
  const { db, delay } = slowLeases(raw);
  let clock = 1_000;
  // The ttl is what an expiring lease would use: renewals below take twice as long.
  const lease = new Lease(db, { holder: 'lone', ttlMs: 200, renewMs: 40, takeover: true, expires: false, now: () => clock });
  const events: string[] = [];
  const lines: string[] = [];
  const leader = leaderComponent({
    lease, log: (l) => lines.push(l),
    serving: [recorder('edge', events)], components: [recorder('controller', events)],
  });
  try {
    await leader.start();
    assert.deepEqual(events, ['start edge', 'start controller']);
    // Renewals now take ten renew periods each, twice the ttl, and the clock jumps a day.
    delay.ms = 400;
    clock += 86_400_000;
    await sleep(1000);
    assert.equal(leader.isLeader(), true);
    assert.equal(lease.term, 1);
    assert.deepEqual(events, ['start edge', 'start controller'], 'nothing stopped');
    assert.equal(lines.filter((l) => l.includes('leadership lost')).length, 0, lines.join('\n'));
    delay.ms = 0;
    await fencedDb(raw, lease).run('INSERT INTO fenced (n) VALUES (1)');
  } finally {
    await leader.stop();
    await raw.close();
  }
  assert.deepEqual(events.slice(2), ['stop controller', 'stop edge'], 'stop() stops the edge last');
});

test('an expiring lease (PostgreSQL) given up at its deadline stops the reconcilers only; the edge keeps serving', async () => {
  const raw = openSqlite(':memory:');
  await migrate(raw);
  const { db, delay } = slowLeases(raw);
  // Room for a loaded machine: a prompt renewal has 900 ms, a stalled one takes 1.5 s.
  const lease = new Lease(db, { holder: 'a', ttlMs: 1000, renewMs: 150 });
  const events: string[] = [];
  const lines: string[] = [];
  const leader = leaderComponent({
    lease, log: (l) => lines.push(l),
    serving: [recorder('edge', events)], components: [recorder('controller', events), recorder('certificates', events)],
  });
  try {
    await leader.start();
    // Renewals stall past the ttl: the lease is given up at the local deadline (another control plane may take it).
    delay.ms = 1500;
    await until(() => events.includes('stop controller'), 5000);
    assert.deepEqual(events, ['start edge', 'start controller', 'start certificates', 'stop certificates', 'stop controller']);
    assert.match(lines.join('\n'), /leadership lost \(term 1\): lease not renewed before it expired; stopping certificates, controller$/m);
    // Nobody took it: the stalled renewal lands and takes it back with the same term; the edge was never restarted.
    delay.ms = 0;
    await until(() => leader.isLeader(), 5000);
    assert.equal(lease.term, 1);
    assert.deepEqual(events.slice(-2), ['start controller', 'start certificates']);
    assert.equal(events.filter((e) => e.endsWith(' edge')).length, 1, 'the edge was started once and never stopped');

    // Another holder takes it for real: reconcilers stop again, the edge still serves.
    await raw.run("UPDATE leases SET holder = 'b', term = term + 1, expires_at = expires_at + 600000");
    const stops = events.filter((e) => e === 'stop controller').length;
    await until(() => !leader.isLeader() && events.filter((e) => e === 'stop controller').length === stops + 1, 5000);
    assert.equal(events.includes('stop edge'), false);
  } finally {
    await leader.stop();
    await raw.close();
  }
  assert.equal(events.at(-1), 'stop edge');
  assert.equal(events.filter((e) => e === 'start edge').length, 1);
});

/** Polls `check` every 10 ms until true, failing after `ms`. */
async function until(check: () => boolean, ms: number): Promise<void> {
  for (let i = 0; i < ms / 10; i++) {
    if (check()) return;
    await sleep(10);
  }
  assert.fail(`condition not met within ${ms} ms`);
}

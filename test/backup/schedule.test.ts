// Scheduled backups (#24): the scheduler takes one per interval, keeps the newest N (removing the oldest, never a file
// it did not write), never runs two at once, logs a failure with its reason and retries at the next tick; `pier backup
// list` shows each file's time, size, schema version and whether its checksums hold; PIER_BACKUP_* parse with clear
// errors; a leader started with PIER_BACKUP_SCHEDULE takes its first backup at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/store.ts';
import { insertOrganization } from '../../src/store/organizations.ts';
import { knownSchemaVersion } from '../../src/store/migrations.ts';
import { backupScheduler, listBackups, scheduledBackups, scheduledName, toRemove, verifyBackup } from '../../src/backup/index.ts';
import { scheduledTime } from '../../src/backup/schedule.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { until } from '../support/until.ts';
import { cli, startOn } from './harness.ts';

const root = mkdtempSync(join(tmpdir(), 'pier-backup-schedule-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

async function dataDir(name: string): Promise<string> {
  const dir = join(root, name);
  const store = await openStore({ dataDir: dir });
  await insertOrganization(store.db, 'pier');
  await store.close();
  return dir;
}

test('scheduled names carry their UTC time; retention removes the oldest beyond keep', () => {
  const at = new Date('2026-12-02T10:03:07.456Z');
  assert.equal(scheduledName(at), 'pier-20261202T100307Z.tar.gz');
  assert.equal(scheduledTime(scheduledName(at)), Date.parse('2026-12-02T10:03:07Z'));
  assert.equal(scheduledTime('pier-backup-2026.tar.gz'), undefined);
  assert.equal(scheduledTime('pier-20261202T100307Z.tar.gz.partial-1'), undefined);
  const list = [{ at: 3 }, { at: 1 }, { at: 4 }, { at: 2 }];
  assert.deepEqual(toRemove(list, 2), [{ at: 1 }, { at: 2 }]);
  assert.deepEqual(toRemove(list, 4), []);
  assert.deepEqual(toRemove(list, 10), []);
});

test('the scheduler takes one backup per interval and keeps the newest two; other files stay', async () => {
  const dir = await dataDir('every-second');
  const out = join(root, 'out-every-second');
  mkdirSync(out);
  writeFileSync(join(out, 'manual.tar.gz'), 'not the scheduler\'s');
  const lines: string[] = [];
  const s = backupScheduler({ dataDir: dir, dir: out, intervalMs: 1000, keep: 2, log: (l) => lines.push(l) });
  const removed: string[] = [];
  await s.start();
  try {
    // The first is due at once (no backup yet); then one a second. Four written means two were removed.
    await until('four scheduled backups', async () => lines.filter((l) => l.startsWith('pier: backup written:')).length >= 4, 15_000, 50);
  } finally {
    await s.stop();
  }
  const written = lines.filter((l) => l.startsWith('pier: backup written:'));
  for (const l of written) removed.push(...(/removed ([^)]*)\)/.exec(l)?.[1]?.split(', ') ?? []));
  const names = written.map((l) => /written: \S*\/(pier-\S+\.tar\.gz)/.exec(l)![1]!);
  assert.equal(new Set(names).size, names.length, 'each backup has its own file');
  const kept = scheduledBackups(out).map((b) => b.name);
  // Exactly the newest two remain, and the removed ones are the oldest, in order.
  assert.deepEqual(kept, names.slice(-2));
  assert.deepEqual(removed, names.slice(0, names.length - 2));
  assert.equal(readFileSync(join(out, 'manual.tar.gz'), 'utf8'), 'not the scheduler\'s');
  assert.deepEqual(readdirSync(out).filter((x) => x.includes('.partial-')), []);
  for (const k of kept) assert.equal((await verifyBackup(join(out, k))).schema_version, knownSchemaVersion());
  // One operator line per backup, saying where, how big, which schema, and what retention removed.
  assert.match(written[0]!, /^pier: backup written: \S+ \(\d+\.\d MB in \d+\.\d s, schema \d+, \d+ services; keeping the newest 2\); next in/);
  assert.ok(!lines.some((l) => /failed/.test(l)), lines.join('\n'));
});

test('never two at once; a failure is logged with its reason, leaves no file, and the next tick retries', async () => {
  const dir = join(root, 'not-yet');
  mkdirSync(dir);
  const out = join(root, 'out-retry');
  const lines: string[] = [];
  const s = backupScheduler({ dataDir: dir, dir: out, intervalMs: 1000, keep: 3, log: (l) => lines.push(l) });
  // No database yet: the reason (and its code) is in the one line.
  assert.equal(await s.runOnce(), undefined);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^pier: scheduled backup failed: .*holds no Pier database.*\[backup_corrupt\]; retrying in/);
  assert.deepEqual(readdirSync(out), []);
  // The retry waits for the next tick, not a busy loop.
  assert.ok(s.nextDueAt() > Date.now(), 'a failure is retried one interval later');
  const store = await openStore({ dataDir: dir });
  await insertOrganization(store.db, 'pier');
  await store.close();
  await s.start();
  try {
    await until('the retry succeeds', async () => lines.some((l) => l.startsWith('pier: backup written:')), 10_000, 50);
  } finally {
    await s.stop();
  }
  // Two calls at the same moment: one backup, the other takes nothing.
  const before = scheduledBackups(out).length;
  const [a, b] = await Promise.all([s.runOnce(), s.runOnce()]);
  assert.ok(a && b === undefined, 'the second call while one runs takes nothing');
  assert.equal(scheduledBackups(out).length, before + 1);
});

test('pier backup list: file, time, size, schema version and the checksum status of each', async () => {
  const dir = await dataDir('listed');
  const out = join(root, 'out-listed');
  const s = backupScheduler({ dataDir: dir, dir: out, intervalMs: 1000, keep: 5, log: () => {} });
  const first = await s.runOnce();
  const second = await s.runOnce();
  assert.ok(first && second);
  // Damage the older one: list says so by its error code and exits 1.
  truncateSync(first.file, 1000);
  const rows = await listBackups(out);
  assert.deepEqual(rows.map((r) => [r.path, r.checksums]), [[second.file, 'ok'], [first.file, 'backup_truncated']]);
  assert.equal(rows[0]!.schema_version, knownSchemaVersion());
  assert.ok(rows[0]!.size > 0 && !Number.isNaN(Date.parse(rows[0]!.time)));
  const r = await cli(['backup', 'list', '--data-dir', dir, '--dir', out]);
  assert.equal(r.code, 1, r.text);
  assert.match(r.text, /FILE\s+TIME\s+SIZE\s+SCHEMA\s+KEY\s+CHECKSUMS/);
  assert.match(r.text, new RegExp(`pier-\\d{8}T\\d{6}Z\\.tar\\.gz\\s+\\S+\\s+\\d+\\.\\d MB\\s+${knownSchemaVersion()}\\s+yes\\s+ok`));
  assert.match(r.text, /backup_truncated/);
  const json = await cli(['backup', 'list', '--data-dir', dir, '--dir', out, '-o', 'json', '--no-verify']);
  assert.equal(json.code, 0, json.text);
  assert.deepEqual(JSON.parse(json.text).backups.map((x: { checksums: string }) => x.checksums), ['not checked', 'not checked']);
  // The default directory is <data dir>/backups.
  const none = await cli(['backup', 'list', '--data-dir', dir]);
  assert.equal(none.code, 0);
  assert.match(none.text, new RegExp(`no scheduled backups in ${join(dir, 'backups')}`));
});

test('PIER_BACKUP_* settings: off by default, durations of a minute or more, keep 1-1000, dir defaults into the data directory', () => {
  const flags = { 'data-dir': '/srv/pier' };
  assert.equal(loadConfig(flags, {}).backup, undefined);
  assert.equal(loadConfig(flags, { PIER_BACKUP_SCHEDULE: 'off' }).backup, undefined);
  assert.deepEqual(loadConfig(flags, { PIER_BACKUP_SCHEDULE: '6h' }).backup, { intervalMs: 6 * 3600_000, keep: 7, dir: '/srv/pier/backups' });
  assert.deepEqual(loadConfig(flags, { PIER_BACKUP_SCHEDULE: '1d', PIER_BACKUP_KEEP: '30', PIER_BACKUP_DIR: '/mnt/b' }).backup, { intervalMs: 86_400_000, keep: 30, dir: '/mnt/b' });
  assert.throws(() => loadConfig(flags, { PIER_BACKUP_SCHEDULE: '10s' }), (e: Error) => e instanceof ConfigError && /PIER_BACKUP_SCHEDULE must be a duration of a minute or more/.test(e.message));
  assert.throws(() => loadConfig(flags, { PIER_BACKUP_SCHEDULE: 'hourly' }), /PIER_BACKUP_SCHEDULE/);
  assert.throws(() => loadConfig(flags, { PIER_BACKUP_SCHEDULE: '6h', PIER_BACKUP_KEEP: '0' }), /PIER_BACKUP_KEEP must be a whole number from 1 to 1000/);
  assert.equal(loadConfig(flags, { PIER_ADVERTISE_URL: 'http://10.0.0.5:7700/' }).advertiseUrl, 'http://10.0.0.5:7700');
  assert.throws(() => loadConfig(flags, { PIER_ADVERTISE_URL: '10.0.0.5:7700' }), /PIER_ADVERTISE_URL must be the URL regional edges reach/);
});

test('a leader started with PIER_BACKUP_SCHEDULE takes its first backup at start into <data dir>/backups', async () => {
  const dir = join(root, 'leader');
  process.env.PIER_BACKUP_SCHEDULE = '1h';
  let pier;
  try {
    pier = await startOn(dir, 'process');
  } finally {
    delete process.env.PIER_BACKUP_SCHEDULE;
  }
  try {
    assert.deepEqual(pier.config.backup, { intervalMs: 3600_000, keep: 7, dir: join(dir, 'backups') });
    await until('the first scheduled backup', async () => scheduledBackups(join(dir, 'backups')).length === 1, 20_000, 100);
  } finally {
    await pier.close();
  }
  assert.ok(existsSync(join(dir, 'backups')));
  // Restarted within the hour: the next one is not due yet, none is taken at start.
  const again = await startOn(dir, 'process');
  await again.close();
  assert.equal(scheduledBackups(join(dir, 'backups')).length, 1);
});

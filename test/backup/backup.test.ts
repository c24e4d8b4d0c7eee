// Backup and restore of a real data directory (SQLite store, master key, local CA files, a git remote, archives, a
// build directory), and every refusal: truncated, tampered, newer schema, missing or wrong key, non-empty target,
// Ctrl-C. Each refusal leaves the target as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, lstatSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import Database from 'better-sqlite3';
import { openStore } from '../../src/store/store.ts';
import { insertOrganization } from '../../src/store/organizations.ts';
import { encryptSecret, decryptSecret } from '../../src/store/crypto.ts';
import { knownSchemaVersion } from '../../src/store/migrations.ts';
import { BackupError, createBackup, restoreBackup, verifyBackup } from '../../src/backup/index.ts';
import { encodeHeader, endOfArchive, padding, TarReader, type TarHeader } from '../../src/backup/tar.ts';
import { main } from '../../src/cli/main.ts';

const require = createRequire(import.meta.url);
const root = mkdtempSync(join(tmpdir(), 'pier-backup-test-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
const fresh = (name: string) => join(root, `${name}-${++n}`);

/** A data directory as a running Pier leaves it. */
async function dataDir(): Promise<string> {
  const dir = fresh('data');
  const store = await openStore({ dataDir: dir });
  const org = await insertOrganization(store.db, 'pier');
  const now = new Date().toISOString();
  await store.db.run(
    `INSERT INTO secrets (id, organization_id, name, type, encrypted_value, version, created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`,
    ['s1', org.id, 'greeting', 'SIMPLE', encryptSecret(store.secretKey, JSON.stringify({ value: 'top secret' })), now, now, '{}'],
  );
  await store.db.run(
    `INSERT INTO apps (id, organization_id, name, status, created_at, updated_at, data) VALUES ('a1', ?, 'hello', 'HEALTHY', ?, ?, '{}')`, [org.id, now, now]);
  await store.db.run(`INSERT INTO services (id, organization_id, app_id, name, type, status, created_at, updated_at, data) VALUES ('s1', ?, 'a1', 'web', 'WEB', 'HEALTHY', ?, ?, '{}')`, [org.id, now, now]);
  await store.db.run(`INSERT INTO deployments (id, organization_id, app_id, service_id, seq, status, created_at, updated_at, data, diff) VALUES ('d1', ?, 'a1', 's1', 1, 'HEALTHY', ?, ?, ?, '{}')`,
    [org.id, now, now, JSON.stringify({ provisioning_info: { image: `dir:${dir}/builds/deployments/d1/app` } })]);
  await store.close();
  mkdirSync(join(dir, 'tls', 'local-ca'), { recursive: true });
  writeFileSync(join(dir, 'tls', 'local-ca', 'root.pem'), 'ROOT CA\n');
  mkdirSync(join(dir, 'git', 's1.git', 'refs', 'heads'), { recursive: true });
  writeFileSync(join(dir, 'git', 's1.git', 'HEAD'), 'ref: refs/heads/main\n');
  mkdirSync(join(dir, 'archives'), { recursive: true });
  writeFileSync(join(dir, 'archives', 'ar1'), randomBytes(200_000));
  mkdirSync(join(dir, 'builds', 'deployments', 'd1', 'app', '.pier'), { recursive: true });
  writeFileSync(join(dir, 'builds', 'deployments', 'd1', 'app', '.pier', 'run'), '#!/bin/sh\nexec node server.js\n');
  chmodSync(join(dir, 'builds', 'deployments', 'd1', 'app', '.pier', 'run'), 0o755);
  symlinkSync('.pier/run', join(dir, 'builds', 'deployments', 'd1', 'app', 'start'));
  mkdirSync(join(dir, 'builds', 'cache', 's1'), { recursive: true });
  writeFileSync(join(dir, 'builds', 'cache', 's1', 'big'), 'cache');
  mkdirSync(join(dir, 'process'), { recursive: true });
  writeFileSync(join(dir, 'process', 'state.json'), '{}');
  writeFileSync(join(dir, 'credentials.json'), '{"token":"t"}');
  writeFileSync(join(dir, 'installation-id'), '11111111-2222-3333-4444-555555555555\n');
  return dir;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (err) { return err instanceof BackupError ? err.code : `not a BackupError: ${(err as Error).message}`; }
  return 'no error';
}

/** Rewrites a backup's members (same order) through `edit`, keeping everything else byte for byte. */
function rewrite(file: string, out: string, edit: (h: TarHeader, body: Buffer) => { h: TarHeader; body: Buffer } | undefined, extra: { h: TarHeader; body: Buffer }[] = []): void {
  const members: { h: TarHeader; body: Buffer }[] = [];
  let chunks: Buffer[] = [];
  let cur: TarHeader | undefined;
  const r = new TarReader({ entry: (h) => { cur = h; chunks = []; }, data: (c) => chunks.push(Buffer.from(c)), end: () => members.push({ h: cur!, body: Buffer.concat(chunks) }) });
  r.feed(gunzipSync(readFileSync(file)));
  const parts: Buffer[] = [];
  members.splice(members.length - 1, 0, ...extra); // before the manifest, which stays last
  for (const m of members) {
    const e = edit(m.h, m.body);
    if (!e) continue;
    parts.push(encodeHeader({ ...e.h, size: e.h.type === 'file' ? e.body.length : 0 }));
    if (e.h.type === 'file') parts.push(e.body, padding(e.body.length));
  }
  parts.push(endOfArchive());
  writeFileSync(out, gzipSync(Buffer.concat(parts)));
}

test('backup then restore into a new directory: same database, key, files and links; builds point at the new directory', async () => {
  const src = await dataDir();
  const file = fresh('b') + '.tar.gz';
  const stages = new Set<string>();
  const manifest = await createBackup({ dataDir: src, output: file, progress: (s) => stages.add(s) });
  assert.ok(stages.has('database') && stages.has('archives'), [...stages].join());
  assert.equal(manifest.schema_version, knownSchemaVersion());
  assert.equal(manifest.key_included, true);
  assert.equal(manifest.installation_id, '11111111-2222-3333-4444-555555555555');
  assert.deepEqual({ apps: manifest.counts.apps, services: manifest.counts.services, secrets: manifest.counts.secrets }, { apps: 1, services: 1, secrets: 1 });
  const names = manifest.members.map((m) => m.name);
  for (const want of ['pier.db', 'master.key', 'credentials.json', 'tls/local-ca/root.pem', 'git/s1.git/HEAD', 'git/s1.git/refs/heads', 'archives/ar1', 'builds/deployments/d1/app/start']) assert.ok(names.includes(want), want);
  for (const never of ['process', 'installation-id', 'builds/cache']) assert.ok(!names.some((x) => x === never || x.startsWith(`${never}/`)), never);
  assert.equal((await verifyBackup(file)).members.length, manifest.members.length);
  assert.deepEqual(readdirSync(root).filter((x) => x.includes('.partial-')), []);

  const target = fresh('restored');
  const r = await restoreBackup({ file, dataDir: target });
  assert.equal(r.keptInstallationId, false);
  assert.notEqual(readFileSync(join(target, 'installation-id'), 'utf8').trim(), manifest.installation_id);
  assert.deepEqual(readFileSync(join(target, 'master.key')), readFileSync(join(src, 'master.key')));
  assert.deepEqual(readFileSync(join(target, 'archives', 'ar1')), readFileSync(join(src, 'archives', 'ar1')));
  assert.equal(readlinkSync(join(target, 'builds', 'deployments', 'd1', 'app', 'start')), '.pier/run');
  assert.equal(lstatSync(join(target, 'builds', 'deployments', 'd1', 'app', '.pier', 'run')).mode & 0o777, 0o755);
  assert.equal(lstatSync(join(target, 'master.key')).mode & 0o777, 0o600);
  assert.equal(existsSync(join(target, 'git', 's1.git', 'refs', 'heads')), true);
  // The restored store opens (migrations find nothing to do), decrypts the secret, and the build path moved.
  const store = await openStore({ dataDir: target });
  try {
    const row = await store.db.get<{ encrypted_value: string }>('SELECT encrypted_value FROM secrets');
    assert.equal(JSON.parse(decryptSecret(store.secretKey, row!.encrypted_value)).value, 'top secret');
    const d = await store.db.get<{ data: string }>("SELECT data FROM deployments WHERE id = 'd1'");
    assert.equal(JSON.parse(d!.data).provisioning_info.image, `dir:${target}/builds/deployments/d1/app`);
  } finally {
    await store.close();
  }
  // Same installation moved: the id is kept on request.
  const moved = fresh('moved');
  assert.equal((await restoreBackup({ file, dataDir: moved, keepInstallationId: true })).installationId, manifest.installation_id);
});

test('refusals: each a stable code, and the target stays as it was', async () => {
  const src = await dataDir();
  const file = fresh('b') + '.tar.gz';
  await createBackup({ dataDir: src, output: file });
  const bytes = readFileSync(file);
  const empty = fresh('empty');
  mkdirSync(empty);
  const untouched = () => assert.deepEqual(readdirSync(empty), [], 'the target stays empty');
  const noStaging = () => assert.deepEqual(readdirSync(root).filter((x) => x.startsWith('.pier-restore-')), []);

  const truncated = fresh('t') + '.tar.gz';
  writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
  assert.equal(await codeOf(restoreBackup({ file: truncated, dataDir: empty })), 'backup_truncated');
  untouched();

  const flipped = fresh('f') + '.tar.gz';
  const damaged = Buffer.from(bytes);
  damaged[Math.floor(bytes.length / 2)] ^= 0xff;
  writeFileSync(flipped, damaged);
  assert.match(await codeOf(restoreBackup({ file: flipped, dataDir: empty })), /^backup_(corrupt|checksum_mismatch|truncated)$/);
  untouched();

  const tampered = fresh('x') + '.tar.gz';
  rewrite(file, tampered, (h, body) => ({ h, body: h.name === 'archives/ar1' ? Buffer.concat([body.subarray(1), Buffer.from('!')]) : body }));
  assert.equal(await codeOf(restoreBackup({ file: tampered, dataDir: empty })), 'backup_checksum_mismatch');
  untouched();

  const dropped = fresh('d') + '.tar.gz';
  rewrite(file, dropped, (h, body) => (h.name === 'tls/local-ca/root.pem' ? undefined : { h, body }));
  assert.equal(await codeOf(restoreBackup({ file: dropped, dataDir: empty })), 'backup_checksum_mismatch');
  untouched();

  const newer = fresh('n') + '.tar.gz';
  rewrite(file, newer, (h, body) => ({ h, body: h.name === 'manifest.json' ? Buffer.from(JSON.stringify({ ...JSON.parse(body.toString()), schema_version: knownSchemaVersion() + 5, pier_version: '9.0.0' })) : body }));
  assert.equal(await codeOf(restoreBackup({ file: newer, dataDir: empty })), 'backup_schema_too_new');
  untouched();

  const noKey = fresh('k') + '.tar.gz';
  const m = await createBackup({ dataDir: src, output: noKey, withoutKey: true });
  assert.equal(m.key_included, false);
  assert.ok(!m.members.some((x) => x.name === 'master.key' || x.name === 'credentials.json'));
  assert.equal(await codeOf(restoreBackup({ file: noKey, dataDir: empty })), 'backup_key_required');
  untouched();
  const wrongKey = fresh('wrong.key');
  writeFileSync(wrongKey, randomBytes(32).toString('base64'));
  assert.equal(await codeOf(restoreBackup({ file: noKey, dataDir: empty, keyFile: wrongKey })), 'backup_key_wrong');
  untouched();
  noStaging();
  // The right key restores it.
  await restoreBackup({ file: noKey, dataDir: empty, keyFile: join(src, 'master.key') });
  assert.deepEqual(readFileSync(join(empty, 'master.key'), 'utf8').trim(), readFileSync(join(src, 'master.key'), 'utf8').trim());

  // A non-empty target is refused by name, and left alone.
  const before = readdirSync(src).sort();
  const err = await restoreBackup({ file, dataDir: src }).then(() => assert.fail('restored into a non-empty directory'), (e: unknown) => e as BackupError);
  assert.equal(err.code, 'restore_target_not_empty');
  assert.match(err.message, new RegExp(src));
  assert.deepEqual(readdirSync(src).sort(), before);
  noStaging();
});

test('a backup completes and is consistent while another process keeps writing to the database', async () => {
  const src = await dataDir();
  // Enough pages that a step-wise copy would be interrupted by the writer.
  const seed = new Database(join(src, 'pier.db'));
  seed.exec('CREATE TABLE churn (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  const insert = seed.prepare('INSERT INTO churn (body) VALUES (?)');
  seed.transaction(() => { for (let i = 0; i < 4000; i++) insert.run('x'.repeat(1000)); })();
  seed.close();
  const writer = spawn(process.execPath, ['-e', `
    const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
    const db = new Database(process.argv[1]);
    db.pragma('busy_timeout = 5000');
    const ins = db.prepare('INSERT INTO churn (body) VALUES (?)');
    const end = Date.now() + 20000;
    let n = 0;
    process.stdout.write('ready\\n');
    while (Date.now() < end && n < 200000) { ins.run('y'.repeat(200)); n++; }
  `, join(src, 'pier.db')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve) => writer.stdout!.once('data', () => resolve()));
    const out = fresh('busy') + '.tar.gz';
    const manifest = await createBackup({ dataDir: src, output: out });
    assert.equal(manifest.counts.secrets, 1);
    const target = fresh('busy-restored');
    await restoreBackup({ file: out, dataDir: target });
    const copy = new Database(join(target, 'pier.db'), { readonly: true });
    try {
      assert.equal((copy.prepare('PRAGMA integrity_check').get() as { integrity_check: string }).integrity_check, 'ok');
      assert.ok(Number((copy.prepare('SELECT COUNT(*) AS n FROM churn').get() as { n: number }).n) >= 4000);
    } finally {
      copy.close();
    }
  } finally {
    writer.kill();
  }
});

test('a crafted backup can neither write through a planted symlink nor plant a setuid file', async () => {
  const src = await dataDir();
  const file = fresh('b') + '.tar.gz';
  await createBackup({ dataDir: src, output: file });
  const outside = fresh('outside');
  mkdirSync(outside);
  // A symlink git/evil -> outside, then a file under it; the manifest lists both with their true checksums.
  const crafted = fresh('crafted') + '.tar.gz';
  const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
  const base = { mode: 0o644, mtime: 0, uid: 0, gid: 0 };
  rewrite(file, crafted, (h, body) => {
    if (h.name !== 'manifest.json') return { h, body };
    const m = JSON.parse(body.toString());
    m.members.push({ name: 'git/evil', type: 'symlink', size: 0, sha256: sha(outside) }, { name: 'git/evil/pwned', type: 'file', size: 3, sha256: sha('hi\n') });
    return { h, body: Buffer.from(JSON.stringify(m)) };
  }, [
    { h: { ...base, name: 'git/evil', type: 'symlink', size: 0, linkname: outside }, body: Buffer.alloc(0) },
    { h: { ...base, name: 'git/evil/pwned', type: 'file', size: 3 }, body: Buffer.from('hi\n') },
  ]);
  const target = fresh('crafted-target');
  const refused = await restoreBackup({ file: crafted, dataDir: target }).then(() => undefined, (e: unknown) => e as BackupError);
  assert.equal(refused?.code, 'backup_corrupt');
  assert.match(refused!.message, /writes through .*git\/evil, which is not a directory/);
  assert.deepEqual(readdirSync(outside), []);
  assert.equal(existsSync(target), false);

  const setuid = fresh('setuid') + '.tar.gz';
  rewrite(file, setuid, (h, body) => ({ h: h.name === 'archives/ar1' ? { ...h, mode: 0o4755 } : h, body }));
  const t2 = fresh('setuid-target');
  await restoreBackup({ file: setuid, dataDir: t2 });
  assert.equal(lstatSync(join(t2, 'archives', 'ar1')).mode & 0o7777, 0o755);
});

test('a canceled backup leaves no file and no partial file', async () => {
  const src = await dataDir();
  const out = fresh('c') + '.tar.gz';
  const abort = new AbortController();
  const code = await codeOf(createBackup({ dataDir: src, output: out, signal: abort.signal, progress: (stage) => { if (stage === 'archives') abort.abort(); } }));
  assert.equal(code, 'backup_canceled');
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(root).filter((x) => x.includes('.partial-')), []);
});

test('pier backup and pier restore on the command line', async () => {
  const src = await dataDir();
  const out = fresh('cli') + '.tar.gz';
  const lines: string[] = [];
  const io = { stdout: (t: string) => lines.push(t), stderr: (t: string) => lines.push(t), env: { HOME: root }, stderrIsTTY: false, stdoutIsTTY: false };
  assert.equal(await main(['backup', '--output', out, '--data-dir', src], io), 0, lines.join(''));
  assert.match(lines.join(''), /backup written to .*1 apps, 1 services, 1 deployments, 1 secrets/s);
  lines.length = 0;
  assert.equal(await main(['restore', out, '--data-dir', src], io), 1);
  assert.match(lines.join(''), /error: the data directory .* is not empty.*\[restore_target_not_empty\]/);
  lines.length = 0;
  const target = fresh('cli-restored');
  assert.equal(await main(['restore', out, '--data-dir', target], io), 0, lines.join(''));
  assert.match(lines.join(''), /new installation id .*are left alone/);
  // Ctrl-C (here: before the first member is written) exits 130 and leaves neither the file nor a partial one.
  lines.length = 0;
  const canceled = fresh('cli-canceled') + '.tar.gz';
  const interrupted = { ...io, onInterrupt: (handler: () => void) => { handler(); return () => {}; } };
  assert.equal(await main(['backup', '-o', canceled, '--data-dir', src], interrupted), 130, lines.join(''));
  assert.match(lines.join(''), /backup canceled: no file was written/);
  assert.equal(existsSync(canceled), false);
  assert.deepEqual(readdirSync(root).filter((x) => x.includes('.partial-')), []);
});

test('volumes are backed up through their snapshots: snapshot images in, live volume images out, and the manifest says so', async () => {
  const src = await dataDir();
  const store = await openStore({ dataDir: src });
  const now = new Date().toISOString();
  const org = (await store.db.get<{ id: string }>('SELECT id FROM organizations'))!.id;
  const vol = '0b7d5c1e-6a1f-4a47-9d1e-2f5d2d7e9a01';
  const snap = '5c2e8f0a-1b3d-4e6f-8a9b-0c1d2e3f4a5b';
  await store.db.run(`INSERT INTO volumes (id, organization_id, name, region, status, created_at, updated_at, data) VALUES (?, ?, 'data', 'fra', 'PERSISTENT_VOLUME_STATUS_DETACHED', ?, ?, '{}')`, [vol, org, now, now]);
  await store.db.run(`INSERT INTO snapshots (id, organization_id, name, parent_volume_id, region, status, created_at, updated_at, data) VALUES (?, ?, 'nightly', ?, 'fra', 'SNAPSHOT_STATUS_AVAILABLE', ?, ?, '{}')`, [snap, org, vol, now, now]);
  await store.close();
  mkdirSync(join(src, 'volumes', 'mnt', vol), { recursive: true });
  writeFileSync(join(src, 'volumes', `${vol}.ext4`), randomBytes(4096));
  mkdirSync(join(src, 'snapshots'));
  writeFileSync(join(src, 'snapshots', `${snap}.ext4`), randomBytes(8192));
  writeFileSync(join(src, 'snapshots', `${snap}.json`), JSON.stringify({ snapshotId: snap, volumeId: vol }));
  const file = fresh('vol') + '.tar.gz';
  const manifest = await createBackup({ dataDir: src, output: file });
  assert.deepEqual({ ...manifest.volumes, note: undefined }, { backed_up_through: 'snapshots', volumes: 1, snapshots: 1, note: undefined });
  assert.match(manifest.volumes!.note, /volumes are backed up through their snapshots/);
  const names = manifest.members.map((m) => m.name);
  assert.ok(names.includes(`snapshots/${snap}.ext4`) && names.includes(`snapshots/${snap}.json`), names.join());
  assert.ok(!names.some((n) => n.startsWith('volumes')), 'live volume images are never copied');
  const target = fresh('vol-restored');
  await restoreBackup({ file, dataDir: target });
  assert.deepEqual(readFileSync(join(target, 'snapshots', `${snap}.ext4`)), readFileSync(join(src, 'snapshots', `${snap}.ext4`)));
  assert.equal(existsSync(join(target, 'volumes')), false);
});

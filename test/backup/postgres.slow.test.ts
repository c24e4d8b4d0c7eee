// Backups of a PostgreSQL store: pg_dump while the store is open, restore into an empty database in one transaction.
// Refusals (no database given, a non-empty database, a wrong key) leave the target database empty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openStore } from '../../src/store/store.ts';
import { PgDb } from '../../src/store/pg.ts';
import { insertOrganization } from '../../src/store/organizations.ts';
import { decryptSecret, encryptSecret } from '../../src/store/crypto.ts';
import { BackupError, createBackup, restoreBackup } from '../../src/backup/index.ts';
import { postgresUnavailable, startPgCluster } from '../postgres/cluster.ts';

const skip = postgresUnavailable();

async function tables(url: string): Promise<number> {
  const db = new PgDb({ url });
  try { return Number((await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM pg_tables WHERE schemaname = 'public'"))!.n); } finally { await db.close(); }
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (err) { return err instanceof BackupError ? err.code : `not a BackupError: ${(err as Error).message}`; }
  return 'no error';
}

test('PostgreSQL store: back up with pg_dump, restore into an empty database', { skip, timeout: 120_000 }, async (t) => {
  const cluster = await startPgCluster();
  const root = mkdtempSync(join(tmpdir(), 'pier-backup-pg-'));
  t.after(async () => { await cluster.stop(); rmSync(root, { recursive: true, force: true }); });
  const dirA = join(root, 'a');
  const urlA = await cluster.createDatabase('a');
  const store = await openStore({ dataDir: dirA, databaseUrl: urlA, log: () => {} });
  const org = await insertOrganization(store.db, 'pier');
  const now = new Date().toISOString();
  await store.db.run(
    `INSERT INTO secrets (id, organization_id, name, type, encrypted_value, version, created_at, updated_at, data) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`,
    ['s1', org.id, 'greeting', 'SIMPLE', encryptSecret(store.secretKey, JSON.stringify({ value: 'pg secret' })), now, now, '{}'],
  );
  await store.db.run(`INSERT INTO apps (id, organization_id, name, status, created_at, updated_at, data) VALUES ('a1', ?, 'hello', 'HEALTHY', ?, ?, '{}')`, [org.id, now, now]);
  await store.db.run(`INSERT INTO services (id, organization_id, app_id, name, type, status, created_at, updated_at, data) VALUES ('v1', ?, 'a1', 'web', 'WEB', 'HEALTHY', ?, ?, '{}')`, [org.id, now, now]);
  await store.db.run(`INSERT INTO deployments (id, organization_id, app_id, service_id, seq, status, created_at, updated_at, data, diff) VALUES ('d1', ?, 'a1', 'v1', 1, 'HEALTHY', ?, ?, ?, '{}')`,
    [org.id, now, now, JSON.stringify({ provisioning_info: { image: `dir:${dirA}/builds/deployments/d1/app` } })]);
  mkdirSync(join(dirA, 'tls', 'local-ca'), { recursive: true });
  writeFileSync(join(dirA, 'tls', 'local-ca', 'root.pem'), 'ROOT\n');

  // Taken while the store is open (its pool holds connections).
  const file = join(root, 'pg.tar.gz');
  const manifest = await createBackup({ dataDir: dirA, databaseUrl: urlA, output: file, withoutKey: true });
  await store.close();
  assert.equal(manifest.database, 'postgres');
  assert.deepEqual({ apps: manifest.counts.apps, services: manifest.counts.services, deployments: manifest.counts.deployments, secrets: manifest.counts.secrets }, { apps: 1, services: 1, deployments: 1, secrets: 1 });
  assert.ok(manifest.members.some((m) => m.name === 'pier.pgdump'));
  assert.ok(!manifest.members.some((m) => m.name === 'pier.db' || m.name === 'master.key'));

  const urlB = await cluster.createDatabase('b');
  const dirB = join(root, 'b');
  const key = join(dirA, 'master.key');
  assert.equal(await codeOf(restoreBackup({ file, dataDir: dirB, keyFile: key })), 'restore_database_mismatch');
  assert.equal(await codeOf(restoreBackup({ file, dataDir: dirB, databaseUrl: urlA, keyFile: key })), 'restore_target_not_empty');
  const wrong = join(root, 'wrong.key');
  writeFileSync(wrong, randomBytes(32).toString('base64'));
  assert.equal(await codeOf(restoreBackup({ file, dataDir: dirB, databaseUrl: urlB, keyFile: wrong })), 'backup_key_wrong');
  assert.equal(await codeOf(restoreBackup({ file, dataDir: dirB, databaseUrl: urlB })), 'backup_key_required');
  assert.equal(await tables(urlB), 0, 'refusals leave the target database empty');

  await restoreBackup({ file, dataDir: dirB, databaseUrl: urlB, keyFile: key });
  assert.equal(readFileSync(join(dirB, 'tls', 'local-ca', 'root.pem'), 'utf8'), 'ROOT\n');
  const restored = await openStore({ dataDir: dirB, databaseUrl: urlB, log: () => {} });
  try {
    const row = await restored.db.get<{ encrypted_value: string }>('SELECT encrypted_value FROM secrets');
    assert.equal(JSON.parse(decryptSecret(restored.secretKey, row!.encrypted_value)).value, 'pg secret');
    const d = await restored.db.get<{ data: string }>("SELECT data FROM deployments WHERE id = 'd1'");
    assert.equal(JSON.parse(d!.data).provisioning_info.image, `dir:${dirB}/builds/deployments/d1/app`);
  } finally {
    await restored.close();
  }
});

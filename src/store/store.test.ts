import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from './store.ts';
import { openSqlite } from './db.ts';
import { migrate, MIGRATIONS } from './migrations.ts';
import { insertOrganization, insertToken, findByToken, generateToken } from './organizations.ts';
import { insertApp, getApp, listApps, updateApp, findAppByName } from './apps.ts';
import { appendEvent, listEvents } from './events.ts';
import { appendLogLines, queryLogLines, type LogLine } from './logs.ts';
import { insertSecret, revealSecret, getSecret, secretValues } from './secrets.ts';
import { decryptSecret, encryptSecret } from './crypto.ts';
import type { App } from '../domain/types.ts';

function app(org: string, name: string, created: string): App {
  return {
    id: `id-${name}`, name, organization_id: org, created_at: created, updated_at: created, started_at: null,
    succeeded_at: null, paused_at: null, resumed_at: null, terminated_at: null, status: 'STARTING', messages: [],
    version: '1', domains: [], life_cycle: {},
  };
}

test('transactions roll back on throw and serialise concurrent bodies', async () => {
  const db = openSqlite(':memory:');
  await db.exec('CREATE TABLE t (n INTEGER)');
  await assert.rejects(db.transaction(async (tx) => {
    await tx.run('INSERT INTO t (n) VALUES (?)', [1]);
    throw new Error('boom');
  }), /boom/);
  assert.equal((await db.get<{ c: number }>('SELECT COUNT(*) AS c FROM t'))?.c, 0);
  // Two read-modify-write bodies that yield in between would lose an update without the mutex.
  const bump = () => db.transaction(async (tx) => {
    const row = await tx.get<{ c: number }>('SELECT COUNT(*) AS c FROM t');
    await new Promise((r) => setImmediate(r));
    await tx.run('INSERT INTO t (n) VALUES (?)', [Number(row?.c) + 1]);
  });
  await Promise.all([bump(), bump(), bump()]);
  const ns = (await db.all<{ n: number }>('SELECT n FROM t ORDER BY n')).map((r) => r.n);
  assert.deepEqual(ns, [1, 2, 3]);
  await db.close();
});

test('migrations are recorded and run once', async () => {
  const db = openSqlite(':memory:');
  assert.deepEqual(await migrate(db), MIGRATIONS.map((m) => m.id));
  assert.deepEqual(await migrate(db), []);
  await db.close();
});

test('store: tokens, apps, events, logs, secrets', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-store-'));
  try {
    const store = await openStore({ dataDir: dir });
    assert.equal(statSync(join(dir, 'master.key')).mode & 0o777, 0o600);
    const { db } = store;
    const org = await insertOrganization(db, 'acme');
    const token = generateToken();
    await insertToken(db, org.id, 'admin', token);
    assert.equal((await findByToken(db, token))?.organization_id, org.id);
    assert.equal(await findByToken(db, 'nope'), undefined);
    const stored = await db.get<{ token_hash: string }>('SELECT token_hash FROM api_tokens');
    assert.notEqual(stored?.token_hash, token);

    await insertApp(db, app(org.id, 'a', '2024-01-01T00:00:00.000Z'));
    await insertApp(db, app(org.id, 'b', '2024-01-02T00:00:00.000Z'));
    const listed = await listApps(db, { organizationId: org.id }, { limit: 1, offset: 0 });
    assert.deepEqual([listed.items.map((a) => a.name), listed.count], [['b'], 2]);
    const updated = await updateApp(db, 'id-a', { status: 'HEALTHY' });
    assert.equal(updated?.version, '2');
    assert.equal((await getApp(db, 'id-a'))?.status, 'HEALTHY');
    await updateApp(db, 'id-a', { status: 'DELETED' });
    assert.equal(await findAppByName(db, org.id, 'a'), undefined);
    await insertApp(db, { ...app(org.id, 'a', '2024-01-03T00:00:00.000Z'), id: 'id-a2' });

    await appendEvent(db, { kind: 'app', resourceId: 'id-a', organizationId: org.id, type: 'created', message: 'x' });
    await appendEvent(db, { kind: 'app', resourceId: 'id-a', organizationId: org.id, type: 'paused', message: 'y' });
    const ev = await listEvents(db, { kind: 'app', resourceIds: ['id-a'] }, { limit: 10, offset: 0 });
    assert.deepEqual(ev.items.map((e) => [e.type, e.app_id]), [['paused', 'id-a'], ['created', 'id-a']]);

    const seen: string[] = [];
    const off = store.logBus.subscribe((l) => seen.push(l.msg));
    const base = { organization_id: org.id, app_id: 'a', service_id: 's', deployment_id: 'd', regional_deployment_id: 'r', instance_id: 'i' };
    const lines: LogLine[] = [1, 2, 3].map((n) => ({ ...base, stream: 'stdout', msg: `line ${n}`, created_at: `2024-01-01T00:00:0${n}.000Z` }));
    await appendLogLines(db, lines, store.logBus);
    off();
    assert.deepEqual(seen, ['line 1', 'line 2', 'line 3']);
    const q = await queryLogLines(db, { organizationId: org.id, type: 'runtime', serviceId: 's' }, 'desc', 2);
    assert.deepEqual([q.lines.map((l) => l.msg), q.hasMore], [['line 3', 'line 2'], true]);
    const r = await queryLogLines(db, { organizationId: org.id, type: 'runtime', serviceId: 's', regex: /line [13]/ }, 'asc', 5);
    assert.deepEqual(r.lines.map((l) => l.msg), ['line 1', 'line 3']);

    const now = new Date().toISOString();
    await insertSecret(db, store.secretKey, { id: 'sec', name: 'db', organization_id: org.id, type: 'SIMPLE', created_at: now, updated_at: now, project_id: '' }, { value: 'hunter2' });
    const raw = await db.get<{ encrypted_value: string; data: string }>('SELECT encrypted_value, data FROM secrets');
    assert.ok(!raw?.encrypted_value.includes('hunter2') && !raw?.data.includes('hunter2'));
    assert.equal((await revealSecret(db, store.secretKey, 'sec'))?.value, 'hunter2');
    assert.equal((await getSecret(db, 'sec'))?.value, undefined);
    assert.deepEqual(await secretValues(db, store.secretKey, org.id), { db: 'hunter2' });
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('secret crypto detects tampering', () => {
  const key = Buffer.alloc(32, 7);
  const sealed = encryptSecret(key, 'value');
  assert.equal(decryptSecret(key, sealed), 'value');
  const parts = sealed.split('.');
  parts[3] = Buffer.from('other').toString('base64');
  assert.throws(() => decryptSecret(key, parts.join('.')));
  assert.throws(() => decryptSecret(Buffer.alloc(32, 8), sealed));
});

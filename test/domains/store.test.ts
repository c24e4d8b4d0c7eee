// Certificates and ACME accounts at rest: sealed with the master key, readable after a key rotation, never in clear;
// and the domain ownership migration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/store.ts';
import {
  findVerifiedDomainByName, getAcmeAccount, listCertificates, putAcmeAccount, putCertificate, verificationToken,
} from '../../src/store/domains.ts';
import { openSqlite } from '../../src/store/db.ts';
import { MIGRATIONS, migrate } from '../../src/store/migrations.ts';
import { reencryptAll } from '../../src/store/secrets.ts';

test('certificates and ACME account keys are sealed and follow a master key rotation', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-domains-store-'));
  const store = await openStore({ dataDir: dir });
  try {
    const cert = { id: 'acme:a.example.com', kind: 'acme' as const, names: ['a.example.com'], issuer: 'Test CA', notBefore: '2030-01-01T00:00:00.000Z', notAfter: '2030-04-01T00:00:00.000Z', certPem: '-----BEGIN CERTIFICATE-----\nx\n', keyPem: '-----BEGIN PRIVATE KEY-----\ny\n' };
    await putCertificate(store.db, store.secretKey, cert);
    await putCertificate(store.db, store.secretKey, cert); // replace, not duplicate
    await putAcmeAccount(store.db, store.secretKey, { directoryUrl: 'https://acme.test/dir', email: 'a@b.c', accountUrl: 'https://acme.test/acct/1', keyPem: 'ACCOUNT KEY' });
    const raw = JSON.stringify(await store.db.all('SELECT * FROM certificates')) + JSON.stringify(await store.db.all('SELECT * FROM acme_accounts'));
    assert.equal(raw.includes('BEGIN'), false);
    assert.equal(raw.includes('ACCOUNT KEY'), false);

    const newKey = randomBytes(32);
    const result = await reencryptAll(store.db, store.secretKey, newKey);
    assert.equal(result.certificates, 2);
    assert.deepEqual(await listCertificates(store.db, newKey), [cert]);
    assert.equal((await getAcmeAccount(store.db, newKey, 'https://acme.test/dir'))?.keyPem, 'ACCOUNT KEY');
    await assert.rejects(() => listCertificates(store.db, store.secretKey));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migration 7: domains verified before it stay verified (one owner per name), the others become claims', async () => {
  const db = openSqlite(':memory:');
  try {
    await db.exec('CREATE TABLE schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    for (const m of MIGRATIONS.filter((x) => x.id <= 6)) {
      await db.exec(m.sql('INTEGER PRIMARY KEY'));
      await db.run('INSERT INTO schema_migrations (id, name, applied_at) VALUES (?, ?, ?)', [m.id, m.name, 'then']);
    }
    const row = (id: string, org: string, name: string, verifiedAt: string | null) => db.run(
      "INSERT INTO domains (id, organization_id, name, type, status, app_id, created_at, updated_at, data) VALUES (?, ?, ?, 'CUSTOM', ?, '', 'then', 'then', ?)",
      [id, org, name, verifiedAt ? 'ACTIVE' : 'PENDING', JSON.stringify({ id, organization_id: org, name, verified_at: verifiedAt, status: verifiedAt ? 'ACTIVE' : 'PENDING' })],
    );
    await row('d1', 'o1', 'a.example.com', '2026-01-01T00:00:00.000Z');
    await row('d2', 'o1', 'b.example.com', null);
    assert.deepEqual(await migrate(db), MIGRATIONS.filter((x) => x.id > 6).map((x) => x.id));
    assert.equal((await findVerifiedDomainByName(db, 'a.example.com'))?.id, 'd1');
    assert.equal(await findVerifiedDomainByName(db, 'b.example.com'), undefined);
    // Another organization may now claim b (unverified), not a second live claim of the same organization.
    await row('d3', 'o2', 'b.example.com', null);
    await assert.rejects(row('d4', 'o1', 'b.example.com', null), /UNIQUE/);
    // Rows from before tokens get one on first use, and keep it.
    const token = await verificationToken(db, 'd2');
    assert.match(token, /^pier-verify-[0-9a-f]{32}$/);
    assert.equal(await verificationToken(db, 'd2'), token);
  } finally {
    await db.close();
  }
});

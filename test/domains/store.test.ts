// Certificates and ACME accounts at rest: sealed with the master key, readable after a key rotation, never in clear.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/store.ts';
import { getAcmeAccount, listCertificates, putAcmeAccount, putCertificate } from '../../src/store/domains.ts';
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

// The local CA: created once (same root on the next load, key 0600), leaves that node's TLS stack accepts for
// exactly their names, within the 90-day cap, with IP SANs for addresses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { createServer, connect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { loadOrCreateLocalCa, trustInstructions } from './local-ca.ts';

/** Handshake with a server presenting `cert`, trusting only `ca`; resolves with the verification error or null. */
async function handshake(cert: { certPem: string; keyPem: string }, ca: string, servername: string, host = '127.0.0.1'): Promise<string | null> {
  const server = createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await new Promise<string | null>((resolve) => {
      const sock: TLSSocket = connect({ host, port: (server.address() as AddressInfo).port, ca,
        // node checks the certificate against servername, or the dialled host when there is none.
        servername: servername || undefined }, () => { sock.destroy(); resolve(null); });
      sock.once('error', (e: Error & { code?: string }) => resolve(e.code ?? e.message));
    });
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
}

test('local CA: root created once, key 0600, same root on the next load', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-ca-'));
  try {
    const ca = await loadOrCreateLocalCa(join(dir, 'ca'));
    assert.equal(statSync(join(dir, 'ca', 'root.key')).mode & 0o777, 0o600);
    assert.equal(readFileSync(ca.rootPath, 'utf8'), ca.rootPem);
    const root = new X509Certificate(ca.rootPem);
    assert.ok(root.ca);
    assert.ok(new Date(root.validTo).getTime() - Date.now() > 9 * 365 * 86_400_000, 'valid ~10 years');
    assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const again = await loadOrCreateLocalCa(join(dir, 'ca'));
    assert.equal(again.rootPem, ca.rootPem);
    // A leaf issued by the reloaded CA chains to the original root.
    const leaf = new X509Certificate((await again.issue(['x.localhost'])).certPem);
    assert.ok(leaf.checkIssued(root));
    assert.ok(leaf.verify(root.publicKey));
    assert.match(trustInstructions(ca), /update-ca-certificates/);
    assert.ok(trustInstructions(ca).includes(ca.rootPath));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('local CA: leaves verify with node tls for their names only, serverAuth, <= 90 days, IP SANs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-ca-'));
  try {
    const ca = await loadOrCreateLocalCa(dir);
    const wild = await ca.issue(['*.pier.localhost', 'pier.localhost']);
    assert.equal(await handshake(wild, ca.rootPem, 'web-acme.pier.localhost'), null);
    assert.equal(await handshake(wild, ca.rootPem, 'pier.localhost'), null);
    // A wildcard covers one label only, and other names not at all.
    assert.equal(await handshake(wild, ca.rootPem, 'a.b.pier.localhost'), 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.equal(await handshake(wild, ca.rootPem, 'example.com'), 'ERR_TLS_CERT_ALTNAME_INVALID');
    // Another root does not vouch for it.
    const other = await loadOrCreateLocalCa(join(dir, 'other'));
    assert.equal(await handshake(wild, other.rootPem, 'pier.localhost'), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');

    const x = new X509Certificate(wild.certPem);
    assert.equal(x.subjectAltName, 'DNS:*.pier.localhost, DNS:pier.localhost');
    assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    const days = (new Date(x.validTo).getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 89 && days <= 90, `valid ${days} days`);
    assert.equal(new Date(wild.notAfter).getTime(), new Date(x.validTo).getTime());
    assert.equal(x.checkPrivateKey((await import('node:crypto')).createPrivateKey(wild.keyPem)), true);

    const short = new X509Certificate((await ca.issue(['a.localhost'], 400)).certPem);
    assert.ok(new Date(short.validTo).getTime() - Date.now() <= 90 * 86_400_000, '90-day cap');

    const ip = await ca.issue(['127.0.0.1', 'localhost']);
    assert.equal(new X509Certificate(ip.certPem).subjectAltName, 'IP Address:127.0.0.1, DNS:localhost');
    assert.equal(await handshake(ip, ca.rootPem, ''), null, 'IP SAN matches the dialled address');

    await assert.rejects(ca.issue([]), /at least one name/);
    await assert.rejects(ca.issue(['bad name']), /not a host name/);
    await assert.rejects(ca.issue(['a.*.localhost']), /not a host name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

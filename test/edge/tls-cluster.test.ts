// TLS with worker processes (`workers: 2`): certificates and ACME answers pushed to the coordinator reach every
// worker, both listeners are shared, and redirects name the shared TLS port. Real worker processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEdge } from '../../src/edge/edge.ts';
import { app, call, route, startUpstream, up } from '../../src/edge/test-helpers.ts';
import { loadOrCreateLocalCa } from '../../src/certs/local-ca.ts';
import { h1, h2, handshake } from './tls-support.ts';

test('workers: certificates, replacements and ACME answers reach every worker', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-edge-tls-'));
  const ca = await loadOrCreateLocalCa(dir);
  const host = 'api-acme.pier.localhost';
  const first = { names: ['*.pier.localhost'], ...await ca.issue(['*.pier.localhost']) };
  const second = { names: [host], ...await ca.issue([host]) };
  const serial = (pem: string): string => new X509Certificate(pem).serialNumber;
  const upstream = await startUpstream('api');
  const edge = await createEdge({ addr: '127.0.0.1:0', tlsAddr: '127.0.0.1:0', domain: 'pier.localhost', workers: 2, balance: 'round-robin' });
  try {
    assert.match(edge.tlsUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
    edge.setRoutes([app('api', [route('/', [up('a1', upstream.port)])], { httpsRedirect: true })]);
    edge.setCertificates([first]);
    edge.setAcmeChallenges({ t1: 't1.key' });
    // Fresh TLS connections spread over both workers (request ids carry a per-worker prefix); each presents the cert.
    // The pushes travel over IPC, so the first handshakes may still find a worker without certificates: retry a few.
    let rs = await Promise.all(Array.from({ length: 20 }, () => h1(edge.tlsUrl!, host, '/x', ca.rootPem).catch(() => null)));
    for (let round = 0; round < 50 && rs.some((r) => r === null); round++) {
      rs = await Promise.all(Array.from({ length: 20 }, () => h1(edge.tlsUrl!, host, '/x', ca.rootPem).catch(() => null)));
    }
    assert.ok(rs.every((r) => r !== null && r.status === 200 && r.body === 'api /x' && r.serial === serial(first.certPem)));
    assert.equal(new Set(rs.map((r) => String(r!.headers['x-request-id']).slice(0, 12))).size, 2, 'both workers served TLS');
    const [viaH2] = await h2(edge.tlsUrl!, host, ca.rootPem, [{ path: '/h2' }]);
    assert.equal(viaH2.body, 'api /h2');

    // A replacement reaches every worker: soon every new handshake gets the exact-name certificate.
    edge.setCertificates([second, first]);
    let stale = 1;
    for (let round = 0; round < 100 && stale > 0; round++) {
      const hs = await Promise.all(Array.from({ length: 10 }, () => handshake(edge.tlsUrl!, host, ca.rootPem)));
      stale = hs.filter((h) => h.cert?.serialNumber !== serial(second.certPem)).length;
    }
    assert.equal(stale, 0);

    // Plain HTTP in every worker: ACME answered, everything else redirected to the shared TLS port.
    const plain = await Promise.all(Array.from({ length: 10 }, () => call(edge.url, host, '/.well-known/acme-challenge/t1')));
    assert.ok(plain.every((r) => r.status === 200 && r.body === 't1.key'));
    const redirects = await Promise.all(Array.from({ length: 10 }, () => call(edge.url, host, '/p?q=1')));
    assert.ok(redirects.every((r) => r.status === 308 && r.headers.location === `https://${host}:${new URL(edge.tlsUrl!).port}/p?q=1`));
    assert.equal(new Set(redirects.map((r) => String(r.headers['x-request-id']).slice(0, 12))).size, 2, 'both workers redirected');
  } finally {
    await edge.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

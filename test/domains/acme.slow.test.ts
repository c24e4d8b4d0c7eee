// The certificate manager against a real ACME server (Debian's pebble) on loopback, with a stand-in edge that serves
// HTTP-01 answers and a loopback DNS server: issue, renew, DNS mismatch, challenge unreachable, rate limited (a
// fake ACME directory answering rateLimited), and the local-CA path. Statuses and messages are checked on the domains.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { createCertManager, type CertEdge } from '../../src/certs/manager.ts';
import { createAcmeIssuer } from '../../src/certs/acme.ts';
import { dnsCheck } from '../../src/certs/dns.ts';
import { loadOrCreateLocalCa, type LocalCa } from '../../src/certs/local-ca.ts';
import { getCertSchedule, listCertificates } from '../../src/store/domains.ts';
import { renewalTime } from '../../src/domain/domains.ts';
import type { EdgeCertificate } from '../../src/edge/types.ts';
import { apiClient } from '../support/api-client.ts';
import { startTestDns, type TestDns } from './support/dns-server.ts';
import { pebbleMissing, startPebble, type Pebble } from './support/pebble.ts';

const skip = pebbleMissing();
const TOKEN = 'domains-acme-test-token-0123456789';

/** A stand-in for the edge: serves HTTP-01 answers on plain HTTP and records the certificate set. */
async function fakeEdge() {
  const challenges = new Map<string, string>();
  let certs: EdgeCertificate[] = [];
  const server = http.createServer((req, res) => {
    const token = req.url?.startsWith('/.well-known/acme-challenge/') ? req.url.slice('/.well-known/acme-challenge/'.length) : '';
    const answer = challenges.get(token);
    res.writeHead(answer ? 200 : 404).end(answer ?? 'not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const edge: CertEdge = {
    setCertificates: (c) => { certs = c; },
    setAcmeChallenges: (c) => { challenges.clear(); for (const [k, v] of Object.entries(c)) challenges.set(k, v); },
  };
  return {
    edge, port: (server.address() as AddressInfo).port, certs: () => certs, challenges,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

let dir: string;
let pier: PierHandle;
let dns: TestDns;
let pebble: Pebble;
let edge: Awaited<ReturnType<typeof fakeEdge>>;
let ca: LocalCa;
let api: ReturnType<typeof apiClient>;
let now = Date.now();

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'pier-acme-'));
  dns = await startTestDns();
  edge = await fakeEdge();
  pebble = await startPebble({ dir, httpPort: edge.port, dnsAddr: dns.addr });
  pier = await startPier(loadConfig({ 'data-dir': join(dir, 'pier'), 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0' }, { ...process.env, PIER_TOKEN: TOKEN }), {
    components: () => [], log: () => undefined,
  });
  api = apiClient(pier.apiUrl, TOKEN);
  ca = await loadOrCreateLocalCa(join(dir, 'local-ca'));
});

after(async () => {
  await pier?.close();
  await pebble?.close();
  await edge?.close();
  await dns?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function manager(acme = true) {
  return createCertManager({
    store: pier.store, edge: () => edge.edge, localCa: async () => ca, now: () => now,
    acme: acme ? createAcmeIssuer({ directoryUrl: pebble.directoryUrl, caFile: pebble.caFile, email: 'ops@example.com', db: pier.store.db, secretKey: pier.store.secretKey }) : undefined,
    dns: dnsCheck(dns.addr), backoff: { baseMs: 60_000, maxMs: 3600_000 },
  });
}

async function domain(id: string) {
  return (await api('GET', `/v1/domains/${id}`)).body.domain;
}

test('issue, serve and renew an ACME certificate; DNS mismatch first says which record to set', { skip: skip ?? false, timeout: 120_000 }, async () => {
  now = Date.now();
  const app = (await api('POST', '/v1/apps', { name: 'store' })).body.app;
  const d = (await api('POST', '/v1/domains', { name: 'shop.example.com', app_id: app.id })).body.domain;
  const m = manager();

  // No CNAME yet, and an address that is not the app's.
  dns.a.set('shop.example.com', '127.0.0.2');
  await m.reconcile();
  let got = await domain(d.id);
  assert.equal(got.status, 'PENDING');
  assert.equal(got.messages[0], 'Set a DNS record: CNAME shop.example.com → store-pier.localhost');
  // Unverified: the TXT alternative with its token, not served, then what DNS said.
  assert.match(got.messages[1], /^Or prove ownership with a DNS record: TXT _pier-challenge\.shop\.example\.com "pier-verify-/);
  assert.match(got.messages.at(-1), /DNS check: shop.example.com resolves to 127.0.0.2, not to store-pier.localhost/);
  assert.equal(got.verified_at, null);
  // The app's own host already has its local-CA certificate at the edge.
  assert.deepEqual(edge.certs().map((c) => c.names.join()), ['store-pier.localhost']);

  // A failed check stands for a while; refresh asks again now.
  dns.cnames.set('shop.example.com', 'store-pier.localhost');
  dns.a.delete('shop.example.com');
  await m.reconcile();
  assert.equal((await domain(d.id)).status, 'PENDING');
  assert.equal((await api('POST', `/v1/domains/${d.id}/refresh`)).status, 200);
  await m.reconcile();
  got = await domain(d.id);
  assert.equal(got.status, 'ACTIVE', JSON.stringify(got.messages));
  assert.match(got.messages[0], /^Certificate from Pebble Intermediate CA .*, valid until /);
  assert.ok(got.verified_at);
  assert.equal(edge.challenges.size, 0, 'challenge answers are withdrawn after validation');

  const served = edge.certs().find((c) => c.names.includes('shop.example.com'))!;
  const leaf = new X509Certificate(served.certPem);
  assert.equal(leaf.checkHost('shop.example.com'), 'shop.example.com');
  assert.match(leaf.issuer, /Pebble Intermediate CA/);
  // Stored sealed: no PEM in the table, one ACME account.
  const raw = await pier.store.db.all<{ encrypted_pem: string }>('SELECT encrypted_pem FROM certificates');
  assert.ok(raw.every((r) => !r.encrypted_pem.includes('BEGIN')));
  assert.equal((await pier.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM acme_accounts'))!.n, 1);

  // A second pass changes nothing.
  const version = got.version;
  await m.reconcile();
  assert.equal((await domain(d.id)).version, version);

  // Renewal once a third of the lifetime is left: a new certificate, the same account.
  const stored = (await listCertificates(pier.store.db, pier.store.secretKey)).find((c) => c.id === 'acme:shop.example.com')!;
  now = renewalTime(stored.notBefore, stored.notAfter) + 1000;
  await m.reconcile();
  const renewed = edge.certs().find((c) => c.names.includes('shop.example.com'))!;
  assert.notEqual(new X509Certificate(renewed.certPem).serialNumber, leaf.serialNumber);
  assert.equal((await domain(d.id)).status, 'ACTIVE');
  assert.equal((await pier.store.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM acme_accounts'))!.n, 1);
  now = Date.now();

  // Delete: certificate removed, domain DELETED, name free again.
  await api('DELETE', `/v1/domains/${d.id}`);
  await m.reconcile();
  assert.equal((await domain(d.id)).status, 'DELETED');
  assert.equal(edge.certs().some((c) => c.names.includes('shop.example.com')), false);
  assert.equal((await api('POST', '/v1/domains', { name: 'shop.example.com' })).status, 200);
  await m.stop();
});

test('challenge unreachable: ERROR with the reason, a retry scheduled with backoff', { skip: skip ?? false, timeout: 120_000 }, async () => {
  now = Date.now();
  const app = (await api('POST', '/v1/apps', { name: 'down' })).body.app;
  const d = (await api('POST', '/v1/domains', { name: 'down.example.net', app_id: app.id })).body.domain;
  dns.cnames.set('down.example.net', 'down-pier.localhost');
  dns.a.set('down.example.net', '127.0.0.2'); // pebble dials 127.0.0.2:<edge port>, where nothing listens
  const m = manager();
  await m.reconcile();
  const got = await domain(d.id);
  assert.equal(got.status, 'ERROR', JSON.stringify(got.messages));
  assert.match(got.messages[0], /^Certificate request failed \(attempt 1\): /);
  assert.match(got.messages[0], /127\.0\.0\.2|connection refused|Connection refused/i);
  const schedule = await getCertSchedule(pier.store.db, d.id);
  assert.equal(schedule.attempts, 1);
  const next = Date.parse(schedule.nextAttemptAt!);
  assert.ok(next >= now + 60_000 - 5000 && next <= Date.now() + 60_000 + 5000, schedule.nextAttemptAt!);
  assert.equal(got.messages[1], `Next attempt at ${schedule.nextAttemptAt}`);
  // Before the next attempt time, passes leave it alone.
  await m.reconcile();
  assert.equal((await getCertSchedule(pier.store.db, d.id)).attempts, 1);
  // After it, another failure doubles the wait.
  now = next + 1;
  await m.reconcile();
  const s2 = await getCertSchedule(pier.store.db, d.id);
  assert.equal(s2.attempts, 2);
  assert.ok(Date.parse(s2.nextAttemptAt!) - Date.now() > 100_000, s2.nextAttemptAt!);
  now = Date.now();
  await api('DELETE', `/v1/domains/${d.id}`);
  await m.reconcile();
  await m.stop();
});

test('rate limited: the status says so and the retry waits for Retry-After', { skip: skip ?? false, timeout: 60_000 }, async () => {
  // A directory whose account endpoint answers 429 rateLimited, as Let's Encrypt does past its limits.
  const fake = http.createServer((req, res) => {
    const base = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    if (req.url === '/dir') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
        newNonce: `${base}/nonce`, newAccount: `${base}/acct`, newOrder: `${base}/order`, revokeCert: `${base}/revoke`, keyChange: `${base}/key`,
      }));
    } else if (req.url === '/nonce') {
      res.writeHead(200, { 'replay-nonce': `n${Date.now()}`, 'cache-control': 'no-store' }).end();
    } else {
      req.resume();
      res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': '7200', 'replay-nonce': `n${Date.now()}` })
        .end(JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new accounts', status: 429 }));
    }
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const sub = mkdtempSync(join(tmpdir(), 'pier-acme-rl-'));
  const other = await startPier(loadConfig({ 'data-dir': sub, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0' }, { ...process.env, PIER_TOKEN: TOKEN }), {
    components: () => [], log: () => undefined,
  });
  try {
    const api2 = apiClient(other.apiUrl, TOKEN);
    const app = (await api2('POST', '/v1/apps', { name: 'limited' })).body.app;
    const d = (await api2('POST', '/v1/domains', { name: 'limited.example.org', app_id: app.id })).body.domain;
    const m = createCertManager({
      store: other.store, edge: () => edge.edge, localCa: async () => ca,
      acme: createAcmeIssuer({ directoryUrl: `http://127.0.0.1:${(fake.address() as AddressInfo).port}/dir`, db: other.store.db, secretKey: other.store.secretKey }),
      backoff: { baseMs: 1000, maxMs: 10_000 },
    });
    const t0 = Date.now();
    await m.reconcile();
    const got = (await api2('GET', `/v1/domains/${d.id}`)).body.domain;
    assert.equal(got.status, 'ERROR');
    assert.match(got.messages[0], /rate limited by the ACME server: too many new accounts/);
    const next = Date.parse((await getCertSchedule(other.store.db, d.id)).nextAttemptAt!);
    assert.ok(next >= t0 + 7200_000, 'Retry-After beats the shorter backoff');
    await m.stop();
  } finally {
    await other.close();
    await new Promise<void>((r) => fake.close(() => r()));
    rmSync(sub, { recursive: true, force: true });
  }
});

test('without ACME, custom domains and app hosts get local-CA certificates', { skip: skip ?? false, timeout: 60_000 }, async () => {
  const app = (await api('POST', '/v1/apps', { name: 'intranet' })).body.app;
  const d = (await api('POST', '/v1/domains', { name: 'wiki.corp.example', app_id: app.id })).body.domain;
  dns.cnames.set('wiki.corp.example', 'intranet-pier.localhost');
  const m = manager(false);
  await m.reconcile();
  const got = await domain(d.id);
  assert.equal(got.status, 'ACTIVE', JSON.stringify(got.messages));
  assert.match(got.messages[0], /^Certificate from Pier local CA/);
  for (const host of ['wiki.corp.example', 'intranet-pier.localhost']) {
    const c = edge.certs().find((x) => x.names.includes(host));
    assert.ok(c, host);
    const leaf = new X509Certificate(c.certPem);
    assert.equal(leaf.checkHost(host), host);
    assert.ok(leaf.checkIssued(new X509Certificate(ca.rootPem)), 'signed by the local CA');
  }
  // Deleting the app drops its host's certificate at the next pass.
  await api('DELETE', `/v1/apps/${app.id}`);
  await pier.store.db.run("UPDATE apps SET status = 'DELETED'  WHERE id = ?", [app.id]);
  await m.reconcile();
  assert.equal(edge.certs().some((x) => x.names.includes('intranet-pier.localhost')), false);
  assert.equal((await domain(d.id)).status, 'PENDING');
  await m.stop();
});

// The certificate manager with a scripted ACME issuer (no ACME server): renewal failures keep a working certificate
// ACTIVE, skipped DNS checks, detached domains; and the DNS check against a loopback responder.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { createCertManager } from '../../src/certs/manager.ts';
import { AcmeError, type AcmeIssuer } from '../../src/certs/acme.ts';
import { dnsCheck } from '../../src/certs/dns.ts';
import { loadOrCreateLocalCa, type LocalCa } from '../../src/certs/local-ca.ts';
import { getCertSchedule } from '../../src/store/domains.ts';
import type { EdgeCertificate } from '../../src/edge/types.ts';
import { apiClient } from '../support/api-client.ts';
import { startTestDns } from './support/dns-server.ts';

const TOKEN = 'domains-manager-test-token-012345';
let dir: string;
let pier: PierHandle;
let ca: LocalCa;
let api: ReturnType<typeof apiClient>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pier-certs-'));
  pier = await startPier(loadConfig({ 'data-dir': join(dir, 'pier'), 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0' }, { ...process.env, PIER_TOKEN: TOKEN }), {
    components: () => [], log: () => undefined,
  });
  api = apiClient(pier.apiUrl, TOKEN);
  ca = await loadOrCreateLocalCa(join(dir, 'ca'));
});

after(async () => {
  await pier?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An issuer that signs with the local CA (30-day certificates) or fails with the scripted error. */
function scriptedAcme(): AcmeIssuer & { fail?: AcmeError; calls: string[] } {
  const issuer = {
    directoryUrl: 'https://acme.invalid/dir',
    calls: [] as string[],
    fail: undefined as AcmeError | undefined,
    async issue(name: string) {
      issuer.calls.push(name);
      if (issuer.fail) throw issuer.fail;
      const c = await ca.issue([name], 30);
      const now = Date.now();
      return { certPem: c.certPem, keyPem: c.keyPem, issuer: 'Scripted CA', notBefore: new Date(now).toISOString(), notAfter: c.notAfter };
    },
  };
  return issuer;
}

test('a failed renewal keeps the domain ACTIVE on its valid certificate and says what failed', async () => {
  const app = (await api('POST', '/v1/apps', { name: 'renewer' })).body.app;
  const d = (await api('POST', '/v1/domains', { name: 'renew.example.com', app_id: app.id })).body.domain;
  const acme = scriptedAcme();
  let now = Date.now();
  let certs: EdgeCertificate[] = [];
  const m = createCertManager({
    store: pier.store, localCa: async () => ca, acme, now: () => now, backoff: { baseMs: 1000, maxMs: 8000 },
    edge: () => ({ setCertificates: (c) => { certs = c; }, setAcmeChallenges: () => undefined }),
  });
  await m.reconcile(); // no DNS check configured: straight to issuance
  assert.deepEqual(acme.calls, ['renew.example.com']);
  const first = (await api('GET', `/v1/domains/${d.id}`)).body.domain;
  assert.equal(first.status, 'ACTIVE');
  assert.match(first.messages[0], /^Certificate from Scripted CA/);
  assert.ok(certs.some((c) => c.names.includes('renew.example.com')));

  now += 21 * 86_400_000; // past two thirds of 30 days
  acme.fail = new AcmeError('urn:ietf:params:acme:error:serverInternal', false);
  await m.reconcile();
  const got = (await api('GET', `/v1/domains/${d.id}`)).body.domain;
  assert.equal(got.status, 'ACTIVE');
  assert.match(got.messages[0], /^Certificate from Scripted CA/);
  assert.match(got.messages[1], /^Certificate request failed \(attempt 1\): urn:ietf:params:acme:error:serverInternal/);
  assert.ok(certs.some((c) => c.names.includes('renew.example.com')), 'still served');
  assert.equal((await getCertSchedule(pier.store.db, d.id)).attempts, 1);

  // Past expiry with every attempt failing: no certificate to serve, ERROR.
  now += 10 * 86_400_000;
  await m.reconcile();
  const expired = (await api('GET', `/v1/domains/${d.id}`)).body.domain;
  assert.equal(expired.status, 'ERROR');
  assert.equal(certs.some((c) => c.names.includes('renew.example.com')), false);

  // Success resets the schedule.
  acme.fail = undefined;
  now += 60_000;
  await m.reconcile();
  assert.equal((await api('GET', `/v1/domains/${d.id}`)).body.domain.status, 'ACTIVE');
  assert.deepEqual(await getCertSchedule(pier.store.db, d.id), { attempts: 0, nextAttemptAt: null, dnsCheckedAt: null });

  // Detaching keeps the certificate stored but stops serving it.
  await api('PATCH', `/v1/domains/${d.id}`, { app_id: '' });
  await m.reconcile();
  assert.equal(certs.some((c) => c.names.includes('renew.example.com')), false);
  assert.equal((await pier.store.db.get<{ n: number }>("SELECT COUNT(*) AS n FROM certificates WHERE id = 'acme:renew.example.com'"))!.n, 1);
  await m.stop();
});

test('DNS check: CNAME, apex addresses, mismatches and failures', async () => {
  const dns = await startTestDns();
  try {
    const check = dnsCheck(dns.addr, 300);
    dns.cnames.set('www.example.com', 'app-pier.example.net');
    assert.deepEqual(await check('www.example.com', 'app-pier.example.net'), { ok: true, via: 'cname' });
    dns.cnames.set('old.example.com', 'elsewhere.example.net');
    assert.deepEqual(await check('old.example.com', 'app-pier.example.net'), { ok: false, found: 'old.example.com has CNAME elsewhere.example.net' });
    // Apex: same address as the app host.
    dns.a.set('example.org', '127.0.0.9');
    dns.a.set('app-pier.example.net', '127.0.0.9');
    assert.deepEqual(await check('example.org', 'app-pier.example.net'), { ok: true, via: 'addresses' });
    dns.a.set('example.org', '127.0.0.8');
    assert.deepEqual(await check('example.org', 'app-pier.example.net'), { ok: false, found: 'example.org resolves to 127.0.0.8, not to app-pier.example.net' });
  } finally {
    await dns.close();
  }
  // Nobody answers: the check fails and says the lookup failed.
  const silent = dnsCheck(`127.0.0.1:${dns.port}`, 200);
  const verdict = await silent('www.example.com', 'app-pier.example.net');
  assert.equal(verdict.ok, false);
  assert.match((verdict as { found: string }).found, /the DNS lookup failed \(E[A-Z]+\)/);
});

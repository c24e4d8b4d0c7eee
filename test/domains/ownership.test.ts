// Custom-domain ownership against a real API and store, with the certificate manager asking a loopback DNS responder
// (real DNS queries, records we set): an unverified claim is never routed nor certified; a CNAME to the app's host
// or the TXT challenge verifies it; two organizations may both claim a name, the first to verify wins and the other
// claim is refused; unverified claims expire; the store refuses a second verified claim of a name.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { createCertManager, type CertManager } from '../../src/certs/manager.ts';
import { dnsCheck, dnsResolver, txtLookup } from '../../src/certs/dns.ts';
import { loadOrCreateLocalCa, type LocalCa } from '../../src/certs/local-ca.ts';
import { updateDomain, verificationToken } from '../../src/store/domains.ts';
import { getApp } from '../../src/store/apps.ts';
import { getOrganization, insertOrganization, insertToken } from '../../src/store/organizations.ts';
import { appHosts } from '../../src/control/routes.ts';
import type { EdgeCertificate } from '../../src/edge/types.ts';
import { apiClient } from '../support/api-client.ts';
import { startTestDns, type TestDns } from './support/dns-server.ts';

const TOKEN = 'domains-ownership-test-token-0123';
const RIVAL = 'domains-ownership-rival-token-987';
const TTL = 3600_000;
let dir: string;
let pier: PierHandle;
let ca: LocalCa;
let dns: TestDns;
let api: ReturnType<typeof apiClient>;
let rival: ReturnType<typeof apiClient>;
let now = Date.now();
let certs: EdgeCertificate[] = [];
let verifiedCalls = 0;
let manager: CertManager;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pier-ownership-'));
  pier = await startPier(loadConfig({ 'data-dir': join(dir, 'pier'), 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0' }, { ...process.env, PIER_TOKEN: TOKEN }), {
    components: () => [], log: () => undefined,
  });
  const org = await insertOrganization(pier.store.db, 'rival');
  await insertToken(pier.store.db, org.id, 'rival', RIVAL);
  api = apiClient(pier.apiUrl, TOKEN);
  rival = apiClient(pier.apiUrl, RIVAL);
  ca = await loadOrCreateLocalCa(join(dir, 'ca'));
  dns = await startTestDns();
  const resolver = dnsResolver(dns.addr, 500);
  manager = createCertManager({
    store: pier.store, localCa: async () => ca, now: () => now, claimTtlMs: TTL, dnsRecheckMs: 0,
    dns: dnsCheck(undefined, undefined, resolver), txt: txtLookup(resolver),
    edge: () => ({ setCertificates: (c) => { certs = c; }, setAcmeChallenges: () => undefined }),
    onVerified: () => { verifiedCalls++; },
  });
});

after(async () => {
  await manager?.stop();
  await dns?.close();
  await pier?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The hosts the edge is given for an app (the route table's hosts). */
async function routedHosts(appId: string): Promise<string[]> {
  const app = (await getApp(pier.store.db, appId))!;
  return appHosts(app, await getOrganization(pier.store.db, app.organization_id), 'localhost');
}

const served = (name: string) => certs.some((c) => c.names.includes(name));

test('an unverified claim is neither routed nor certified; a CNAME to its app verifies it', async () => {
  const app = (await api('POST', '/v1/apps', { name: 'shop' })).body.app;
  const d = (await api('POST', '/v1/domains', { name: 'www.shop.test', app_id: app.id })).body.domain;
  dns.cnames.set('www.shop.test', 'elsewhere.example.net');
  await manager.reconcile();
  const pending = (await api('GET', `/v1/domains/${d.id}`)).body.domain;
  assert.equal(pending.status, 'PENDING');
  assert.equal(pending.verified_at, null);
  assert.equal(pending.messages[0], 'Set a DNS record: CNAME www.shop.test → shop-pier.localhost');
  assert.match(pending.messages[1], /^Or prove ownership with a DNS record: TXT _pier-challenge\.www\.shop\.test "pier-verify-/);
  assert.match(pending.messages[2], /^Not served until ownership is verified; this claim expires at \d{4}-/);
  assert.match(pending.messages[3], /^DNS check: www\.shop\.test has CNAME elsewhere\.example\.net; no TXT record _pier-challenge\.www\.shop\.test holds/);
  assert.ok(dns.asked.includes('16 _pier-challenge.www.shop.test'), 'the TXT challenge was looked up');
  assert.deepEqual(await routedHosts(app.id), ['shop-pier.localhost']);
  assert.equal(served('www.shop.test'), false);

  dns.cnames.set('www.shop.test', 'shop-pier.localhost');
  const calls = verifiedCalls;
  await manager.reconcile();
  const active = (await api('GET', `/v1/domains/${d.id}`)).body.domain;
  assert.equal(active.status, 'ACTIVE', JSON.stringify(active.messages));
  assert.ok(active.verified_at);
  assert.deepEqual(await routedHosts(app.id), ['shop-pier.localhost', 'www.shop.test']);
  assert.equal(served('www.shop.test'), true);
  assert.equal(verifiedCalls, calls + 1, 'the route table is told');

  // Ownership belongs to the organization: a DNS change later holds the certificate back, not the routing.
  const other = (await api('POST', '/v1/apps', { name: 'shop2' })).body.app;
  const moved = (await api('PATCH', `/v1/domains/${d.id}`, { app_id: other.id })).body.domain;
  assert.equal(moved.verified_at, active.verified_at);
  assert.deepEqual(await routedHosts(other.id), ['shop2-pier.localhost', 'www.shop.test']);
  // Now verified, the name is closed to other organizations.
  const late = await rival('POST', '/v1/domains', { name: 'www.shop.test' });
  assert.equal(late.status, 409);
  assert.match(late.body.fields[0].description, /verified by another organization/);
});

test('two organizations claim a name: the squatter never blocks the owner, whose TXT record wins', async () => {
  // The squatter claims first and attaches it to its own app.
  const squatApp = (await rival('POST', '/v1/apps', { name: 'squat' })).body.app;
  const squat = (await rival('POST', '/v1/domains', { name: 'docs.owner.test', app_id: squatApp.id })).body.domain;
  const ownerApp = (await api('POST', '/v1/apps', { name: 'docs' })).body.app;
  const owned = await api('POST', '/v1/domains', { name: 'docs.owner.test' });
  assert.equal(owned.status, 200, 'an unverified claim never blocks another organization');
  const d = owned.body.domain;
  await manager.reconcile();
  assert.equal((await api('GET', `/v1/domains/${d.id}`)).body.domain.status, 'PENDING');
  assert.equal((await rival('GET', `/v1/domains/${squat.id}`)).body.domain.status, 'PENDING');
  // The name's A record is the edge's address, like every app host's: no proof for the squatter's app.
  assert.match((await rival('GET', `/v1/domains/${squat.id}`)).body.domain.messages.at(-1), /has no CNAME to squat-rival\.localhost \(its addresses are no proof of ownership\)/);
  assert.deepEqual(await routedHosts(squatApp.id), ['squat-rival.localhost']);

  // The owner publishes its own token (the squatter's would not do: each claim has its own).
  const token = await verificationToken(pier.store.db, d.id);
  assert.notEqual(token, await verificationToken(pier.store.db, squat.id));
  assert.ok(d.messages.some((m: string) => m.includes(`"${token}"`)), 'the token is in the claim\'s messages');
  dns.txt.set('_pier-challenge.docs.owner.test', ['v=unrelated', token]);
  await manager.reconcile();
  const won = (await api('GET', `/v1/domains/${d.id}`)).body.domain;
  assert.ok(won.verified_at);
  assert.equal(won.status, 'PENDING', 'verified but detached');
  assert.match(won.messages[0], /Not attached/);
  const refused = (await rival('GET', `/v1/domains/${squat.id}`)).body.domain;
  assert.equal(refused.status, 'DELETED');
  assert.equal(refused.app_id, '');
  assert.equal(refused.messages[0], 'Claim refused: another organization verified ownership of docs.owner.test first');
  assert.deepEqual(await routedHosts(squatApp.id), ['squat-rival.localhost']);
  assert.equal((await rival('POST', '/v1/domains', { name: 'docs.owner.test' })).status, 409);

  // Attached, the owner's app serves it with a certificate.
  await api('PATCH', `/v1/domains/${d.id}`, { app_id: ownerApp.id });
  await manager.reconcile();
  assert.equal((await api('GET', `/v1/domains/${d.id}`)).body.domain.status, 'ACTIVE');
  assert.deepEqual(await routedHosts(ownerApp.id), ['docs-pier.localhost', 'docs.owner.test']);
  assert.equal(served('docs.owner.test'), true);

  // The store itself refuses a second verified claim of the name (what decides a race between two passes).
  const second = (await rival('POST', '/v1/domains', { name: 'other.owner.test' })).body.domain;
  await pier.store.db.run("UPDATE domains SET name = 'docs.owner.test', data = replace(data, 'other.owner.test', 'docs.owner.test') WHERE id = ?", [second.id]);
  await assert.rejects(updateDomain(pier.store.db, second.id, { verified_at: new Date().toISOString() }), /UNIQUE/i);
});

test('an idle claim is checked less often, and expires after the claim ttl, freeing the name', async () => {
  const d = (await rival('POST', '/v1/domains', { name: 'stale.example.org' })).body.domain;
  await manager.reconcile();
  const pending = (await rival('GET', `/v1/domains/${d.id}`)).body.domain;
  assert.match(pending.messages.at(-1), /^DNS check: no TXT record _pier-challenge\.stale\.example\.org holds this claim's token$/);
  // Checked every pass while fresh (dnsRecheckMs 0 here); past 15 minutes at most every 10, unless refreshed.
  const before = now;
  const lookups = () => dns.asked.filter((q) => q === '16 _pier-challenge.stale.example.org').length;
  const first = lookups();
  assert.ok(first >= 1);
  now = Date.parse(d.created_at) + 20 * 60_000;
  await manager.reconcile();
  assert.equal(lookups(), first + 1);
  now += 5 * 60_000;
  await manager.reconcile();
  assert.equal(lookups(), first + 1, 'an old idle claim is not looked up again within 10 minutes');
  assert.equal((await rival('POST', `/v1/domains/${d.id}/refresh`)).status, 200);
  await manager.reconcile();
  assert.equal(lookups(), first + 2, 'refresh asks at once');
  now = Date.parse(d.created_at) + TTL;
  try {
    await manager.reconcile();
  } finally {
    now = before;
  }
  const expired = (await rival('GET', `/v1/domains/${d.id}`)).body.domain;
  assert.equal(expired.status, 'DELETED');
  assert.equal(expired.messages[0], 'Claim expired: ownership of stale.example.org was not verified within 1 h');
  assert.equal((await api('POST', '/v1/domains', { name: 'stale.example.org' })).status, 200);
});

test('without DNS checks (PIER_DOMAINS_SKIP_DNS_CHECK) claims are accepted unchecked, still one owner per name', async () => {
  const skipping = createCertManager({
    store: pier.store, localCa: async () => ca, now: () => now,
    edge: () => ({ setCertificates: () => undefined, setAcmeChallenges: () => undefined }),
  });
  const mine = (await api('POST', '/v1/domains', { name: 'lan.example.internal' })).body.domain;
  const theirs = (await rival('POST', '/v1/domains', { name: 'lan.example.internal' })).body.domain;
  await skipping.reconcile();
  const a = (await api('GET', `/v1/domains/${mine.id}`)).body.domain;
  const b = (await rival('GET', `/v1/domains/${theirs.id}`)).body.domain;
  // Newest first is the list order, so which claim the pass met first decides; exactly one wins either way.
  const statuses = [a, b].map((x) => (x.verified_at ? 'verified' : x.status)).sort();
  assert.deepEqual(statuses, ['DELETED', 'verified']);
  assert.match((a.verified_at ? b : a).messages[0], /^Claim refused/);
  await skipping.stop();
});

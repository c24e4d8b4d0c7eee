// /v1/domains against a real API (no runtime or edge): validation naming the field, one claim per organization and
// name (other organizations may claim it too until one verifies it), organization isolation, attach/detach, list filters, delete, refresh, the app's domains[] and the
// `pier.https_redirect` app setting.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { insertOrganization, insertToken } from '../../src/store/organizations.ts';
import { getCertSchedule, setCertSchedule } from '../../src/store/domains.ts';
import { apiClient } from '../support/api-client.ts';
import { run } from '../cli/harness.ts';

const TOKEN = 'domains-api-test-token-0123456789';
const OTHER = 'domains-api-other-org-token-98765';
let pier: PierHandle;
let dir: string;
let api: ReturnType<typeof apiClient>;
let other: ReturnType<typeof apiClient>;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pier-domains-api-'));
  pier = await startPier(loadConfig({ 'data-dir': dir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0' }, { ...process.env, PIER_TOKEN: TOKEN }), {
    components: () => [], log: () => undefined,
  });
  const org = await insertOrganization(pier.store.db, 'acme-corp');
  await insertToken(pier.store.db, org.id, 'other', OTHER);
  api = apiClient(pier.apiUrl, TOKEN);
  other = apiClient(pier.apiUrl, OTHER);
});

after(async () => {
  await pier?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('create validates the name and names the field', async () => {
  const cases: [unknown, string, RegExp][] = [
    [{ name: 'bad_label.example.com' }, 'name', /not a host name/],
    [{ name: 'web-pier.localhost' }, 'name', /platform domain/],
    [{ name: 'localhost' }, 'name', /two labels/],
    [{ name: 'ok.example.com', type: 'AUTOASSIGNED' }, 'type', /must be CUSTOM/],
    [{ name: 'ok.example.com', app_id: 'no-such-app' }, 'app_id', /no app/],
  ];
  for (const [body, field, re] of cases) {
    const r = await api('POST', '/v1/domains', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.code, 'invalid_argument');
    assert.equal(r.body.fields[0].field, field);
    assert.match(r.body.fields[0].description, re);
  }
});

test('attach, list, app domains[], detach, delete, claims per organization', async () => {
  const app = (await api('POST', '/v1/apps', { name: 'shop' })).body.app;
  const auto = app.domains[0];
  assert.equal(auto.type, 'AUTOASSIGNED');
  assert.equal(auto.name, 'shop-pier.localhost');

  const dry = await api('POST', '/v1/domains?dry_run=true', { name: 'dry.example.com', type: 'CUSTOM' });
  assert.equal(dry.status, 200);
  assert.equal((await api('GET', '/v1/domains?name=dry.example.com')).body.count, 0);

  const created = await api('POST', '/v1/domains', { name: 'WWW.Shop.example.', type: 'CUSTOM', app_id: app.id });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  const d = created.body.domain;
  assert.equal(d.name, 'www.shop.example');
  assert.equal(d.status, 'PENDING');
  assert.equal(d.intended_cname, 'shop-pier.localhost');
  assert.equal(d.messages[0], 'Set a DNS record: CNAME www.shop.example → shop-pier.localhost');

  // Unverified, it says how to prove ownership: the CNAME, or a TXT record holding this claim's own token.
  assert.match(d.messages[1], /^Or prove ownership with a DNS record: TXT _pier-challenge\.www\.shop\.example "pier-verify-[0-9a-f]{32}"$/);
  assert.equal(d.verified_at, null);
  // One live claim per organization and name.
  const again = await api('POST', '/v1/domains', { name: 'www.shop.example' });
  assert.equal(again.status, 409);
  assert.equal(again.body.fields[0].field, 'name');

  // An unverified claim never blocks another organization's (the first to verify wins: test/domains/ownership.test.ts),
  // and each stays invisible to the other organization.
  const rival = await other('POST', '/v1/domains', { name: 'www.shop.example' });
  assert.equal(rival.status, 200, JSON.stringify(rival.body));
  assert.notEqual(rival.body.domain.messages[1], d.messages[1], 'each claim has its own token');
  assert.equal((await other('GET', `/v1/domains/${d.id}`)).status, 404);
  assert.equal((await other('PATCH', `/v1/domains/${d.id}`, { app_id: '' })).status, 404);
  assert.equal((await other('DELETE', `/v1/domains/${d.id}`)).status, 404);
  assert.deepEqual((await other('GET', '/v1/domains')).body.domains.map((x: { id: string }) => x.id), [rival.body.domain.id]);
  assert.equal((await other('DELETE', `/v1/domains/${rival.body.domain.id}`)).status, 200);
  // Nor can another organization attach one to our app.
  assert.equal((await other('POST', '/v1/domains', { name: 'x.other.example', app_id: app.id })).status, 400);

  const got = (await api('GET', `/v1/apps/${app.id}`)).body.app;
  assert.deepEqual(got.domains.map((x: { name: string; type: string }) => `${x.type} ${x.name}`), ['AUTOASSIGNED shop-pier.localhost', 'CUSTOM www.shop.example']);
  const listed = (await api('GET', '/v1/apps')).body.apps.find((a: { id: string }) => a.id === app.id);
  assert.equal(listed.domains.length, 2);

  // Filters.
  assert.equal((await api('GET', '/v1/domains')).body.count, 2);
  assert.deepEqual((await api('GET', '/v1/domains?types=CUSTOM')).body.domains.map((x: { id: string }) => x.id), [d.id]);
  assert.deepEqual((await api('GET', '/v1/domains?types=AUTOASSIGNED')).body.domains.map((x: { id: string }) => x.id), [auto.id]);
  assert.equal((await api('GET', `/v1/domains?app_ids=${app.id}&statuses=PENDING`)).body.count, 1);
  assert.equal((await api('GET', '/v1/domains?statuses=ACTIVE&types=CUSTOM')).body.count, 0);
  const page = (await api('GET', '/v1/domains?limit=1&offset=1')).body;
  assert.equal(page.domains.length, 1);
  assert.equal(page.count, 2);
  assert.equal((await api('GET', `/v1/domains/${auto.id}`)).body.domain.name, 'shop-pier.localhost');

  // Refresh clears the retry schedule so the next pass tries now.
  await setCertSchedule(pier.store.db, d.id, { attempts: 3, nextAttemptAt: '2999-01-01T00:00:00.000Z', dnsCheckedAt: '2999-01-01T00:00:00.000Z' });
  assert.equal((await api('POST', `/v1/domains/${d.id}/refresh`)).status, 200);
  assert.deepEqual(await getCertSchedule(pier.store.db, d.id), { attempts: 3, nextAttemptAt: null, dnsCheckedAt: null });

  // Detach (update_mask honoured), dry run changes nothing.
  const dryDetach = await api('PATCH', `/v1/domains/${d.id}?dry_run=true`, { app_id: '' });
  assert.equal(dryDetach.body.domain.app_id, '');
  assert.equal((await api('GET', `/v1/domains/${d.id}`)).body.domain.app_id, app.id);
  const masked = await api('PATCH', `/v1/domains/${d.id}?update_mask=subdomain`, { app_id: '' });
  assert.equal(masked.body.domain.app_id, app.id);
  const detached = (await api('PATCH', `/v1/domains/${d.id}`, { app_id: '' })).body.domain;
  assert.equal(detached.app_id, '');
  assert.equal(detached.intended_cname, '');
  assert.match(detached.messages[0], /Not attached/);
  assert.equal((await api('GET', `/v1/apps/${app.id}`)).body.app.domains.length, 1);
  assert.equal((await api('PATCH', `/v1/domains/${d.id}`, { app_id: app.id })).body.domain.app_id, app.id);
  assert.equal((await api('PATCH', `/v1/domains/${auto.id}`, { subdomain: 'x' })).status, 400);

  // Delete: DELETING and detached; the name stays reserved until the certificate manager finishes it.
  assert.equal((await api('DELETE', `/v1/domains/${d.id}`)).status, 200);
  const deleting = (await api('GET', `/v1/domains/${d.id}`)).body.domain;
  assert.equal(deleting.status, 'DELETING');
  assert.equal(deleting.app_id, '');
  assert.equal((await api('GET', `/v1/apps/${app.id}`)).body.app.domains.length, 1);
  assert.equal((await api('DELETE', `/v1/domains/${d.id}`)).status, 200);
  assert.equal((await api('DELETE', `/v1/domains/${auto.id}`)).status, 409);
});

test('deleting an app detaches its custom domains', async () => {
  const app = (await api('POST', '/v1/apps', { name: 'blog' })).body.app;
  const d = (await api('POST', '/v1/domains', { name: 'blog.example.org', app_id: app.id })).body.domain;
  assert.equal((await api('DELETE', `/v1/apps/${app.id}`)).status, 200);
  const after = (await api('GET', `/v1/domains/${d.id}`)).body.domain;
  assert.equal(after.app_id, '');
  assert.equal(after.status, 'PENDING');
});

test('pier.https_redirect is an app setting Koyeb clients never see unless set', async () => {
  const app = (await api('POST', '/v1/apps', { name: 'secure' })).body.app;
  assert.equal('pier' in app, false);
  const on = await api('PATCH', `/v1/apps/${app.id}`, { pier: { https_redirect: true } });
  assert.equal(on.status, 200);
  assert.deepEqual(on.body.app.pier, { https_redirect: true });
  const bad = await api('PATCH', `/v1/apps/${app.id}`, { pier: { https_redirect: 'yes' } });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.fields[0].field, 'pier.https_redirect');
  // A rename keeps the setting.
  assert.deepEqual((await api('PATCH', `/v1/apps/${app.id}`, { name: 'secure2' })).body.app.pier, { https_redirect: true });
});

test('pier domains: create attached, list, describe, detach, attach, refresh, delete', async () => {
  await api('POST', '/v1/apps', { name: 'clishop' });
  const env = { PIER_URL: pier.apiUrl, PIER_TOKEN: TOKEN };
  const created = await run(undefined, ['domains', 'create', 'cli.example.com', '--attach-to', 'clishop'], { env });
  assert.equal(created.code, 0, created.stderr);
  assert.match(created.stdout, /cli\.example\.com\s+clishop\s+PENDING\s+CUSTOM/);
  assert.match(created.stderr, /Set a DNS record: CNAME cli\.example\.com → clishop-pier\.localhost, then: pier domains refresh cli\.example\.com/);
  const list = await run(undefined, ['dom', 'list'], { env });
  assert.match(list.stdout, /clishop-pier\.localhost\s+clishop\s+ACTIVE\s+AUTOASSIGNED/);
  const described = await run(undefined, ['domains', 'describe', 'cli.example.com'], { env });
  assert.match(described.stdout, /Intended CNAME:\s+clishop-pier\.localhost/);
  assert.match(described.stdout, /Set a DNS record: CNAME cli\.example\.com → clishop-pier\.localhost/);
  const detached = await run(undefined, ['domains', 'detach', 'cli.example.com'], { env });
  assert.match(detached.stdout, /cli\.example\.com\s+-\s+PENDING/);
  assert.equal((await run(undefined, ['domains', 'attach', 'cli.example.com', 'clishop'], { env })).code, 0);
  assert.equal((await run(undefined, ['domains', 'refresh', 'cli.example.com'], { env })).code, 0);
  const json = await run(undefined, ['domains', 'get', 'cli.example.com', '-o', 'json'], { env });
  assert.equal(JSON.parse(json.stdout).domain.app_id.length, 36);
  assert.equal((await run(undefined, ['domains', 'delete', 'cli.example.com'], { env })).code, 0);
  const missing = await run(undefined, ['domains', 'get', 'nope.example.com'], { env });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /domain not found: nope\.example\.com/);
});

// The core-API behaviours Koyeb's own clients depend on (issue #18), against a real Pier without a runtime:
// dry runs before the app exists (`koyeb apps init`), the account and organization routes (`whoami`,
// `organizations list/switch`, `--organization`), list filters (`ids`, `regions`), services-autocomplete.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestPier, createApp, createService, webDefinition, type TestPier } from '../api/helpers.ts';
import { errorCodeOf } from '../../src/api/error-body.ts';

let t: TestPier;
before(async () => { t = await startTestPier(); });
after(async () => { await t.close(); });

async function counts(): Promise<[number, number]> {
  const apps = await t.req('GET', '/v1/apps?limit=100');
  const services = await t.req('GET', '/v1/services?limit=100');
  return [apps.body.count, services.body.count];
}

test('a dry run with an app id that does not exist validates the definition only and writes nothing', async () => {
  const before = await counts();
  const made = randomUUID();
  const ok = await t.req('POST', '/v1/services?dry_run=true', { app_id: made, name: 'web', definition: webDefinition() });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.service.name, 'web');
  assert.equal(ok.body.service.app_id, made);
  assert.deepEqual(await counts(), before, 'nothing written');
  assert.equal((await t.req('GET', `/v1/services/${ok.body.service.id}`)).status, 404);

  // Validation still runs: a bad definition and a missing secret are 400s naming the field.
  const bad = await t.req('POST', '/v1/services?dry_run=true', { app_id: made, name: 'web', definition: webDefinition({ ports: [{ port: 0, protocol: 'http' }] }) });
  assert.equal(bad.status, 400, JSON.stringify(bad.body));
  const secret = await t.req('POST', '/v1/services?dry_run=true', {
    app_id: made, name: 'web', definition: webDefinition({ env: [{ key: 'K', secret: 'nope' }] }),
  });
  assert.equal(secret.status, 400, JSON.stringify(secret.body));
  assert.equal(secret.body.fields[0].field, 'definition.env[0].secret');
  // Without dry_run the same made-up app is a 404.
  assert.equal((await t.req('POST', '/v1/services', { app_id: made, name: 'web', definition: webDefinition() })).status, 404);
});

test("a dry run naming another organization's app learns nothing about it (no clash with its routes)", async () => {
  const theirs = await createApp(t, 'theirs');
  await createService(t, theirs, 'front', webDefinition());
  const other = await t.otherOrgToken();
  const r = await t.req('POST', '/v1/services?dry_run=true', { app_id: theirs, name: 'front', definition: webDefinition() }, other);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // In our own app the clash with the sibling's route is still reported on a dry run.
  const own = await t.req('POST', '/v1/services?dry_run=true', { app_id: theirs, name: 'back', definition: webDefinition() });
  assert.equal(own.status, 409, JSON.stringify(own.body));
  assert.equal(errorCodeOf(own.body), 'already_exists');
});

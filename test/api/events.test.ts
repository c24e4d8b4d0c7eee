// Traceability through the API on a real Pier (SQLite store): every write records one activity naming the calling
// token, in the write's transaction (a refused write records nothing); event lists filter by id and type and never
// cross organizations; the GC deletes events and activities past PIER_EVENTS_KEEP_DAYS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadHousekeeping } from '../../src/config.ts';
import { collectGarbage } from '../../src/control/gc.ts';
import { appendActivity } from '../../src/store/activities.ts';
import { appendEvent, listEvents } from '../../src/store/events.ts';
import { startTestPier, createApp, createService, type TestPier } from './helpers.ts';

let t: TestPier;
before(async () => { t = await startTestPier(); });
after(async () => { await t.close(); });

const summary = (a: any) => `${a.actor.name} ${a.verb} ${a.object.type} ${a.object.name}`;

test('every API write records one activity naming the calling token; a refused write records none', async () => {
  const made = await t.req('POST', '/v1/credentials', { name: 'ci-deployer' });
  assert.equal(made.status, 200);
  const ci = made.body.credential.token as string;
  const before = (await t.req('GET', '/v1/activities?limit=100')).body.activities.length;

  const appId = (await t.req('POST', '/v1/apps', { name: 'shop' }, ci)).body.app.id as string;
  const svc = (await t.req('POST', '/v1/services', {
    app_id: appId, name: 'web', definition: { type: 'WORKER', docker: { image: 'busybox' }, regions: ['fra'] },
  }, ci)).body.service;
  assert.equal((await t.req('PATCH', `/v1/services/${svc.id}`, {
    definition: { type: 'WORKER', docker: { image: 'busybox:1.36' }, regions: ['fra'] },
  }, ci)).status, 200);
  assert.equal((await t.req('POST', `/v1/services/${svc.id}/pause`, {}, ci)).status, 200);
  const secret = (await t.req('POST', '/v1/secrets', { name: 'db-password', value: 'hunter2' })).body.secret;
  assert.equal((await t.req('POST', `/v1/secrets/${secret.id}/reveal`, {})).status, 200);
  assert.equal((await t.req('DELETE', `/v1/secrets/${secret.id}`)).status, 200);
  // A refused write (a name clash) leaves no trace.
  assert.equal((await t.req('POST', '/v1/apps', { name: 'shop' }, ci)).status, 409);

  const all = await t.req('GET', '/v1/activities?limit=100');
  assert.equal(all.status, 200);
  const mine = all.body.activities.slice(0, all.body.activities.length - before);
  // Newest first, one per write; the actor is the token that made it, its name as given.
  assert.deepEqual(mine.map(summary), [
    'admin (bootstrap) deleted secret db-password',
    'admin (bootstrap) revealed secret db-password',
    'admin (bootstrap) created secret db-password',
    'ci-deployer paused service web',
    'ci-deployer updated service web',
    'ci-deployer created service web',
    'ci-deployer created app shop',
  ]);
  const [deleted, revealed] = mine;
  assert.equal(deleted.object.deleted, true);
  assert.equal(deleted.actor.type, 'user');
  assert.equal(mine[3].actor.id, made.body.credential.id);
  assert.notEqual(deleted.actor.id, made.body.credential.id);
  assert.match(deleted.created_at, /^\d{4}-\d\d-\d\dT/);
  assert.ok(!JSON.stringify(all.body).includes('hunter2'), 'a secret value never reaches an activity');
  assert.equal(revealed.object.id, secret.id);
  assert.equal(mine[4].metadata.version, '2');
  assert.equal(mine[4].metadata.deployment_id, (await t.req('GET', `/v1/services/${svc.id}`)).body.service.latest_deployment_id);

  // Koyeb's `types` filters on the object's kind; paging says has_next.
  const services = await t.req('GET', '/v1/activities?types=service&limit=2');
  assert.deepEqual(services.body.activities.map(summary), ['ci-deployer paused service web', 'ci-deployer updated service web']);
  assert.equal(services.body.has_next, true);
  assert.equal(services.body.limit, 2);
  const rest = await t.req('GET', '/v1/activities?types=service&limit=2&offset=2');
  assert.deepEqual(rest.body.activities.map(summary), ['ci-deployer created service web']);
  assert.equal(rest.body.has_next, false);
  // Pier's object_ids narrows to one object (the CLI's --service).
  assert.equal((await t.req('GET', `/v1/activities?object_ids=${appId}`)).body.activities.length, 1);

  // The "account" is the calling token: what it did.
  const account = await t.req('GET', '/v1/account/activities?limit=100', undefined, ci);
  assert.deepEqual(account.body.activities.map(summary), mine.filter((a: any) => a.actor.name === 'ci-deployer').map(summary));

  // Another organization sees none of it.
  const other = await t.otherOrgToken();
  assert.deepEqual((await t.req('GET', '/v1/activities', undefined, other)).body.activities, []);
});

test('event lists: API writes and their filters by id and type, newest first or oldest first, per organization', async () => {
  const appId = await createApp(t, 'events-app');
  const svc = await createService(t, appId, 'api');
  assert.equal((await t.req('POST', `/v1/services/${svc.id}/pause`, {})).status, 200);

  const events = await t.req('GET', `/v1/service_events?service_id=${svc.id}`);
  assert.equal(events.status, 200);
  assert.deepEqual(events.body.events.map((e: any) => e.type), ['pausing', 'created']);
  const [pausing] = events.body.events;
  assert.equal(pausing.service_id, svc.id);
  assert.equal(pausing.organization_id, t.organizationId);
  assert.equal(pausing.message, 'Service api pause requested');
  assert.deepEqual(Object.keys(pausing).sort(), ['id', 'message', 'metadata', 'organization_id', 'service_id', 'type', 'when']);
  assert.equal(events.body.order, 'desc');

  const asc = await t.req('GET', `/v1/service_events?service_id=${svc.id}&order=asc`);
  assert.deepEqual(asc.body.events.map((e: any) => e.type), ['created', 'pausing']);
  const typed = await t.req('GET', `/v1/service_events?service_id=${svc.id}&types=created`);
  assert.deepEqual(typed.body.events.map((e: any) => e.type), ['created']);

  const deploymentEvents = await t.req('GET', `/v1/deployment_events?deployment_id=${svc.latest_deployment_id}`);
  assert.deepEqual(deploymentEvents.body.events.map((e: any) => [e.type, e.deployment_id]), [['created', svc.latest_deployment_id]]);
  const appEvents = await t.req('GET', `/v1/app_events?app_id=${appId}`);
  assert.deepEqual(appEvents.body.events.map((e: any) => e.type), ['created']);

  const other = await t.otherOrgToken();
  assert.deepEqual((await t.req('GET', `/v1/service_events?service_id=${svc.id}`, undefined, other)).body.events, []);
});

test('PIER_EVENTS_KEEP_DAYS: parsed by config, applied by the GC to events and activities', async () => {
  assert.equal(loadHousekeeping({ PIER_EVENTS_KEEP_DAYS: '30' }).eventsKeepDays, 30);
  assert.equal(loadHousekeeping({}).eventsKeepDays, undefined);
  for (const bad of ['0', 'ninety', '1.5', '40000']) {
    assert.throws(() => loadHousekeeping({ PIER_EVENTS_KEEP_DAYS: bad }), (err: Error) => err instanceof ConfigError && /PIER_EVENTS_KEEP_DAYS/.test(err.message));
  }

  const db = t.pier.store.db;
  const now = Date.parse('2026-06-01T00:00:00Z');
  const daysAgo = (d: number) => new Date(now - d * 86_400_000).toISOString();
  const org = t.organizationId;
  await appendEvent(db, { kind: 'app', resourceId: 'retained-app', organizationId: org, type: 'old', message: 'm', when: daysAgo(100) });
  await appendEvent(db, { kind: 'app', resourceId: 'retained-app', organizationId: org, type: 'recent', message: 'm', when: daysAgo(5) });
  const actor = { id: 'operator', name: 'operator', type: 'operator' };
  await appendActivity(db, { organizationId: org, actor, object: { id: 'retained-app', name: 'x', type: 'app' }, verb: 'created', createdAt: daysAgo(100) });
  await appendActivity(db, { organizationId: org, actor, object: { id: 'retained-app', name: 'x', type: 'app' }, verb: 'updated', createdAt: daysAgo(5) });

  const dir = mkdtempSync(join(tmpdir(), 'pier-trace-gc-'));
  try {
    const run = (eventsKeepDays?: number) => collectGarbage({ db, buildsDir: join(dir, 'b'), archivesDir: join(dir, 'a'), eventsKeepDays, now: () => now });
    // Everything written by the tests above is "in the future" for this clock, so only the two old rows go.
    assert.deepEqual((await run()).trace, { events: 1, activities: 1 });
    const left = await listEvents(db, { kind: 'app', resourceIds: ['retained-app'] }, { limit: 10, offset: 0 });
    assert.deepEqual(left.items.map((e) => e.type), ['recent']);
    const acts = await t.req('GET', '/v1/activities?object_ids=retained-app');
    assert.deepEqual(acts.body.activities.map((a: any) => a.verb), ['updated']);
    assert.deepEqual((await run()).trace, { events: 0, activities: 0 }, 'a second pass removes nothing');
    assert.deepEqual((await run(4)).trace, { events: 1, activities: 1 }, 'a shorter retention takes the rest');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a reconciler status change and its event are written in one transaction; a repeat writes nothing', async () => {
  const { storeState } = await import('../../src/control/store-state.ts');
  const { markService } = await import('../../src/control/marks.ts');
  const appId = await createApp(t, 'atomic-app');
  const svc = await createService(t, appId, 'api');
  const clock = { now: () => new Date() };
  const real = storeState(t.pier.store);
  const service = (await real.getService(svc.id))!;
  const count = async () => (await t.req('GET', `/v1/service_events?service_id=${svc.id}&types=service_healthy`)).body.events.length;

  // The event write fails: the status write is rolled back with it.
  const failing = new Proxy(real, {
    get: (target, key) => (key === 'appendEvent' ? async () => { throw new Error('event store down'); } : Reflect.get(target, key)),
  });
  await assert.rejects(markService({ state: failing, clock }, service, 'HEALTHY', 'service_healthy', 'All good'), /event store down/);
  assert.equal((await real.getService(svc.id))!.status, 'STARTING');
  assert.equal(await count(), 0);

  const healthy = await markService({ state: real, clock }, service, 'HEALTHY', 'service_healthy', 'All good');
  assert.equal((await real.getService(svc.id))!.status, 'HEALTHY');
  assert.equal(await count(), 1);
  // Level-triggered passes rewrite the same status often: nothing is written, no event.
  await markService({ state: real, clock }, healthy, 'HEALTHY', 'service_healthy', 'All good');
  assert.equal(await count(), 1);
  const [event] = (await t.req('GET', `/v1/service_events?service_id=${svc.id}&types=service_healthy`)).body.events;
  assert.deepEqual([event.message, event.metadata], ['All good', { from: 'STARTING', to: 'HEALTHY' }]);
});

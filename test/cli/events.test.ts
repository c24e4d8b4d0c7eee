// `pier events` and `pier activities` in-process against a real Pier (SQLite, no runtime): the level follows the
// flag, names resolve, filters reach the API, and the tables say who did what.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPier, createApp, createService, type TestPier } from '../api/helpers.ts';
import { run } from './harness.ts';

let t: TestPier;
let env: Record<string, string>;
let serviceId: string;
before(async () => {
  t = await startTestPier();
  env = { PIER_URL: t.url, PIER_TOKEN: t.token };
  const appId = await createApp(t, 'cli-trace');
  serviceId = (await createService(t, appId, 'web')).id;
  assert.equal((await t.req('POST', `/v1/services/${serviceId}/pause`, {})).status, 200);
});
after(async () => { await t.close(); });

test('pier events --service APP/SERVICE lists the service events newest first; --reverse and --type filter', async () => {
  const r = await run(undefined, ['events', '--service', 'cli-trace/web'], { env, now: () => Date.now() });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^WHEN\s+AGE\s+TYPE\s+MESSAGE/);
  assert.match(lines[1]!, /pausing\s+Service web pause requested/);
  assert.match(lines[2]!, /created\s+Service web created/);

  const reversed = await run(undefined, ['events', '--service', 'web', '--app', 'cli-trace', '--reverse'], { env, now: () => Date.now() });
  assert.match(reversed.stdout.trim().split('\n')[1]!, /created/);
  const typed = await run(undefined, ['events', '--app', 'cli-trace', '--type', 'nothing-like-this'], { env });
  assert.equal(typed.stdout.trim(), 'No events for this app of type nothing-like-this.');

  const json = await run(undefined, ['events', '--service', serviceId, '-o', 'json'], { env });
  const body = JSON.parse(json.stdout);
  assert.deepEqual(body.events.map((e: any) => [e.type, e.service_id]), [['pausing', serviceId], ['created', serviceId]]);
});

test('pier events without a target is a usage error naming the flags', async () => {
  const r = await run(undefined, ['events'], { env });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--app, --service, --deployment, --regional-deployment or --instance/);
});

test('pier activities shows who changed what; --type and --mine filter', async () => {
  const r = await run(undefined, ['activities'], { env, now: () => Date.now() });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0]!, /^WHEN\s+AGE\s+ACTOR\s+VERB\s+OBJECT\s+NAME\s+ID/);
  assert.match(lines[1]!, /admin \(bootstrap\)\s+paused\s+service\s+web\s/);
  assert.match(lines[3]!, /admin \(bootstrap\)\s+created\s+app\s+cli-trace\s/);

  const apps = await run(undefined, ['activities', '--type', 'app', '-o', 'json'], { env });
  assert.deepEqual(JSON.parse(apps.stdout).activities.map((a: any) => a.object.name), ['cli-trace']);

  const other = await t.otherOrgToken();
  const none = await run(undefined, ['activities', '--mine'], { env: { ...env, PIER_TOKEN: other } });
  assert.equal(none.stdout.trim(), 'No activities.');
  const bad = await run(undefined, ['activities', '--limit', '500'], { env });
  assert.equal(bad.code, 2);
});

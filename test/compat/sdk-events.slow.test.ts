// Koyeb's Python SDK decodes Pier's traceability: ActivityApi (list_activities with `types`, get_account_activities)
// and the event lists of apps, services and deployments; also ComposeApi (twice: idempotent), OrganizationQuotasApi
// and UsagesApi, against a real Pier with no runtime (nothing is started).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { koyebSdkPython, repoRoot } from './clients.ts';
import { startTestPier } from '../api/helpers.ts';

const python = koyebSdkPython();

test('the SDK lists activities and events, composes, reads quotas and usage as its models', { skip: 'error' in python ? `koyeb-sdk absent: ${python.error}` : false }, async () => {
  if ('error' in python) return;
  const t = await startTestPier();
  try {
    const { stdout } = await promisify(execFile)(python.path, [path.join(repoRoot, 'test/compat/sdk_events.py')], {
      env: { ...process.env, PIER_URL: t.url, PIER_TOKEN: t.token }, timeout: 60_000,
    });
    const r = JSON.parse(stdout);
    assert.deepEqual(r.activities.map((a: string[]) => a.slice(0, 4)), [
      ['user', 'updated', 'app', 'sdk-trace-2'],
      ['user', 'created', 'service', 'worker'],
      ['user', 'created', 'app', 'sdk-trace'],
    ]);
    assert.equal(r.activity_has_next, false);
    assert.deepEqual(r.service_activities, [r.service_id]);
    assert.equal(r.account_activities, 3);
    assert.deepEqual(r.app_events.map((e: string[]) => e.slice(0, 2)), [['created', r.app_id], ['updated', r.app_id]]);
    assert.deepEqual(r.service_events, [['created', r.service_id]]);
    assert.deepEqual(r.deployment_events, [['created', r.deployment_id]]);
    assert.deepEqual(r.compose, ['sdk-compose', ['jobs'], true]);
    assert.deepEqual(r.quotas, {});
    assert.equal(r.usage_org, r.organization_id);
    assert.deepEqual(r.usage_details, [0, 0]);
  } finally {
    await t.close();
  }
});

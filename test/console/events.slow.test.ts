// The console's Events tab against a real Pier (SQLite, no runtime: nothing is started) in chromium: the service's,
// its deployment's and its instances' events in one timeline, and who changed the service. The pure merge
// (lib/events.js) is checked in node first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haveBrowser, launchBrowser } from './browser.ts';
import { startTestPier, createApp, createService } from '../api/helpers.ts';
import { appendEvent } from '../../src/store/events.ts';

const events = await import(new URL('../../src/console/static/js/lib/events.js', import.meta.url).href);
const WAIT = { timeout: 20_000 };

test('timeline merges levels newest first, labels deployments by version, finer level first on a tie', () => {
  const rows = events.timeline({
    serviceEvents: [{ id: 's1', when: '2026-01-01T00:00:02Z', type: 'created', message: 'Service web created' }],
    deploymentEvents: [{ id: 'd1', when: '2026-01-01T00:00:03Z', type: 'healthy', message: 'up', deployment_id: 'dep-1' },
      { id: 'd2', when: '2026-01-01T00:00:01Z', type: 'x', message: '', deployment_id: 'abcdef0123456789' }],
    instanceEvents: [{ id: 'i1', when: '2026-01-01T00:00:03Z', type: 'instance_healthy', message: 'ok', instance_id: '1234567890abcdef' }],
    deployments: [{ id: 'dep-1', version: '3' }],
  });
  assert.deepEqual(rows.map((r: any) => [r.id, r.subject]), [
    ['i1', 'instance 12345678'], ['d1', 'deployment v3'], ['s1', 'service'], ['d2', 'deployment abcdef01'],
  ]);
  assert.equal(events.timeline({ serviceEvents: rows.map((r: any) => ({ ...r })), limit: 2 }).length, 2);
  assert.equal(events.activityText({ actor: { name: 'ci' }, verb: 'paused', object: { type: 'service', name: 'web' } }), 'ci paused service web');
});

test('the service page has an Events tab with the timeline and the changes made through the API', {
  skip: haveBrowser() ? false : 'chromium missing: run scripts/setup-browser.sh', timeout: 90_000,
}, async (t) => {
  const pier = await startTestPier();
  const browser = await launchBrowser();
  t.after(async () => { await browser.close(); await pier.close(); });
  const appId = await createApp(pier, 'console-trace');
  const svc = await createService(pier, appId, 'web');
  assert.equal((await pier.req('POST', `/v1/services/${svc.id}/pause`, {})).status, 200);
  // A reconciler's status change, as marks.ts writes it (no runtime runs in this Pier).
  await appendEvent(pier.pier.store.db, {
    kind: 'deployment', resourceId: svc.latest_deployment_id, organizationId: pier.organizationId, type: 'deployment_provisioning',
    message: 'Deployment is provisioning', metadata: { from: 'PENDING', to: 'PROVISIONING' },
  });

  const { page } = browser;
  await page.goto(`${pier.url}/`);
  await page.evaluate((token) => localStorage.setItem('pier.token', token), pier.token);
  await page.goto(`${pier.url}/#/services/${svc.id}?tab=events`);
  const table = page.locator('table.events');
  await table.waitFor(WAIT);
  await page.locator('tr[data-level="deployment"]', { hasText: 'deployment_provisioning' }).waitFor(WAIT);
  const rows = await page.locator('table.events tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent)));
  assert.deepEqual(rows.slice(0, 2), [
    ['deployment v1', 'deployment_provisioning', 'Deployment is provisioning'],
    ['service', 'pausing', 'Service web pause requested'],
  ]);
  // Written in one transaction, possibly within the same millisecond: either order.
  assert.deepEqual(rows.slice(2).sort(), [
    ['deployment v1', 'created', 'Deployment v1 created (create)'],
    ['service', 'created', 'Service web created'],
  ]);
  const changes = await page.locator('ul.activities li').allTextContents();
  assert.equal(changes.length, 2);
  assert.match(changes[0]!, /^admin \(bootstrap\) paused service web/);
  assert.match(changes[1]!, /^admin \(bootstrap\) created service web/);
  assert.equal(await page.locator('[role=tab][data-tab=events]').getAttribute('aria-selected'), 'true');
  assert.deepEqual(browser.errors, []);
});

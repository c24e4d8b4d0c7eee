// The console's volumes page in a real chromium against the in-memory fake API (issue #20): the list with used/total,
// status message and the mounting service; create; grow (a smaller size refused next to its field); a delete the API refuses (409) shown with its message; snapshots
// taken, listed, restored into a new volume and deleted; a volume deleted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startFakeApi } from './fake-api.ts';
import { haveBrowser, launchBrowser } from './browser.ts';

const WAIT = { timeout: 15_000 };

test('volumes page: list, create, refused delete, snapshot take/restore/delete, delete', { skip: haveBrowser() ? false : 'chromium missing: run scripts/setup-browser.sh', timeout: 60_000 }, async (t) => {
  const fake = await startFakeApi({ stageMs: 150 });
  const browser = await launchBrowser();
  const { page } = browser;
  t.after(async () => { await browser.close(); await fake.close(); });
  const at = new Date().toISOString();
  const svc = { id: randomUUID(), name: 'db', app_id: randomUUID(), status: 'HEALTHY', created_at: at, updated_at: at };
  fake.state.services.push(svc);
  fake.state.volumes.push({
    id: randomUUID(), name: 'data', region: 'local', max_size: 1, service_id: svc.id, status: 'PERSISTENT_VOLUME_STATUS_ATTACHED',
    messages: ['Mounted at /data by instance 0badc0de.'], used_bytes: 5e8, total_bytes: 1e9, cur_size: 1, created_at: at, updated_at: at,
  });

  await page.goto(`${fake.url}/`);
  await page.evaluate((tok) => localStorage.setItem('pier.token', tok), fake.token);
  await page.goto(`${fake.url}/#/volumes`);
  const data = page.locator('tr[data-volume=data]');
  await data.waitFor(WAIT);
  assert.equal(await page.locator('nav [data-nav=volumes]').getAttribute('aria-current'), 'page');
  assert.equal(await data.locator('td').nth(1).textContent(), 'local');
  assert.equal(await data.locator('td').nth(2).textContent(), '1 GB');
  assert.equal(await data.locator('[role=meter]').getAttribute('aria-valuenow'), '50');
  assert.match(await data.locator('[data-usage]').textContent() ?? '', /^0\.5 GB of 1 GB \(50 %\)$/);
  assert.match(await data.textContent() ?? '', /ATTACHED.*Mounted at \/data by instance 0badc0de\./);
  assert.equal(await data.locator(`a[href="#/services/${svc.id}"]`).textContent(), 'db');

  // Create one in another region.
  await page.fill('#volume-name', 'cache');
  await page.selectOption('#volume-region', 'edge');
  await page.fill('#volume-size', '2');
  await page.click('form[aria-label="Create volume"] button[type=submit]');
  const cache = page.locator('tr[data-volume=cache]');
  await cache.waitFor(WAIT);
  assert.match(await cache.textContent() ?? '', /edge2 GB.*Ready: 2 GB, no instance mounts it\./);
  const created = fake.state.volumes.find((v) => v.name === 'cache');
  assert.deepEqual([created.region, created.max_size], ['edge', 2]);
  // The same name again: the API's 409 is shown in the form.
  await page.fill('#volume-name', 'cache');
  await page.click('form[aria-label="Create volume"] button[type=submit]');
  await page.getByText('volume cache already exists').waitFor(WAIT);

  // Grow it: a smaller size is the API's 400 next to the field, a larger one is sent.
  await page.selectOption('#grow-volume', created.id);
  await page.fill('#grow-size', '1');
  await page.click('form[aria-label="Grow volume"] button[type=submit]');
  await page.locator('.field-error[data-error-for="max_size"]').filter({ hasText: 'can only grow: the volume has 2 GB, got 1' }).waitFor(WAIT);
  await page.fill('#grow-size', '3');
  await page.click('form[aria-label="Grow volume"] button[type=submit]');
  await cache.locator('td', { hasText: '3 GB' }).first().waitFor(WAIT);
  assert.equal(created.max_size, 3);

  // Deleting the attached volume is refused with the API's message, naming the service.
  await data.locator('button:has-text("Delete")').click();
  await page.locator('dialog [data-confirm]').click();
  await page.getByText(/Cannot delete data: Cannot delete volume data: it is attached to service db/).waitFor(WAIT);
  assert.ok(fake.state.volumes.some((v) => v.name === 'data'), 'still there');

  // Snapshot cache, watch it become AVAILABLE, restore it into a new volume (its region), delete it.
  await page.selectOption('#snapshot-volume', created.id);
  await page.fill('#snapshot-name', 'nightly');
  await page.click('form[aria-label="Take snapshot"] button[type=submit]');
  const nightly = page.locator('tr[data-snapshot=nightly]');
  await nightly.locator('[data-status=AVAILABLE]').waitFor(WAIT);
  assert.match(await nightly.textContent() ?? '', /nightlycacheedge3 GBAVAILABLEavailable: taken while no instance mounted/);
  await nightly.locator('button:has-text("Restore")').click();
  await nightly.locator('input[data-field=name]').fill('cache-c');
  await page.waitForResponse((r) => r.url().includes('/v1/snapshots?'), WAIT); // the 3 s poll: the open form stays
  await page.waitForTimeout(100);
  assert.equal(await nightly.locator('input[data-field=name]').inputValue(), 'cache-c');
  await nightly.locator('input[data-field=name]').fill('cache-copy');
  await nightly.locator('button:has-text("Create volume")').click();
  const copy = page.locator('tr[data-volume=cache-copy]');
  await copy.waitFor(WAIT);
  const restored = fake.state.volumes.find((v) => v.name === 'cache-copy');
  assert.equal(restored.snapshot_id, fake.state.snapshots[0].id);
  assert.equal(restored.region, 'edge');
  await nightly.locator('button:has-text("Delete")').click();
  await page.locator('dialog [data-confirm]').click();
  await page.getByText('No snapshots yet.').waitFor(WAIT);
  assert.equal(fake.state.snapshots.length, 0);

  // A detached volume is deleted.
  await cache.locator('button:has-text("Delete")').click();
  await page.locator('dialog [data-confirm]').click();
  await cache.waitFor({ state: 'detached', ...WAIT });
  assert.deepEqual(fake.state.volumes.map((v) => v.name).sort(), ['cache-copy', 'data']);
  assert.deepEqual(browser.errors, []);
});

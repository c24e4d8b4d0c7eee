// Drives the console in a real chromium against the in-memory fake API: sign in, create a service (with field
// errors first), watch it become HEALTHY, open its URL, logs, metrics, edit, diff, roll back, pause, secrets, tokens.
// Set PIER_FAKE_SCREENSHOTS=<dir> to save screenshots of the fake pages there (docs/screenshots come from the real
// run in console.slow.test.ts, with PIER_SCREENSHOTS).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startFakeApi } from './fake-api.ts';
import { haveBrowser, launchBrowser } from './browser.ts';

const shots = process.env.PIER_FAKE_SCREENSHOTS;
const WAIT = { timeout: 20_000 };

async function shot(page: Page, name: string) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

test('console against the fake API', { skip: haveBrowser() ? false : 'chromium missing: run scripts/setup-browser.sh', timeout: 180_000 }, async (t) => {
  const fake = await startFakeApi();
  const browser = await launchBrowser();
  const { page } = browser;
  t.after(async () => { await browser.close(); await fake.close(); });

  await t.test('sign in rejects a bad token and keeps a good one', async () => {
    await page.goto(`${fake.url}/`);
    await page.waitForURL(/#\/signin/);
    await page.fill('#token', 'wrong');
    await page.click('button[type=submit]');
    await page.getByText('That token was not accepted.').waitFor(WAIT);
    await shot(page, 'signin');
    await page.fill('#token', fake.token);
    await page.click('button[type=submit]');
    await page.getByText('No apps yet').waitFor(WAIT);
    assert.equal(await page.evaluate(() => localStorage.getItem('pier.token')), fake.token);
  });

  await t.test('the create form shows the API field errors next to their inputs', async () => {
    await page.click('text=Create your first service');
    await page.waitForSelector('#docker-image');
    await page.fill('#app-name', 'shop');
    await page.fill('#service-name', 'web');
    await page.fill('[data-field="definition.ports[0].port"]', '0');
    await page.click('button[type=submit]');
    const imageError = page.locator('.field-error[data-error-for="definition.docker.image"]');
    await imageError.waitFor(WAIT);
    assert.equal(await imageError.textContent(), 'cannot be blank');
    // The error sits in the same field wrapper as the input it names.
    assert.equal(await page.locator('.field:has(#docker-image) .field-error').count(), 1);
    const port = page.locator('[data-field="definition.ports[0].port"]');
    assert.equal(await port.getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('.field:has([data-field="definition.ports[0].port"]) .field-error').textContent() ?? '', /between 1 and 65535/);
    await shot(page, 'service-form-errors');
    // Fix the image and the port; the route still points at 8000, which the API rejects on routes[0].port.
    await page.fill('#docker-image', 'nginx:1');
    await port.fill('8080');
    await page.click('button[type=submit]');
    await page.locator('.field-error[data-error-for="definition.routes[0].port"]').waitFor(WAIT);
    assert.equal(await page.locator('.field-error[data-error-for="definition.docker.image"]').count(), 0);
    await page.fill('[data-field="definition.routes[0].port"]', '8080');
    await page.click('text=Add variable');
    await page.fill('[data-field="definition.env[0].key"]', 'GREETING');
    await page.fill('[data-field="definition.env[0].value"]', 'hi');
    await page.click('button[type=submit]');
    await page.waitForURL(/#\/services\/[0-9a-f-]+/, WAIT);
    const svc = fake.state.services.find((s) => s.name === 'web');
    assert.ok(svc, 'service created');
    const dep = fake.state.deployments.find((d) => d.service_id === svc.id);
    assert.deepEqual(dep.definition.ports, [{ port: 8080, protocol: 'http' }]);
    assert.deepEqual(dep.definition.routes, [{ path: '/', port: 8080 }]);
    assert.deepEqual(dep.definition.env, [{ key: 'GREETING', value: 'hi' }]);
    assert.deepEqual(dep.definition.regions, ['local']);
    assert.deepEqual(dep.definition.instance_types, [{ type: 'nano' }]);
    assert.equal(dep.definition.name, 'web');
  });

  await t.test('the service becomes HEALTHY and its public URL answers', async () => {
    await page.locator('.service-head .badge[data-status="HEALTHY"]').waitFor(WAIT);
    await page.locator('[data-instance] .badge[data-status="HEALTHY"]').waitFor(WAIT);
    const link = page.locator('[data-public-url]');
    const href = await link.getAttribute('href');
    const edgePort = new URL(fake.edgeUrl).port;
    assert.equal(href, `http://shop-acme.pier.localhost:${edgePort}/`);
    await shot(page, 'service-overview');
    const tab = await browser.context.newPage();
    await tab.goto(href!);
    assert.match(await tab.locator('body').textContent() ?? '', /hello from shop-acme\.pier\.localhost/);
    await tab.close();
  });

  await t.test('logs stream live and can be searched', async () => {
    await page.click('[role=tab][data-tab=logs]');
    await page.locator('.logs .line', { hasText: 'listening on port 8080' }).waitFor(WAIT);
    await page.getByText('● Live').waitFor(WAIT);
    await page.locator('.log-controls input[type=checkbox]').uncheck();
    await page.fill('[data-log-search]', 'instance created');
    await page.click('.log-controls button[type=submit]');
    await page.locator('.logs mark', { hasText: 'Instance created' }).waitFor(WAIT);
    assert.equal(await page.locator('.logs .line', { hasText: 'listening' }).count(), 0);
    await shot(page, 'service-logs');
  });

  await t.test('metrics render as charts', async () => {
    await page.click('[role=tab][data-tab=metrics]');
    await page.locator('[data-chart=cpu] .uplot canvas').waitFor(WAIT);
    await page.locator('[data-chart=latency] .uplot canvas').waitFor(WAIT);
    await page.locator('[data-chart=instances] .uplot').waitFor(WAIT);
    await page.locator('[data-chart=transfer] .uplot').waitFor(WAIT);
    await shot(page, 'service-metrics');
  });

  await t.test('an edit deploys v2 and shows its build in progress', async () => {
    fake.hold(true);
    await page.click('a:has-text("Edit")');
    await page.waitForSelector('#docker-image');
    assert.equal(await page.inputValue('#docker-image'), 'nginx:1');
    assert.equal(await page.inputValue('[data-field="definition.env[0].value"]'), 'hi');
    await page.fill('#docker-image', 'nginx:2');
    await page.click('button[type=submit]');
    await page.waitForURL(/#\/services\/[0-9a-f-]+(\?|$)/, WAIT);
    await page.getByText('Deploying v2').waitFor(WAIT);
    fake.step();
    await page.locator('.logs .line', { hasText: 'Pulling nginx:2' }).waitFor(WAIT);
    await page.locator('[data-stage=build] .badge[data-status=RUNNING]').waitFor(WAIT);
    await shot(page, 'service-deploying');
    fake.hold(false);
    await page.locator('.card[aria-label="Active deployment"]', { hasText: 'v2' }).waitFor(WAIT);
  });

  await t.test('deployment history diffs two versions and rolls back', async () => {
    await page.click('[role=tab][data-tab=deployments]');
    const rows = page.locator('table.deployments tbody tr');
    await rows.nth(1).waitFor(WAIT);
    assert.equal(await rows.count(), 2);
    await page.locator('tr[data-version="1"] input[type=checkbox]').check();
    await page.locator('tr[data-version="2"] input[type=checkbox]').check();
    await page.click('text=Compare selected');
    await page.locator('.diff-lines .add', { hasText: 'docker.image: "nginx:2"' }).waitFor(WAIT);
    assert.equal(await page.locator('.diff-lines .del', { hasText: '"nginx:1"' }).count(), 1);
    // Only the image changed: an edit keeps the definition's name and everything else.
    assert.equal(await page.locator('.diff-lines span').count(), 2);
    await shot(page, 'service-deployments');
    await page.locator('tr[data-version="1"] button', { hasText: 'Roll back' }).click();
    await page.locator('dialog [data-confirm]').click();
    await page.locator('tr[data-version="3"]').waitFor(WAIT);
    await page.locator('tr[data-version="3"] .pill-ok').waitFor(WAIT);
    const v3 = fake.state.deployments.find((d) => d.version === '3');
    assert.equal(v3.definition.docker.image, 'nginx:1');
    assert.match(await page.locator('tr[data-version="3"]').textContent() ?? '', /rollback to/);
  });

  await t.test('pause and resume', async () => {
    await page.click('.service-head button:has-text("Pause")');
    await page.locator('.service-head .badge[data-status="PAUSED"]').waitFor(WAIT);
    await page.click('.service-head button:has-text("Resume")');
    await page.locator('.service-head .badge[data-status="HEALTHY"]').waitFor(WAIT);
  });

  await t.test('a TCP proxy port added in the form shows its public endpoint on the overview', async () => {
    await page.click('a:has-text("Edit")');
    await page.waitForSelector('#docker-image');
    await page.click('text=Add port');
    await page.fill('[data-field="definition.ports[1].port"]', '5432');
    await page.selectOption('[data-field="definition.ports[1].protocol"]', 'tcp');
    await page.click('text=Add TCP proxy port');
    await page.fill('[data-field="definition.proxy_ports[0].port"]', '5432');
    await page.click('button[type=submit]');
    await page.waitForURL(/#\/services\/[0-9a-f-]+(\?|$)/, WAIT);
    const shown = page.locator('.card[aria-label="Active deployment"] [data-tcp-proxy="5432"]');
    await shown.waitFor(WAIT);
    assert.equal((await shown.textContent())?.trim(), 'shop-pier.localhost:20000 → port 5432');
    const sent = fake.state.deployments.at(-1).definition;
    assert.deepEqual([sent.ports[1], sent.proxy_ports], [{ port: 5432, protocol: 'tcp' }, [{ port: 5432, protocol: 'tcp' }]]);
  });

  await t.test('the apps list shows the live status and messages', async () => {
    await page.click('nav a[data-nav=apps]');
    await page.locator('[data-app=shop] [data-service=web] .badge[data-status="HEALTHY"]').waitFor(WAIT);
    await shot(page, 'apps');
  });

  await t.test('secrets: create, reveal, delete', async () => {
    await page.click('nav a[data-nav=secrets]');
    await page.fill('#secret-name', 'db-url');
    await page.fill('#secret-value', 'postgres://u:p@db/x');
    await page.click('button:has-text("Create secret")');
    const row = page.locator('tr[data-secret="db-url"]');
    await row.waitFor(WAIT);
    assert.equal(await row.locator('.secret-value').textContent(), '••••••••');
    await row.locator('button:has-text("Reveal")').click();
    await row.locator('.secret-value', { hasText: 'postgres://u:p@db/x' }).waitFor(WAIT);
    await shot(page, 'secrets');
    await row.locator('button:has-text("Delete")').click();
    await page.locator('dialog [data-confirm]').click();
    await page.getByText('No secrets yet.').waitFor(WAIT);
    assert.equal(fake.state.secrets.length, 0);
  });

  await t.test('API tokens say clearly when the server lacks /v1/credentials', async () => {
    await page.click('nav a[data-nav=tokens]');
    await page.getByText('API tokens are not available on this Pier server yet.').waitFor(WAIT);
    assert.match(await page.locator('.notice').textContent() ?? '', /501 not_implemented/);
    assert.equal(await page.locator('form[aria-label="Create API token"]').isHidden(), true);
    await shot(page, 'tokens');
  });

  await t.test('delete the service', async () => {
    await page.click('nav a[data-nav=apps]');
    await page.click('[data-service=web] a');
    await page.click('.service-head button:has-text("Delete")');
    await page.locator('dialog [data-confirm]').click();
    await page.waitForURL(/#\/$/, WAIT);
    assert.equal(fake.state.services.length, 0);
  });

  assert.deepEqual(browser.errors, []);
});

test('API tokens page lists, creates (shown once) and revokes when credentials exist', { skip: haveBrowser() ? false : 'chromium missing', timeout: 60_000 }, async (t) => {
  const fake = await startFakeApi({ credentials: true });
  const browser = await launchBrowser();
  const { page } = browser;
  t.after(async () => { await browser.close(); await fake.close(); });
  await page.goto(`${fake.url}/`);
  await page.evaluate((tok) => localStorage.setItem('pier.token', tok), fake.token);
  await page.goto(`${fake.url}/#/tokens`);
  await page.getByText('No tokens.').waitFor(WAIT);
  await page.fill('#token-name', 'ci');
  await page.click('button:has-text("Create token")');
  const once = page.locator('[data-token-value]');
  await once.waitFor(WAIT);
  assert.equal(await once.textContent(), fake.state.credentials[0].token);
  await page.locator('tr[data-token=ci] button:has-text("Revoke")').click();
  await page.locator('dialog [data-confirm]').click();
  await page.getByText('No tokens.').waitFor(WAIT);
  assert.equal(fake.state.credentials.length, 0);
  assert.deepEqual(browser.errors, []);
});

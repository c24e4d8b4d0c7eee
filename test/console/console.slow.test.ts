// End to end through a real Pier (startPier from src/main.ts) in a real chromium: sign in, create a service from an
// image, watch it become HEALTHY, open its public URL, read its logs, deploy a change and roll back.
// Skips (saying why) until src/main.ts and the test image helper exist; src/console's UI logic is also covered
// against a fake API in ui-fake.slow.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haveBrowser, launchBrowser } from './browser.ts';

const root = new URL('../../', import.meta.url).pathname;
const TOKEN = 'pier-console-e2e-token';
const SLOW = { timeout: 120_000 };

function whyNot(): string | false {
  if (!haveBrowser()) return 'chromium missing: run scripts/setup-browser.sh';
  for (const f of ['src/main.ts', 'src/config.ts', 'src/runtime/testing/images.ts']) {
    if (!existsSync(join(root, f))) return `${f} is not there yet`;
  }
  return false;
}

test('console drives a real Pier end to end', { skip: whyNot(), timeout: 600_000 }, async (t) => {
  const { loadConfig } = await import(join(root, 'src/config.ts'));
  const { startPier } = await import(join(root, 'src/main.ts'));
  const { ensureTestImage } = await import(join(root, 'src/runtime/testing/images.ts'));
  const image: string = (await ensureTestImage()) ?? 'pier-test/busybox:1';
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-console-e2e-'));
  const config = loadConfig(
    { 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', domain: 'pier.localhost', token: TOKEN },
    { ...process.env, PIER_TOKEN: TOKEN },
  );
  const pier = await startPier(config);
  const browser = await launchBrowser();
  const { page } = browser;
  t.after(async () => {
    await browser.close();
    await pier.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  await page.goto(`${pier.apiUrl}/`);
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.locator('a:has-text("Create")').first().click();
  await page.waitForSelector('#docker-image');
  await page.fill('#app-name', 'e2e');
  await page.fill('#service-name', 'web');
  await page.fill('#docker-image', image);
  await page.click('button[type=submit]');
  await page.waitForURL(/#\/services\/[0-9a-f-]+/, SLOW);

  await page.locator('.service-head .badge[data-status="HEALTHY"]').waitFor(SLOW);
  const href = await page.locator('[data-public-url]').getAttribute('href', SLOW);
  assert.ok(href, 'a public URL is shown');
  const tab = await browser.context.newPage();
  const reply = await tab.goto(href);
  assert.equal(reply?.status(), 200, `GET ${href}`);
  await tab.close();

  await page.click('[role=tab][data-tab=logs]');
  await page.locator('.logs .line').first().waitFor(SLOW);

  await page.click('a:has-text("Edit")');
  await page.waitForSelector('#docker-image');
  await page.click('text=Add variable');
  await page.fill('[data-field="definition.env[0].key"]', 'GREETING');
  await page.fill('[data-field="definition.env[0].value"]', 'hello');
  await page.click('button[type=submit]');
  await page.locator('.card[aria-label="Active deployment"]', { hasText: 'v2' }).waitFor(SLOW);

  await page.click('[role=tab][data-tab=deployments]');
  await page.locator('tr[data-version="1"] button', { hasText: 'Roll back' }).click();
  await page.locator('dialog [data-confirm]').click();
  await page.locator('tr[data-version="3"] .pill-ok').waitFor(SLOW);
  await page.locator('tr[data-version="3"] .badge[data-status="HEALTHY"]').waitFor(SLOW);

  assert.deepEqual(browser.errors, []);
});

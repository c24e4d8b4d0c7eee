// End to end through a real Pier (startPier from src/main.ts, Docker or process runtime, real edge) in a real
// chromium: sign in, create a service from the test image, watch it become HEALTHY, open its public URL, read its
// logs, deploy a change, roll back, and see metrics charts drawn from the samples Pier recorded.
// Set PIER_SCREENSHOTS=<dir> (docs/screenshots in the repo) to save screenshots of the main pages on the way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { haveBrowser, launchBrowser } from './browser.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';

const root = new URL('../../', import.meta.url).pathname;
const TOKEN = 'pier-console-e2e-token';
const SLOW = { timeout: 120_000 };
const shots = process.env.PIER_SCREENSHOTS;

function whyNot(): string | false {
  if (!haveBrowser()) return 'chromium missing: run scripts/setup-browser.sh';
  for (const f of ['src/main.ts', 'src/config.ts', 'src/runtime/testing/images.ts']) {
    if (!existsSync(join(root, f))) return `${f} is not there yet`;
  }
  return false;
}

async function shot(page: Page, name: string): Promise<void> {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  // Let charts and badges settle after the last DOM change; toasts would hide part of the page.
  await page.waitForTimeout(300);
  await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
  await page.screenshot({ path: join(shots, `${name}.png`) });
}

/** GET through the edge with the app's Host header; resolves to the status (0 when the request failed). */
function viaEdge(edgeUrl: string, href: string): Promise<number> {
  const edge = new URL(edgeUrl);
  const app = new URL(href);
  return new Promise((resolve) => {
    const req = http.get({ host: edge.hostname, port: edge.port, path: app.pathname, headers: { host: app.host }, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

/** Sends a varying trickle of requests through the edge until stopped (or 4 minutes pass), so charts have traffic. */
function trafficLoop(edgeUrl: string, href: string): { stop(): Promise<void> } {
  let running = true;
  const done = (async () => {
    const deadline = Date.now() + 240_000;
    for (let i = 0; running && Date.now() < deadline; i++) {
      await Promise.all(Array.from({ length: 1 + (i % 6) }, () => viaEdge(edgeUrl, href)));
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return { async stop() { running = false; await done; } };
}

test('console drives a real Pier end to end', { skip: whyNot(), timeout: 600_000 }, async (t) => {
  const { loadConfig } = await import(join(root, 'src/config.ts'));
  const { startPier } = await import(join(root, 'src/main.ts'));
  const { ensureTestImage } = await import(join(root, 'src/runtime/testing/images.ts'));
  const image: string = (await ensureTestImage()) ?? 'pier-test/busybox:1';
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-console-e2e-'));
  const config = loadConfig(
    { 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', domain: 'pier.localhost', token: TOKEN },
    // Sample every second so the charts have points within the test's minute or two.
    { ...process.env, PIER_TOKEN: TOKEN, PIER_METRICS_INTERVAL: '1s' },
  );
  const problems: string[] = [];
  const pier = await startPier(config, { log: (line: string) => { if (/metrics/.test(line) && problems.length < 20) problems.push(line); } });
  const browser = await launchBrowser();
  const { page } = browser;
  let traffic: { stop(): Promise<void> } | undefined;
  t.after(async () => {
    await traffic?.stop();
    await browser.close();
    await pier.close();
    await removeInstallationWorkloads(dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const api = async (path: string): Promise<any> => {
    const res = await fetch(pier.apiUrl + path, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200, `GET ${path}`);
    return res.json();
  };
  const info = await api('/v1/pier/info');

  await page.goto(`${pier.apiUrl}/`);
  await page.waitForSelector('#token');
  await shot(page, 'signin');
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.locator('a:has-text("Create")').first().click();
  await page.waitForSelector('#docker-image');
  await page.fill('#app-name', 'e2e');
  await page.fill('#service-name', 'web');
  // The API's field errors land next to their inputs before anything is created.
  await page.click('button[type=submit]');
  await page.locator('.field-error[data-error-for="definition.docker.image"]').waitFor({ timeout: 20_000 });
  await shot(page, 'service-form-errors');
  await page.fill('#docker-image', image);
  await page.click('button[type=submit]');
  await page.waitForURL(/#\/services\/[0-9a-f-]+/, SLOW);
  const serviceId = /#\/services\/([0-9a-f-]+)/.exec(page.url())![1]!;

  await page.locator('.service-head .badge[data-status="HEALTHY"]').waitFor(SLOW);
  await page.locator('[data-instance] .badge[data-status="HEALTHY"]').waitFor(SLOW);
  const href = await page.locator('[data-public-url]').getAttribute('href', SLOW);
  assert.ok(href, 'a public URL is shown');
  assert.equal(new URL(href).port, new URL(info.edge_url).port, 'the public URL goes through the edge');
  await shot(page, 'service-overview');
  const tab = await browser.context.newPage();
  const reply = await tab.goto(href);
  assert.equal(reply?.status(), 200, `GET ${href}`);
  await tab.close();
  traffic = trafficLoop(info.edge_url, href);

  await page.click('[role=tab][data-tab=logs]');
  await page.locator('.logs .line').first().waitFor(SLOW);
  await shot(page, 'service-logs');

  await page.click('a:has-text("Edit")');
  await page.waitForSelector('#docker-image');
  await page.click('text=Add variable');
  await page.fill('[data-field="definition.env[0].key"]', 'GREETING');
  await page.fill('[data-field="definition.env[0].value"]', 'hello');
  await page.click('button[type=submit]');
  await page.waitForURL(/#\/services\/[0-9a-f-]+(\?|$)/, SLOW);
  await shot(page, 'service-deploying');
  await page.locator('.card[aria-label="Active deployment"]', { hasText: 'v2' }).waitFor(SLOW);

  await page.click('[role=tab][data-tab=deployments]');
  await page.locator('tr[data-version="1"] button', { hasText: 'Roll back' }).click();
  await page.locator('dialog [data-confirm]').click();
  await page.locator('tr[data-version="3"] .pill-ok').waitFor(SLOW);
  await page.locator('tr[data-version="3"] .badge[data-status="HEALTHY"]').waitFor(SLOW);
  await shot(page, 'service-deployments');

  // Wait (bounded) until the sampler has recorded traffic, latency and instance usage, then let the console chart it.
  const q = (name: string) => `/v1/streams/metrics?service_id=${serviceId}&name=${name}&step=10s&start=${new Date(Date.now() - 15 * 60e3).toISOString()}`;
  const wantPoints = shots ? 8 : 2;
  const deadline = Date.now() + 90_000;
  for (;;) {
    const [rps, p99, cpu, mem] = await Promise.all(['HTTP_THROUGHPUT', 'HTTP_RESPONSE_TIME_99P', 'CPU_TOTAL_PERCENT', 'MEM_RSS'].map((n) => api(q(n))));
    const busy = (rps.metrics[0]?.samples ?? []).filter((s: any) => s.value > 0).length;
    const cpuPoints = Math.max(0, ...cpu.metrics.map((m: any) => m.samples.length));
    if (busy >= wantPoints && p99.metrics[0]?.samples.length >= 2 && cpuPoints >= 2 && mem.metrics.some((m: any) => m.samples.some((s: any) => s.value > 0))) {
      assert.ok(cpu.metrics.every((m: any) => m.labels.instance_id), 'CPU is per instance');
      break;
    }
    const counts = { busy, p99: p99.metrics[0]?.samples.length, cpu: cpu.metrics.map((m: any) => m.samples.length), mem: mem.metrics.map((m: any) => m.samples.length) };
    assert.ok(Date.now() < deadline, `metrics not recorded in time: ${JSON.stringify(counts)} ${problems.join('\n')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
  await page.click('[role=tab][data-tab=metrics]');
  await page.selectOption('select[aria-label="Time range"]', '15m');
  for (const chart of ['requests', 'latency', 'instances', 'cpu', 'memory', 'transfer']) {
    await page.locator(`[data-chart=${chart}] .uplot canvas`).waitFor(SLOW);
  }
  // Every chart drew from the recorded samples: none says it has no data, and no fetch failed.
  assert.equal(await page.locator('.charts .empty-chart').count(), 0);
  assert.equal(await page.locator('.notice').count(), 0);
  await shot(page, 'service-metrics');
  await traffic.stop();

  await page.click('nav a[data-nav=apps]');
  await page.locator('[data-app=e2e] [data-service=web] .badge[data-status="HEALTHY"]').waitFor(SLOW);
  await shot(page, 'apps');
  await page.click('nav a[data-nav=tokens]');
  await page.locator('main h1', { hasText: 'API tokens' }).waitFor(SLOW);
  await shot(page, 'tokens');
  await page.click('nav a[data-nav=secrets]');
  await page.fill('#secret-name', 'db-url');
  await page.fill('#secret-value', 'postgres://u:p@db/x');
  await page.click('button:has-text("Create secret")');
  await page.locator('tr[data-secret="db-url"]').waitFor(SLOW);
  await shot(page, 'secrets');

  assert.deepEqual(browser.errors, []);
});

// handleConsole: serves the console's files and the charting library, and nothing else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleConsole, resolveConsolePath } from '../../src/console/serve.ts';

async function withServer(fn: (base: string) => Promise<void>) {
  const server = http.createServer((req, res) => {
    if (!handleConsole(req, res)) res.writeHead(404, { 'x-handled': 'no' }).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

test('serves the page, its modules and styles with the right types', async () => {
  await withServer(async (base) => {
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="\/js\/app.js">/);
    const js = await fetch(`${base}/js/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/);
    const css = await fetch(`${base}/style.css`);
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
  });
});

test('serves uPlot from node_modules under /vendor', async () => {
  await withServer(async (base) => {
    const js = await fetch(`${base}/vendor/uplot.esm.js`);
    assert.equal(js.status, 200);
    assert.match(await js.text(), /export \{ uPlot as default \}/);
    const css = await fetch(`${base}/vendor/uplot.min.css`);
    assert.equal(css.status, 200);
    assert.equal((await fetch(`${base}/vendor/package.json`)).headers.get('x-handled'), 'no');
  });
});

test('client-side routes get the page; missing files and other methods are left to the caller', async () => {
  await withServer(async (base) => {
    assert.match((await fetch(`${base}/services`)).headers.get('content-type') ?? '', /^text\/html/);
    assert.equal((await fetch(`${base}/nope.js`)).headers.get('x-handled'), 'no');
    assert.equal((await fetch(`${base}/`, { method: 'POST' })).headers.get('x-handled'), 'no');
    const head = await fetch(`${base}/style.css`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });
});

test('paths cannot escape the static folder', () => {
  assert.equal(resolveConsolePath('/../serve.ts'), undefined);
  assert.equal(resolveConsolePath('/%2e%2e/serve.ts'), undefined);
  assert.equal(resolveConsolePath('/js/../../serve.ts'), undefined);
  assert.equal(resolveConsolePath('/%00.js'), undefined);
  assert.equal(resolveConsolePath('/%E0%A4%A.js'), undefined);
  assert.ok(resolveConsolePath('/js/app.js')?.endsWith('/static/js/app.js'));
});

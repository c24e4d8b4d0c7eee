// Issue #21 item 4: the console edits a service whatever its source. For each source a service can have (an uploaded
// directory from `pier deploy`, with a Dockerfile or buildpacks; a function from `pier function deploy`; a push to
// Pier's git remote; a Docker image) chromium opens the edit form, checks it shows that source, changes one env var,
// saves, and the fake API must receive a definition with the same source, byte for byte, and the new env.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { functionDefinition } from '../../src/build/functions/definition.ts';
import { startFakeApi } from './fake-api.ts';
import { haveBrowser, launchBrowser } from './browser.ts';

const WAIT = { timeout: 20_000 };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

const web = { type: 'WEB', ports: [{ port: 8000, protocol: 'http' }], routes: [{ path: '/', port: 8000 }], regions: ['local'], instance_types: [{ type: 'nano' }], scalings: [{ min: 1, max: 1 }] };

/** The stored definitions, as the CLI and the git remote write them; `kind` is the radio the form must select. */
const CASES: { name: string; kind: string; label: string; sourceKey: 'archive' | 'git' | 'docker'; definition: Json }[] = [
  {
    name: 'dir-dockerfile', kind: 'archive', label: 'Uploaded directory', sourceKey: 'archive',
    definition: { ...web, name: 'dir-dockerfile', archive: { id: randomUUID(), docker: { dockerfile: 'Dockerfile.prod', target: 'run' } }, env: [{ key: 'GREETING', value: 'hi' }] },
  },
  {
    name: 'dir-buildpack', kind: 'archive', label: 'Uploaded directory', sourceKey: 'archive',
    definition: { ...web, name: 'dir-buildpack', archive: { id: randomUUID(), buildpack: { run_command: 'node server.js' } }, env: [{ key: 'GREETING', value: 'hi' }] },
  },
  {
    name: 'fn', kind: 'archive', label: 'Function', sourceKey: 'archive',
    definition: { ...functionDefinition({ name: 'fn', source: { archive: { id: randomUUID(), buildpack: {} } }, env: { GREETING: 'hi' } }), regions: ['local'] },
  },
  {
    name: 'pushed', kind: 'git', label: 'Git repository', sourceKey: 'git',
    definition: { ...web, name: 'pushed', git: { repository: '/var/lib/pier/git/0b7c.git', branch: 'main', sha: 'a'.repeat(40), buildpack: {} }, env: [{ key: 'GREETING', value: 'hi' }] },
  },
  {
    name: 'img', kind: 'docker', label: 'Docker image', sourceKey: 'docker',
    definition: { ...web, name: 'img', docker: { image: 'nginx:1.27', command: 'nginx', args: ['-g', 'daemon off;'] }, env: [{ key: 'GREETING', value: 'hi' }] },
  },
];

test('the console edits every source type and keeps the source', { skip: haveBrowser() ? false : 'chromium missing: run scripts/setup-browser.sh', timeout: 120_000 }, async (t) => {
  const fake = await startFakeApi({ stageMs: 50 });
  const browser = await launchBrowser();
  const { page } = browser;
  t.after(async () => { await browser.close(); await fake.close(); });

  const call = async (method: string, path: string, body?: Json) => {
    const res = await fetch(`${fake.url}${path}`, { method, headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    assert.equal(res.status, 200, `${method} ${path}: ${text}`);
    return JSON.parse(text) as Json;
  };
  // The previous save's toast covers the submit button for a few seconds; playwright would wait it out.
  const clearToasts = () => page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
  const { app } = await call('POST', '/v1/apps', { name: 'shop' });
  await page.goto(`${fake.url}/`);
  await page.evaluate((token) => localStorage.setItem('pier.token', token), fake.token);

  for (const c of CASES) {
    await t.test(`${c.name}: ${c.label}`, async () => {
      const { service } = await call('POST', '/v1/services', { app_id: app.id, name: c.name, definition: c.definition });
      const before = fake.state.deployments.filter((d) => d.service_id === service.id).length;
      await page.goto(`${fake.url}/#/services/${service.id}/edit`);
      await page.getByRole('heading', { name: `Edit ${c.name}` }).waitFor(WAIT);

      // The form shows the real source: its radio is selected and only its fieldset is enabled.
      const radio = page.locator(`input[data-source="${c.kind}"]`);
      assert.equal(await radio.isChecked(), true, `${c.kind} selected`);
      assert.match(await page.locator(`label:has(input[data-source="${c.kind}"])`).textContent() ?? '', new RegExp(c.label));
      for (const other of ['archive', 'docker', 'git']) {
        const set = page.locator(`fieldset.source[data-field="definition.${other}"]`);
        if (await set.count() === 0) continue;
        assert.equal(await set.evaluate((el: HTMLFieldSetElement) => el.disabled), other !== c.kind, `${other} fieldset disabled unless chosen`);
      }
      if (c.kind === 'archive') assert.equal(await page.locator('#archive-id').textContent(), c.definition.archive.id);
      if (c.kind === 'docker') assert.equal(await page.inputValue('#docker-image'), 'nginx:1.27');
      if (c.kind === 'git') assert.equal(await page.inputValue('#git-repository'), c.definition.git.repository);

      const value = page.locator('[data-field="definition.env[0].value"]');
      assert.equal(await value.inputValue(), 'hi');
      await value.fill('hello');
      await clearToasts();
      await page.click('button[type=submit]');
      await page.waitForURL(new RegExp(`#/services/${service.id}(\\?|$)`), WAIT);
      // The overview names the source too.
      const overviewSource = { 'dir-dockerfile': 'uploaded directory (archive', 'dir-buildpack': 'uploaded directory (archive', fn: 'function (archive', pushed: 'git /var/lib/pier/git/0b7c.git@main', img: 'image nginx:1.27' }[c.name]!;
      await page.locator('dd', { hasText: overviewSource }).first().waitFor(WAIT);

      const mine = fake.state.deployments.filter((d) => d.service_id === service.id).sort((a, b) => Number(a.version) - Number(b.version));
      assert.equal(mine.length, before + 1, 'saving wrote one new deployment');
      const sent = mine.at(-1).definition;
      assert.deepEqual(sent[c.sourceKey], c.definition[c.sourceKey], 'the source is sent as stored');
      for (const other of ['archive', 'git', 'docker'].filter((k) => k !== c.sourceKey)) assert.equal(sent[other], undefined, `no ${other} source`);
      assert.deepEqual(sent.env, [{ key: 'GREETING', value: 'hello' }]);
      assert.deepEqual(sent.ports, c.definition.ports);
      assert.deepEqual(sent.routes, c.definition.routes);
      assert.deepEqual(sent.scalings[0].min, c.definition.scalings[0].min);
    });
  }

  await t.test('a directory\'s build settings are editable and the archive id stays', async () => {
    const c = CASES[1]!;
    const service = fake.state.services.find((s) => s.name === c.name);
    await page.goto(`${fake.url}/#/services/${service.id}/edit`);
    await page.locator('#archive-run-command').waitFor(WAIT);
    assert.equal(await page.inputValue('#archive-run-command'), 'node server.js');
    await page.fill('#archive-run-command', 'node dist/server.js');
    await page.fill('#archive-build-command', 'npm run build');
    await clearToasts();
    await page.click('button[type=submit]');
    await page.waitForURL(new RegExp(`#/services/${service.id}(\\?|$)`), WAIT);
    const latest = fake.state.deployments.find((d) => d.id === service.latest_deployment_id);
    assert.deepEqual(latest.definition.archive, { id: c.definition.archive.id, buildpack: { run_command: 'node dist/server.js', build_command: 'npm run build' } });
  });

  assert.deepEqual(browser.errors, []);
});

// `koyeb compose FILE` (Koyeb's own CLI, built from ../shared/vendor) against a real Pier: the file's app and two
// services are created and become HEALTHY, applying the same file again creates no deployment, a changed `${VAR}`
// deploys only the service it touches, and `koyeb compose delete FILE` deletes the app. Skips, naming the reason,
// where the CLI is not built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { koyebCli } from './clients.ts';
import { startCompatPier, type CompatPier } from './pier.ts';

const COMMAND_TIMEOUT_MS = 3 * 60 * 1000;

interface Run { code: number; out: string }

function koyeb(bin: string, pier: CompatPier, home: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const argv = ['--url', pier.apiUrl, '--token', pier.token, '--config', path.join(home, '.koyeb.yaml'), ...args];
  return new Promise((resolve) => {
    // TMPDIR=home holds a fresh update-check marker, so the CLI asks nothing of the internet.
    execFile(bin, argv, { env: { ...process.env, HOME: home, TMPDIR: home, ...env }, timeout: COMMAND_TIMEOUT_MS, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

const file = (pier: CompatPier, region: string) => `app:
  name: compose-app
services:
  - definition:
      name: web
      type: WEB
      docker:
        image: ${pier.image}
      env:
        - key: GREETING
          value: \${GREETING}
      regions: [${region}]
      instance_types:
        - scopes: ['region:${region}']
          type: nano
      scalings:
        - scopes: ['region:${region}']
          min: 1
          max: 1
      ports:
        - port: ${pier.port}
          protocol: http
      routes:
        - port: ${pier.port}
          path: /
  - definition:
      name: jobs
      type: WORKER
      docker:
        image: ${pier.image}
        args: [sleep]
      regions: [${region}]
`;

const cli = koyebCli();

test('koyeb compose creates, re-applies idempotently, updates and deletes through Pier', { skip: 'error' in cli ? `koyeb CLI absent: ${cli.error}` : false }, async (t) => {
  if ('error' in cli) return;
  const pier = await startCompatPier();
  const home = await mkdtemp(path.join(tmpdir(), 'pier-compose-home-'));
  t.after(async () => {
    await pier.close();
    await rm(home, { recursive: true, force: true });
  });
  await writeFile(path.join(home, '.koyeb.yaml'), `url: ${pier.apiUrl}\n`, { mode: 0o600 });
  await writeFile(path.join(home, 'koyeb-cli-detect-update'), '');
  const api = async (p: string) => (await fetch(`${pier.apiUrl}${p}`, { headers: { authorization: `Bearer ${pier.token}` } })).json() as Promise<any>;
  const region = (await api('/v1/catalog/regions')).regions[0].id as string;
  const composeFile = path.join(home, 'koyeb.yaml');
  await writeFile(composeFile, file(pier, region));
  const run = (args: string[], env?: Record<string, string>) => koyeb(cli.path, pier, home, args, env);
  const services = async () => ((await api('/v1/services?limit=100')).services as any[]).filter((s) => s.status !== 'DELETED');
  const deploymentCount = async (id: string) => (await api(`/v1/deployments?service_id=${id}`)).count as number;

  const first = await run(['compose', composeFile], { GREETING: 'one' });
  assert.equal(first.code, 0, first.out);
  assert.match(first.out, /deployed web/i);
  assert.match(first.out, /deployed jobs/i);
  assert.match(first.out, /compose-app has been succesfully deployed/);
  const byName = new Map((await services()).map((s) => [s.name, s]));
  assert.deepEqual([...byName.keys()].sort(), ['jobs', 'web']);
  assert.equal(byName.get('web').status, 'HEALTHY');

  const again = await run(['compose', composeFile], { GREETING: 'one' });
  assert.equal(again.code, 0, again.out);
  assert.equal(await deploymentCount(byName.get('web').id), 1, 'the same file creates no deployment');
  assert.equal(await deploymentCount(byName.get('jobs').id), 1);

  const changed = await run(['compose', composeFile], { GREETING: 'two' });
  assert.equal(changed.code, 0, changed.out);
  assert.equal(await deploymentCount(byName.get('web').id), 2, 'a changed ${GREETING} deploys web again');
  assert.equal(await deploymentCount(byName.get('jobs').id), 1, 'jobs is untouched');
  const latest = (await api(`/v1/services/${byName.get('web').id}`)).service;
  const dep = (await api(`/v1/deployments/${latest.latest_deployment_id}`)).deployment;
  assert.deepEqual(dep.definition.env.find((e: any) => e.key === 'GREETING')?.value, 'two');
  assert.equal(dep.status, 'HEALTHY');

  const deleted = await run(['compose', 'delete', composeFile]);
  assert.equal(deleted.code, 0, deleted.out);
  assert.deepEqual(await services(), []);
});

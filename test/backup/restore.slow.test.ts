// The restore drill on the process runtime: two function services (one from an uploaded archive with two versions,
// one from Git), a secret in their env; a backup taken by `pier backup` while a bounded load loop runs through the
// edge (no request may fail); Pier stopped, its workloads and data directory removed; `pier restore` into a new
// directory; a new Pier on it serves the same versions with the same responses (secret included), knows the same
// token, and runs under a new installation id. Refusals of the real backup (truncated, wrong key) leave targets empty.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { functionDefinition } from '../../src/build/functions/definition.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';
import type { PierHandle } from '../../src/main.ts';
import { edgeGet } from '../support/edge-get.ts';
import { until } from '../support/until.ts';
import { postgresUnavailable, startPgCluster } from '../postgres/cluster.ts';
import { cli, greetingHandler as handler, pierApi, startOn, writeDir as writeDirIn } from './harness.ts';

const root = mkdtempSync(join(tmpdir(), 'pier-restore-drill-'));
test.after(() => rmSync(root, { recursive: true, force: true }));
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
const writeDir = (files: Record<string, string>) => writeDirIn(root, files);
const skipPostgres = postgresUnavailable();

/** Where the drill keeps its store: SQLite in the data directory, or a PostgreSQL database before and after. */
interface DrillStore { name: string; urlA?: string; urlB?: string }

test('restore drill (SQLite): back up under load, destroy, restore, same versions serve the same responses', { timeout: 600_000 }, async (t) => {
  await drill(t, { name: 'sqlite' });
});

test('restore drill (PostgreSQL): the same with the store in PostgreSQL, restored into another database', { skip: skipPostgres, timeout: 600_000 }, async (t) => {
  const cluster = await startPgCluster();
  t.after(() => cluster.stop());
  await drill(t, { name: 'postgres', urlA: await cluster.createDatabase('drill_a'), urlB: await cluster.createDatabase('drill_b') });
});

async function drill(t: TestContext, store: DrillStore): Promise<void> {
  const base = join(root, store.name);
  mkdirSync(base);
  const dirA = join(base, 'a');
  const dirB = join(base, 'restored', 'b');
  const dbA = store.urlA ? ['--database-url', store.urlA] : [];
  const dbB = store.urlB ? ['--database-url', store.urlB] : [];
  const start = (dir: string, token?: string) => startOn(dir, 'process', token, dir === dirA ? store.urlA : store.urlB);
  const token = `tok-${randomBytes(16).toString('hex')}`;
  let a: PierHandle | undefined = await start(dirA, token);
  let b: PierHandle | undefined;
  t.after(async () => {
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await removeInstallationWorkloads(dirA).catch(() => undefined);
    await removeInstallationWorkloads(dirB).catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
  });
  const { api, must, upload, waitHealthy: healthyA } = pierApi(a.apiUrl, token);
  const withSecret = (def: ReturnType<typeof functionDefinition>) => ({ ...def, env: [{ key: 'GREETING', secret: 'greeting' }] });

  await must('POST', '/v1/secrets', { name: 'greeting', type: 'SIMPLE', value: 'sesame-42' });
  const greetApp = (await must('POST', '/v1/apps', { name: 'greet' })).app.id;
  const repoApp = (await must('POST', '/v1/apps', { name: 'repo' })).app.id;
  const greet = (await must('POST', '/v1/services', { app_id: greetApp, name: 'greet', definition: withSecret(functionDefinition({ name: 'greet', source: { archive: { id: await upload(writeDir({ 'handler.ts': handler('v1') })), buildpack: {} } }, sleepSeconds: 3600 })) })).service;
  const repoDir = writeDir({ 'handler.ts': handler('git') });
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args], { cwd: repoDir, stdio: 'pipe' });
  git('init', '-q', '-b', 'main'); git('add', '-A'); git('commit', '-q', '-m', 'function');
  const repo = (await must('POST', '/v1/services', { app_id: repoApp, name: 'repo', definition: withSecret(functionDefinition({ name: 'repo', source: { git: { repository: repoDir, branch: 'main' } }, sleepSeconds: 3600 })) })).service;
  await healthyA(greet.latest_deployment_id);
  await healthyA(repo.latest_deployment_id);
  // Version 2 of greet: a new archive.
  const v1 = (await must('GET', `/v1/deployments/${greet.latest_deployment_id}`)).deployment;
  const updated = (await must('PATCH', `/v1/services/${greet.id}`, { definition: { ...v1.definition, archive: { id: await upload(writeDir({ 'handler.ts': handler('v2') })), buildpack: {} } } })).service;
  await healthyA(updated.latest_deployment_id);
  // A rolling update serves the old version alongside until it is retired (on PostgreSQL the promotion's writes take
  // tens of ms after the new deployment reads HEALTHY): the load below expects version 2 alone, so wait for that.
  await until('version 1 retired', async () => (await must('GET', `/v1/deployments/${greet.latest_deployment_id}`)).deployment.status === 'STOPPED', 30_000, 50);

  const edgeA = (await must('GET', '/v1/pier/info')).edge_url as string;
  const { orgName, domain } = a.config;
  const host = (app: string) => `${app}-${orgName}.${domain}`;
  const expected = { greet: 'v2 sesame-42 /x', repo: 'git sesame-42 /x' };
  for (const [app, want] of Object.entries(expected)) {
    await until(`${app} serves`, async () => (await edgeGet(edgeA, host(app), '/x', { agent })).body === want, 10_000, 50);
  }
  const versionsOf = async (pApi: typeof api, serviceId: string) =>
    ((await pApi('GET', `/v1/deployments?service_id=${serviceId}`)).body.deployments as { id: string; version: string; status: string }[])
      .map((d) => `${d.version}:${d.id}`).sort();
  const before = { greet: await versionsOf(api, greet.id), repo: await versionsOf(api, repo.id) };
  assert.equal(before.greet.length, 2);

  // Back up while a bounded load loop runs through the edge.
  let stop = false;
  let served = 0;
  const failures: string[] = [];
  // Four clients at once, each bounded in count; they stop when the backup is done.
  const load = Promise.all([0, 1, 2, 3].map(async (w) => {
    for (let i = w; i < 20_000 && !stop; i++) {
      const app = i % 2 ? 'greet' : 'repo';
      const r = await edgeGet(edgeA, host(app), '/x', { agent, timeoutMs: 10_000 }).catch((e: Error) => ({ status: 0, body: e.message }));
      if (r.status === 200 && r.body === expected[app]) served++; else failures.push(`${r.status} ${r.body}`);
    }
  }));
  await until('load running', async () => served > 20, 10_000, 20);
  const file = join(base, 'pier.tar.gz');
  const atStart = served;
  const backup = await cli(['backup', '--output', file, '--data-dir', dirA, ...dbA]);
  const during = served - atStart;
  stop = true;
  await load;
  assert.equal(backup.code, 0, backup.text);
  assert.deepEqual(failures, [], `${failures.length} failed of ${served + failures.length}`);
  t.diagnostic(`requests served while the backup ran: ${during} (${served} in the loop), failed: ${failures.length}; ${backup.text.trim().split('\n').slice(-2).join(' | ')}`);
  const oldId = readFileSync(join(dirA, 'installation-id'), 'utf8').trim();

  // Disaster: Pier stops, its workloads and its data directory are gone.
  await a.close();
  a = undefined;
  await removeInstallationWorkloads(dirA);
  rmSync(dirA, { recursive: true, force: true });
  await assert.rejects(fetch(edgeA, { headers: { host: host('greet') } }));

  // Refusals of the real backup leave the target empty.
  const empty = join(base, 'empty');
  mkdirSync(empty);
  const cut = join(base, 'cut.tar.gz');
  writeFileSync(cut, readFileSync(file).subarray(0, 4096));
  const truncated = await cli(['restore', cut, '--data-dir', empty, ...dbB]);
  assert.equal(truncated.code, 1);
  assert.match(truncated.text, /\[backup_truncated\]/);
  const wrongKey = join(base, 'wrong.key');
  writeFileSync(wrongKey, randomBytes(32).toString('base64'));
  const wrong = await cli(['restore', file, '--data-dir', empty, '--key-file', wrongKey, ...dbB]);
  assert.match(wrong.text, /\[backup_key_wrong\]/);
  assert.deepEqual(readdirSync(empty), []);

  // Restore into a new directory and start a Pier on it, without giving it the token: the restored one must work.
  const restored = await cli(['restore', file, '--data-dir', dirB, ...dbB]);
  assert.equal(restored.code, 0, restored.text);
  assert.match(restored.text, /2 apps, 2 services, 3 deployments, 1 secrets/);
  const t0 = Date.now();
  b = await start(dirB);
  const newId = readFileSync(join(dirB, 'installation-id'), 'utf8').trim();
  assert.notEqual(newId, oldId, 'a restore takes a new installation id');
  const apiB = pierApi(b.apiUrl, token).api;
  assert.equal((await apiB('GET', '/v1/secrets')).body.secrets.map((s: { name: string }) => s.name).join(), 'greeting');
  assert.deepEqual({ greet: await versionsOf(apiB, greet.id), repo: await versionsOf(apiB, repo.id) }, before);
  // On PostgreSQL the edge starts once this control plane leads.
  const edgeB = await until('B runs its edge', async () => (await apiB('GET', '/v1/pier/info')).body.edge_url as string | undefined, 30_000, 100);
  const hostB = (app: string) => `${app}-${b!.config.orgName}.${b!.config.domain}`;
  for (const [app, want] of Object.entries(expected)) {
    let last = '';
    await until(`${app} serves after the restore`, async () => {
      const r = await edgeGet(edgeB, hostB(app), '/x', { agent, timeoutMs: 30_000 }).catch((e: Error) => ({ status: 0, body: e.message }));
      last = `${r.status} ${r.body}`;
      return r.status === 200 && r.body === want;
    }, 120_000, 250).catch(() => assert.fail(`${app}: ${last}`));
  }
  t.diagnostic(`restored Pier served both services ${Date.now() - t0} ms after it started`);
  const svc = (await apiB('GET', `/v1/services/${greet.id}`)).body.service;
  assert.equal(svc.active_deployment_id, updated.latest_deployment_id, 'version 2 is still the active deployment');
  assert.ok(existsSync(join(dirB, 'archives')), 'uploaded archives came back for rollbacks');
  // The process runtime's build outputs came back too, and the deployments name them in the new directory.
  const image = (await apiB('GET', `/v1/deployments/${updated.latest_deployment_id}`)).body.deployment.provisioning_info.image as string;
  assert.ok(image.startsWith(`dir:${dirB}/builds/`), image);
  assert.ok(existsSync(image.slice('dir:'.length)), image);
}

// The restore drill on the process runtime: two function services (one from an uploaded archive with two versions,
// one from Git), a secret in their env; a backup taken by `pier backup` while a bounded load loop runs through the
// edge (no request may fail); Pier stopped, its workloads and data directory removed; `pier restore` into a new
// directory; a new Pier on it serves the same versions with the same responses (secret included), knows the same
// token, and runs under a new installation id. Refusals of the real backup (truncated, wrong key) leave targets empty.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierHandle } from '../../src/main.ts';
import { main } from '../../src/cli/main.ts';
import { packDirectory } from '../../src/cli/commands/deploy.ts';
import { functionDefinition } from '../../src/functions/definition.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';
import { apiClient } from '../support/api-client.ts';
import { edgeGet } from '../support/edge-get.ts';
import { until } from '../support/until.ts';

const root = mkdtempSync(join(tmpdir(), 'pier-restore-drill-'));
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function writeDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, 'src-'));
  for (const [p, text] of Object.entries(files)) writeFileSync(join(dir, p), text);
  return dir;
}

const handler = (tag: string) => `export default {
  fetch(request: Request, env: Record<string, string>): Promise<Response> | Response {
    return new Response('${tag} ' + env.GREETING + ' ' + new URL(request.url).pathname);
  },
};
`;

async function start(dataDir: string, token?: string): Promise<PierHandle> {
  const config = loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', 'tls-addr': 'off', runtime: 'process' }, {
    ...process.env, PIER_GIT_ALLOW_LOCAL: 'operator', PIER_EDGE_WORKERS: '1', ...(token ? { PIER_TOKEN: token } : { PIER_TOKEN: '' }),
  });
  return startPier(config, { log: () => {} });
}

function cli(argv: string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  return main(argv, { stdout: (t) => lines.push(t), stderr: (t) => lines.push(t), env: { ...process.env, PIER_TOKEN: '' }, stderrIsTTY: false, stdoutIsTTY: false })
    .then((code) => ({ code, text: lines.join('') }));
}

test('restore drill: back up under load, destroy, restore, same versions serve the same responses', { timeout: 600_000 }, async (t) => {
  const dirA = join(root, 'a');
  const dirB = join(root, 'restored', 'b');
  const token = `tok-${randomBytes(16).toString('hex')}`;
  let a: PierHandle | undefined = await start(dirA, token);
  let b: PierHandle | undefined;
  t.after(async () => {
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await removeInstallationWorkloads(dirA).catch(() => undefined);
    await removeInstallationWorkloads(dirB).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });
  const api = apiClient(a.apiUrl, token);
  const must = async (method: string, path: string, body?: unknown) => {
    const r = await api(method, path, body);
    assert.equal(r.status, 200, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  const upload = async (dir: string) => {
    const { data } = await packDirectory(dir);
    const r = await must('POST', '/v1/archives', { size: String(data.length) });
    const up = await fetch(r.archive.upload_url, { method: 'PUT', body: new Uint8Array(data), headers: { 'content-type': 'application/gzip' } });
    assert.ok(up.ok, `upload: ${up.status}`);
    return r.archive.id as string;
  };
  const withSecret = (def: ReturnType<typeof functionDefinition>) => ({ ...def, env: [{ key: 'GREETING', secret: 'greeting' }] });
  const waitHealthy = (pApi: typeof api, id: string) => until(`deployment ${id} healthy`, async () => {
    const d = (await pApi('GET', `/v1/deployments/${id}`)).body.deployment;
    if (['ERROR', 'CANCELED'].includes(d.status)) throw new Error(`deployment ${id} ${d.status}: ${d.messages}`);
    return d.status === 'HEALTHY';
  }, 180_000, 250);

  await must('POST', '/v1/secrets', { name: 'greeting', type: 'SIMPLE', value: 'sesame-42' });
  const greetApp = (await must('POST', '/v1/apps', { name: 'greet' })).app.id;
  const repoApp = (await must('POST', '/v1/apps', { name: 'repo' })).app.id;
  const greet = (await must('POST', '/v1/services', { app_id: greetApp, name: 'greet', definition: withSecret(functionDefinition({ name: 'greet', source: { archive: { id: await upload(writeDir({ 'handler.ts': handler('v1') })), buildpack: {} } }, sleepSeconds: 3600 })) })).service;
  const repoDir = writeDir({ 'handler.ts': handler('git') });
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args], { cwd: repoDir, stdio: 'pipe' });
  git('init', '-q', '-b', 'main'); git('add', '-A'); git('commit', '-q', '-m', 'function');
  const repo = (await must('POST', '/v1/services', { app_id: repoApp, name: 'repo', definition: withSecret(functionDefinition({ name: 'repo', source: { git: { repository: repoDir, branch: 'main' } }, sleepSeconds: 3600 })) })).service;
  await waitHealthy(api, greet.latest_deployment_id);
  await waitHealthy(api, repo.latest_deployment_id);
  // Version 2 of greet: a new archive.
  const v1 = (await must('GET', `/v1/deployments/${greet.latest_deployment_id}`)).deployment;
  const updated = (await must('PATCH', `/v1/services/${greet.id}`, { definition: { ...v1.definition, archive: { id: await upload(writeDir({ 'handler.ts': handler('v2') })), buildpack: {} } } })).service;
  await waitHealthy(api, updated.latest_deployment_id);

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
  const load = (async () => {
    for (let i = 0; i < 20_000 && !stop; i++) {
      const app = i % 2 ? 'greet' : 'repo';
      const r = await edgeGet(edgeA, host(app), '/x', { agent, timeoutMs: 10_000 }).catch((e: Error) => ({ status: 0, body: e.message }));
      if (r.status === 200 && r.body === expected[app]) served++; else failures.push(`${r.status} ${r.body}`);
    }
  })();
  await until('load running', async () => served > 20, 10_000, 20);
  const file = join(root, 'pier.tar.gz');
  const atStart = served;
  const backup = await cli(['backup', '--output', file, '--data-dir', dirA]);
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
  const empty = join(root, 'empty');
  mkdirSync(empty);
  const cut = join(root, 'cut.tar.gz');
  writeFileSync(cut, readFileSync(file).subarray(0, 4096));
  const truncated = await cli(['restore', cut, '--data-dir', empty]);
  assert.equal(truncated.code, 1);
  assert.match(truncated.text, /\[backup_truncated\]/);
  const wrongKey = join(root, 'wrong.key');
  writeFileSync(wrongKey, randomBytes(32).toString('base64'));
  const wrong = await cli(['restore', file, '--data-dir', empty, '--key-file', wrongKey]);
  assert.match(wrong.text, /\[backup_key_wrong\]/);
  assert.deepEqual(readdirSync(empty), []);

  // Restore into a new directory and start a Pier on it, without giving it the token: the restored one must work.
  const restored = await cli(['restore', file, '--data-dir', dirB]);
  assert.equal(restored.code, 0, restored.text);
  assert.match(restored.text, /2 apps, 2 services, 3 deployments, 1 secrets/);
  const t0 = Date.now();
  b = await start(dirB);
  const newId = readFileSync(join(dirB, 'installation-id'), 'utf8').trim();
  assert.notEqual(newId, oldId, 'a restore takes a new installation id');
  const apiB = apiClient(b.apiUrl, token);
  assert.equal((await apiB('GET', '/v1/secrets')).body.secrets.map((s: { name: string }) => s.name).join(), 'greeting');
  assert.deepEqual({ greet: await versionsOf(apiB, greet.id), repo: await versionsOf(apiB, repo.id) }, before);
  const edgeB = (await apiB('GET', '/v1/pier/info')).body.edge_url as string;
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
});

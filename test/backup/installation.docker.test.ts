// The installation id decides which containers a Pier owns. A backup restored beside the installation it came from
// (same Docker engine, the original still running) takes a new id: the restored Pier starts its own containers for
// the restored services and never adopts, stops or removes the original's, which keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { PierHandle } from '../../src/main.ts';
import { functionDefinition } from '../../src/build/functions/definition.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { SCOPE_LABEL } from '../../src/runtime/docker/driver.ts';
import { HOLDER_LABEL, POOLED } from '../../src/runtime/docker/netns-holder.ts';
import { INSTANCE_LABEL } from '../../src/runtime/common.ts';
import { DEFAULT_DOCKER_HOLDER_POOL } from '../../src/config.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';
import { edgeGet } from '../support/edge-get.ts';
import { until } from '../support/until.ts';
import { cli, greetingHandler, pierApi, startOn, writeDir } from './harness.ts';

const root = mkdtempSync(join(tmpdir(), 'pier-backup-scope-'));
const engine = new DockerEngine();

type Summary = { Id: string; State: string; Names: string[]; Labels: Record<string, string>; NetworkSettings: { Networks: Record<string, unknown> | null } };
async function containersOf(scope: string): Promise<Summary[]> {
  return engine.json<Summary[]>('GET', '/containers/json', { query: { all: 1, filters: JSON.stringify({ label: [`${SCOPE_LABEL}=${scope}`] }) } });
}

/** Waits until an installation's holder pool is full: the holders it makes on its own schedule (driver.ts) are all there. */
async function poolFull(scope: string): Promise<void> {
  await until('the holder pool to be full', async () => (await containersOf(scope)).filter((c) =>
    c.State === 'running' && c.Labels[HOLDER_LABEL] === POOLED && c.Names.some((n) => n.startsWith('/pier-netns-pool-')) && Object.keys(c.NetworkSettings.Networks ?? {}).length === 0,
  ).length === DEFAULT_DOCKER_HOLDER_POOL, 30_000, 100);
}

test('a restore beside its original on one engine never touches the original containers', { timeout: 300_000 }, async (t) => {
  const dirA = join(root, 'a');
  const dirB = join(root, 'b');
  const token = `tok-${randomBytes(16).toString('hex')}`;
  let a: PierHandle | undefined = await startOn(dirA, 'docker', token);
  let b: PierHandle | undefined;
  t.after(async () => {
    await b?.close().catch(() => undefined);
    await a?.close().catch(() => undefined);
    await removeInstallationWorkloads(dirB).catch(() => undefined);
    await removeInstallationWorkloads(dirA).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });
  const A = pierApi(a.apiUrl, token);
  await A.must('POST', '/v1/secrets', { name: 'greeting', type: 'SIMPLE', value: 'open-sesame' });
  const appId = (await A.must('POST', '/v1/apps', { name: 'scoped' })).app.id;
  const def = functionDefinition({ name: 'fn', source: { archive: { id: await A.upload(writeDir(root, { 'handler.ts': greetingHandler('docker') })), buildpack: {} } }, sleepSeconds: 3600 });
  const svc = (await A.must('POST', '/v1/services', { app_id: appId, name: 'fn', definition: { ...def, env: [{ key: 'GREETING', secret: 'greeting' }], scalings: [{ min: 1, max: 1 }] } })).service;
  await A.waitHealthy(svc.latest_deployment_id);
  const host = `scoped-${a.config.orgName}.${a.config.domain}`;
  const want = 'docker open-sesame /x';
  const edgeA = (await A.must('GET', '/v1/pier/info')).edge_url as string;
  await until('A serves', async () => (await edgeGet(edgeA, host, '/x')).body === want, 15_000, 50);
  const scopeA = readFileSync(join(dirA, 'installation-id'), 'utf8').trim();
  // A's holder pool is topped up after A's start: every container A has, once it is.
  await poolFull(scopeA);
  const before = (await containersOf(scopeA)).filter((c) => c.State === 'running').map((c) => c.Id).sort();
  assert.ok((await containersOf(scopeA)).some((c) => c.State === 'running' && c.Labels[INSTANCE_LABEL]), 'A runs an instance container');

  const file = join(root, 'a.tar.gz');
  assert.equal((await cli(['backup', '-o', file, '--data-dir', dirA])).code, 0);
  const restored = await cli(['restore', file, '--data-dir', dirB]);
  assert.equal(restored.code, 0, restored.text);
  const scopeB = readFileSync(join(dirB, 'installation-id'), 'utf8').trim();
  assert.notEqual(scopeB, scopeA);
  assert.match(restored.text, new RegExp(`containers of the backed-up installation \\(${scopeA}\\) are left alone`));

  b = await startOn(dirB, 'docker');
  const B = pierApi(b.apiUrl, token);
  const edgeB = (await B.must('GET', '/v1/pier/info')).edge_url as string;
  let last = '';
  await until('B serves the restored service', async () => {
    const r = await edgeGet(edgeB, host, '/x', { timeoutMs: 20_000 }).catch((e: Error) => ({ status: 0, body: e.message }));
    last = `${r.status} ${r.body}`;
    return r.body === want;
  }, 120_000, 250).catch(() => assert.fail(`B: ${last}`));
  // B runs containers of its own, labelled with its own id; A's are the same ones, still running, still serving.
  const mine = (await containersOf(scopeB)).filter((c) => c.State === 'running').map((c) => c.Id);
  assert.ok((await containersOf(scopeB)).some((c) => c.State === 'running' && c.Labels[INSTANCE_LABEL]), 'B started its own instance container');
  assert.deepEqual(mine.filter((id) => before.includes(id)), []);
  assert.deepEqual((await containersOf(scopeA)).filter((c) => c.State === 'running').map((c) => c.Id).sort(), before);
  assert.equal((await edgeGet(edgeA, host, '/x')).body, want);
  // Stopping the restored Pier's service leaves the original's container alone too.
  await B.must('POST', `/v1/services/${svc.id}/pause`);
  // (B's pooled holders, made ahead for any instance, keep running: they hold no instance.)
  await until('B paused', async () => (await containersOf(scopeB)).filter((c) => c.Labels[INSTANCE_LABEL]).every((c) => c.State !== 'running'), 60_000, 250);
  assert.deepEqual((await containersOf(scopeA)).filter((c) => c.State === 'running').map((c) => c.Id).sort(), before);
  assert.equal((await edgeGet(edgeA, host, '/x')).body, want);
  await b.close(); b = undefined;
  await a.close(); a = undefined;
});

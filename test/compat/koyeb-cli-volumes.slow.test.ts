// Koyeb's own `koyeb` CLI against a real Pier, volumes and snapshots (issue #20): volumes create/list/get/update/delete,
// snapshots create/list/get/delete, and a service created with `--volumes NAME:/path` (the CLI resolves the name to the
// id through GET /v1/volumes). Skips, naming the reason, without the CLI (KOYEB_CLI_BIN, see clients.ts) or as non-root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { koyebCli } from './clients.ts';
import { startCompatPier, type CompatPier } from './pier.ts';

interface Run { code: number; stdout: string; stderr: string }

function koyeb(bin: string, pier: CompatPier, home: string, args: string[]): Promise<Run> {
  const argv = ['--url', pier.apiUrl, '--token', pier.token, '--config', path.join(home, '.koyeb.yaml'), ...args];
  return new Promise((resolve) => {
    execFile(bin, argv, { env: { ...process.env, HOME: home, TMPDIR: home }, timeout: 180_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

function ok(run: Run, what: string): string {
  assert.equal(run.code, 0, `${what} exited ${run.code}\nstdout: ${run.stdout.slice(-3000)}\nstderr: ${run.stderr.slice(-3000)}`);
  return run.stdout;
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const cli = koyebCli();
const skip = 'error' in cli ? `koyeb CLI absent: ${cli.error}` : process.getuid?.() !== 0 ? 'volumes need root (loop devices)' : false;

test('koyeb CLI: volumes, snapshots and a service with --volumes against a real Pier', { skip, timeout: 300_000 }, async (t) => {
  if ('error' in cli) return;
  const pier = await startCompatPier();
  const home = await mkdtemp(path.join(tmpdir(), 'pier-compat-vol-'));
  await writeFile(path.join(home, '.koyeb.yaml'), `url: ${pier.apiUrl}\n`, { mode: 0o600 });
  await writeFile(path.join(home, 'koyeb-cli-detect-update'), '');
  const api = async (method: string, p: string) => {
    const res = await fetch(pier.apiUrl + p, { method, headers: { authorization: `Bearer ${pier.token}` } });
    return { status: res.status, body: await res.json() as any };
  };
  t.after(async () => {
    // Volumes outlive services: delete the services, then the volumes, so no loop mount outlives the suite.
    for (const s of (await api('GET', '/v1/services?limit=100')).body.services ?? []) if (s.status !== 'DELETED') await api('DELETE', `/v1/services/${s.id}`);
    await until('services deleted', async () => ((await api('GET', '/v1/services?limit=100')).body.services ?? []).every((s: any) => s.status === 'DELETED'), 60_000).catch(() => undefined);
    for (const v of (await api('GET', '/v1/volumes?limit=100')).body.volumes ?? []) await api('DELETE', `/v1/volumes/${v.id}`);
    for (const s of (await api('GET', '/v1/snapshots?limit=100')).body.snapshots ?? []) await api('DELETE', `/v1/snapshots/${s.id}`);
    await until('volumes deleted', async () => ((await api('GET', '/v1/volumes?limit=100')).body.volumes ?? []).length === 0, 30_000).catch(() => undefined);
    await pier.close();
    await rm(home, { recursive: true, force: true });
  });
  const run = (args: string[]) => koyeb(cli.path, pier, home, args);
  const volume = async (name: string) => ((await api('GET', `/v1/volumes?name=${name}`)).body.volumes ?? [])[0];

  await t.test('volumes create / list / get / update', async () => {
    ok(await run(['volumes', 'create', 'data', '--region', 'was', '--size', '1']), 'volumes create');
    assert.match(ok(await run(['volumes', 'list']), 'volumes list'), /data/);
    assert.match(ok(await run(['volumes', 'get', 'data', '-o', 'json']), 'volumes get'), /PERSISTENT_VOLUME_STATUS_DETACHED/);
    ok(await run(['volumes', 'update', 'data', '--name', 'data2']), 'volumes update --name');
    ok(await run(['volumes', 'update', 'data2', '--name', 'data']), 'volumes update --name back');
    await until('the volume made', async () => /^Ready/.test((await volume('data'))?.messages?.[0] ?? ''), 30_000);
  });
  await t.test('services create --volumes data:/data --wait', async () => {
    ok(await run(['apps', 'create', 'vapp']), 'apps create');
    ok(await run([
      'services', 'create', 'web', '--app', 'vapp', '--docker', pier.image, '--ports', `${pier.port}:http`, '--routes', `/:${pier.port}`,
      '--regions', 'was', '--volumes', 'data:/data', '--wait', '--wait-timeout', '2m',
    ]), 'services create --volumes');
    const v = await until('the volume ATTACHED', async () => { const x = await volume('data'); return x?.status === 'PERSISTENT_VOLUME_STATUS_ATTACHED' ? x : undefined; }, 30_000);
    assert.match(v.service_id, /^[0-9a-f-]{36}$/);
  });
  await t.test('volumes delete of an attached volume is refused, naming the service', async () => {
    const r = await run(['volumes', 'delete', 'data']);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /attached to service web/);
  });
  await t.test('snapshots create / list / get / delete', async () => {
    ok(await run(['snapshots', 'create', 'snap', 'data']), 'snapshots create');
    assert.match(ok(await run(['snapshots', 'list']), 'snapshots list'), /snap/);
    await until('the snapshot AVAILABLE', async () => ((await api('GET', '/v1/snapshots')).body.snapshots ?? [])[0]?.status === 'SNAPSHOT_STATUS_AVAILABLE', 60_000);
    assert.match(ok(await run(['snapshots', 'get', 'snap', '-o', 'json']), 'snapshots get'), /SNAPSHOT_STATUS_AVAILABLE/);
    ok(await run(['snapshots', 'delete', 'snap']), 'snapshots delete');
  });
  await t.test('services update --volumes \'!data\' detaches it; then volumes delete works', async () => {
    ok(await run(['services', 'update', 'vapp/web', '--volumes', '!data', '--wait', '--wait-timeout', '2m']), 'services update --volumes !data');
    await until('the volume free', async () => { const x = await volume('data'); return x?.status === 'PERSISTENT_VOLUME_STATUS_DETACHED' && !x.service_id; }, 30_000);
    ok(await run(['volumes', 'delete', 'data']), 'volumes delete');
    await until('the volume gone', async () => (await volume('data')) === undefined, 30_000);
  });
});

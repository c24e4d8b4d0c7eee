// Proves Pier works with Koyeb's own `koyeb` CLI (github.com/koyeb/koyeb-cli), driven with `--url` and `--token`
// against a real Pier. `npm test` builds the CLI from the source kept in ../shared/vendor (the Go module proxy refuses
// github.com/koyeb/koyeb-cli with 403 here); without it the suite skips, naming the reason (see docs/compat.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { koyebCli } from './clients.ts';
import { startCompatPier, type CompatPier } from './pier.ts';

const COMMAND_TIMEOUT_MS = 4 * 60 * 1000;
const WAIT_MS = 120_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with an argv array (never a shell string) against Pier, isolated from any real ~/.koyeb.yaml. */
function koyeb(bin: string, pier: CompatPier, home: string, args: string[], timeout = COMMAND_TIMEOUT_MS): Promise<Run> {
  const argv = ['--url', pier.apiUrl, '--token', pier.token, '--config', path.join(home, '.koyeb.yaml'), ...args];
  return new Promise((resolve) => {
    // TMPDIR=home holds a fresh `koyeb-cli-detect-update` marker, so the CLI skips its update check (a request to
    // api.github.com): the suite's traffic stays on loopback.
    execFile(bin, argv, { env: { ...process.env, HOME: home, TMPDIR: home }, timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function ok(run: Run, what: string): string {
  assert.equal(run.code, 0, `${what} exited ${run.code}\nstdout: ${run.stdout.slice(-3000)}\nstderr: ${run.stderr.slice(-3000)}`);
  return run.stdout;
}

/** Parses `-o json` output: one JSON document, or one per line for lists. */
function json(out: string): unknown[] {
  const trimmed = out.trim();
  try {
    const one = JSON.parse(trimmed) as unknown;
    return Array.isArray(one) ? one : [one];
  } catch {
    return trimmed.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l) as unknown);
  }
}

/** Every value of `key` anywhere inside `value` (CLI json output nests objects differently per command). */
function valuesOf(value: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(value)) for (const v of value) valuesOf(v, key, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === key) out.push(v);
      valuesOf(v, key, out);
    }
  }
  return out;
}

async function firstRegion(pier: CompatPier): Promise<string> {
  const res = await fetch(`${pier.apiUrl}/v1/catalog/regions`, { headers: { authorization: `Bearer ${pier.token}` } });
  assert.equal(res.status, 200, `GET /v1/catalog/regions -> ${res.status}`);
  const body = (await res.json()) as { regions?: { id: string }[] };
  assert.ok(body.regions?.length, 'Pier lists no region');
  return body.regions[0].id;
}

const cli = koyebCli();
// The skip reason is printed by the runner, so a missing CLI is visible in every run, never silent.
const skip = 'error' in cli ? `koyeb CLI absent: ${cli.error}` : false;

test('koyeb CLI drives a real Pier', { skip }, async (t) => {
  if ('error' in cli) return;

  const pier = await startCompatPier();
  const home = await mkdtemp(path.join(tmpdir(), 'pier-compat-home-'));
  await writeFile(path.join(home, '.koyeb.yaml'), `url: ${pier.apiUrl}\n`, { mode: 0o600 });
  await writeFile(path.join(home, 'koyeb-cli-detect-update'), '');
  t.after(async () => {
    await pier.close();
    await rm(home, { recursive: true, force: true });
  });
  const run = (args: string[], timeout?: number) => koyeb(cli.path, pier, home, args, timeout);
  const region = await firstRegion(pier);
  const app = 'cli-app';
  const svc = `${app}/web`;
  const secret = 'cli-secret';

  const statusOf = async (): Promise<string> => String(valuesOf(json(ok(await run(['services', 'get', svc, '-o', 'json']), 'services get')), 'status')[0]);
  const waitStatus = async (want: string) => {
    const deadline = Date.now() + WAIT_MS;
    let seen = '';
    while (Date.now() < deadline) {
      seen = await statusOf();
      if (seen === want) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.fail(`service did not reach ${want} in ${WAIT_MS} ms; last status ${seen}`);
  };

  await t.test('version', async () => {
    ok(await run(['version']), 'koyeb version');
  });
  await t.test('secrets create / list / get / reveal', async () => {
    ok(await run(['secrets', 'create', secret, '--value', 'cli-secret-value']), 'secrets create');
    assert.match(ok(await run(['secrets', 'list']), 'secrets list'), new RegExp(secret));
    ok(await run(['secrets', 'get', secret]), 'secrets get');
    assert.match(ok(await run(['secrets', 'reveal', secret]), 'secrets reveal'), /cli-secret-value/);
  });
  await t.test('errors Koyeb\'s spec does not declare (409) reach the user with Pier\'s message', async () => {
    // A 409 is decoded as google.rpc.Status (int32 code); koyeb-cli then prints the status line, which carries it.
    const dup = await run(['secrets', 'create', secret, '--value', 'again']);
    assert.notEqual(dup.code, 0);
    const out = dup.stdout + dup.stderr;
    assert.match(out, /HTTP\/409/);
    assert.match(out, new RegExp(`A secret named ${secret} already exists`), out);
    assert.doesNotMatch(out, /cannot unmarshal/, out);
    // Volumes and snapshots are served since #20: koyeb-cli-volumes.slow.test.ts drives them.
  });
  await t.test('apps create / get / list / describe', async () => {
    ok(await run(['apps', 'create', app]), 'apps create');
    // The CLI prints the API's reply (`{app: {...}}`) with its fields in alphabetical order, so `domains[].name` comes
    // before the app's own `name`: read the app object's field, not the first `name` anywhere.
    const got = json(ok(await run(['apps', 'get', app, '-o', 'json']), 'apps get'))[0] as { app?: { name?: string }; name?: string };
    assert.equal((got.app ?? got).name, app, JSON.stringify(got));
    assert.match(ok(await run(['apps', 'list']), 'apps list'), new RegExp(app));
    ok(await run(['apps', 'describe', app]), 'apps describe');
  });
  await t.test('services create --wait (docker image, port, route, env, secret env, scale, check)', async () => {
    ok(
      await run([
        'services', 'create', 'web', '--app', app, '--docker', pier.image, '--type', 'web',
        '--ports', `${pier.port}:http`, '--routes', `/:${pier.port}`, '--checks', `${pier.port}:http:/`,
        '--env', 'GREETING=hello', '--env', `SECRET_ENV=@${secret}`, '--regions', region, '--scale', '1',
        '--wait', '--wait-timeout', '2m',
      ]),
      'services create --wait',
    );
    assert.equal(await statusOf(), 'HEALTHY');
  });
  await t.test('services list / describe, by name and by short id', async () => {
    const listed = json(ok(await run(['services', 'list', '--app', app, '-o', 'json']), 'services list'));
    const id = String(valuesOf(listed, 'id')[0]);
    assert.match(id, /^[0-9a-f-]{36}$/);
    ok(await run(['services', 'describe', svc]), 'services describe by app/name');
    ok(await run(['services', 'get', id.replaceAll('-', '').slice(0, 8)]), 'services get by short id');
  });
  await t.test('deployments list / instances list', async () => {
    assert.ok(valuesOf(json(ok(await run(['deployments', 'list', '--service', svc, '-o', 'json']), 'deployments list')), 'id').length >= 1);
    const instances = json(ok(await run(['instances', 'list', '--service', svc, '-o', 'json']), 'instances list'));
    assert.ok(valuesOf(instances, 'status').includes('HEALTHY'), `no HEALTHY instance: ${JSON.stringify(instances)}`);
  });
  await t.test('services update --env --wait makes a new deployment', async () => {
    ok(await run(['services', 'update', svc, '--env', 'GREETING=updated', '--wait', '--wait-timeout', '2m']), 'services update');
    assert.equal(await statusOf(), 'HEALTHY');
  });
  await t.test('services redeploy --wait', async () => {
    ok(await run(['services', 'redeploy', svc, '--wait', '--wait-timeout', '2m']), 'services redeploy');
  });
  await t.test('services logs (runtime, no tail)', async () => {
    ok(await run(['services', 'logs', svc, '--type', 'runtime', '--start-time', new Date(Date.now() - 3600_000).toISOString()], 60_000), 'services logs');
  });
  await t.test('services pause / resume', async () => {
    ok(await run(['services', 'pause', svc]), 'services pause');
    await waitStatus('PAUSED');
    ok(await run(['services', 'resume', svc]), 'services resume');
    await waitStatus('HEALTHY');
  });
  await t.test('whoami / organizations list / organizations switch / --organization', async () => {
    const who = json(ok(await run(['whoami', '-o', 'json']), 'whoami'))[0] as { org_id?: string; org_name?: string };
    assert.match(String(who.org_id), /^[0-9a-f-]{36}$/, JSON.stringify(who));
    const orgs = json(ok(await run(['organizations', 'list', '-o', 'json']), 'organizations list'));
    assert.deepEqual(valuesOf(orgs, 'organization_id'), [who.org_id], JSON.stringify(orgs));
    ok(await run(['organizations', 'switch', String(who.org_id)]), 'organizations switch');
    // The switch is written into the config; every command then asks for the organization's token first.
    assert.match(await readFile(path.join(home, '.koyeb.yaml'), 'utf8'), new RegExp(`organization: ${who.org_id}`));
    assert.match(ok(await run(['apps', 'list']), 'apps list after switch'), new RegExp(app));
    await writeFile(path.join(home, '.koyeb.yaml'), `url: ${pier.apiUrl}\n`, { mode: 0o600 });
    // Another organization id (or one that does not exist) is refused, with Pier's message.
    const other = await run(['--organization', '00000000-0000-4000-8000-000000000000', 'apps', 'list']);
    assert.notEqual(other.code, 0);
    assert.match(other.stdout + other.stderr, /organization not found: 00000000-0000-4000-8000-000000000000/);
  });
  await t.test('apps init (a dry run with a made-up app id first) with --min-scale 1 --max-scale 2 and no target', async () => {
    ok(
      await run([
        'apps', 'init', 'cli-init', '--docker', pier.image, '--ports', `${pier.port}:http`, '--routes', `/:${pier.port}`,
        '--regions', region, '--min-scale', '1', '--max-scale', '2', '--wait', '--wait-timeout', '2m',
      ]),
      'apps init',
    );
    const deployments = json(ok(await run(['deployments', 'list', '--service', 'cli-init/cli-init', '-o', 'json']), 'deployments list'));
    const scalings = valuesOf(deployments, 'scalings')[0] as { min: number; max: number; targets?: unknown[] }[];
    assert.deepEqual(scalings.map((x) => [x.min, x.max, x.targets]), [[1, 2, [{ requests_per_second: { value: 50 } }]]], JSON.stringify(scalings));
    ok(await run(['apps', 'delete', 'cli-init']), 'apps delete cli-init');
  });
  await t.test('services delete / apps delete / secrets delete', async () => {
    ok(await run(['services', 'delete', svc]), 'services delete');
    ok(await run(['apps', 'delete', app]), 'apps delete');
    ok(await run(['secrets', 'delete', secret]), 'secrets delete');
  });
});

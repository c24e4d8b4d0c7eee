import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../../src/cli/args.ts';
import type { CliIO, Ctx } from '../../src/cli/command.ts';
import { runUp, upCommand, type Platform } from '../../src/cli/commands/platform.ts';
import { resolveSettings } from '../../src/cli/settings.ts';
import { APP_ID, app, run, startFakeApi } from './harness.ts';

const SECRET = { id: '77777777-aaaa-4aaa-8aaa-000000000007', name: 'db-url', type: 'SIMPLE', created_at: '2026-03-01T12:00:00Z' };

test('secrets create from stdin, list without values, reveal prints the value, update keeps the name', async () => {
  const api = await startFakeApi({
    'POST /v1/secrets': { body: { secret: SECRET } },
    'GET /v1/secrets': { body: { secrets: [SECRET], count: 1 } },
    [`GET /v1/secrets/${SECRET.id}`]: { body: { secret: SECRET } },
    [`PUT /v1/secrets/${SECRET.id}`]: { body: { secret: SECRET, services_using: [{ service_id: 'svc-1', service_name: 'web', app_id: APP_ID, deployment_id: 'd1' }] } },
    [`POST /v1/secrets/${SECRET.id}/reveal`]: { body: { value: 'postgres://u:p@db/x' } },
  });
  try {
    const c = await run(api, ['secrets', 'create', 'db-url', '--value-from-stdin'], { stdin: 'postgres://u:p@db/x\n' });
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(api.requests[0]!.body, { name: 'db-url', type: 'SIMPLE', value: 'postgres://u:p@db/x' });
    assert.ok(!c.stdout.includes('postgres://'), 'the value is never printed by create');
    const list = await run(api, ['sec', 'list']);
    assert.match(list.stdout, /77777777 {3}db-url {3}SIMPLE {3}\*{5}/);
    const reveal = await run(api, ['secret', 'reveal', 'db-url']);
    assert.equal(reveal.stdout, 'postgres://u:p@db/x\n');
    const upd = await run(api, ['secrets', 'update', 'db-url', '--value', 'new']);
    assert.deepEqual(api.requests.at(-1)!.body, { name: 'db-url', value: 'new' });
    assert.match(upd.stderr, /service web uses this secret; redeploy it to apply the new value: pier services redeploy svc-1/);
    const none = await run(api, ['secrets', 'create', 'x']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /--value VALUE or --value-from-stdin/);
    const registry = await run(api, ['secrets', 'create', 'x', '--value', 'v', '--type', 'registry-dockerhub']);
    assert.equal(registry.code, 2);
  } finally {
    await api.close();
  }
});

test('settings: flag beats env beats credentials.json beats the default', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-cli-'));
  try {
    writeFileSync(join(dir, 'credentials.json'), JSON.stringify({ url: 'http://127.0.0.1:9999/', token: 'saved', organization_id: 'o' }));
    const read = (p: string): string => readFileSync(p, 'utf8');
    assert.deepEqual(resolveSettings({}, { PIER_DATA_DIR: dir }, read), { url: 'http://127.0.0.1:9999', token: 'saved', credentialsPath: join(dir, 'credentials.json') });
    assert.equal(resolveSettings({}, { PIER_DATA_DIR: dir, PIER_TOKEN: 'env', PIER_URL: 'http://e' }, read).token, 'env');
    assert.equal(resolveSettings({ url: 'http://f', token: 'flag' }, { PIER_DATA_DIR: dir, PIER_URL: 'http://e' }, read).url, 'http://f');
    const none = resolveSettings({}, { HOME: '/nowhere' }, read);
    assert.deepEqual([none.url, none.token, none.credentialsPath], ['http://127.0.0.1:7700', undefined, '/nowhere/.pier/credentials.json']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the CLI finds the API through credentials.json written by pier up; --debug hides the token', async () => {
  const api = await startFakeApi({ 'GET /v1/apps': { body: { apps: [app()], count: 1 } } });
  const dir = mkdtempSync(join(tmpdir(), 'pier-cli-'));
  try {
    writeFileSync(join(dir, 'credentials.json'), JSON.stringify({ url: api.url, token: 'secret-token-xyz', organization_id: 'o' }));
    const r = await run(undefined, ['apps', 'list', '--debug'], { env: { PIER_DATA_DIR: dir } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(api.requests[0]!.authorization, 'Bearer secret-token-xyz');
    assert.match(r.stderr, /> GET http:\/\/127\.0\.0\.1:\d+\/v1\/apps\?limit=100&offset=0\n> authorization: Bearer \*\*\*\n< 200 OK\n/);
    assert.ok(!r.stderr.includes('secret-token-xyz'));
    assert.match(r.stdout, new RegExp(APP_ID.slice(0, 8)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await api.close();
  }
});

test('an unreachable API is one clear error line', async () => {
  const closed = await startFakeApi({});
  await closed.close(); // a port that was just free, so nothing listens there
  const r = await run(undefined, ['apps', 'list'], { env: { PIER_URL: closed.url, HOME: '/nowhere' } });
  assert.equal(r.code, 1);
  assert.equal(r.stderr, `error: cannot reach the Pier API at ${closed.url} (ECONNREFUSED); is \`pier up\` running? (--url or PIER_URL)\n`);
});

test('pier up passes its flags to loadConfig, starts Pier, and closes it on Ctrl-C', async () => {
  const calls: string[] = [];
  let fire: () => void = () => {};
  const platform: Platform = {
    loadConfig: (flags, env) => {
      calls.push(`loadConfig ${JSON.stringify(flags)} ${env.PIER_X}`);
      return { cfg: 1 };
    },
    startPier: async (config) => {
      calls.push(`startPier ${JSON.stringify(config)}`);
      setTimeout(() => fire(), 5);
      return { apiUrl: 'http://127.0.0.1:7700', close: async () => void calls.push('close') };
    },
  };
  const lines: string[] = [];
  const handlers = new Set<() => void>();
  fire = () => handlers.forEach((h) => h());
  const io = {
    env: { PIER_X: 'x' },
    onInterrupt: (h: () => void) => (handlers.add(h), () => handlers.delete(h)),
  } as unknown as CliIO;
  const ctx = {
    io, args: parseArgs(['--data-dir', '/tmp/d', '--api-addr', '127.0.0.1:0', '--runtime', 'process', '--token', 't'], upCommand.flags!),
    err: (l: string) => lines.push(l), out: (l: string) => lines.push(l),
  } as unknown as Ctx;
  assert.equal(await runUp(ctx, platform), 0);
  assert.deepEqual(calls, [
    'loadConfig {"data-dir":"/tmp/d","api-addr":"127.0.0.1:0","token":"t","runtime":"process"} x',
    'startPier {"cfg":1}',
    'close',
  ]);
  assert.deepEqual(lines, ['Pier is up: API http://127.0.0.1:7700 (Ctrl-C to stop)', 'stopping Pier...', 'stopped']);
  assert.equal(handlers.size, 0, 'the interrupt handler is removed');
});

test('pier setup without --yes only shows what it would run; version prints the package version', async () => {
  const s = await run(undefined, ['setup']);
  assert.equal(s.code, s.stdout.includes('would run') ? 0 : 1, s.stderr);
  if (s.code === 0) assert.match(s.stdout, /pier setup would run: bash \S+scripts\/setup-host\.sh\n/);
  else assert.match(s.stderr, /setup script not found/);
  const v = await run(undefined, ['version']);
  assert.match(v.stdout, /^pier \d+\.\d+\.\d+\n$/);
});

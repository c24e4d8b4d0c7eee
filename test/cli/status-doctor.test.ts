import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { doctorChecks, renderChecks, type DoctorFacts } from '../../src/cli/doctor-checks.ts';
import { DEP_ID, NOW, app, deployment, lookupRoutes, run, service, startFakeApi } from './harness.ts';

test('status lists every service with its app, status and URL; an empty platform says how to start', async () => {
  const worker = service({ id: '99999999-bbbb-4bbb-8bbb-000000000009', name: 'jobs', type: 'WORKER', active_deployment_id: '', latest_deployment_id: '', messages: ['Waiting'] });
  const api = await startFakeApi({
    ...lookupRoutes(),
    'GET /v1/services': { body: { services: [service(), worker], count: 2 } },
    [`GET /v1/deployments/${DEP_ID}`]: { body: { deployment: deployment() } },
    'GET /v1/pier/info': { body: { version: '0.9.0', runtime: 'docker', edge_url: 'http://127.0.0.1:8000' } },
  });
  try {
    const r = await run(api, ['status']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, [
      `Pier 0.9.0 at ${api.url} · runtime docker · edge http://127.0.0.1:8000`,
      '',
      'APP    SERVICE   TYPE     STATUS    URL                           MESSAGE',
      'shop   jobs      WORKER   HEALTHY   -                             Waiting',
      'shop   web       WEB      HEALTHY   http://shop.localhost:8000/   -',
      '',
    ].join('\n'));
    api.routes['GET /v1/services'] = { body: { services: [], count: 0 } };
    api.routes['GET /v1/apps'] = { body: { apps: [], count: 0 } };
    const empty = await run(api, ['status']);
    assert.match(empty.stdout, /\nNothing deployed yet\. Try: pier app init hello/);
  } finally {
    await api.close();
  }
});

test('login checks the token first, then saves url and token 0600 where the CLI reads them', async () => {
  const api = await startFakeApi({
    'GET /v1/apps': (req) => (req.authorization === 'Bearer good-token'
      ? { body: { apps: [app()], count: 1 } }
      : { status: 401, body: { status: 401, code: 'unauthenticated', message: 'invalid token' } }),
    'GET /v1/pier/info': { body: { organization_id: 'org-1' } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'pier-login-'));
  try {
    const env = { PIER_DATA_DIR: dir, PIER_URL: undefined, PIER_TOKEN: undefined };
    const bad = await run(api, ['login', '--url', api.url, '--token', 'wrong'], { env });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /refused this token \(invalid token\); nothing was saved/);
    assert.throws(() => statSync(join(dir, 'credentials.json')), /ENOENT/);

    const ok = await run(api, ['login', '--url', `${api.url}/`, '--token-from-stdin'], { env, stdin: 'good-token\n' });
    assert.equal(ok.code, 0, ok.stderr);
    const path = join(dir, 'credentials.json');
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), { url: api.url, token: 'good-token', organization_id: 'org-1' });
    assert.equal(statSync(path).mode & 0o777, 0o600);
    // Every other command now finds the API through the file.
    const list = await run(undefined, ['apps', 'list'], { env: { PIER_DATA_DIR: dir } });
    assert.equal(list.code, 0, list.stderr);
    assert.equal(api.requests.at(-1)!.authorization, 'Bearer good-token');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await api.close();
  }
});

function facts(over: Partial<DoctorFacts> = {}): DoctorFacts {
  return {
    isRoot: true, isDebian: true, launcher: './pier', docker: { version: '24.0.5' },
    tools: { bwrap: true, ip: true, iptables: true, nsenter: true }, userns: true, cgroupJoins: { mount: '/sys/fs/cgroup', on: true },
    ports: [{ flag: 'edge-addr', addr: '127.0.0.1:8000', state: 'free' }],
    disk: { path: '/root', freeBytes: 50 * 1024 ** 3 },
    ca: { path: '/root/.pier/tls/local-ca/root.pem', notAfter: '2036-01-01T00:00:00.000Z' },
    api: { url: 'http://127.0.0.1:7700', state: 'ok', detail: '' },
    now: NOW, ...over,
  };
}

test('doctor: a healthy host is all ok; each problem is a FAIL or warn with its exact fix', () => {
  assert.deepEqual(doctorChecks(facts()).map((c) => c.level), ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
  assert.equal(doctorChecks(facts({ cgroupJoins: undefined })).some((c) => c.name === 'cgroups'), false, 'a kernel without favordynmods: no cgroups line');
  const rows: [Partial<DoctorFacts>, string, string, string | RegExp][] = [
    [{ docker: { error: 'no Docker engine answers' }, tools: { bwrap: false, ip: true, iptables: true, nsenter: true } }, 'runtime', 'FAIL', './pier setup --yes'],
    [{ docker: { error: 'x' }, tools: { bwrap: false, ip: true, iptables: true, nsenter: true }, isRoot: false }, 'runtime', 'FAIL', 'sudo ./pier setup --yes'],
    [{ docker: { error: 'x' } }, 'engine', 'warn', './pier setup --yes'],
    [{ userns: false }, 'sandbox', 'warn', /sysctl -w kernel\.unprivileged_userns_clone=1/],
    [{ cgroupJoins: { mount: '/sys/fs/cgroup/unified', on: false } }, 'cgroups', 'warn', './pier setup --yes'],
    [{ cgroupJoins: { mount: '/sys/fs/cgroup/unified', on: false }, isDebian: false, isRoot: false }, 'cgroups', 'warn', 'sudo mount -o remount,favordynmods /sys/fs/cgroup/unified'],
    [{ ports: [{ flag: 'edge-addr', addr: '127.0.0.1:8000', state: 'busy' }] }, 'ports', 'FAIL', "find it with: ss -ltnp 'sport = :8000'; or start Pier elsewhere: pier up --edge-addr 127.0.0.1:8001"],
    [{ disk: { path: '/root', freeBytes: 100 * 1024 ** 2 } }, 'disk', 'FAIL', /docker system prune/],
    [{ ca: { path: '/d/tls/local-ca/root.pem', notAfter: '2026-01-01T00:00:00.000Z' } }, 'certificates', 'FAIL', 'rm -r /d/tls/local-ca and restart pier up (clients must trust the new root.pem)'],
    [{ api: { url: 'http://h:7700', state: 'refused', detail: 'invalid token' } }, 'api', 'FAIL', 'pier login --url http://h:7700 --token TOKEN'],
    [{ api: { url: 'http://h:7700', state: 'down', detail: 'ECONNREFUSED' } }, 'api', 'warn', './pier up'],
  ];
  for (const [over, name, level, fix] of rows) {
    const c = doctorChecks(facts(over)).find((r) => r.name === name && r.level !== 'ok');
    assert.ok(c, `${name} for ${JSON.stringify(over)}`);
    assert.equal(c.level, level, name);
    if (typeof fix === 'string') assert.equal(c.fix, fix);
    else assert.match(c.fix ?? '', fix);
  }
  assert.match(renderChecks(doctorChecks(facts({ userns: false }))), /^warn {2}sandbox {7}unprivileged user namespaces are disabled\n {20}fix: sysctl/m);
});

test('doctor on this machine: a port another program holds is a FAIL with its fix; exit 1', async () => {
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  const busy = `127.0.0.1:${(holder.address() as AddressInfo).port}`;
  const closed = await startFakeApi({});
  await closed.close(); // a port that was just free, so no Pier answers there
  const dir = mkdtempSync(join(tmpdir(), 'pier-doctor-'));
  try {
    writeFileSync(join(dir, 'credentials.json'), JSON.stringify({ url: closed.url, token: 't' }));
    const r = await run(undefined, ['doctor'], {
      env: { PIER_DATA_DIR: dir, PIER_API_ADDR: '127.0.0.1:0', PIER_EDGE_ADDR: busy, PIER_TLS_ADDR: 'off', PATH: process.env.PATH },
      now: () => Date.now(),
    });
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stdout, new RegExp(`^FAIL  ports +${busy} is taken by another program \\(--edge-addr\\)\\n +fix: find it with: ss -ltnp`, 'm'));
    assert.match(r.stdout, new RegExp(`^warn  api +no Pier answers at ${closed.url} \\(ECONNREFUSED\\)\\n +fix: pier up$`, 'm'));
    for (const name of ['runtime', 'engine', 'sandbox', 'disk', 'certificates']) assert.match(r.stdout, new RegExp(`^(ok|warn|FAIL) +${name} `, 'm'));
  } finally {
    holder.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('completion bash completes commands, aliases and flags in a real bash', async () => {
  const { spawnSync } = await import('node:child_process');
  const script = (await run(undefined, ['completion', 'bash'])).stdout;
  const dir = mkdtempSync(join(tmpdir(), 'pier-completion-'));
  try {
    writeFileSync(join(dir, 'pier.bash'), script);
    const probe = `source "$1"; for words in "pier svc lo" "pier services logs x --all-d" "pier ap" "pier doc"; do
      read -ra COMP_WORDS <<< "$words"; COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _pier; echo "\${COMPREPLY[*]}"; done`;
    const r = spawnSync('bash', ['-c', probe, 'probe', join(dir, 'pier.bash')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['logs', '--all-deployments', 'apps', 'doctor']);
    const zsh = await run(undefined, ['completion', 'zsh']);
    assert.match(zsh.stdout, /bashcompinit/);
    assert.equal((await run(undefined, ['completion', 'fish'])).code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Issue #16 item 1 on the process runtime: install/build steps (a build_command override, an npm build script) run in
// the bubblewrap build sandbox as an unprivileged uid, never on the host as root: they cannot read the data
// directory, write the host, write sysctls, see /sys, reach the host's listeners, or see Pier's env; a normal Node app
// still builds and serves; cancel, the time limit and the disk cap stop them. Then the same attack through a real
// Pier with another organization's token, reading the build log back through the API.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { createBuilder } from '../../src/build/builder.ts';
import { ProcessRuntime } from '../../src/runtime/process/driver.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';
import { generateToken, insertOrganization, insertToken } from '../../src/store/organizations.ts';
import { gitDeployment, gitRepo, memoryLogs, runAndFetch, TEST_GO_STD_DIR } from '../build/helpers.ts';
import { apiClient } from '../support/api-client.ts';
import { until } from '../support/until.ts';
import { attackSetup, isolated, verdict } from './build-isolation-attack.ts';

const attack = attackSetup('pier-build-isolation-process-');
const workDir = join(attack.dataDir, 'builds');
mkdirSync(workDir, { recursive: true });
const runtime = new ProcessRuntime({ stateDir: mkdtempSync(join(tmpdir(), 'pier-build-isolation-rt-')) });
const builder = (logs = memoryLogs(), o: { timeoutMs?: number; diskBytes?: number } = {}) =>
  createBuilder({ target: 'directory', workDir, appendLogs: logs.sink, goStdDir: TEST_GO_STD_DIR, ...o });

// A listener of the test's own on every address of this host: the build must not reach it on any of them.
let listener: Server;
const REACHED = 'HOST-LISTENER-REACHED';
async function startListener(): Promise<number> {
  listener = createServer((s) => s.end(`${REACHED}\n`));
  await new Promise<void>((r) => listener.listen(0, '::', r));
  return (listener.address() as { port: number }).port;
}
function hostAddresses(): string[] {
  return Object.values(networkInterfaces()).flatMap((l) => (l ?? []).filter((a) => !a.address.startsWith('fe80')).map((a) => a.address));
}
function probes(port: number): string {
  // bash's /dev/tcp (the host's bash, read-only in the sandbox); each probe bounded by `timeout`.
  return hostAddresses().map((h) => `timeout 3 bash -c 'exec 3<>/dev/tcp/${h}/${port} && head -c 40 <&3' 2>&1 | sed "s|^|PROBE ${h}: |"`).join('; ');
}

after(() => {
  listener?.close();
  rmSync(attack.dataDir, { recursive: true, force: true });
  rmSync(runtime.stateDir, { recursive: true, force: true });
});

test('a build_command runs sandboxed: no data dir, no host writes, no root, no sysctl, no /sys, no host listener, no Pier env', async () => {
  process.env.PIER_BUILD_ISOLATION_CANARY = 'must-not-reach-builds';
  const port = await startListener();
  const logs = memoryLogs();
  const repo = gitRepo({ 'go.mod': 'module example.com/app\n\ngo 1.21\n', 'main.go': 'package main\nfunc main() {}\n' });
  const status = 'grep -E "^(Seccomp|NoNewPrivs|CapEff):" /proc/self/status | sed "s/^/STATUS /"';
  await builder(logs).build(gitDeployment({ repository: repo, build_command: `${attack.command}; ${status}; ${probes(port)}; echo PROBES""-DONE` }), new AbortController().signal);
  const text = logs.text();
  assert.match(text, /ATTACK-DONE/, 'the command ran');
  assert.match(text, /PROBES-DONE/, 'the probes ran');
  assert.match(text, /uid=65432/, 'as the unprivileged build uid');
  assert.match(text, /ENV: HOME=\/cache\/home/);
  assert.doesNotMatch(text, /PIER_BUILD_ISOLATION_CANARY|PIER_TEST/);
  assert.deepEqual(verdict(attack, text), isolated(), text);
  assert.ok(hostAddresses().includes('127.0.0.1'));
  assert.ok(!text.includes(REACHED), `a host listener was reached:\n${text}`);
  assert.match(text, /PROBE 127\.0\.0\.1: /, 'the loopback probe ran and failed');
  assert.match(text, /STATUS Seccomp:\s+2/, 'the seccomp filter is on');
  assert.match(text, /STATUS NoNewPrivs:\s+1/);
  assert.match(text, /STATUS CapEff:\s+0+$/m, 'no capabilities');
});

test('npm lifecycle scripts run sandboxed too, and the app still builds and serves', async () => {
  writeFileSync(join(tmpdir(), 'attack-unused'), ''); // keeps tmpdir() existing for the planted-path check
  const logs = memoryLogs();
  const repo = gitRepo({
    'package.json': JSON.stringify({
      name: 'a', version: '1.0.0', scripts: { build: 'sh attack.sh && node build.js', start: 'node server.js' },
      dependencies: { greet: 'file:./greet' },
    }),
    'attack.sh': `${attack.command}\n`,
    'greet/package.json': JSON.stringify({ name: 'greet', version: '1.0.0', main: 'index.js' }),
    'greet/index.js': 'module.exports = () => "sandboxed";\n',
    'build.js': 'require("fs").writeFileSync("built.txt", "dir-built");\n',
    'server.js': 'const g = require("greet"); require("http").createServer((q, s) => s.end(g() + " " + require("fs").readFileSync("built.txt"))).listen(process.env.PORT);\n',
  });
  const out = await builder(logs).build(gitDeployment({ repository: repo }), new AbortController().signal);
  const text = logs.text();
  assert.match(text, /ATTACK-DONE/);
  assert.deepEqual(verdict(attack, text), isolated(), text);
  assert.equal(await runAndFetch(runtime, out.image), 'sandboxed dir-built');
});

test('a planted link cannot redirect Pier\'s own writes (the launcher) onto the host', async () => {
  const target = mkdtempSync(join(tmpdir(), 'pier-link-target-'));
  const logs = memoryLogs();
  const repo = gitRepo({ 'index.html': 'x\n' });
  // The step replaces .pier with a link to a host directory; Pier then writes .pier/run.
  await builder(logs).build(gitDeployment({ repository: repo, build_command: `rm -rf .pier; ln -s ${target} .pier` }), new AbortController().signal);
  assert.deepEqual(readdirSync(target), [], 'nothing was written through the link');
  rmSync(target, { recursive: true, force: true });
});

test('cancel, the time limit and the disk cap stop a sandboxed step', async () => {
  const repo = gitRepo({ 'index.html': 'x\n' });
  const logs = memoryLogs();
  const abort = new AbortController();
  const started = Date.now();
  const p = builder(logs).build(gitDeployment({ repository: repo, build_command: 'echo "long step"; sleep 61.25' }), abort.signal);
  const deadline = Date.now() + 30_000;
  while (!/long step/.test(logs.text()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  abort.abort(new Error('deployment canceled'));
  await assert.rejects(p, /deployment canceled/);
  assert.ok(Date.now() - started < 30_000, 'the build did not wait for the 61 s step');
  await new Promise((r) => setTimeout(r, 300));
  const sleepers = readdirSync('/proc').filter((pid) => /^\d+$/.test(pid)).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('61.25'); } catch { return false; }
  });
  assert.deepEqual(sleepers, [], 'the step\'s processes are gone');

  await assert.rejects(builder(memoryLogs(), { timeoutMs: 1500 }).build(gitDeployment({ repository: repo, build_command: 'sleep 60' }), new AbortController().signal),
    /build time limit reached/);

  const disk = memoryLogs();
  const fill = 'i=0; while [ $i -lt 60 ]; do head -c 4194304 /dev/zero > fill-$i; i=$((i+1)); sleep 0.2; done; echo FILL""ED';
  await assert.rejects(builder(disk, { diskBytes: 24 * 1024 * 1024 }).build(gitDeployment({ repository: repo, build_command: fill }), new AbortController().signal),
    /build disk limit reached/);
  assert.doesNotMatch(disk.text(), /FILLED/, 'stopped before it wrote everything');
});

test('through a real Pier: another organization\'s token deploys the attack; its build log shows none of the host', { timeout: 180_000 }, async () => {
  process.env.PIER_EDGE_WORKERS = '1';
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-build-isolation-pier-'));
  const config = loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', 'tls-addr': 'off', runtime: 'process' }, { ...process.env });
  const pier = await startPier(config, { log: () => {} });
  try {
    const org = await insertOrganization(pier.store.db, `tenant-${Math.random().toString(36).slice(2, 8)}`);
    const token = generateToken();
    await insertToken(pier.store.db, org.id, 'tenant', token);
    const api = apiClient(pier.apiUrl, token);
    // The attack names the real data dir's files (the operator's master key and admin token).
    const masterKey = readFileSync(join(dataDir, 'master.key'));
    const adminToken = (JSON.parse(readFileSync(pier.credentialsPath, 'utf8')) as { token: string }).token;
    const src = mkdtempSync(join(tmpdir(), 'pier-build-isolation-src-'));
    writeFileSync(join(src, 'go.mod'), 'module example.com/app\n\ngo 1.21\n');
    const tgz = execFileSync('tar', ['-c', '-z', '-f', '-', '-C', src, '.']);
    rmSync(src, { recursive: true, force: true });
    const archive = await api<{ archive: { id: string; upload_url: string } }>('POST', '/v1/archives', { size: String(tgz.length) });
    assert.equal(archive.status, 200, JSON.stringify(archive.body));
    const up = await fetch(archive.body.archive.upload_url, { method: 'PUT', body: new Uint8Array(tgz), headers: { 'content-type': 'application/gzip' } });
    assert.ok(up.ok, `upload: HTTP ${up.status}`);
    const app = await api<{ app: { id: string } }>('POST', '/v1/apps', { name: 'intruder' });
    assert.equal(app.status, 200, JSON.stringify(app.body));
    const command = `id; od -An -tx1 ${dataDir}/master.key; cat ${dataDir}/credentials.json; touch /root/pwned-${attack.marker} ${dataDir}/pwned-${attack.marker}; echo ATTACK""-DONE`;
    const svc = await api<{ service: { latest_deployment_id: string } }>('POST', '/v1/services', {
      app_id: app.body.app.id,
      definition: {
        name: 'web', type: 'WEB', archive: { id: archive.body.archive.id, buildpack: { build_command: command } },
        ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }],
        regions: ['was'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }],
      },
    });
    assert.equal(svc.status, 200, JSON.stringify(svc.body));
    const depId = svc.body.service.latest_deployment_id;
    const text = await until('the build to end', async () => {
      const logs = await api<{ data: { msg: string }[] }>('GET', `/v1/streams/logs/query?deployment_id=${depId}&type=build&limit=1000&order=asc`);
      const t = (logs.body.data ?? []).map((e) => e.msg).join('\n');
      return /Build (finished|failed)/.test(t) ? t : undefined;
    }, 150_000, 500);
    assert.match(text, /ATTACK-DONE/, text);
    assert.match(text, /uid=65432/);
    assert.doesNotMatch(text, /uid=0\(/);
    const hex = [...masterKey].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    assert.ok(!text.includes(hex.slice(0, 23)), 'the master key is not in the log');
    assert.ok(!text.includes(adminToken), 'the admin token is not in the log');
    assert.match(text, /master\.key: No such file or directory/);
    for (const p of [`/root/pwned-${attack.marker}`, join(dataDir, `pwned-${attack.marker}`)]) assert.throws(() => readFileSync(p), /ENOENT/, p);
  } finally {
    await pier.close();
    await removeInstallationWorkloads(dataDir).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  }
});

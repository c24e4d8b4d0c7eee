// Koyeb's own CLI runs commands in Pier instances over /v1/streams/instances/exec (issue #18), on Docker and on the
// process runtime: `koyeb instances exec` (exit code, stdout/stderr, stdin, tty with a resize through a real pty),
// `koyeb services exec`, `koyeb instances cp` both ways (tar over exec, contents compared), the exec's confinement
// equal to the app's, `pier instances exec` / `pier services exec` (a pipe as stdin, a tty sized like the local one),
// and another organization's token refused (CLI and raw websocket). The koyeb CLI insists on a terminal
// on stdin for exec (moby/term), so those runs go through test/support/pty-run.ts; cp needs none.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.ts';
import { startPier, type PierComponent, type PierCore } from '../../src/main.ts';
import { platformComponents } from '../../src/platform.ts';
import type { InstanceSpec, Runtime } from '../../src/runtime/contract.ts';
import { ProcessRuntime } from '../../src/runtime/process/driver.ts';
import { ensureTestImage, prepareTestAppDir } from '../../src/runtime/testing/images.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';
import { apiClient } from '../support/api-client.ts';
import { runInPty, type PtyStep } from '../support/pty-run.ts';
import { until } from '../support/until.ts';
import { koyebCli, repoRoot } from './clients.ts';
import { dockerAnswers } from './pier.ts';
import { appDirRuntime } from '../support/app-dir-runtime.ts';

const cli = koyebCli();
const docker = await dockerAnswers();
const STEP_MS = 60_000;

/** The process runtime running the test app directory for every instance (deployments cannot name a directory). */
function processComponents(core: PierCore): Promise<PierComponent[]> {
  const app = prepareTestAppDir(core.config.dataDir);
  const dir = join(core.config.dataDir, 'process');
  mkdirSync(dir, { recursive: true });
  const inner = new ProcessRuntime({ stateDir: dir, log: () => {} });
  const runtime = appDirRuntime(inner, app);
  return platformComponents(core, { runtime });
}

async function scenario(t: TestContext, runtime: 'docker' | 'process'): Promise<void> {
  if ('error' in cli) return;
  const dataDir = mkdtempSync(join(tmpdir(), `pier-exec-${runtime}-`));
  const home = join(dataDir, 'home');
  mkdirSync(home);
  writeFileSync(join(home, 'koyeb-cli-detect-update'), ''); // no update check: traffic stays on loopback
  const token = `exec-${randomBytes(16).toString('hex')}`;
  const image = runtime === 'docker' ? await ensureTestImage() : 'pier-test/directory';
  const config = loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', runtime }, { ...process.env, PIER_TOKEN: token, PIER_EDGE_WORKERS: '1' });
  const pier = await startPier(config, { log: () => {}, ...(runtime === 'process' ? { components: processComponents } : {}) });
  t.after(async () => {
    await pier.close();
    await removeInstallationWorkloads(dataDir).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });
  writeFileSync(join(home, '.koyeb.yaml'), `url: ${pier.apiUrl}\n`, { mode: 0o600 });
  const api = apiClient(pier.apiUrl, token);
  const app = await api('POST', '/v1/apps', { name: 'shell' });
  assert.equal(app.status, 200, JSON.stringify(app.body));
  const svc = await api('POST', '/v1/services', {
    app_id: app.body.app.id,
    definition: {
      name: 'box', type: 'WEB', docker: { image }, ports: [{ port: 8000, protocol: 'http' }], routes: [{ port: 8000, path: '/' }],
      regions: ['was'], scalings: [{ min: 1, max: 1 }], instance_types: [{ type: 'nano' }], env: [{ key: 'GREETING', value: 'exec-env' }],
      health_checks: [{ tcp: { port: 8000 }, grace_period: 0, interval: 1 }],
    },
  });
  assert.equal(svc.status, 200, JSON.stringify(svc.body));
  const instance = await until('a healthy instance', async () => {
    const r = await api('GET', `/v1/instances?service_id=${svc.body.service.id}&statuses=HEALTHY`);
    return r.body.instances?.[0]?.id as string | undefined;
  }, 90_000);

  const env = { ...process.env, HOME: home, TMPDIR: home };
  const base = (tok = token) => [cli.path, '--url', pier.apiUrl, '--token', tok, '--config', join(home, '.koyeb.yaml')];
  const exec = (args: string[], tty: boolean, steps: PtyStep[] = [], tok = token) =>
    runInPty({ argv: [...base(tok), ...args], env, tty, steps, timeoutMs: STEP_MS });
  const plain = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(base()[0], [...base().slice(1), ...args], { env, timeout: STEP_MS }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
  const show = (r: { code: number; stdout?: string; stderr?: string; tty?: string }) => JSON.stringify(r).slice(0, 3000);

  await t.test('instances exec: stdout, stderr and the exit code reach the user (no tty: stdout is a pipe)', async () => {
    const r = await exec(['instances', 'exec', instance, '--', 'sh', '-c', 'echo hi; echo "$GREETING"; echo oops >&2; exit 3'], false);
    assert.equal(r.code, 3, show(r));
    assert.equal(r.stdout, 'hi\nexec-env\n', show(r));
    assert.match(r.stderr, /oops/, show(r));
  });
  await t.test('instances exec: stdin reaches the command', async () => {
    // The CLI puts the terminal in raw mode and streams what is typed; `head -c 5` ends after five bytes.
    const r = await exec(['instances', 'exec', instance, '--', 'head', '-c', '5'], false, [{ sleepMs: 500 }, { write: 'data\n' }]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'data\n', show(r));
  });
  await t.test('instances exec with a tty: a shell on a remote terminal, resized, exit code kept', async () => {
    const r = await exec(['instances', 'exec', instance, '--', 'sh', '-c', 'tty >/dev/null && echo is-a-tty; echo ready; read a; stty size; read b; echo "got-$b"; exit 5'], true, [
      { expect: 'ready' }, { resize: [123, 37] }, { sleepMs: 300 }, { write: 'x\r' }, { expect: '37 123' }, { write: 'typed\r' },
    ]);
    assert.equal(r.code, 5, show(r));
    assert.match(r.tty, /is-a-tty/, show(r));
    assert.match(r.tty, /37 123/, show(r));
    assert.match(r.tty, /got-typed/, show(r));
  });
  await t.test('services exec runs in a running instance of the service', async () => {
    const r = await exec(['services', 'exec', 'shell/box', '--', 'sh', '-c', 'echo via-service'], false);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'via-service\n', show(r));
  });
  await t.test('the exec is confined like the app (capabilities, no_new_privs, seccomp, user namespace)', async () => {
    // The app's main process: pid 1 in a container, pid 2 in the process sandbox (after bubblewrap's init).
    const appPid = runtime === 'docker' ? 1 : 2;
    const fields = 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):"';
    const r = await exec(['instances', 'exec', instance, '--', 'sh', '-c', `${fields} /proc/self/status; echo ---; ${fields} /proc/${appPid}/status; echo ---; cat /proc/self/uid_map; echo ---; cat /proc/${appPid}/uid_map`], false);
    assert.equal(r.code, 0, show(r));
    const [mine, app, myMap, appMap] = r.stdout.split('---\n').map((s) => s.trim());
    assert.ok(mine && mine.split('\n').length === 4, show(r));
    assert.equal(mine, app, 'exec and app differ in capabilities, no_new_privs or seccomp');
    assert.equal(myMap, appMap, 'exec and app run as different host uids');
  });
  await t.test('instances cp: a file in, then out again, contents unchanged', async () => {
    const local = join(dataDir, 'payload.bin');
    const content = randomBytes(200_000);
    writeFileSync(local, content);
    const inn = await plain(['instances', 'cp', local, `${instance}:/tmp`]);
    assert.equal(inn.code, 0, show(inn));
    const outDir = join(dataDir, 'back');
    mkdirSync(outDir);
    const out = await plain(['instances', 'cp', `${instance}:/tmp/payload.bin`, outDir]);
    assert.equal(out.code, 0, show(out));
    const back = readFileSync(join(outDir, 'payload.bin'));
    assert.ok(back.equals(content), `the file copied out differs from the one copied in (${back.length} bytes out, ${content.length} in)`);
  });
  await t.test('pier instances exec / services exec: a pipe as stdin, the exit code, a tty with its size', async () => {
    const pierEnv = { ...env, PIER_URL: pier.apiUrl, PIER_TOKEN: token };
    const pierBin = join(repoRoot, 'bin', 'pier.mjs');
    const piped = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [pierBin, 'instances', 'exec', instance, '--', 'cat'], { env: pierEnv, timeout: STEP_MS }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      });
      child.stdin!.end('piped-data\n');
    });
    assert.equal(piped.code, 0, show(piped));
    assert.equal(piped.stdout, 'piped-data\n', show(piped));
    const svcRun = await runInPty({ argv: [process.execPath, pierBin, 'services', 'exec', 'shell/box', '--', 'sh', '-c', 'echo from-service; exit 7'], env: pierEnv, tty: false, timeoutMs: STEP_MS });
    assert.equal(svcRun.code, 7, show(svcRun));
    assert.equal(svcRun.stdout, 'from-service\n', show(svcRun));
    // On a terminal: a remote tty of the local terminal's size (80x24), then resized.
    const ttyRun = await runInPty({
      argv: [process.execPath, pierBin, 'instances', 'exec', instance, '--', 'sh', '-c', 'sleep 0.5; stty size; read a; stty size'], env: pierEnv, tty: true,
      steps: [{ expect: '24 80' }, { resize: [90, 33] }, { sleepMs: 300 }, { write: 'x\r' }, { expect: '33 90' }], timeoutMs: STEP_MS,
    });
    assert.equal(ttyRun.code, 0, show(ttyRun));
    assert.match(ttyRun.tty, /24 80[\s\S]*33 90/, show(ttyRun));
  });
  await t.test('another organization\'s token cannot exec (CLI and raw websocket: not found)', async () => {
    const tenant = await api('POST', '/v1/pier/organizations', { name: `intruder-${runtime}` });
    assert.equal(tenant.status, 200, JSON.stringify(tenant.body));
    const other = tenant.body.credential.token as string;
    const r = await exec(['instances', 'exec', instance, '--', 'echo', 'pwned'], false, [], other);
    assert.notEqual(r.code, 0, show(r));
    assert.doesNotMatch(r.stdout, /pwned/);
    // The CLI stops at resolving the id; the websocket itself must refuse the full id too.
    const frames = await new Promise<string[]>((resolve, reject) => {
      const ws = new WebSocket(`${pier.apiUrl.replace(/^http/, 'ws')}/v1/streams/instances/exec`, ['Bearer', other]);
      const got: string[] = [];
      const timer = setTimeout(() => { ws.terminate(); reject(new Error(`no answer: ${got.join(' ')}`)); }, 10_000);
      ws.on('open', () => ws.send(JSON.stringify({ id: instance, idType: 'INSTANCE_ID', body: { command: ['echo', 'pwned'], disableTty: true } })));
      ws.on('message', (d) => got.push(d.toString()));
      ws.on('close', () => { clearTimeout(timer); resolve(got); });
      ws.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    assert.equal(frames.length, 1, frames.join('\n'));
    const reply = JSON.parse(frames[0]!) as { error?: { code: number; message: string } };
    assert.equal(reply.error?.code, 5, frames[0]);
    assert.match(reply.error!.message, /instance not found/);
    // Without a token the handshake itself is refused.
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${pier.apiUrl.replace(/^http/, 'ws')}/v1/streams/instances/exec`);
      ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
      ws.on('open', () => { resolve(101); ws.close(); });
      ws.on('error', () => resolve(-1));
    });
    assert.equal(status, 401);
  });
}

const noCli = 'error' in cli ? `koyeb CLI absent: ${cli.error}` : false;

test('koyeb instances exec / services exec / instances cp against Pier on Docker', { skip: noCli || (!docker && 'no Docker engine answers'), timeout: 180_000 }, (t) => scenario(t, 'docker'));

test('koyeb instances exec / services exec / instances cp against Pier on the process runtime', { skip: noCli || (process.getuid?.() !== 0 && 'the process runtime needs root'), timeout: 180_000 }, (t) => scenario(t, 'process'));

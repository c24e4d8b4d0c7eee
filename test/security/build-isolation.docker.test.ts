// Issue #16 item 1 on the docker target: a tenant's build command (the Go buildpack's build_command override) runs
// in a build container, never on the host: it cannot read the data directory, write the host or run as root; a
// normal Go app still builds and serves; cancel, the time limit and the disk cap stop the container.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { createBuilder } from '../../src/build/builder.ts';
import { BUILD_NETWORK, BUILD_ROLE_LABEL, buildContainerBody } from '../../src/build/sandbox.ts';
import { BUILD_OWNER_LABEL, pruneOrphanBuildContainers } from '../../src/build/sandbox-docker.ts';
import { ensureBaseImage } from '../../src/build/base-images.ts';
import { DockerRuntime } from '../../src/runtime/docker/driver.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { gitDeployment, gitRepo, memoryLogs, runAndFetch, TEST_GO_STD_DIR } from '../build/helpers.ts';
import { attackSetup, isolated, verdict } from './build-isolation-attack.ts';

const engine = new DockerEngine();
const runtime = new DockerRuntime({ scope: `build-isolation-${process.pid}` });
const attack = attackSetup('pier-build-isolation-docker-');
const workDir = join(attack.dataDir, 'builds');
mkdirSync(workDir, { recursive: true });
const built: string[] = [];
const GO_MOD = 'module example.com/app\n\ngo 1.21\n';
const GO_MAIN = 'package main\nimport ("fmt"; "net/http"; "os")\nfunc main() {\n' +
  '\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello from a sandboxed go build") })\n' +
  '\thttp.ListenAndServe(":"+os.Getenv("PORT"), nil)\n}\n';

function builder(logs = memoryLogs(), o: { timeoutMs?: number; diskBytes?: number } = {}) {
  return createBuilder({ target: 'image', workDir, appendLogs: logs.sink, engine, cpu: 1, memoryBytes: 1024 ** 3, goStdDir: TEST_GO_STD_DIR, ...o });
}

async function buildContainers(deploymentId: string): Promise<unknown[]> {
  return engine.json<unknown[]>('GET', '/containers/json', {
    query: { all: 1, filters: JSON.stringify({ label: [`${BUILD_ROLE_LABEL}=build`, `dev.pier.deployment_id=${deploymentId}`] }) },
  });
}

after(async () => {
  for (const tag of built) await engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(tag)}`, { query: { force: 1 } }).catch(() => {});
  rmSync(attack.dataDir, { recursive: true, force: true });
});

test('a build_command cannot read the data dir, write the host, run as root or reach the host; the container is removed', async () => {
  process.env.PIER_BUILD_ISOLATION_CANARY = 'must-not-reach-builds';
  // A listener of the test's own on every address of this host (the build network's gateway included).
  const listener = createServer((s) => s.end('HOST-LISTENER-REACHED\n'));
  await new Promise<void>((r) => listener.listen(0, '0.0.0.0', r));
  const port = (listener.address() as { port: number }).port;
  const hosts = Object.values(networkInterfaces()).flatMap((l) => (l ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address));
  const probes = hosts.map((h) => `nc -w 3 ${h} ${port} </dev/null 2>&1 | sed "s|^|PROBE ${h}: |"`).join('; ');
  const logs = memoryLogs();
  const d = gitDeployment({ repository: gitRepo({ 'go.mod': GO_MOD, 'main.go': GO_MAIN }), build_command: `${attack.command}; ${probes}; echo PROBES""-DONE` });
  const out = await builder(logs).build(d, new AbortController().signal).finally(() => listener.close());
  built.push(out.image);
  const text = logs.text();
  assert.match(text, /PROBES-DONE/);
  assert.ok(!text.includes('HOST-LISTENER-REACHED'), `the build container reached a host listener:\n${text}`);
  assert.match(text, /ATTACK-DONE/, 'the command ran');
  assert.match(text, /uid=65432/, 'as the unprivileged build uid');
  assert.match(text, /ENV: HOME=\/cache\/home/);
  assert.doesNotMatch(text, /PIER_BUILD_ISOLATION_CANARY/);
  // Docker's default: /sys is there, read-only (the process target hides it).
  assert.deepEqual(verdict(attack, text), isolated({ sawSys: true }), text);
  assert.match(text, /swappiness: Read-only file system/);
  assert.deepEqual(await buildContainers(d.id), [], 'no build container is left');
  const net = await engine.json<{ Labels: Record<string, string>; Driver: string }>('GET', `/networks/${BUILD_NETWORK}`);
  assert.equal(net.Labels[BUILD_ROLE_LABEL], 'build');
  assert.equal(net.Driver, 'bridge');
});

test('a Go app builds in the build container (host toolchain, read-only) and serves', async () => {
  const logs = memoryLogs();
  const out = await builder(logs).build(gitDeployment({ repository: gitRepo({ 'go.mod': GO_MOD, 'main.go': GO_MAIN }) }), new AbortController().signal);
  built.push(out.image);
  assert.match(logs.text(), /\$ go build/);
  assert.equal(await runAndFetch(runtime, out.image), 'hello from a sandboxed go build');
});

test('cancel, the time limit and the disk cap stop a build container', async () => {
  const repo = gitRepo({ 'go.mod': GO_MOD, 'main.go': GO_MAIN });
  const logs = memoryLogs();
  const abort = new AbortController();
  const d = gitDeployment({ repository: repo, build_command: 'echo "long step"; sleep 60' });
  const started = Date.now();
  const p = builder(logs).build(d, abort.signal);
  const deadline = Date.now() + 60_000;
  while (!/long step/.test(logs.text()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  abort.abort(new Error('deployment canceled'));
  await assert.rejects(p, /deployment canceled/);
  assert.ok(Date.now() - started < 55_000, 'the build did not wait for the 60 s step');
  assert.deepEqual(await buildContainers(d.id), [], 'the canceled container is removed');

  await assert.rejects(builder(memoryLogs(), { timeoutMs: 4000 }).build(gitDeployment({ repository: repo, build_command: 'sleep 60' }), new AbortController().signal),
    /build time limit reached/);

  const disk = memoryLogs();
  const fill = 'i=0; while [ $i -lt 60 ]; do dd if=/dev/zero of=fill-$i bs=1M count=4 2>/dev/null; i=$((i+1)); sleep 0.2; done; echo FILL""ED';
  await assert.rejects(builder(disk, { diskBytes: 24 * 1024 * 1024 }).build(gitDeployment({ repository: repo, build_command: fill }), new AbortController().signal),
    /build disk limit reached/);
  assert.doesNotMatch(disk.text(), /FILLED/, 'stopped before it wrote everything');
  assert.match(disk.text(), /build disk limit reached: the build wrote \d+ MB, more than its 24 MB/);
});

test('a build container whose Pier process is gone is removed; a live one is left', async () => {
  const image = await ensureBaseImage(engine, 'busybox');
  const body = (owner: string) => {
    const b = buildContainerBody({
      image, command: 'sleep 30', env: {}, buildDir: workDir, cacheDir: workDir, toolchains: [], cpu: 0.1, memoryBytes: 64 * 1024 ** 2, tmpBytes: 1 << 20,
      labels: { [BUILD_OWNER_LABEL]: owner, 'dev.pier.deployment_id': `orphan-test-${process.pid}` },
    });
    (b.HostConfig as Record<string, unknown>).NetworkMode = 'none';
    return b;
  };
  const selfStart = readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]!;
  const orphan = await engine.json<{ Id: string }>('POST', '/containers/create', { body: body('999999999:1') });
  const live = await engine.json<{ Id: string }>('POST', '/containers/create', { body: body(`${process.pid}:${selfStart}`) });
  try {
    assert.ok(await pruneOrphanBuildContainers(engine) >= 1);
    assert.equal(await engine.jsonOrNull('GET', `/containers/${orphan.Id}/json`), null, 'the orphan is gone');
    assert.ok(await engine.jsonOrNull('GET', `/containers/${live.Id}/json`), 'the live one stays');
  } finally {
    for (const id of [orphan.Id, live.Id]) await engine.jsonOrNull('DELETE', `/containers/${id}`, { query: { force: 1 } }).catch(() => undefined);
  }
});

// Tenant isolation on the Docker runtime (issue #16, items 7 and 8), performed for real through the driver: from
// inside an instance, the host (every address it has, the bridge gateways), link-local addresses, another app's
// instance, a mesh-less instance and a container on Docker's default bridge are all unreachable, while the same app's
// peer, the outside world and the host's own way in (the edge and health checks reach each instance at its address on
// its network, nothing published, also on `pier-isolated` with icc off) still work. Then a nano instance
// writes past its 2560 MB disk and is stopped by the engine, and its exit says the disk is full.
// Probes reach only listeners this test starts: on the host, in containers, or in a network namespace it creates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { instanceResources } from '../../src/domain/catalog.ts';
import type { InstanceHandle, InstanceSpec } from '../../src/runtime/contract.ts';
import { DockerRuntime, ISOLATED_NETWORK } from '../../src/runtime/docker/driver.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { DOCKER_FORWARD_CHAIN, DOCKER_INPUT_CHAIN, DOCKER_USER_CHAIN } from '../../src/runtime/firewall.ts';
import { ensureTestImage, TEST_IMAGE } from '../../src/runtime/testing/images.ts';
import { until } from '../support/until.ts';

const MiB = 1024 * 1024;
const engine = new DockerEngine();

function spec(args: string[], over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    instanceId: randomUUID(), labels: {}, image: TEST_IMAGE, command: args, ports: [8000], cpu: 0.5, memoryBytes: 128 * MiB,
    ...over, env: { PORT: '8000', ...over.env },
  };
}

/** Runs argv in a container (engine exec API, no shell string) and returns its output and exit code. */
async function execIn(eng: DockerEngine, id: string, argv: string[]): Promise<{ out: string; code: number }> {
  const exec = await eng.json<{ Id: string }>('POST', `/containers/${id}/exec`, { body: { Cmd: argv, AttachStdout: true, AttachStderr: true } });
  const res = await eng.request('POST', `/exec/${exec.Id}/start`, { body: { Detach: false, Tty: false }, timeoutMs: 60_000 });
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const info = await eng.json<{ ExitCode: number }>('GET', `/exec/${exec.Id}/json`);
  return { out: Buffer.concat(chunks).toString('latin1'), code: info.ExitCode };
}

/**
 * An HTTP GET from inside a container, bounded to 5 s: the static busybox's `wget -T` and `timeout` crash, so a
 * background sleep kills a wget that hangs (a dropped SYN). The URL is an argument, never part of the script.
 */
async function fetchFrom(id: string, url: string): Promise<{ ok: boolean; out: string }> {
  const script = 'wget -qO- "$1" & p=$!; (sleep 5; kill $p 2>/dev/null) & wait $p';
  const r = await execIn(engine, id, ['sh', '-c', script, 'probe', url]);
  return { ok: r.code === 0, out: r.out };
}

function hostGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
  });
}

interface NetInspect { Containers?: Record<string, { IPv4Address: string }>; IPAM: { Config: Array<{ Gateway?: string }> }; Options: Record<string, string> }

async function ipOn(id: string, network: string): Promise<string> {
  const c = await engine.json<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>('GET', `/containers/${id}/json`);
  const ip = c.NetworkSettings.Networks[network]?.IPAddress;
  assert.ok(ip, `container ${id} has an address on ${network}`);
  return ip;
}

async function gatewayOf(network: string): Promise<string> {
  const n = await engine.json<NetInspect>('GET', `/networks/${encodeURIComponent(network)}`);
  const gw = n.IPAM.Config.find((c) => c.Gateway)?.Gateway;
  assert.ok(gw, `network ${network} has a gateway`);
  return gw;
}

function ip(args: string[]): void { execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] }); }

/**
 * "The outside": a network namespace of this test's own behind a veth, routed from the host, serving HTTP on its
 * routable address and on a link-local one (a stand-in for a cloud metadata service that the host reaches).
 */
function startOutside(): { addr: string; linkLocal: string; close: () => void } {
  const tag = randomBytes(3).toString('hex');
  const routes = execFileSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' });
  const n = [...Array(250).keys()].map((i) => i + 1).find((i) => !routes.includes(`10.250.${i}.`));
  assert.ok(n, 'a free 10.250.x.0/30 for the outside namespace');
  const ns = `pieriso${tag}`;
  const hostIf = `pis${tag}`;
  const addr = `10.250.${n}.2`;
  const linkLocal = `169.254.77.${n}`;
  const dir = mkdtempSync(join(tmpdir(), 'pier-outside-'));
  writeFileSync(join(dir, 'index.html'), 'pier-outside\n');
  let srv: ChildProcess | undefined;
  const close = () => {
    if (srv?.pid) { try { process.kill(srv.pid, 'SIGKILL'); } catch { /* gone */ } }
    try { ip(['link', 'del', hostIf]); } catch { /* went with the namespace */ }
    try { ip(['netns', 'del', ns]); } catch { /* not there */ }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    ip(['netns', 'add', ns]);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    ip(['addr', 'add', `10.250.${n}.1/30`, 'dev', hostIf]);
    ip(['link', 'set', hostIf, 'up']);
    ip(['-n', ns, 'addr', 'add', `${addr}/30`, 'dev', 'eth0']);
    ip(['-n', ns, 'addr', 'add', `${linkLocal}/32`, 'dev', 'eth0']);
    ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    ip(['route', 'add', `${linkLocal}/32`, 'via', addr, 'dev', hostIf]);
    srv = spawn('ip', ['netns', 'exec', ns, 'busybox', 'httpd', '-f', '-p', '80', '-h', dir], { stdio: 'ignore' });
  } catch (err) {
    close();
    throw err;
  }
  return { addr, linkLocal, close };
}

function countRules(args: string[], pattern: RegExp): number {
  return execFileSync('iptables', ['-w', ...args], { encoding: 'utf8' }).split('\n').filter((l) => pattern.test(l)).length;
}

test('docker isolation: an instance reaches neither the host, nor link-local, nor other networks; its app, the outside and the edge still work', { timeout: 240_000 }, async () => {
  await ensureTestImage();
  const scope = `iso-${randomUUID().slice(0, 8)}`;
  const warnings: string[] = [];
  const rt = new DockerRuntime({ scope, log: (l) => warnings.push(l) });
  const netA = `pier-app-isotest-a-${scope}`;
  const netB = `pier-app-isotest-b-${scope}`;
  const started: InstanceHandle[] = [];
  let foreignId: string | undefined;
  const hits: string[] = [];
  const listener = http.createServer((req, res) => { hits.push(req.socket.remoteAddress ?? '?'); res.end('pier-host-listener\n'); });
  await new Promise<void>((r) => listener.listen(0, '0.0.0.0', r));
  const port = (listener.address() as AddressInfo).port;
  const outside = startOutside();
  try {
    await rt.ensureNetwork(netA);
    await rt.ensureNetwork(netB);
    const a1 = await rt.start(spec(['serve'], { env: { GREETING: 'app-a' }, network: netA, networkAliases: ['peer'] }));
    started.push(a1);
    const a2 = await rt.start(spec(['sleep'], { network: netA }));
    started.push(a2);
    // In a network holder's namespace (a service that scales to zero: docker/netns-holder.ts): fenced the same way.
    const held = await rt.start(spec(['sleep'], { network: netA, resumable: true }));
    started.push(held);
    const b1 = await rt.start(spec(['serve'], { env: { GREETING: 'app-b' }, network: netB }));
    started.push(b1);
    const lone = await rt.start(spec(['serve'], { env: { GREETING: 'no-mesh' } })); // mesh disabled: no app network
    started.push(lone);
    const loneClient = await rt.start(spec(['sleep']));
    started.push(loneClient);
    // Not Pier's: a container on Docker's default bridge, as an operator might run.
    const foreign = await engine.json<{ Id: string }>('POST', '/containers/create', {
      query: { name: `iso-foreign-${scope}` },
      body: { Image: TEST_IMAGE, Cmd: ['serve'], Env: ['PORT=8000', 'GREETING=foreign'], HostConfig: { NetworkMode: 'bridge' } },
    });
    foreignId = foreign.Id;
    await engine.json('POST', `/containers/${foreign.Id}/start`);

    const bIp = await ipOn(b1.runtimeId, netB);
    const loneIp = await ipOn(lone.runtimeId, ISOLATED_NETWORK);
    const foreignIp = await ipOn(foreign.Id, 'bridge');
    // Controls: every target below is alive, seen from the host.
    assert.match(await hostGet(`http://127.0.0.1:${port}/`), /pier-host-listener/);
    // The endpoints are the containers' own addresses (no published port, no docker-proxy): the host reaches them.
    assert.deepEqual(b1.endpoints, [{ containerPort: 8000, host: bIp, hostPort: 8000 }]);
    assert.deepEqual(lone.endpoints, [{ containerPort: 8000, host: loneIp, hostPort: 8000 }], 'on pier-isolated (icc off) too');
    await until('the instances to serve', async () => {
      for (const u of [`http://${bIp}:8000/`, `http://${loneIp}:8000/`, `http://${foreignIp}:8000/`]) {
        if (!/hello from pier/.test(await hostGet(u))) return false;
      }
      return true;
    }, 30_000);
    assert.match(await until('the outside namespace', () => hostGet(`http://${outside.linkLocal}/`), 10_000), /pier-outside/, 'the host reaches the link-local service');
    hits.length = 0;

    // What must still work from inside app A.
    const peer = await until('the same-app peer by alias', async () => { const r = await fetchFrom(a2.runtimeId, 'http://peer:8000/'); return r.ok && r.out; }, 30_000);
    assert.match(peer, /hello from pier app-a/);
    const out = await fetchFrom(a2.runtimeId, `http://${outside.addr}/`);
    assert.ok(out.ok && /pier-outside/.test(out.out), `egress to the outside still works: ${out.out}`);
    assert.match(await hostGet(`http://${a1.endpoints[0].host}:${a1.endpoints[0].hostPort}/`), /hello from pier app-a/, 'the host (edge) reaches the instance at its endpoint');

    // What must fail: every address of the host, both gateways, link-local, the other app, the mesh-less instance,
    // the operator's container on docker0.
    const hostAddrs = Object.values(networkInterfaces()).flatMap((l) => l ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address);
    const targets = [
      ...new Set([...hostAddrs, await gatewayOf(netA), await gatewayOf(netB), await gatewayOf(ISOLATED_NETWORK)]),
    ].map((h) => `http://${h}:${port}/`);
    targets.push('http://169.254.169.254:80/', `http://${outside.linkLocal}/`, `http://${bIp}:8000/`, `http://${loneIp}:8000/`, `http://${foreignIp}:8000/`);
    assert.ok(hostAddrs.length >= 2, `the host has addresses to probe: ${hostAddrs.join(' ')}`);
    const results = await Promise.all(targets.map(async (url) => ({ url, ...(await fetchFrom(a2.runtimeId, url)) })));
    const reached = results.filter((r) => r.ok || /pier-host-listener|hello from pier|pier-outside/.test(r.out));
    assert.deepEqual(reached.map((r) => `${r.url}: ${r.out.trim()}`), [], 'nothing outside the app is reachable');
    const heldPeer = await until('the peer from the held instance', async () => { const r = await fetchFrom(held.runtimeId, 'http://peer:8000/'); return r.ok && r.out; }, 30_000);
    assert.match(heldPeer, /hello from pier app-a/, 'a held instance reaches its app by alias');
    const fromHeld = await Promise.all(targets.map(async (url) => ({ url, ...(await fetchFrom(held.runtimeId, url)) })));
    const heldReached = fromHeld.filter((r) => r.ok || /pier-host-listener|hello from pier|pier-outside/.test(r.out));
    assert.deepEqual(heldReached.map((r) => `${r.url}: ${r.out.trim()}`), [], 'nothing outside the app is reachable from a held instance either');
    const fromLone = await Promise.all([`http://${loneIp}:8000/`, `http://${bIp}:8000/`, `http://${await gatewayOf(ISOLATED_NETWORK)}:${port}/`]
      .map(async (url) => ({ url, ...(await fetchFrom(loneClient.runtimeId, url)) })));
    assert.deepEqual(fromLone.filter((r) => r.ok).map((r) => r.url), [], 'mesh-less instances reach neither each other nor anything else');
    assert.deepEqual(hits, [], 'the host listener saw no connection from a container');
    assert.deepEqual(warnings.filter((w) => /firewall|WARNING/.test(w)), [], 'the firewall installed without warnings');

    // A restarted control plane re-installs idempotently: one jump each, each rule once. (Other Pier processes on
    // this host may add a network's bridge meanwhile, so rules are counted per rule, not in total.)
    await new DockerRuntime({ scope, log: () => undefined }).ensureNetwork(netA);
    assert.equal(countRules(['-S', DOCKER_USER_CHAIN], new RegExp(`-j ${DOCKER_FORWARD_CHAIN}$`)), 1);
    assert.equal(countRules(['-S', 'FORWARD'], new RegExp(`-j ${DOCKER_FORWARD_CHAIN}$`)), 1);
    assert.equal(countRules(['-S', 'INPUT'], new RegExp(`-j ${DOCKER_INPUT_CHAIN}$`)), 1);
    assert.equal(countRules(['-S', DOCKER_INPUT_CHAIN], /^-A \S+ -i pierdk\+ -j DROP$/), 1);
    assert.equal(countRules(['-S', DOCKER_FORWARD_CHAIN], /^-A \S+ -o pierdk\+ -j DROP$/), 1);
  } finally {
    for (const h of started) await rt.remove(h.runtimeId).catch(() => undefined);
    if (foreignId) await engine.jsonOrNull('DELETE', `/containers/${foreignId}`, { query: { force: true } }).catch(() => undefined);
    await rt.removeNetwork(netA).catch(() => undefined);
    await rt.removeNetwork(netB).catch(() => undefined);
    outside.close();
    listener.close();
  }
});

test('docker disk: a nano instance writing past its 2560 MB disk gets ENOSPC, and its exit says the disk is full', { timeout: 300_000 }, async () => {
  await ensureTestImage();
  const log: string[] = [];
  const rt = new DockerRuntime({ log: (l) => log.push(l) });
  assert.equal((await rt.capabilities()).enforcesDisk, true, `this engine enforces disk limits: ${log.join(' ')}`);
  const nano = instanceResources('nano')!;
  assert.equal(nano.diskBytes, 2560 * MiB);
  // Bounded: 3000 MB at most, more than the disk; the app exits because the write failed.
  const script = 'dd if=/dev/zero of=/data.bin bs=1M count=3000 || { echo "wrote $(stat -c %s /data.bin) bytes, then failed"; exit 1; }; echo "wrote everything"';
  const h = await rt.start(spec([], { entrypoint: ['/bin/sh', '-c', script], ports: [], cpu: nano.cpu, memoryBytes: nano.memoryBytes, diskBytes: nano.diskBytes }));
  try {
    const exit = await rt.wait(h.runtimeId, AbortSignal.timeout(240_000));
    const lines: string[] = [];
    for await (const l of rt.logs(h.runtimeId, { follow: false })) lines.push(l.line);
    const out = lines.join('\n');
    assert.equal(exit.exitCode, 1, out);
    assert.match(out, /dd: error writing '\/data.bin': No space left on device/);
    const wrote = Number(/wrote (\d+) bytes, then failed/.exec(out)?.[1]);
    assert.ok(wrote > 0.95 * nano.diskBytes && wrote <= nano.diskBytes, `stopped at the limit: wrote ${wrote} bytes`);
    assert.match(exit.error ?? '', /^exited with code 1 after .+: disk full \(the instance type's 2.5 GB disk; .+ in use\)$/);
  } finally {
    await rt.remove(h.runtimeId);
  }
  assert.equal(await engine.jsonOrNull('GET', `/containers/${h.runtimeId}/json`), null, 'the container is gone');
  const mounts = execFileSync('findmnt', ['-rn', '-o', 'SOURCE,TARGET'], { encoding: 'utf8' });
  assert.ok(!mounts.includes(h.runtimeId), 'its disk is unmounted and deleted');
});

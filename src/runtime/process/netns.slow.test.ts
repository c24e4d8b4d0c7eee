// Private networks of the process runtime for real (root, ip, iptables): instances of one app network reach each
// other by address and by name, instances of another app network and the host itself are unreachable, a restarted
// driver keeps the namespaces, and removing the instances leaves no namespace, veth or bridge behind.
// Probes run inside an instance (nsenter into its sandbox's network and mount namespaces), as an app would.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InstanceHandle, InstanceSpec } from '../contract.ts';
import { prepareTestAppDir } from '../testing/images.ts';
import { InstanceCgroup, detectCgroupLayout } from './cgroups.ts';
import { ProcessRuntime } from './driver.ts';
import { networkingUnavailable } from './netns.ts';
import { bridgeName, instanceNames } from './netplan.ts';
import { probeFromInstance } from './probe.ts';

const MiB = 1024 * 1024;
const stateDir = mkdtempSync(join(tmpdir(), 'pier-netns-test-'));
const cgroupParent = `pier-test-netns-${process.pid}`;
const app = prepareTestAppDir();
const makeDriver = () => new ProcessRuntime({ stateDir, cgroupParent, network: 'isolated' });
const unavailable = networkingUnavailable();

after(() => {
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(app.dir, { recursive: true, force: true });
  const layout = detectCgroupLayout();
  if (layout) new InstanceCgroup(layout, '', cgroupParent).destroy();
});

function spec(network: string, args: string[], over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    instanceId: randomUUID(), labels: {}, appDir: app.dir, entrypoint: app.entrypoint, command: args, ports: [8000], cpu: 1,
    memoryBytes: 128 * MiB, env: {}, network, ...over,
  };
}

const probe = (id: string, url: string) => probeFromInstance(app.entrypoint[0], cgroupParent, id, url);

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (let i = 0; i < 200 && Date.now() < deadline; i++) {
    try { const v = await fn(); if (v) return v; } catch (err) { last = err; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what}${last ? ` (${(last as Error).message})` : ''}`);
}

test('process networks: same app reachable by address and name; other apps and the host are not; nothing leaks', {
  skip: unavailable ? `private networks unavailable: ${unavailable}` : false, timeout: 120_000,
}, async (t) => {
  const rt = makeDriver();
  assert.equal((await rt.capabilities()).privateNetworking, true);
  // A host service listening on every address: instances must not reach it (nor anything else on the host).
  const hostServer = http.createServer((_q, s) => s.end('host-secret'));
  await new Promise<void>((r) => hostServer.listen(0, '0.0.0.0', r));
  const hostPort = (hostServer.address() as { port: number }).port;
  const started: InstanceHandle[] = [];
  const names: Array<ReturnType<typeof instanceNames>> = [];
  const networks = [`shop-${randomUUID()}`, `other-${randomUUID()}`];
  try {
    const timings: number[] = [];
    const start = async (s: InstanceSpec) => {
      const t0 = performance.now();
      const h = await rt.start(s);
      timings.push(performance.now() - t0);
      started.push(h);
      names.push(instanceNames(stateDir, h.runtimeId));
      return h;
    };
    const api = await start(spec(networks[0], ['serve'], { env: { GREETING: 'shop-api' }, networkAliases: ['api', 'api.shop.internal'] }));
    const web = await start(spec(networks[0], ['serve'], { env: { GREETING: 'shop-web' }, networkAliases: ['web'] }));
    const intruder = await start(spec(networks[1], ['serve'], { env: { GREETING: 'intruder' }, networkAliases: ['intruder'] }));
    t.diagnostic(`start() with a new namespace: ${timings.map((x) => x.toFixed(0)).join(', ')} ms`);

    const apiIp = api.endpoints[0].host;
    assert.equal(api.endpoints[0].hostPort, 8000, 'the instance listens on its declared port at its own address');
    assert.notEqual(apiIp, intruder.endpoints[0].host);
    assert.notEqual(apiIp.split('.').slice(0, 3).join('.'), intruder.endpoints[0].host.split('.').slice(0, 3).join('.'), 'one subnet per app network');
    // The host (edge, health checks) reaches every instance.
    for (const h of [api, web, intruder]) {
      const body = await until('host reaches the instance', async () => {
        const r = await fetch(`http://${h.endpoints[0].host}:8000/`, { signal: AbortSignal.timeout(2000) });
        return r.ok && r.text();
      });
      assert.match(body, /hello from pier/);
    }

    // Same app: by address, by <service> and by <service>.<app>.internal.
    for (const url of [`http://${apiIp}:8000/`, 'http://api:8000/', 'http://api.shop.internal:8000/']) {
      const r = await until(`web reaches ${url}`, async () => { const x = await probe(web.runtimeId, url); if (!x.ok) throw new Error(x.output); return x; });
      assert.match(r.output, /hello from pier shop-api/);
    }
    // The probe works from the other app too (its own address) ...
    const own = await until('intruder reaches itself', async () => { const x = await probe(intruder.runtimeId, `http://${intruder.endpoints[0].host}:8000/`); return x.ok && x; });
    assert.match(own.output, /hello from pier intruder/);
    // ... but neither shop's address nor its names.
    const denied = [`http://${apiIp}:8000/`, `http://${web.endpoints[0].host}:8000/`, 'http://api:8000/', 'http://api.shop.internal:8000/'];
    for (const [i, x] of (await Promise.all(denied.map((url) => probe(intruder.runtimeId, url)))).entries()) {
      assert.equal(x.ok, false, `${denied[i]} must not be reachable from another app: ${x.output}`);
      assert.doesNotMatch(x.output, /hello from pier/);
    }
    // The host: its bridge gateway, and every other address of the host, with a listener on all of them.
    const gateway = apiIp.replace(/\.\d+$/, '.1');
    const hostIps = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address);
    let hostChecks = 0;
    await Promise.all([...new Set([gateway, ...hostIps])].map(async (ip) => {
      const direct = await fetch(`http://${ip}:${hostPort}/`, { signal: AbortSignal.timeout(2000) }).then((r) => r.text(), (e: Error) => e.message);
      if (!direct.includes('host-secret')) return; // not a path the host itself uses (cannot prove anything)
      hostChecks++;
      const x = await probe(web.runtimeId, `http://${ip}:${hostPort}/`);
      assert.equal(x.ok, false, `the host at ${ip} must not be reachable from an instance: ${x.output}`);
      assert.doesNotMatch(x.output, /host-secret/);
    }));
    assert.ok(hostChecks >= 1, 'at least the bridge gateway was probed');

    // A restarted control plane (a new driver) adopts the instances; their namespaces and addresses stay.
    const again = makeDriver();
    const adopted = await again.recover();
    assert.deepEqual(adopted.find((h) => h.runtimeId === api.runtimeId)?.endpoints, api.endpoints);
    for (const n of names) assert.ok(existsSync(`/run/netns/${n.netns}`), `namespace ${n.netns} survives the restart`);
    assert.match(await (await fetch(`http://${apiIp}:8000/`, { signal: AbortSignal.timeout(2000) })).text(), /shop-api/);

    // Stopping one instance frees its namespace and drops it from the app's hosts file; the other stays reachable.
    await again.stop(web.runtimeId, 2000);
    assert.ok(!existsSync(`/run/netns/${names[1].netns}`), 'stop frees the namespace');
    const hosts = readFileSync(join(stateDir, 'networks', bridgeName(stateDir, networks[0]), 'hosts'), 'utf8');
    assert.match(hosts, /\tpier-\S+ api api\.shop\.internal/);
    assert.doesNotMatch(hosts, /\sweb$/m);
  } finally {
    for (const h of started) await rt.remove(h.runtimeId).catch(() => undefined);
    await new Promise((r) => hostServer.close(r));
  }
  // Nothing left: namespaces, veths, bridges, hosts files.
  for (const n of names) {
    assert.ok(!existsSync(`/run/netns/${n.netns}`), `namespace ${n.netns} left behind`);
    assert.ok(!existsSync(`/sys/class/net/${n.veth}`), `veth ${n.veth} left behind`);
  }
  for (const net of networks) {
    assert.ok(!existsSync(`/sys/class/net/${bridgeName(stateDir, net)}`), `bridge of ${net} left behind`);
    assert.ok(!existsSync(join(stateDir, 'networks', bridgeName(stateDir, net))), `hosts dir of ${net} left behind`);
  }
});

test('process networks: an address given again right after its instance went answers at once (its MAC goes with the address)', {
  skip: unavailable ? `private networks unavailable: ${unavailable}` : false, timeout: 60_000,
}, async () => {
  // The host keeps the MAC it last saw for an address (its neighbour table) for tens of seconds, and so do the other
  // instances. A new instance on a just-freed address (the lowest free one: a scale-down then a start, a restart)
  // must not be unreachable until those entries expire: health checks and the edge time out meanwhile (seen as
  // standbys failing their checks for 5 s each, session 25). So the address decides the MAC.
  const rt = makeDriver();
  const network = `reuse-${randomUUID()}`;
  const started: InstanceHandle[] = [];
  const get = (ip: string) => fetch(`http://${ip}:8000/`, { signal: AbortSignal.timeout(1000) }).then((r) => r.text());
  const macOf = (h: InstanceHandle) => new Promise<string>((resolve, reject) => {
    execFile('ip', ['-n', instanceNames(stateDir, h.runtimeId).netns, '-o', 'link', 'show', 'eth0'], (err, out) => {
      const m = /link\/ether ([0-9a-f:]{17})/.exec(out);
      if (err || !m) reject(err ?? new Error(out)); else resolve(m[1]!);
    });
  });
  const neighbour = (ip: string) => new Promise<string>((resolve) => execFile('ip', ['neigh', 'show', ip], (_e, out) => resolve(out.trim())));
  try {
    // A keeper holds the bridge (the last instance of a network takes the bridge, and the host's entries, with it).
    started.push(await rt.start(spec(network, ['serve'], { env: { GREETING: 'keeper' } })));
    const first = await rt.start(spec(network, ['serve'], { env: { GREETING: 'first' } }));
    started.push(first);
    const ip = first.endpoints[0].host;
    assert.match(await until('the host reaches the first instance', async () => get(ip).catch(() => false)), /first/);
    const firstMac = await macOf(first);
    await rt.remove(first.runtimeId);
    const second = await rt.start(spec(network, ['serve'], { env: { GREETING: 'second' } }));
    started.push(second);
    assert.equal(second.endpoints[0].host, ip, 'the freed address is given again');
    assert.equal(await macOf(second), firstMac, 'the address keeps its MAC');
    const seen = await neighbour(ip);
    assert.ok(seen === '' || seen.includes(firstMac), `the host's entry for ${ip} names no other MAC: ${seen}`);
    // Connections are refused until it listens; a request sent to a MAC nobody has would time out instead.
    const body = await until('the host reaches the second instance', async () => get(ip).catch(() => false), 3000);
    assert.match(String(body), /second/);
  } finally {
    for (const h of started) await rt.remove(h.runtimeId).catch(() => undefined);
  }
});

test('process networks: the firewall chains are in place and jumped to first-class', { skip: unavailable ? `private networks unavailable: ${unavailable}` : false }, async () => {
  await makeDriver().capabilities();
  const rules = await new Promise<string>((resolve, reject) => execFile('iptables', ['-w', '-S'], (err, out) => err ? reject(err) : resolve(out)));
  assert.match(rules, /^-A FORWARD -j PIER-ISOLATION$/m);
  assert.match(rules, /^-A INPUT -j PIER-INPUT$/m);
  assert.match(rules, /^-A PIER-INPUT -i pierbr\+ -j DROP$/m);
  // Before Pier's jump, no verdict may apply to Pier's bridges: Docker inserts rules for its own bridges at the top of
  // FORWARD whenever it creates a network, so only rules naming a non-Pier interface may come first.
  const forward = rules.split('\n').filter((l) => l.startsWith('-A FORWARD '));
  const mine = forward.indexOf('-A FORWARD -j PIER-ISOLATION');
  const namesOtherInterface = (l: string) => {
    const t = l.split(' ');
    return t.some((w, i) => (w === '-i' || w === '-o') && t[i - 1] !== '!' && !(t[i + 1] ?? '').startsWith('pierbr'));
  };
  const firstVerdict = forward.findIndex((l) => / -j (ACCEPT|DROP|REJECT)$/.test(l) && !namesOtherInterface(l));
  assert.ok(firstVerdict === -1 || mine < firstVerdict, `PIER-ISOLATION is evaluated before any verdict that could match Pier's bridges:\n${forward.join('\n')}`);
  // With Docker on the host, Pier's chain is also jumped to from DOCKER-USER, which Docker keeps first, and nothing
  // before it there may accept: only Pier's own chains that never do (the Docker runtime's PIER-DOCKER-ISOLATION
  // drops or returns).
  if (/^-N DOCKER-USER$/m.test(rules)) {
    const user = rules.split('\n').filter((l) => l.startsWith('-A DOCKER-USER '));
    const at = user.indexOf('-A DOCKER-USER -j PIER-ISOLATION');
    assert.ok(at >= 0, user.join('\n'));
    for (const before of user.slice(0, at)) {
      const chain = before.match(/^-A DOCKER-USER -j (PIER-[A-Z-]+)$/)?.[1];
      assert.ok(chain, `only a jump to a Pier chain may precede PIER-ISOLATION in DOCKER-USER: ${before}`);
      assert.ok(!rules.split('\n').some((l) => l.startsWith(`-A ${chain} `) && / -j ACCEPT$/.test(l)), `${chain} never accepts`);
    }
  }
});

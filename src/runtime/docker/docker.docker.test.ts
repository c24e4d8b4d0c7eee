// Runs the runtime conformance suite against a real Docker engine, plus Docker-only behaviour (networks, pulls).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { runRuntimeConformance } from '../conformance.ts';
import type { InstanceSpec } from '../contract.ts';
import { INSTANCE_LABEL, MANAGED_LABEL } from '../common.ts';
import { ensureTestImage, TEST_IMAGE } from '../testing/images.ts';
import { DockerRuntime, HOLDER_POOL_NETWORK, ISOLATED_NETWORK, SCOPE_LABEL } from './driver.ts';
import { until } from '../../../test/support/until.ts';
import { DockerEngine } from './engine.ts';
import { onDockerStartTimings, type StartTimings } from './timing.ts';
import { HOLDER_LABEL, holderName } from './netns-holder.ts';

const engine = new DockerEngine();
const MiB = 1024 * 1024;

function spec(instanceId: string, args: string[], over: Partial<InstanceSpec> = {}): InstanceSpec {
  return {
    instanceId, labels: {}, image: TEST_IMAGE, command: args, ports: [8000], cpu: 1, memoryBytes: 128 * MiB,
    ...over,
    env: { PORT: '8000', ...over.env },
  };
}

interface Inspect { HostConfig: { NanoCpus: number; Memory: number; MemorySwap: number; CapDrop: string[] | null } }

/** The conformance fixtures of the Docker driver; `over` applies to every spec (e.g. resumable: network holders). */
const dockerFixtures = (over: Partial<InstanceSpec> = {}): Parameters<typeof runRuntimeConformance>[2] => ({
  setup: async () => { await ensureTestImage(); },
  spec: (instanceId, args, more) => spec(instanceId, args, { ...over, ...more }),
  async enforcedLimits(id) {
    const c = await engine.json<Inspect>('GET', `/containers/${id}/json`);
    return { cpu: c.HostConfig.NanoCpus / 1e9, memoryBytes: c.HostConfig.Memory };
  },
  async leftovers(id, instanceId) {
    const left: string[] = [];
    if (await engine.jsonOrNull('GET', `/containers/${id}/json`)) left.push(`container ${id}`);
    if (await engine.jsonOrNull('GET', `/containers/pier-${instanceId}/json`)) left.push(`container pier-${instanceId}`);
    if (await engine.jsonOrNull('GET', `/containers/${holderName(instanceId)}/json`)) left.push(`network holder ${holderName(instanceId)}`);
    return left;
  },
  async startForeign() {
    // Named like ours on purpose: only the labels make a container Pier's.
    const c = await engine.json<{ Id: string }>('POST', '/containers/create', {
      query: { name: `pier-foreign-${randomUUID().slice(0, 8)}` },
      body: { Image: TEST_IMAGE, Cmd: ['sleep'], HostConfig: { RestartPolicy: { Name: 'no' } } },
    });
    await engine.json('POST', `/containers/${c.Id}/start`);
    return {
      id: c.Id,
      alive: async () => (await engine.json<{ State: { Running: boolean } }>('GET', `/containers/${c.Id}/json`)).State.Running,
      cleanup: async () => { await engine.jsonOrNull('DELETE', `/containers/${c.Id}`, { query: { force: true } }); },
    };
  },
});

runRuntimeConformance('docker', () => new DockerRuntime(), dockerFixtures());
// Instances of services that scale to zero join a network holder's namespace, and autoscaled ones take spare holders
// (netns-holder.ts; the suite's specs share one key, so its starts take each other's spares): the same contract.
runRuntimeConformance('docker (resumable: network holders)', () => new DockerRuntime(), dockerFixtures({ resumable: true, scalesOut: true }));
// Pier's default: any instance may take a holder from the pool (PIER_DOCKER_HOLDER_POOL) instead of a namespace of
// its own: the same contract. Each driver's pool is removed after the suite.
const pooledDrivers: DockerRuntime[] = [];
runRuntimeConformance('docker (holder pool)', () => { const d = new DockerRuntime({ holderPool: 2 }); pooledDrivers.push(d); return d; }, {
  ...dockerFixtures(),
  teardown: async () => { for (const d of pooledDrivers) await d.close(); },
});

test('docker: instances on a private network reach each other by alias', { timeout: 90_000 }, async () => {
  await ensureTestImage();
  const rt = new DockerRuntime();
  const net = `pier-test-net-${randomUUID().slice(0, 8)}`;
  const ids: string[] = [];
  try {
    await rt.ensureNetwork(net);
    await rt.ensureNetwork(net); // idempotent
    const api = await rt.start(spec(randomUUID(), ['serve'], { env: { GREETING: 'from-api' }, network: net, networkAliases: ['api', 'api.myapp.internal'] }));
    ids.push(api.runtimeId);
    const client = await rt.start(spec(randomUUID(), ['sleep'], { network: net }));
    ids.push(client.runtimeId);
    // Probe from inside the client container through the engine's exec API (argv, no shell string).
    let body = '';
    for (let i = 0; i < 50 && !body.includes('from-api'); i++) {
      const exec = await engine.json<{ Id: string }>('POST', `/containers/${client.runtimeId}/exec`, {
        body: { Cmd: ['wget', '-qO-', 'http://api.myapp.internal:8000/'], AttachStdout: true, AttachStderr: true },
      });
      const res = await engine.request('POST', `/exec/${exec.Id}/start`, { body: { Detach: false, Tty: false } });
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      body = Buffer.concat(chunks).toString('latin1');
      if (!body.includes('from-api')) await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(body, /hello from pier from-api/);
  } finally {
    for (const id of ids) await rt.remove(id).catch(() => undefined);
    await rt.removeNetwork(net);
  }
  assert.equal(await engine.jsonOrNull('GET', `/networks/${net}`), null, 'the Pier-owned network is removed');
});

test('docker: removeNetwork never removes a network Pier did not create', { timeout: 30_000 }, async () => {
  const rt = new DockerRuntime();
  const net = `foreign-net-${randomUUID().slice(0, 8)}`;
  await engine.json('POST', '/networks/create', { body: { Name: net, Driver: 'bridge' } });
  try {
    await rt.removeNetwork(net);
    assert.ok(await engine.jsonOrNull('GET', `/networks/${net}`));
  } finally {
    await engine.jsonOrNull('DELETE', `/networks/${net}`);
  }
});

test('docker: a missing image that cannot be pulled fails start clearly and leaves no container', { timeout: 90_000 }, async () => {
  const rt = new DockerRuntime();
  const id = randomUUID();
  await assert.rejects(
    rt.start(spec(id, ['serve'], { image: 'pier-test/absent-image:never', registryAuth: { username: 'u', password: 's3cret-pw', serveraddress: 'registry.invalid' } })),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'unavailable');
      assert.match(err.message, /pulling image pier-test\/absent-image:never failed/);
      assert.ok(!err.message.includes('s3cret-pw'), 'registry password never appears in errors');
      return true;
    },
  );
  assert.equal(await engine.jsonOrNull('GET', `/containers/pier-${id}/json`), null);
});

/** The container addresses docker-proxy processes forward to (one process per published port). */
function proxiedAddresses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let argv: string[];
    try { argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (!/docker-proxy$/.test(argv[0] ?? '')) continue;
    const i = argv.indexOf('-container-ip');
    if (i >= 0 && argv[i + 1]) out.push(argv[i + 1]!);
  }
  return out;
}

test('docker: containers publish no port (no docker-proxy), are reached at their address, have no restart policy and carry Pier labels', { timeout: 60_000 }, async () => {
  await ensureTestImage();
  const rt = new DockerRuntime();
  const h = await rt.start(spec(randomUUID(), ['serve'], { labels: { service_id: 's1' } }));
  try {
    const c = await engine.json<Inspect & { Name: string; Config: { Labels: Record<string, string> }; HostConfig: { PortBindings: Record<string, unknown> | null; RestartPolicy: { Name: string } }; NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>('GET', `/containers/${h.runtimeId}/json`);
    assert.equal(c.Name, `/pier-${h.instanceId}`);
    assert.equal(c.Config.Labels['dev.pier.managed'], 'true');
    assert.equal(c.Config.Labels['dev.pier.instance_id'], h.instanceId);
    assert.equal(c.Config.Labels['dev.pier.service_id'], 's1');
    assert.deepEqual(Object.keys(c.HostConfig.PortBindings ?? {}), [], 'nothing published on the host');
    const ip = c.NetworkSettings.Networks[ISOLATED_NETWORK]?.IPAddress;
    assert.ok(ip, 'the instance has an address on pier-isolated');
    assert.deepEqual(h.endpoints, [{ containerPort: 8000, host: ip, hostPort: 8000 }]);
    assert.ok(!proxiedAddresses().includes(ip), 'no docker-proxy forwards to the instance');
    const body = await until('the host to reach the instance at its address', async () => {
      const r = await fetch(`http://${ip}:8000/`, { signal: AbortSignal.timeout(2000) }).then((x) => x.text(), () => '');
      return /hello from pier/.test(r) && r;
    }, 20_000);
    assert.match(body, /hello from pier/);
    assert.equal(c.HostConfig.RestartPolicy.Name, 'no');
    assert.equal(c.HostConfig.MemorySwap, c.HostConfig.Memory);
  } finally {
    await rt.remove(h.runtimeId);
  }
});

test('docker: recover() keeps the published loopback port of a container created before ports stopped being published', { timeout: 60_000 }, async () => {
  await ensureTestImage();
  const scope = `legacy-${randomUUID().slice(0, 8)}`;
  const rt = new DockerRuntime({ scope });
  const instanceId = randomUUID();
  // What the driver created until #26: the declared port published on 127.0.0.1 with an ephemeral host port.
  const created = await engine.json<{ Id: string }>('POST', '/containers/create', {
    query: { name: `pier-${instanceId}` },
    body: {
      Image: TEST_IMAGE, Cmd: ['serve'], Env: ['PORT=8000'], ExposedPorts: { '8000/tcp': {} },
      Labels: { [MANAGED_LABEL]: 'true', [INSTANCE_LABEL]: instanceId, [SCOPE_LABEL]: scope },
      HostConfig: { PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, RestartPolicy: { Name: 'no' } },
    },
  });
  try {
    await engine.json('POST', `/containers/${created.Id}/start`);
    const [h] = (await rt.recover()).filter((x) => x.instanceId === instanceId);
    assert.ok(h, 'the older container is adopted');
    assert.equal(h.endpoints.length, 1);
    const ep = h.endpoints[0]!;
    assert.equal(ep.host, '127.0.0.1');
    assert.equal(ep.containerPort, 8000);
    assert.notEqual(ep.hostPort, 8000, 'the published ephemeral port, not the declared one');
    const body = await until('the published port to serve', async () => {
      const r = await fetch(`http://127.0.0.1:${ep.hostPort}/`, { signal: AbortSignal.timeout(2000) }).then((x) => x.text(), () => '');
      return /hello from pier/.test(r) && r;
    }, 20_000);
    assert.match(body, /hello from pier/);
  } finally {
    await rt.remove(created.Id);
  }
});

test('docker: capabilities explain an unreachable engine', async () => {
  const rt = new DockerRuntime({ socketPath: '/nonexistent/docker.sock' });
  await assert.rejects(rt.capabilities(), /Docker engine not reachable at \/nonexistent\/docker.sock: start it with scripts\/setup-host.sh or set PIER_RUNTIME=process/);
});

test('docker: concurrent ensureNetwork calls for one name create exactly one network; one removed behind Pier\'s back is made again', { timeout: 60_000 }, async () => {
  const rt = new DockerRuntime();
  const net = `pier-test-race-${randomUUID().slice(0, 8)}`;
  const named = async () => (await engine.json<{ Name: string }[]>('GET', '/networks', { query: { filters: JSON.stringify({ name: [net] }) } })).filter((n) => n.Name === net);
  const timings: StartTimings[] = [];
  let id: string | undefined;
  try {
    await Promise.all([rt.ensureNetwork(net), rt.ensureNetwork(net), rt.ensureNetwork(net)]);
    assert.equal((await named()).length, 1);
    // ensureNetwork no longer asks the engine once it made the network, so a prune goes unseen until a create fails.
    await engine.json('DELETE', `/networks/${net}`);
    await rt.ensureNetwork(net);
    onDockerStartTimings((t) => timings.push(t));
    const instanceId = randomUUID();
    id = (await rt.start(spec(instanceId, ['sleep'], { network: net }))).runtimeId;
    assert.equal((await named()).length, 1, 'the start made the network again');
    const own = timings.find((t) => t.instanceId === instanceId);
    assert.ok(own && own.spans.create > 0 && own.spans.start > 0 && own.totalMs >= own.spans.start, `start spans: ${JSON.stringify(own)}`);
  } finally {
    onDockerStartTimings(undefined);
    if (id) await rt.remove(id);
    await rt.removeNetwork(net);
  }
});

test('docker: resume() starts a stopped, kept container again (same container, its disk and network kept, fresh address); a removed one is not_found', { timeout: 90_000 }, async () => {
  await ensureTestImage();
  const rt = new DockerRuntime({ log: () => {} });
  const network = `pier-test-resume-${randomUUID().slice(0, 8)}`;
  const h = await rt.start(spec(randomUUID(), ['serve'], { network, diskBytes: 64 * MiB }));
  const serves = (host: string) => until('the instance to answer at its address', async () =>
    /ok/.test(await fetch(`http://${host}:8000/health`, { signal: AbortSignal.timeout(2000) }).then((x) => x.text(), () => '')), 20_000);
  try {
    await serves(h.endpoints[0].host);
    // A marker in the container's writable layer (its size-limited disk where this engine uses one) must survive.
    const marker = await rt.exec(h.runtimeId, { command: ['sh', '-c', 'echo kept > /tmp/marker'], tty: false });
    await marker.exit;
    await rt.stop(h.runtimeId, 5000);
    assert.equal((await rt.inspect(h.runtimeId))?.running, false, 'stopped, not removed');
    const woke = await rt.resume(h);
    assert.equal(woke.runtimeId, h.runtimeId, 'the same container, not a new one');
    assert.equal(woke.instanceId, h.instanceId);
    assert.equal((await rt.inspect(h.runtimeId))?.running, true);
    const c = await engine.json<{ NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }>('GET', `/containers/${h.runtimeId}/json`);
    assert.deepEqual(woke.endpoints, [{ containerPort: 8000, host: c.NetworkSettings.Networks[network].IPAddress, hostPort: 8000 }]);
    await serves(woke.endpoints[0].host);
    const read = await rt.exec(h.runtimeId, { command: ['cat', '/tmp/marker'], tty: false });
    let out = '';
    read.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    await read.exit;
    assert.equal(out.trim(), 'kept');
    // Resuming a running container is a no-op.
    assert.equal((await rt.resume(woke)).runtimeId, h.runtimeId);
  } finally {
    await rt.remove(h.runtimeId);
    await rt.removeNetwork(network);
  }
  await assert.rejects(rt.resume(h), (err: Error & { code?: string }) => err.code === 'not_found');
});

/** Waits until `url`, fetched from inside the instance `runtimeId` (busybox wget), answers `want` (an alias on its network). */
async function answersFrom(rt: DockerRuntime, runtimeId: string, url: string, want: RegExp): Promise<void> {
  await until(`${url} to answer from another instance`, async () => {
    const s = await rt.exec(runtimeId, { command: ['wget', '-qO-', url], tty: false });
    let out = '';
    s.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    await s.exit;
    return want.test(out);
  }, 20_000);
}

test('docker: a resumable instance runs in a network holder kept through its stop: same address on resume, aliases resolve, remove and recover leave no holder behind', { timeout: 120_000 }, async () => {
  await ensureTestImage();
  const rt = new DockerRuntime({ log: () => {} });
  const network = `pier-test-holder-${randomUUID().slice(0, 8)}`;
  type C = { Id: string; State: { Running: boolean }; HostConfig: { NetworkMode: string; CapDrop: string[] | null; ReadonlyRootfs: boolean }; Config: { Labels: Record<string, string> }; NetworkSettings: { Networks: Record<string, { IPAddress: string; Aliases: string[] | null }> } };
  const get = (id: string) => engine.jsonOrNull<C>('GET', `/containers/${encodeURIComponent(id)}/json`);
  const serves = (host: string) => until('the instance to answer at its address', async () =>
    /ok/.test(await fetch(`http://${host}:8000/health`, { signal: AbortSignal.timeout(2000) }).then((x) => x.text(), () => '')), 20_000);
  const id = randomUUID();
  const h = await rt.start(spec(id, ['serve'], { network, networkAliases: ['api'], resumable: true, env: { GREETING: 'held' } }));
  const ids = [h.runtimeId];
  try {
    const app = (await get(h.runtimeId))!;
    const holder = (await get(holderName(id)))!;
    assert.ok(holder, 'the holder exists');
    assert.equal(app.HostConfig.NetworkMode, `container:${holder.Id}`, 'the instance joins the holder namespace');
    assert.equal(holder.Config.Labels[HOLDER_LABEL], id);
    assert.deepEqual(holder.HostConfig.CapDrop, ['ALL']);
    assert.equal(holder.HostConfig.ReadonlyRootfs, true);
    const ip = holder.NetworkSettings.Networks[network].IPAddress;
    assert.deepEqual(h.endpoints, [{ containerPort: 8000, host: ip, hostPort: 8000 }]);
    await serves(ip);
    // The mesh alias is the holder's: another instance on the network reaches the held one by name.
    const client = await rt.start(spec(randomUUID(), ['sleep'], { network }));
    ids.push(client.runtimeId);
    await answersFrom(rt, client.runtimeId, 'http://api:8000/', /hello from pier held/);
    // Deep sleep: the instance stops, the holder (and so the address) stays.
    await rt.stop(h.runtimeId, 2000);
    assert.equal((await get(h.runtimeId))!.State.Running, false);
    assert.equal((await get(holder.Id))!.State.Running, true, 'the holder runs through the sleep');
    const woke = await rt.resume(h);
    assert.equal(woke.runtimeId, h.runtimeId);
    assert.deepEqual(woke.endpoints, h.endpoints, 'the same address after the wake');
    await serves(ip);
    // A new driver (a control-plane restart) adopts it with the holder's address.
    const again = new DockerRuntime({ log: () => {} });
    const adopted = (await again.recover()).find((x) => x.instanceId === id);
    assert.deepEqual(adopted?.endpoints, h.endpoints);
    // The engine restarted under it (holder stopped too): resume starts both.
    await rt.stop(h.runtimeId, 2000);
    await engine.json('POST', `/containers/${holder.Id}/stop`, { query: { t: 0 } });
    const back = await again.resume(adopted!);
    await serves(back.endpoints[0].host);
    await again.remove(h.runtimeId);
    ids.shift();
    assert.equal(await get(h.runtimeId), null);
    assert.equal(await get(holder.Id), null, 'remove takes the holder too');
    // A holder left without its instance (its removal cut short) is reaped by the next recover.
    const orphanId = randomUUID();
    const o = await rt.start(spec(orphanId, ['serve'], { network, resumable: true }));
    await engine.json('DELETE', `/containers/${o.runtimeId}`, { query: { force: true } });
    assert.ok(await get(holderName(orphanId)), 'the orphan exists before recover');
    // Not while it is young (a start of another control plane may be making it), then yes.
    assert.equal((await new DockerRuntime({ log: () => {} }).recover()).some((x) => x.instanceId === orphanId), false);
    assert.ok(await get(holderName(orphanId)), 'a young holder is left alone');
    const third = new DockerRuntime({ log: () => {}, holderOrphanAgeMs: 0 });
    assert.equal((await third.recover()).some((x) => x.instanceId === orphanId), false);
    assert.equal(await get(holderName(orphanId)), null, 'the orphaned holder was removed');
  } finally {
    for (const x of ids) await rt.remove(x).catch(() => undefined);
    await rt.removeNetwork(network);
  }
});

/** This scope's pooled holders not taken yet (named pier-netns-pool-*, label dev.pier.netns_of=pool). */
async function pooledIn(scope: string): Promise<{ Id: string; Networks: string[] }[]> {
  return (await engine.json<{ Id: string; Names: string[]; NetworkSettings: { Networks: Record<string, unknown> } }[]>('GET', '/containers/json', {
    query: { all: 1, filters: JSON.stringify({ label: [`${HOLDER_LABEL}=pool`, `${SCOPE_LABEL}=${scope}`] }) },
  })).filter((c) => c.Names.some((n) => n.startsWith('/pier-netns-pool-'))).map((c) => ({ Id: c.Id, Networks: Object.keys(c.NetworkSettings.Networks ?? {}) }));
}

test('docker: the holder pool: an instance joins a holder started ahead, connected to its network with its aliases; the pool is topped up; recover adopts, remove and close leave nothing', { timeout: 180_000 }, async () => {
  await ensureTestImage();
  const scope = `pool-${randomUUID().slice(0, 8)}`;
  const rt = new DockerRuntime({ log: () => {}, scope, holderPool: 1 });
  const network = `pier-test-pool-${randomUUID().slice(0, 8)}`;
  type C = { Id: string; Name: string; HostsPath: string; State: { Running: boolean }; HostConfig: { NetworkMode: string; CapDrop: string[] | null }; Config: { Hostname: string; Labels: Record<string, string> }; NetworkSettings: { Networks: Record<string, { IPAddress: string; Aliases: string[] | null }> } };
  const get = (id: string) => engine.jsonOrNull<C>('GET', `/containers/${encodeURIComponent(id)}/json`);
  const ids: string[] = [];
  let again: DockerRuntime | undefined;
  try {
    // recover() (a control plane's start) fills the pool: one holder, up, on no network.
    await rt.recover();
    // Made on the pool's network (its namespace set up there), then taken off it: it waits on no network.
    const poolReady = (what: string) => until(what, async () => { const p = await pooledIn(scope); return p.length === 1 && p[0].Networks.length === 0 ? p : undefined; }, 30_000);
    const [ready] = await poolReady('a pooled holder on no network');
    assert.equal((await get(ready.Id))!.State.Running, true);
    const id = randomUUID();
    const h = await rt.start(spec(id, ['serve'], { network, networkAliases: ['api'], env: { GREETING: 'pooled' } }));
    ids.push(h.runtimeId);
    const app = (await get(h.runtimeId))!;
    assert.equal(app.HostConfig.NetworkMode, `container:${ready.Id}`, 'the instance took the pooled holder');
    const holder = (await get(ready.Id))!;
    assert.equal(holder.Name, `/${holderName(id)}`, 'named for its instance');
    assert.deepEqual(Object.keys(holder.NetworkSettings.Networks), [network], 'on its network alone');
    assert.ok(holder.NetworkSettings.Networks[network].Aliases?.includes('api'), 'with its aliases');
    const ip = holder.NetworkSettings.Networks[network].IPAddress;
    assert.deepEqual(h.endpoints, [{ containerPort: 8000, host: ip, hostPort: 8000 }]);
    // Its host name maps to its address on its network, as in a container of its own.
    assert.match(readFileSync(holder.HostsPath, 'utf8'), new RegExp(`^${ip.replace(/\./g, '\\.')}\\s+${holder.Config.Hostname}$`, 'm'));
    await until('the instance to answer at its address', async () =>
      /ok/.test(await fetch(`http://${ip}:8000/health`, { signal: AbortSignal.timeout(2000) }).then((x) => x.text(), () => '')), 20_000);
    // The pool is topped up after the start.
    await poolReady('the pool to be topped up');
    // Another instance (it takes the new pooled holder) reaches the first by its alias.
    const client = await rt.start(spec(randomUUID(), ['sleep'], { network }));
    ids.push(client.runtimeId);
    assert.match((await get(client.runtimeId))!.HostConfig.NetworkMode, /^container:/, 'the second instance took a pooled holder too');
    await answersFrom(rt, client.runtimeId, 'http://api:8000/', /hello from pier pooled/);
    // A new driver (a control-plane restart) adopts both with their addresses (from the instance's labels), and
    // removes the other life's pooled holder nobody took, then makes its own.
    const [oldPooled] = await poolReady('the pool to be topped up again');
    again = new DockerRuntime({ log: () => {}, scope, holderPool: 1 });
    const adopted = await again.recover();
    assert.deepEqual(adopted.find((x) => x.instanceId === id)?.endpoints, h.endpoints);
    assert.deepEqual(adopted.find((x) => x.runtimeId === client.runtimeId)?.endpoints, client.endpoints);
    assert.equal(await get(oldPooled.Id), null, "the earlier life's untaken pooled holder was removed");
    assert.notEqual((await poolReady("the new life's pooled holder"))[0].Id, oldPooled.Id);
    // Remove takes the holder; close() removes the pool.
    await again.remove(h.runtimeId);
    ids.shift();
    assert.equal(await get(holder.Id), null, 'remove takes the holder too');
    await again.close();
    await rt.close();
    assert.deepEqual(await pooledIn(scope), [], 'close() leaves no pooled holder');
    // The pool's network (shared by the engine's installations) removed behind the driver's back: made again.
    await engine.jsonOrNull('DELETE', `/networks/${HOLDER_POOL_NETWORK}`);
    assert.equal(await engine.jsonOrNull('GET', `/networks/${HOLDER_POOL_NETWORK}`), null);
    await again.recover();
    await poolReady('a pooled holder after its network was removed');
    await again.close();
  } finally {
    for (const x of ids) await rt.remove(x).catch(() => undefined);
    await rt.close();
    await again?.close();
    await rt.removeNetwork(network);
  }
});

/**
 * Spare holders on `network` not taken yet (labels cannot change: a taken spare keeps its label, and is renamed for
 * its instance). `running`: only those started (one being made may still lose runc's start race and be made again
 * under another id).
 */
async function sparesOn(network: string, opts: { running?: boolean } = {}): Promise<string[]> {
  return (await engine.json<{ Id: string; Names: string[]; State: string; NetworkSettings: { Networks: Record<string, unknown> } }[]>('GET', '/containers/json', {
    query: { all: 1, filters: JSON.stringify({ label: [`${HOLDER_LABEL}=spare`] }) },
  })).filter((c) => network in (c.NetworkSettings.Networks ?? {}) && c.Names.some((n) => n.startsWith('/pier-netns-spare-')) && (!opts.running || c.State === 'running')).map((c) => c.Id);
}

test('docker: an instance that scales out leaves a spare holder that the next instance of the service takes; the last one removed takes the spare', { timeout: 120_000 }, async () => {
  await ensureTestImage();
  const rt = new DockerRuntime({ log: () => {} });
  const network = `pier-test-spare-${randomUUID().slice(0, 8)}`;
  type C = { Id: string; Name: string; State: { Running: boolean }; HostConfig: { NetworkMode: string }; Config: { Labels: Record<string, string> } };
  const spares = () => sparesOn(network);
  const svc = (over: Partial<InstanceSpec> = {}) => spec(randomUUID(), ['serve'], { network, networkAliases: ['web'], scalesOut: true, ...over });
  const ids: string[] = [];
  try {
    const a = await rt.start(svc());
    ids.push(a.runtimeId);
    const [spareId] = await until('a spare holder for the service', async () => { const s = await spares(); return s.length === 1 ? s : undefined; }, 20_000);
    const b = await rt.start(svc());
    ids.push(b.runtimeId);
    const bc = (await engine.json<C>('GET', `/containers/${b.runtimeId}/json`));
    assert.equal(bc.HostConfig.NetworkMode, `container:${spareId}`, 'the second instance took the spare');
    const taken = await engine.json<C>('GET', `/containers/${spareId}/json`);
    assert.deepEqual(b.endpoints, [{ containerPort: 8000, host: (taken as unknown as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }).NetworkSettings.Networks[network].IPAddress, hostPort: 8000 }]);
    const ok = await until('the second instance to answer', async () => (await fetch(`http://${b.endpoints[0].host}:8000/health`, { signal: AbortSignal.timeout(2000) }).then((x) => x.status, () => 0)) === 200 || undefined, 20_000);
    assert.ok(ok, 'answers');
    await until('the taken spare to carry its instance name', async () => (await engine.json<C>('GET', `/containers/${spareId}/json`)).Name === `/${holderName(b.instanceId)}` || undefined, 10_000);
    // Another service on the same network (other aliases) never takes it.
    const other = await rt.start(svc({ networkAliases: ['api'] }));
    ids.push(other.runtimeId);
    assert.notEqual((await engine.json<C>('GET', `/containers/${other.runtimeId}/json`)).HostConfig.NetworkMode, `container:${spareId}`);
    const next = await until('a new spare after the take', async () => { const s = await spares(); return s.some((x) => x !== spareId) ? s : undefined; }, 20_000);
    assert.ok(!next.includes(spareId), 'the taken spare is no spare any more');
    // A spare stopped behind Pier's back (an engine restart) is not taken: the next instance starts without it.
    const [webSpare] = await until('the web service spare', async () => {
      const ids = await spares();
      const web = [];
      for (const x of ids) if ((await engine.json<{ NetworkSettings: { Networks: Record<string, { Aliases: string[] | null }> } }>('GET', `/containers/${x}/json`)).NetworkSettings.Networks[network]?.Aliases?.includes('web')) web.push(x);
      return web.length === 1 ? web : undefined;
    }, 20_000);
    await engine.json('POST', `/containers/${webSpare}/stop`, { query: { t: 0 } });
    const c = await rt.start(svc());
    ids.push(c.runtimeId);
    assert.notEqual((await engine.json<C>('GET', `/containers/${c.runtimeId}/json`)).HostConfig.NetworkMode, `container:${webSpare}`, 'a stopped spare is not taken');
    assert.equal(await until('the answer of the instance started without it', async () => (await fetch(`http://${c.endpoints[0].host}:8000/health`, { signal: AbortSignal.timeout(2000) }).then((x) => x.status, () => 0)) === 200 || undefined, 20_000), true);
    await until('the stopped spare removed', async () => (await engine.jsonOrNull('GET', `/containers/${webSpare}/json`)) === null || undefined, 10_000);
    await rt.remove(c.runtimeId);
    ids.pop();
    await rt.remove(other.runtimeId);
    await rt.remove(a.runtimeId);
    assert.ok((await spares()).length >= 1, 'the service still has an instance: its spare stays');
    await rt.remove(b.runtimeId);
    ids.length = 0;
    assert.deepEqual(await spares(), [], 'no instance of the service left: no spare either');
  } finally {
    for (const x of ids) await rt.remove(x).catch(() => undefined);
    await rt.removeNetwork(network);
  }
});

test('docker: a service that may grow by two keeps two spares, and a scale-up by two starts both instances in them', { timeout: 120_000 }, async () => {
  await ensureTestImage();
  const rt = new DockerRuntime({ log: () => {} });
  const network = `pier-test-spares-${randomUUID().slice(0, 8)}`;
  const spares = () => sparesOn(network);
  const svc = () => spec(randomUUID(), ['serve'], { network, networkAliases: ['web'], scalesOut: true, scaleMax: 3 });
  const ids: string[] = [];
  try {
    const a = await rt.start(svc());
    ids.push(a.runtimeId);
    // Both started: a spare still being made may lose runc's start race and be made again under another id.
    const two = await until('two running spares for a service at 1 of 3', async () => { const s = await sparesOn(network, { running: true }); return s.length === 2 ? s : undefined; }, 20_000);
    const [b, c] = await Promise.all([rt.start(svc()), rt.start(svc())]);
    ids.push(b.runtimeId, c.runtimeId);
    const modes = await Promise.all([b, c].map(async (x) => (await engine.json<{ HostConfig: { NetworkMode: string } }>('GET', `/containers/${x.runtimeId}/json`)).HostConfig.NetworkMode));
    assert.deepEqual(modes.sort(), two.map((id) => `container:${id}`).sort(), 'each new instance joined one of the two spares');
    for (const x of [b, c]) {
      assert.equal(await until(`instance ${x.instanceId} answering`, async () => (await fetch(`http://${x.endpoints[0].host}:8000/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0)) === 200 || undefined, 20_000), true);
    }
    // At its max the service keeps one (a replacement or a redeploy takes it), not two.
    const left = await until('one new spare at 3 of 3', async () => { const s = (await spares()).filter((x) => !two.includes(x)); return s.length >= 1 ? s : undefined; }, 20_000);
    assert.equal(left.length, 1, `one spare at the max: ${left.join(', ')}`);
    for (const x of [c, b, a]) await rt.remove(x.runtimeId);
    ids.length = 0;
    assert.deepEqual(await spares(), [], 'no instance of the service left: no spare either');
  } finally {
    for (const x of ids) await rt.remove(x).catch(() => undefined);
    await rt.removeNetwork(network);
  }
});

test('docker: a startup boost starts the container on startupCpu; endStartupBoost, its time, a deep sleep and a new life each set what they should', { timeout: 120_000 }, async () => {
  await ensureTestImage();
  const rt = new DockerRuntime({ log: () => {}, startupBoostMs: 1_000 });
  // What the engine holds, and (cgroupfs on cgroup v1, as here) what the kernel enforces.
  const cpu = async (id: string) => {
    const engineCpu = (await engine.json<Inspect>('GET', `/containers/${id}/json`)).HostConfig.NanoCpus / 1e9;
    let kernel: string | undefined;
    try { kernel = readFileSync(`/sys/fs/cgroup/cpu/docker/${id}/cpu.cfs_quota_us`, 'utf8').trim(); } catch { /* stopped, or another cgroup layout */ }
    if (kernel !== undefined) assert.equal(Number(kernel) / 100_000, engineCpu, `the kernel's quota follows the engine's (${kernel})`);
    return engineCpu;
  };
  const ids: string[] = [];
  try {
    // Ended by the control plane (the first passing check): the type's cpu; a repeat changes nothing.
    const a = await rt.start(spec(randomUUID(), ['serve'], { cpu: 0.25, startupCpu: 1, resumable: true }));
    ids.push(a.runtimeId);
    assert.equal(await cpu(a.runtimeId), 1, 'started on the boost');
    await rt.endStartupBoost(a.runtimeId);
    assert.equal(await cpu(a.runtimeId), 0.25, 'its own limit once the boost ends');
    await rt.endStartupBoost(a.runtimeId);
    assert.equal(await cpu(a.runtimeId), 0.25, 'ending it again is a no-op');
    // Deep sleep: the stop puts the boost back for the wake; nobody ends it this time, its time does.
    await rt.stop(a.runtimeId, 1000);
    assert.equal(await cpu(a.runtimeId), 1, 'the kept container wakes on the boost');
    await rt.resume(a);
    assert.equal(await cpu(a.runtimeId), 1, 'woken on the boost');
    await until('the boost of the wake to end on its time', async () => (await cpu(a.runtimeId)) === 0.25, 10_000);
    // A control plane that stopped mid-boost: the next one's recover() ends it.
    const earlier = new DockerRuntime({ log: () => {}, startupBoostMs: 600_000 });
    const b = await earlier.start(spec(randomUUID(), ['serve'], { cpu: 0.25, startupCpu: 1 }));
    ids.push(b.runtimeId);
    assert.equal(await cpu(b.runtimeId), 1, 'started on the boost');
    await new DockerRuntime({ log: () => {} }).recover();
    await until('recover() to end the boost of an earlier life', async () => (await cpu(b.runtimeId)) === 0.25, 10_000);
    // No boost above the type's cpu: the type's cpu from the start.
    const c = await rt.start(spec(randomUUID(), ['serve'], { cpu: 0.5, startupCpu: 0.5 }));
    ids.push(c.runtimeId);
    assert.equal(await cpu(c.runtimeId), 0.5);
  } finally {
    for (const id of ids) await rt.remove(id).catch(() => undefined);
  }
});

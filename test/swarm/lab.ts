// A 3-node, 3-region Docker Swarm on one machine, for tests, benchmarks and by hand (scripts/swarm-lab.sh).
// Each node is a dockerd in its own network namespace (own data root, exec root, socket, cgroup parent), joined by
// veths to a bridge in a fourth namespace; one more veth links the host to that bridge so the host (tests, Pier's
// edge) reaches node addresses. A `docker-registry` in the bridge namespace serves images to the nodes over plain
// HTTP. Nothing touches the host's dockerd or its networks; teardown kills by PID and leaves nothing behind.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { pushImage } from '../../src/runtime/swarm/push.ts';
import { ensureTestImage, TEST_IMAGE } from '../../src/runtime/testing/images.ts';
import { REGION_LABEL } from '../../src/runtime/swarm/driver.ts';

/** One node of the lab. */
export interface LabNode { name: string; region: string; addr: string; socket: string; pid: number; netns: string; dir: string }

/** A network namespace on the lab bridge that runs no dockerd: a machine for a regional edge or a client. */
export interface LabHost { name: string; addr: string; netns: string }

/** What a running lab is, also written to `<dir>/lab.json` so `down` can find it from another process. */
export interface LabState {
  id: string;
  dir: string;
  /** The lab /24, e.g. 10.231.7.0/24. */
  subnet: string;
  /** The host's own address on the lab bridge. */
  hostAddr: string;
  /** host:port of the lab registry (plain HTTP). */
  registry: string;
  registryPid: number;
  bridgeNetns: string;
  hostLink: string;
  nodes: LabNode[];
  /** Machines on the lab network that are no Swarm node (e.g. a regional edge), see `addHost`. */
  hosts?: LabHost[];
  /** The process whose lab this is (0: kept until `down`, as `scripts/swarm-lab.sh up` leaves it). */
  ownerPid: number;
}

/** A running lab. */
export interface SwarmLab extends LabState {
  /** The manager's Engine API socket (the first node). */
  managerSocket: string;
  /** The test image pushed to the lab registry, pinned by digest. */
  testImage: string;
  /** Simulates losing a node: kills its dockerd, containerd, shims and containers (by PID) and cuts its link. */
  killNode(name: string): Promise<void>;
  /** Adds a machine (own network namespace, veth on the lab bridge, address `<net>.201+`) for processes that are no node. */
  addHost(name: string): LabHost;
  /** Tears everything down (idempotent). */
  close(): Promise<void>;
}

const REGIONS = ['fra', 'was', 'sin'];

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (let i = 0; i < 10_000; i++) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) { last = (err as Error).message; }
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  throw new Error(`swarm lab: timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** A /24 in 10.231.0.0/16 that no host route uses yet (labs of concurrent runs must not overlap). */
function freeSubnet(): number {
  const routes = execFileSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8' });
  const used = new Set([...routes.matchAll(/10\.231\.(\d+)\./g)].map((m) => Number(m[1])));
  const start = Math.floor(Math.random() * 250);
  for (let i = 0; i < 250; i++) {
    const n = ((start + i) % 250) + 1;
    if (!used.has(n)) return n;
  }
  throw new Error('swarm lab: no free /24 left in 10.231.0.0/16');
}

/**
 * Pids whose command line mentions the lab directory or whose cgroup is one of the lab's cgroup parents. Read with
 * async calls: on a busy host the scan of /proc takes up to seconds, and the tests run Pier in this same process (a
 * synchronous scan froze its controller and edge for as long, which is no part of a node loss).
 */
async function labPids(dir: string, cgroupTag: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number).filter((p) => p !== process.pid);
  const out: number[] = [];
  for (let i = 0; i < pids.length; i += 64) {
    await Promise.all(pids.slice(i, i + 64).map(async (pid) => {
      try {
        const [cmd, cg] = await Promise.all([readFile(`/proc/${pid}/cmdline`, 'utf8'), readFile(`/proc/${pid}/cgroup`, 'utf8')]);
        if (cmd.includes(`${dir}/`) || cg.includes(`/${cgroupTag}`)) out.push(pid);
      } catch { /* exited meanwhile */ }
    }));
  }
  return out;
}

async function killAll(pidsOf: () => Promise<number[]>, what: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = await pidsOf();
    if (pids.length === 0) return;
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await sleep(100);
  }
  throw new Error(`swarm lab: processes of ${what} survive SIGKILL: ${(await pidsOf()).join(' ')}`);
}

function unmountUnder(dir: string): void {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = lines.map((l) => l.split(' ')[4]).filter((p): p is string => !!p && (p === dir || p.startsWith(`${dir}/`)));
  for (const p of points.reverse()) {
    try { execFileSync('umount', ['-l', p], { stdio: 'ignore' }); } catch { /* already gone */ }
  }
}

function removeCgroups(tag: string): void {
  const root = '/sys/fs/cgroup';
  for (const ctrl of readdirSync(root)) {
    const remove = (p: string) => {
      if (!existsSync(p)) return;
      for (const e of readdirSync(p, { withFileTypes: true })) if (e.isDirectory()) remove(join(p, e.name));
      try { rmdirSync(p); } catch { /* busy or not a cgroup dir */ }
    };
    try {
      for (const e of readdirSync(join(root, ctrl))) if (e.startsWith(tag)) remove(join(root, ctrl, e));
    } catch { /* not a hierarchy */ }
  }
}

/** Tears down the lab described by `state` (also after a crash of the process that started it). */
export async function destroyLab(state: Pick<LabState, 'id' | 'dir' | 'bridgeNetns' | 'hostLink' | 'nodes' | 'hosts'>): Promise<void> {
  const tag = `psw${state.id}`;
  await killAll(() => labPids(state.dir, tag), `lab ${state.id}`);
  unmountUnder(state.dir);
  removeCgroups(tag);
  for (const ns of [...state.nodes.map((n) => n.netns), ...(state.hosts ?? []).map((h) => h.netns), state.bridgeNetns]) {
    try { ip(['netns', 'del', ns]); } catch { /* not there */ }
  }
  try { ip(['link', 'del', state.hostLink]); } catch { /* went with the bridge namespace */ }
  rmSync(state.dir, { recursive: true, force: true });
}

function spawnDetached(argv: string[], logFile: string): number {
  const out = openSync(logFile, 'a');
  const env = { ...process.env };
  delete env.DOCKER_HOST;
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', out, out], env });
  child.unref();
  if (!child.pid) throw new Error(`swarm lab: could not start ${argv[0]}`);
  return child.pid;
}

async function startNode(state: LabState, node: LabNode, n: number): Promise<void> {
  mkdirSync(node.dir, { recursive: true });
  writeFileSync(join(node.dir, 'daemon.json'), '{}\n');
  node.pid = spawnDetached([
    'nsenter', `--net=/run/netns/${node.netns}`, 'dockerd',
    '--config-file', join(node.dir, 'daemon.json'),
    '--data-root', join(node.dir, 'data'),
    '--exec-root', join(node.dir, 'x'),
    '--pidfile', join(node.dir, 'dockerd.pid'),
    '-H', `unix://${node.socket}`,
    '--bip', `172.30.${n}.1/24`,
    '--cgroup-parent', `/psw${state.id}${node.name}`,
    '--insecure-registry', state.registry,
    '--userland-proxy=false',
    '--storage-driver', 'overlay2',
    '--log-level', 'warn',
  ], join(node.dir, 'dockerd.log'));
}

/** Starts a lab: network, registry, three dockerd, swarm init/join, region labels, the test image in the registry. */
export async function startSwarmLab(opts: { regions?: string[]; keep?: boolean } = {}): Promise<SwarmLab> {
  if (process.getuid?.() !== 0) throw new Error('swarm lab: must run as root (network namespaces, dockerd)');
  await sweepOrphanLabs();
  const regions = opts.regions ?? REGIONS;
  const id = Math.random().toString(16).slice(2, 6);
  const dir = mkdtempSync(`/tmp/psw${id}-`);
  const n = freeSubnet();
  const net = `10.231.${n}`;
  const state: LabState = {
    id, dir, subnet: `${net}.0/24`, hostAddr: `${net}.254`, registry: `${net}.100:5000`, registryPid: 0,
    bridgeNetns: `psw${id}b`, hostLink: `psw${id}h`, ownerPid: opts.keep ? 0 : process.pid,
    nodes: regions.map((region, i) => ({
      name: `n${i + 1}`, region, addr: `${net}.${i + 1}`, socket: join(dir, `n${i + 1}`, 'docker.sock'), pid: 0,
      netns: `psw${id}n${i + 1}`, dir: join(dir, `n${i + 1}`),
    })),
  };
  const save = () => writeFileSync(join(dir, 'lab.json'), JSON.stringify(state, null, 2));
  save();
  try {
    // Network: bridge namespace with br0, one veth per node, one from the host.
    const b = state.bridgeNetns;
    ip(['netns', 'add', b]);
    ip(['-n', b, 'link', 'set', 'lo', 'up']);
    ip(['-n', b, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', b, 'addr', 'add', `${net}.100/24`, 'dev', 'br0']);
    ip(['-n', b, 'link', 'set', 'br0', 'up']);
    for (const node of state.nodes) {
      ip(['netns', 'add', node.netns]);
      ip(['-n', node.netns, 'link', 'set', 'lo', 'up']);
      ip(['link', 'add', `v${node.name}`, 'netns', b, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.netns]);
      ip(['-n', b, 'link', 'set', `v${node.name}`, 'master', 'br0', 'up']);
      ip(['-n', node.netns, 'addr', 'add', `${node.addr}/24`, 'dev', 'eth0']);
      ip(['-n', node.netns, 'link', 'set', 'eth0', 'up']);
    }
    ip(['link', 'add', state.hostLink, 'type', 'veth', 'peer', 'name', 'vhost', 'netns', b]);
    ip(['-n', b, 'link', 'set', 'vhost', 'master', 'br0', 'up']);
    ip(['addr', 'add', `${state.hostAddr}/24`, 'dev', state.hostLink]);
    ip(['link', 'set', state.hostLink, 'up']);

    // Registry in the bridge namespace.
    mkdirSync(join(dir, 'registry'));
    writeFileSync(join(dir, 'registry', 'config.yml'), [
      'version: 0.1', 'log: {level: error}',
      `storage: {filesystem: {rootdirectory: ${join(dir, 'registry', 'data')}}}`,
      `http: {addr: "${state.registry}"}`, '',
    ].join('\n'));
    state.registryPid = spawnDetached(['nsenter', `--net=/run/netns/${b}`, '/usr/bin/docker-registry', 'serve', join(dir, 'registry', 'config.yml')], join(dir, 'registry', 'log'));

    state.nodes.forEach((node, i) => { void startNode(state, node, i + 1); });
    save();
    const engines = state.nodes.map((node) => new DockerEngine(node.socket));
    await Promise.all(engines.map((e, i) => until(`dockerd of ${state.nodes[i].name}`, async () => { await e.ping(1000); return true; }, 60_000)));
    await until('the lab registry', async () => (await fetch(`http://${state.registry}/v2/`, { signal: AbortSignal.timeout(1000) })).ok, 20_000);

    // Swarm: init on the first node, the others join as workers, every node labelled with its region.
    const [manager, ...workers] = state.nodes;
    await engines[0].json('POST', '/swarm/init', {
      body: { ListenAddr: `${manager.addr}:2377`, AdvertiseAddr: manager.addr, Spec: { Dispatcher: { HeartbeatPeriod: 1_000_000_000 } } },
      timeoutMs: 60_000,
    });
    const swarm = await engines[0].json<{ JoinTokens: { Worker: string } }>('GET', '/swarm');
    await Promise.all(workers.map((w, i) => engines[i + 1].json('POST', '/swarm/join', {
      body: { ListenAddr: `${w.addr}:2377`, AdvertiseAddr: w.addr, RemoteAddrs: [`${manager.addr}:2377`], JoinToken: swarm.JoinTokens.Worker },
      timeoutMs: 60_000,
    })));
    type NodeJson = { ID: string; Version: { Index: number }; Spec: Record<string, unknown>; Status: { Addr: string; State: string }; ManagerStatus?: { Addr: string } };
    const nodes = await until('all nodes ready', async () => {
      const list = await engines[0].json<NodeJson[]>('GET', '/nodes');
      return list.length === state.nodes.length && list.every((x) => x.Status.State === 'ready') ? list : undefined;
    }, 30_000);
    for (const nj of nodes) {
      const addr = nj.ManagerStatus ? nj.ManagerStatus.Addr.split(':')[0] : nj.Status.Addr;
      const node = state.nodes.find((x) => x.addr === addr);
      if (!node) throw new Error(`swarm lab: node ${nj.ID} has unknown address ${addr}`);
      await engines[0].json('POST', `/nodes/${nj.ID}/update`, {
        query: { version: nj.Version.Index },
        body: { ...nj.Spec, Name: `${node.region}-${node.name}`, Labels: { ...(nj.Spec.Labels as Record<string, string> | undefined), [REGION_LABEL]: node.region } },
      });
    }

    // The test image, from the host's engine into the lab registry.
    await ensureTestImage();
    const testImage = await pushImage(new DockerEngine(), TEST_IMAGE, state.registry, 'pier-test/busybox', '1');
    save();

    let closed = false;
    return {
      ...state,
      managerSocket: manager.socket,
      testImage,
      async killNode(name) {
        const node = state.nodes.find((x) => x.name === name);
        if (!node) throw new Error(`swarm lab: no node ${name}`);
        try { ip(['-n', node.netns, 'link', 'set', 'eth0', 'down']); } catch { /* namespace gone */ }
        // The engine goes with the link, as in a power loss: its pid is known (nsenter execs dockerd), while the sweep
        // below reads every /proc entry and takes up to a second on a busy host.
        try {
          if (node.pid > 0 && readFileSync(`/proc/${node.pid}/cmdline`, 'utf8').includes(`${node.dir}/`)) process.kill(node.pid, 'SIGKILL');
        } catch { /* gone already */ }
        await killAll(() => labPids(node.dir, `psw${id}${node.name}`), `node ${name}`);
      },
      addHost(name) {
        const k = (state.hosts ??= []).length + 1;
        if (k > 50) throw new Error('swarm lab: at most 50 extra hosts');
        const host: LabHost = { name, addr: `${net}.${200 + k}`, netns: `psw${id}x${k}` };
        state.hosts.push(host);
        save(); // before creating it, so a teardown from another process removes it too
        ip(['netns', 'add', host.netns]);
        ip(['-n', host.netns, 'link', 'set', 'lo', 'up']);
        ip(['link', 'add', `vx${k}`, 'netns', state.bridgeNetns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.netns]);
        ip(['-n', state.bridgeNetns, 'link', 'set', `vx${k}`, 'master', 'br0', 'up']);
        ip(['-n', host.netns, 'addr', 'add', `${host.addr}/24`, 'dev', 'eth0']);
        ip(['-n', host.netns, 'link', 'set', 'eth0', 'up']);
        return host;
      },
      async close() {
        if (closed) return;
        closed = true;
        await destroyLab(state);
      },
    };
  } catch (err) {
    const logs = state.nodes.map((node) => {
      try { return `${node.name}: ${readFileSync(join(node.dir, 'dockerd.log'), 'utf8').slice(-1500)}`; } catch { return ''; }
    }).join('\n');
    await destroyLab(state).catch(() => undefined);
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
}

/**
 * Tears down labs whose owning process died without closing them (a test run killed mid-way), so a killed run never
 * leaves namespaces, dockerd or mounts behind for the next one. Labs kept on purpose (ownerPid 0) are left alone.
 */
export async function sweepOrphanLabs(): Promise<string[]> {
  const swept: string[] = [];
  for (const name of readdirSync('/tmp')) {
    if (!/^psw[0-9a-f]{4}-/.test(name)) continue;
    const dir = join('/tmp', name);
    let state: LabState;
    try { state = readLabState(dir); } catch { continue; }
    if (!state.ownerPid || existsSync(`/proc/${state.ownerPid}`)) continue;
    await destroyLab(state);
    swept.push(dir);
  }
  return swept;
}

/** Reads a lab's state from its directory (for `down` from another process). */
export function readLabState(dir: string): LabState {
  return JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabState;
}

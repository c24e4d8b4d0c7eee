// Density benchmark (issue #26): what N idle instances cost Pier. Process runtime, N = 10, 100, 1,000 serving
// instances (the test app: busybox sh + httpd), each followed by the control plane's LogCollector as in production and
// routed through a real edge (2 workers): the control plane's CPU while idle (target < 2 % of a core, flat in N),
// Pier's own memory per instance (the supervisor and helper processes' PSS, next to the workload's own PSS, i.e. the
// same app started bare; this process's RSS growth: runtime driver, log followers, the edge's primary; the edge
// workers' RSS growth), start time per instance by N (the first 10 starts against the last 10, with the driver's spans per step), and the edge's
// p50/p99 while the rest idles (a bounded loop of keep-alive requests to 5 of the instances). Docker: the same for
// N containers as far as the bounded run allows, plus docker-proxy before/after #26 (containers published the old
// way, with the driver's way).
// Standalone: `node bin/run-ts.mjs bench/density.ts [N,N,...] [idleSeconds] [dockerN,dockerN,...|0]`.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { LogCollector } from '../src/control/logs.ts';
import type { ControlState } from '../src/control/ports.ts';
import type { Instance } from '../src/domain/types.ts';
import { createEdge, type AppRoutes, type Edge } from '../src/edge/index.ts';
import type { InstanceHandle, InstanceSpec, Runtime } from '../src/runtime/contract.ts';
import { INSTANCE_LABEL, MANAGED_LABEL } from '../src/runtime/common.ts';
import { DockerRuntime, SCOPE_LABEL } from '../src/runtime/docker/driver.ts';
import { DockerEngine } from '../src/runtime/docker/engine.ts';
import { InstanceCgroup, detectCgroupLayout } from '../src/runtime/process/cgroups.ts';
import { ProcessRuntime } from '../src/runtime/process/driver.ts';
import { supervisorLauncher } from '../src/runtime/process/launcher.ts';
import { instancePaths } from '../src/runtime/process/state.ts';
import { TEST_IMAGE, ensureTestImage, prepareTestAppDir } from '../src/runtime/testing/images.ts';
import { DEFAULT_DOCKER_HOLDER_POOL } from '../src/config.ts';

/** One measured instance count on one runtime. */
export interface DensityPoint {
  runtime: 'process' | 'docker';
  instances: number;
  /** Control-plane CPU (user + system of this process: runtime driver, log followers, edge primary) over the idle window, % of one core. */
  idle_cpu_percent: number;
  /** The edge workers' CPU over the same window, % of one core. */
  edge_idle_cpu_percent: number;
  idle_seconds: number;
  /** Wall time to start the N instances (start() returned), divided by N. */
  start_ms_per_instance: number;
  /** Mean of the first 10 and of the last 10 starts: flat in N means the 1,000th costs what the 10th did. */
  start_ms_first10: number;
  start_ms_last10: number;
  /** Pier's processes per instance (process runtime: the supervisor, which stamps stdout, a stderr stamper, bubblewrap's two) and their PSS. */
  pier_processes_per_instance: number;
  pier_pss_kib_per_instance: number;
  /** The workload's own PSS per instance (what the same app costs started bare). */
  app_pss_kib_per_instance: number;
  /** Docker only: docker-proxy processes and containerd-shim PSS per instance, its network holder's included (Docker's own, not Pier's). */
  docker_proxies?: number;
  shim_pss_kib_per_instance?: number;
  /** RSS growth per instance of this process (control plane side) and of the edge workers, from before the first start. */
  control_rss_kib_per_instance: number;
  edge_rss_kib_per_instance: number;
  /** Through the edge while the others idle: requests sent (keep-alive, sequential), p50 and p99. */
  edge_requests: number;
  edge_p50_ms: number;
  edge_p99_ms: number;
  /** Log lines the followers delivered (each instance prints a few lines when it starts). */
  lines_collected: number;
  /** Process runtime: mean ms per start step (driver.ts StartStep) over the first 10 and the last 10 starts. */
  start_spans_first10?: Record<string, number>;
  start_spans_last10?: Record<string, number>;
  /** Process runtime: PSS of the supervisor launcher (launcher.ts) right after the starts; one per control plane, not per instance. */
  launcher_pss_kib?: number;
  /**
   * A fixed reference workload (CPU and stat calls, nothing that depends on N) timed before each of the first 10 and
   * the last 10 starts: on a shared box the load changes during a run, and a start that grew with the gauge grew
   * with the box, not with N.
   */
  gauge_ms_first10: number;
  gauge_ms_last10: number;
  /**
   * CPU per start (this process, plus the supervisor launcher's for the process runtime), mean of the first 10 and
   * the last 10: the work a start costs, which a busy box does not inflate as it inflates wall time.
   */
  start_cpu_ms_first10: number;
  start_cpu_ms_last10: number;
}

/** docker-proxy before/after: the old way (ports published on 127.0.0.1) against the driver's. */
export interface ProxyComparison { instances: number; published_proxies: number; published_proxy_pss_kib_per_instance: number; driver_proxies: number }

/** What the density bench measured; `skipped` says why a runtime was not measured. */
export interface DensityResult {
  points: DensityPoint[];
  proxies?: ProxyComparison;
  skipped: string[];
  rows: { bench: string; measured: string; baseline: string; target: string; met?: boolean }[];
}

const TARGET_PERCENT = 2;
const TARGET_PIER_KIB = 1024;
const DOMAIN = 'density.pier.test';
const MiB = 1024 * 1024;

// ---- /proc readings --------------------------------------------------------------------------------------------

interface Proc { pid: number; ppid: number; comm: string }

function processTable(): Map<number, Proc> {
  const out = new Map<number, Proc>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      out.set(Number(d), { pid: Number(d), ppid, comm });
    } catch { /* gone */ }
  }
  return out;
}

function children(table: Map<number, Proc>, pid: number): number[] {
  return [...table.values()].filter((p) => p.ppid === pid).map((p) => p.pid);
}

function subtree(table: Map<number, Proc>, pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...children(table, out[i]!));
  return out;
}

/** Proportional set size of a process in KiB (0 when it is gone). */
function pssKib(pid: number): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

function rssKib(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

/** CPU time (user + system) of a process in microseconds. */
function cpuUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) / 100) * 1e6; // utime, stime in clock ticks (USER_HZ = 100)
  } catch { return 0; }
}

/** The edge's worker processes: this process's node children (supervisors are bash; the launcher is `pier-launcher`). */
function edgeWorkers(): number[] {
  const table = processTable();
  return children(table, process.pid).filter((pid) => table.get(pid)?.comm === 'node');
}

/** A full garbage collection of this process, so RSS growth is what stays reachable (not garbage waiting for a GC). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const mean = (xs: number[]) => (xs.length ? sum(xs) / xs.length : 0);
const round1 = (x: number) => Math.round(x * 10) / 10;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : 0;
}

// ---- the edge ----------------------------------------------------------------------------------------------------

function routesFor(handles: InstanceHandle[]): AppRoutes[] {
  return handles.flatMap((h, i) => {
    const ep = h.endpoints[0];
    if (!ep) return [];
    return [{
      appId: `app-${i}`, appName: `d${i}`, organizationId: 'bench', hosts: [],
      routes: [{ path: '/', serviceId: `svc-${i}`, serviceName: `web${i}`, serviceStatus: 'HEALTHY', port: ep.containerPort, upstreams: [{ instanceId: h.instanceId, host: ep.host, port: ep.hostPort, region: 'local', protocol: 'http' }] }],
    } as AppRoutes];
  });
}

/** Sequential keep-alive GETs through the edge to a few apps, bounded in count and time; latencies in ms. */
async function edgeLatencies(edgeUrl: string, apps: number[], count: number, maxMs: number): Promise<number[]> {
  const u = new URL(edgeUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const out: number[] = [];
  const deadline = Date.now() + maxMs;
  try {
    for (let i = 0; i < count && Date.now() < deadline; i++) {
      const host = `d${apps[i % apps.length]}-bench.${DOMAIN}`;
      const t0 = performance.now();
      const status = await new Promise<number>((resolve) => {
        const req = http.get({ host: u.hostname, port: u.port, path: '/', agent, headers: { host }, timeout: 5000 }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', () => resolve(0));
      });
      if (status === 200) out.push(performance.now() - t0);
    }
  } finally {
    agent.destroy();
  }
  return out;
}

async function waitServing(edgeUrl: string, apps: number[], maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (const a of apps) {
    while ((await edgeLatencies(edgeUrl, [a], 1, 5000)).length === 0) {
      if (Date.now() > deadline) throw new Error(`app d${a} did not answer through the edge within ${maxMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// ---- one measured point ------------------------------------------------------------------------------------------

interface PointContext {
  runtime: Runtime;
  kind: 'process' | 'docker';
  edge: Edge;
  spec: (i: number) => InstanceSpec;
  /** Pier's and the app's processes of one instance, for PSS. */
  processesOf?: (h: InstanceHandle, table: Map<number, Proc>) => { pier: number[]; app: number[] } | undefined;
  /** Docker's per-container processes (docker-proxy, shims) after the starts. */
  dockerSide?: (handles: InstanceHandle[]) => Promise<{ proxies: number; shimKib: number }>;
  /** The spans of the start in flight (the process runtime's trace hook fills it). */
  spans?: Record<string, number>;
}

/** The reference workload: about 1 ms of arithmetic and stat calls on a quiet core. */
function gauge(): number {
  const t0 = performance.now();
  let x = 0;
  for (let i = 0; i < 300_000; i++) x += Math.sqrt(i) % 7;
  for (let i = 0; i < 100; i++) statSync('/proc/self');
  const ms = performance.now() - t0;
  return x < 0 ? -1 : ms; // keeps the loop from being optimized away
}

/** Mean of each step over some starts' spans. */
function meanSpans(list: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) for (const [k, v] of Object.entries(s)) out[k] = (out[k] ?? 0) + v / list.length;
  for (const k of Object.keys(out)) out[k] = round1(out[k]!);
  return out;
}

async function measurePoint(ctx: PointContext, n: number, idleSeconds: number): Promise<DensityPoint> {
  let lines = 0;
  const state = { appendLog: async () => { lines++; } } as unknown as ControlState;
  const collector = new LogCollector(state, ctx.runtime, { now: () => new Date() } as never, () => undefined);
  const handles: InstanceHandle[] = [];
  const workers0 = edgeWorkers();
  const edgeRss0 = sum(workers0.map(rssKib));
  collectGarbage();
  const rss0 = rssKib(process.pid);
  try {
    const times: number[] = [];
    const spans: Record<string, number>[] = [];
    const gauges: number[] = [];
    const cpus: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if (i < 10 || i >= n - 10) gauges.push(gauge());
      const s = performance.now();
      ctx.spans = {};
      const c0 = process.cpuUsage();
      const l0 = supervisorLauncher.pid ? cpuUs(supervisorLauncher.pid) : 0;
      const h = await ctx.runtime.start(ctx.spec(i));
      times.push(performance.now() - s);
      const c = process.cpuUsage(c0);
      cpus.push((c.user + c.system + (supervisorLauncher.pid ? cpuUs(supervisorLauncher.pid) - l0 : 0)) / 1000);
      spans.push(ctx.spans);
      handles.push(h);
      collector.follow({ id: h.instanceId } as Instance, h, []);
    }
    const startMs = (performance.now() - t0) / n;
    const launcherKib = ctx.kind === 'process' && supervisorLauncher.pid ? pssKib(supervisorLauncher.pid) : undefined;
    ctx.edge.setRoutes(routesFor(handles), DOMAIN);
    const probed = [0, Math.floor(n / 4), Math.floor(n / 2), Math.floor((3 * n) / 4), n - 1].filter((x, i, a) => a.indexOf(x) === i);
    await waitServing(ctx.edge.url, probed, 60_000);
    await new Promise((r) => setTimeout(r, 2000)); // let the starts' own work settle

    const workers = edgeWorkers();
    const cpu0 = process.cpuUsage();
    const edgeCpu0 = sum(workers.map(cpuUs));
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    const cpu = process.cpuUsage(cpu0);
    const wallUs = (performance.now() - w0) * 1000;
    const edgeCpu = sum(workers.map(cpuUs)) - edgeCpu0;

    // Memory while idle.
    collectGarbage();
    const rss1 = rssKib(process.pid);
    const edgeRss1 = sum(workers.map(rssKib));
    const table = processTable();
    const sample = handles.filter((_, i) => i % Math.max(1, Math.floor(n / 50)) === 0).slice(0, 50);
    const pier: number[] = []; const app: number[] = []; const procCounts: number[] = [];
    for (const h of sample) {
      const p = ctx.processesOf?.(h, table);
      if (!p) continue;
      pier.push(sum(p.pier.map(pssKib)));
      app.push(sum(p.app.map(pssKib)));
      procCounts.push(p.pier.length);
    }
    const docker = await ctx.dockerSide?.(handles);

    const lat = await edgeLatencies(ctx.edge.url, probed, 500, 15_000);
    return {
      runtime: ctx.kind, instances: n, idle_seconds: idleSeconds, lines_collected: lines,
      idle_cpu_percent: +(((cpu.user + cpu.system) / wallUs) * 100).toFixed(2),
      edge_idle_cpu_percent: +((edgeCpu / wallUs) * 100).toFixed(2),
      start_ms_per_instance: round1(startMs),
      start_ms_first10: round1(mean(times.slice(0, 10))),
      start_ms_last10: round1(mean(times.slice(-10))),
      start_cpu_ms_first10: round1(mean(cpus.slice(0, 10))), start_cpu_ms_last10: round1(mean(cpus.slice(-10))),
      gauge_ms_first10: +mean(gauges.slice(0, Math.min(10, n))).toFixed(2), gauge_ms_last10: +mean(gauges.slice(-Math.min(10, n))).toFixed(2),
      ...(launcherKib !== undefined ? { launcher_pss_kib: launcherKib } : {}),
      ...(ctx.kind === 'process' ? { start_spans_first10: meanSpans(spans.slice(0, 10)), start_spans_last10: meanSpans(spans.slice(-10)) } : {}),
      pier_processes_per_instance: round1(mean(procCounts)),
      pier_pss_kib_per_instance: Math.round(mean(pier)),
      app_pss_kib_per_instance: Math.round(mean(app)),
      ...(docker ? { docker_proxies: docker.proxies, shim_pss_kib_per_instance: Math.round(docker.shimKib / n) } : {}),
      control_rss_kib_per_instance: Math.round((rss1 - rss0) / n),
      edge_rss_kib_per_instance: Math.round((edgeRss1 - edgeRss0) / n),
      edge_requests: lat.length,
      edge_p50_ms: +percentile(lat, 50).toFixed(2),
      edge_p99_ms: +percentile(lat, 99).toFixed(2),
    };
  } finally {
    ctx.edge.setRoutes([], DOMAIN);
    await collector.stopAll();
    for (const h of handles) await ctx.runtime.remove(h.runtimeId).catch(() => undefined);
  }
}

// ---- process runtime ---------------------------------------------------------------------------------------------

/** The supervisor (parent of the sandbox pid) and its subtree; the app is everything under bubblewrap's init. */
function processInstanceTree(stateDir: string) {
  return (h: InstanceHandle, table: Map<number, Proc>): { pier: number[]; app: number[] } | undefined => {
    let sandboxPid: number;
    try { sandboxPid = Number(readFileSync(instancePaths(stateDir, h.runtimeId).sandboxPid, 'utf8').trim()); } catch { return undefined; }
    const supervisor = table.get(sandboxPid)?.ppid;
    if (!supervisor) return undefined;
    const all = subtree(table, supervisor);
    // sandbox pid = bubblewrap (outside) → bubblewrap init (pid 1 inside) → the app.
    const init = children(table, sandboxPid)[0];
    const app = init ? children(table, init).flatMap((c) => subtree(table, c)) : [];
    return { pier: all.filter((p) => !app.includes(p)), app };
  };
}

async function processPoints(counts: number[], idleSeconds: number, edge: Edge, skipped: string[]): Promise<DensityPoint[]> {
  const app = prepareTestAppDir();
  const stateDir = mkdtempSync(join(tmpdir(), 'pier-density-'));
  const cgroupParent = `pier-density-${process.pid}`;
  // Host network: namespaces (~12 ms each, measured in the runtime README) would dominate the start time.
  const ctx = {} as PointContext;
  const rt = new ProcessRuntime({ stateDir, cgroupParent, network: 'host', trace: (step, ms) => { if (ctx.spans) ctx.spans[step] = (ctx.spans[step] ?? 0) + ms; } });
  const points: DensityPoint[] = [];
  try {
    await rt.capabilities();
    Object.assign(ctx, {
      runtime: rt, kind: 'process', edge, processesOf: processInstanceTree(stateDir),
      spec: () => ({ instanceId: randomUUID(), labels: {}, appDir: app.dir, entrypoint: app.entrypoint, command: ['serve'], env: {}, ports: [8000], cpu: 0.1, memoryBytes: 32 * MiB }),
    } satisfies PointContext);
    for (const n of counts) points.push(await measurePoint(ctx, n, idleSeconds));
  } catch (err) {
    skipped.push(`process runtime: ${(err as Error).message}`);
  } finally {
    for (const h of await rt.recover().catch(() => [])) await rt.remove(h.runtimeId).catch(() => undefined);
    const layout = detectCgroupLayout();
    if (layout) try { new InstanceCgroup(layout, '', cgroupParent).destroy(); } catch { /* best effort */ }
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(app.dir, { recursive: true, force: true });
  }
  return points;
}

// ---- docker ------------------------------------------------------------------------------------------------------

/** docker-proxy processes and the container addresses they forward to. */
function dockerProxies(): { pid: number; containerIp: string }[] {
  const out: { pid: number; containerIp: string }[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let argv: string[];
    try { argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (!/docker-proxy$/.test(argv[0] ?? '')) continue;
    const i = argv.indexOf('-container-ip');
    out.push({ pid: Number(d), containerIp: argv[i + 1] ?? '' });
  }
  return out;
}

/** containerd-shim processes whose command line names one of the given container ids. */
function shimPssKib(ids: string[]): number {
  const want = new Set(ids);
  let total = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let argv: string[];
    try { argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0'); } catch { continue; }
    if (!/containerd-shim/.test(argv[0] ?? '')) continue;
    const i = argv.indexOf('-id');
    if (i >= 0 && want.has(argv[i + 1] ?? '')) total += pssKib(Number(d));
  }
  return total;
}

function dockerSpec(i: number): InstanceSpec {
  return { instanceId: randomUUID(), labels: { bench: `density-${i}` }, image: TEST_IMAGE, command: ['serve'], env: { PORT: '8000' }, ports: [8000], cpu: 0.1, memoryBytes: 32 * MiB };
}

/** Containers published the way the driver did before #26, then the driver's own: docker-proxy processes each. */
async function proxyComparison(engine: DockerEngine, rt: DockerRuntime, scope: string, n: number): Promise<ProxyComparison> {
  const before = new Set(dockerProxies().map((p) => p.pid));
  const legacy: string[] = [];
  let published: { pid: number }[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const id = randomUUID();
      const c = await engine.json<{ Id: string }>('POST', '/containers/create', {
        query: { name: `pier-${id}` },
        body: {
          Image: TEST_IMAGE, Cmd: ['serve'], Env: ['PORT=8000'], ExposedPorts: { '8000/tcp': {} },
          Labels: { [MANAGED_LABEL]: 'true', [INSTANCE_LABEL]: id, [SCOPE_LABEL]: scope },
          HostConfig: { PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] }, RestartPolicy: { Name: 'no' }, Memory: 32 * MiB },
        },
      });
      legacy.push(c.Id);
      await engine.json('POST', `/containers/${c.Id}/start`);
    }
    published = dockerProxies().filter((p) => !before.has(p.pid));
    const pss = sum(published.map((p) => pssKib(p.pid)));
    const driver: InstanceHandle[] = [];
    try {
      for (let i = 0; i < n; i++) driver.push(await rt.start(dockerSpec(i)));
      const ips = new Set(driver.map((h) => h.endpoints[0]?.host));
      const driverProxies = dockerProxies().filter((p) => ips.has(p.containerIp)).length;
      return { instances: n, published_proxies: published.length, published_proxy_pss_kib_per_instance: Math.round(pss / n), driver_proxies: driverProxies };
    } finally {
      for (const h of driver) await rt.remove(h.runtimeId).catch(() => undefined);
    }
  } finally {
    for (const id of legacy) await engine.jsonOrNull('DELETE', `/containers/${id}`, { query: { force: 1 } }).catch(() => undefined);
  }
}

async function dockerPoints(counts: number[], idleSeconds: number, edge: Edge, skipped: string[]): Promise<{ points: DensityPoint[]; proxies?: ProxyComparison }> {
  const points: DensityPoint[] = [];
  if (!counts.length) return { points };
  if (!existsSync('/var/run/docker.sock')) { skipped.push('docker: no engine socket'); return { points }; }
  const scope = `density-${process.pid}`;
  // As Pier runs it: instances take network holders from the pool (PIER_DOCKER_HOLDER_POOL), each kept with its instance.
  const rt = new DockerRuntime({ scope, holderPool: DEFAULT_DOCKER_HOLDER_POOL, log: () => undefined });
  const engine = new DockerEngine();
  let proxies: ProxyComparison | undefined;
  try {
    await rt.capabilities();
    await ensureTestImage();
    proxies = await proxyComparison(engine, rt, scope, 10);
    const ctx: PointContext = {
      runtime: rt, kind: 'docker', edge, spec: dockerSpec,
      dockerSide: async (handles) => {
        const ips = new Set(handles.map((h) => h.endpoints[0]?.host));
        // Each instance's shim and its network holder's (the holder is Docker's too: one more container per instance).
        const holders: string[] = [];
        for (const h of handles) {
          const mode = (await engine.jsonOrNull<{ HostConfig: { NetworkMode: string } }>('GET', `/containers/${h.runtimeId}/json`))?.HostConfig.NetworkMode ?? '';
          if (mode.startsWith('container:')) holders.push(mode.slice('container:'.length));
        }
        return { proxies: dockerProxies().filter((p) => ips.has(p.containerIp)).length, shimKib: shimPssKib([...handles.map((h) => h.runtimeId), ...holders]) };
      },
    };
    for (const n of counts) points.push(await measurePoint(ctx, n, idleSeconds));
  } catch (err) {
    skipped.push(`docker: ${(err as Error).message}`);
  } finally {
    for (const h of await rt.recover().catch(() => [])) await rt.remove(h.runtimeId).catch(() => undefined);
    await rt.close().catch(() => undefined);
  }
  return { points, proxies };
}

// ---- the bench ---------------------------------------------------------------------------------------------------

/** Runs the process-runtime counts, then the Docker counts, behind one edge with 2 workers. */
export async function densityBench(opts: { counts?: number[]; idleSeconds?: number; dockerCounts?: number[] } = {}): Promise<DensityResult> {
  const counts = opts.counts ?? [10, 100, 1000];
  const dockerCounts = opts.dockerCounts ?? [10, 100];
  const idleSeconds = Math.min(60, Math.max(5, opts.idleSeconds ?? 20));
  const skipped: string[] = [];
  const edge = await createEdge({ addr: '127.0.0.1:0', domain: DOMAIN, workers: 2 });
  // Warm the workers (first requests allocate), so their RSS growth per point is the instances' share.
  edge.setRoutes([], DOMAIN);
  await edgeLatencies(edge.url, [0], 300, 10_000);
  let points: DensityPoint[] = [];
  let proxies: ProxyComparison | undefined;
  try {
    points = await processPoints(counts, idleSeconds, edge, skipped);
    const d = await dockerPoints(dockerCounts, idleSeconds, edge, skipped);
    points.push(...d.points);
    proxies = d.proxies;
  } finally {
    await edge.close();
  }
  return { points, proxies, skipped, rows: densityRows(points, proxies, skipped) };
}

function densityRows(points: DensityPoint[], proxies: ProxyComparison | undefined, skipped: string[]): DensityResult['rows'] {
  const rows: DensityResult['rows'] = [];
  for (const p of points) {
    const name = p.runtime === 'process' ? 'Process runtime' : 'Docker';
    rows.push({
      bench: `${name}: control-plane CPU while ${p.instances} instances idle (log followers, edge with their routes; ${p.idle_seconds} s window)`,
      measured: `${p.idle_cpu_percent} % of a core (edge workers ${p.edge_idle_cpu_percent} %)`,
      baseline: '-', target: `< ${TARGET_PERCENT} %, flat in N`, met: p.idle_cpu_percent < TARGET_PERCENT,
    });
    const own = p.pier_pss_kib_per_instance + Math.max(0, p.control_rss_kib_per_instance) + Math.max(0, p.edge_rss_kib_per_instance);
    rows.push({
      bench: `${name}: Pier's memory per idle instance at N = ${p.instances} (${p.runtime === 'process' ? `supervisor + helpers PSS, ${p.pier_processes_per_instance} processes` : 'no Pier process per container'}; control-plane and edge RSS growth)`,
      measured: `${num(own)} KiB = ${num(p.pier_pss_kib_per_instance)} + ${num(p.control_rss_kib_per_instance)} + ${num(p.edge_rss_kib_per_instance)}`,
      baseline: p.runtime === 'process' ? `the app bare: ${num(p.app_pss_kib_per_instance)} KiB PSS` : `Docker's own: containerd-shims (the container's and its network holder's) ${num(p.shim_pss_kib_per_instance ?? 0)} KiB PSS, ${p.docker_proxies} docker-proxy`,
      target: `< ${TARGET_PIER_KIB} KiB`, met: own < TARGET_PIER_KIB,
    });
    rows.push({
      bench: `${name}: start time per instance at N = ${p.instances}`,
      measured: `${p.start_ms_per_instance} ms mean; last 10 ${p.start_ms_last10} ms, ${p.start_cpu_ms_last10} ms CPU (reference workload ${p.gauge_ms_last10} ms)`,
      baseline: `first 10 ${p.start_ms_first10} ms, ${p.start_cpu_ms_first10} ms CPU (reference workload ${p.gauge_ms_first10} ms)`, target: 'flat in N',
      met: p.start_ms_last10 <= Math.max(p.start_ms_first10 * 1.5, p.start_ms_first10 + 20),
    });
    rows.push({
      bench: `${name}: edge latency to 5 of ${p.instances} idle instances (${p.edge_requests} keep-alive requests)`,
      measured: `p50 ${p.edge_p50_ms} ms, p99 ${p.edge_p99_ms} ms`, baseline: '-', target: 'recorded',
    });
  }
  if (proxies) {
    rows.push({
      bench: `Docker: docker-proxy per instance, ${proxies.instances} containers published on 127.0.0.1 (before #26) vs the driver's`,
      measured: `${proxies.driver_proxies} docker-proxy`, baseline: `${proxies.published_proxies} docker-proxy, ${num(proxies.published_proxy_pss_kib_per_instance)} KiB PSS each`,
      target: '0', met: proxies.driver_proxies === 0,
    });
  }
  for (const s of skipped) rows.push({ bench: 'density (skipped)', measured: s, baseline: '-', target: '-' });
  return rows;
}

function num(x: number): string { return x.toLocaleString('en-US'); }

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const list = (s: string | undefined) => s?.split(',').map(Number).filter((x) => Number.isInteger(x) && x > 0 && x <= 1000);
  densityBench({ counts: list(process.argv[2]), idleSeconds: Number(process.argv[3]) || undefined, dockerCounts: process.argv[4] === '0' ? [] : list(process.argv[4]) })
    .then((r) => console.log(JSON.stringify(r, null, 2)))
    .catch((err) => { console.error(err); process.exitCode = 1; });
}

// The HAProxy data plane (PIER_EDGE_DATAPLANE=haproxy): HAProxy listens on the public address and serves the routes
// it can straight to the instances; every other request (sleeping apps and wake-ups, auth, HTTPS redirects, several
// regions, h2c, ACME, error pages) goes to its default backend, Pier's Node edge on a loopback port, which holds the
// whole table. `setRoutes` drives HAProxy level-triggered: desired table → plan → runtime API (server addresses and
// states, the map replaced atomically with prepare/commit); a reload only when a backend appears or outgrows its slots.
// Supervised: when HAProxy dies, it is started again with the newest table (backoff 100 ms doubling to 5 s, reset
// after 30 s up), one log line per death; Pier's own close() is not a death.
import { mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createSecureContext } from 'node:tls';
import { join } from 'node:path';
import { parseAddr, urlOf } from '../addr.ts';
import { createEdge } from '../edge.ts';
import { LATENCY_BUCKETS_MS, renderPrometheus, summarize } from '../metrics.ts';
import type { AppRoutes, Edge, EdgeCertificate, EdgeMetrics, EdgeOptions, LoadWatch, TrafficMetrics } from '../types.ts';
import {
  NODE_BACKEND, haproxyThreads, regionPreference, latencyKey, latencyTableCommands, planCertRuntime, planCertificates, planHaproxy, planRuntime, renderConfig, renderLatencyMap, renderMap, restartDelay,
  slotsForConfig, type BackendSlots, type CrtEntry, type HaproxyPlan,
} from './config.ts';
import { HaproxyProcess } from './process.ts';
import { BackendLoadWatch, LOAD_POLL_MS, backendStatCommands, parseBackendRows } from './load-watch.ts';
import { jobQueue } from './queue.ts';
import { removeSocketLink, socketPath } from '../../socket-path.ts';

/** Options of the HAProxy data plane on top of the edge's own. */
export interface HaproxyEdgeOptions extends EdgeOptions {
  /** Directory for haproxy.cfg, the map and the sockets (created; private to this edge). */
  dir: string;
  /** The haproxy binary (default `haproxy` on PATH). */
  bin?: string;
  /** Called when applying a table to HAProxy fails (the Node edge still serves everything HAProxy misses). */
  onError?: (message: string) => void;
}

/** What HAProxy reports for one server or backend (cumulative since the current worker started). */
interface StatRow { scur: number; stot: number; reqTot: number; bout: number; hrsp: number[]; lastsess: number; reqMs?: number }

/** Latency counted from HAProxy's stick tables: requests per bucket (LATENCY_BUCKETS_MS) and their summed ms. */
interface Latency { counts: number[]; sumMs: number }

/** A running HAProxy edge: an Edge plus what tests and operators want to see. */
export interface HaproxyEdge extends Edge {
  /** How many reloads HAProxy went through since it started. */
  reloads(): number;
  /** The Node edge behind HAProxy (fallback and activator). */
  nodeUrl: string;
  /** Resolves once every table handed to setRoutes so far is applied to HAProxy. */
  settled(): Promise<void>;
  /** Whether HAProxy serves the public address now, how often it was restarted after dying, and its pids. */
  dataplane(): DataplaneStatus;
}

/** The supervised HAProxy's state (also in the Prometheus text as pier_edge_haproxy_*). */
export interface DataplaneStatus {
  /** False from HAProxy's death until its restart serves again: the public address does not answer meanwhile. */
  up: boolean;
  restarts: number;
  reloads: number;
  masterPid: number | null;
  /** The last death, as logged. */
  lastDeath: string | null;
}

/** Per backend of a plan: the metrics keys and apps it counts for. */
function ownersOf(plan: HaproxyPlan): Map<string, { routeKeys: string[]; appIds: string[] }> {
  return new Map([...plan.backends.values()].map((b) => [b.name, { routeKeys: b.routeKeys, appIds: b.appIds }]));
}

/** The backends of a plan whose load is watched (load-watch.ts), with their service and watch. */
function watchedOf(plan: HaproxyPlan): Map<string, { serviceId: string; watch: LoadWatch }> {
  const out = new Map<string, { serviceId: string; watch: LoadWatch }>();
  for (const b of plan.backends.values()) if (b.loadWatch) out.set(b.name, { serviceId: b.serviceId, watch: b.loadWatch });
  return out;
}

/** Start the Node edge on loopback, then HAProxy on `opts.addr` in front of it. */
export async function createHaproxyEdge(opts: HaproxyEdgeOptions): Promise<HaproxyEdge> {
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  // With a TLS address, HAProxy terminates TLS there and the Node edge's own TLS listener moves to loopback (the
  // fallback for HTTPS requests HAProxy does not serve itself).
  // HAProxy's x-forwarded-for (option forwardfor) names each request's client for it (regions, forwarded headers).
  const node = await createEdge({
    ...opts, addr: '127.0.0.1:0', tlsAddr: opts.tlsAddr === undefined ? undefined : '127.0.0.1:0', workers: 1, clientFromForwardedFor: true,
  });
  const nodePort = Number(new URL(node.url).port);
  // PEM bundles (chain + key): a directory only Pier reads, files 0600, never logged.
  const certDir = join(opts.dir, 'certs');
  const crtListFile = join(opts.dir, 'certs.list');
  let crtListText = '';
  // The crt-list lines HAProxy holds (what the runtime API changes from).
  let crtEntries: CrtEntry[] = [];
  const cfgFile = join(opts.dir, 'haproxy.cfg');
  const mapFile = join(opts.dir, 'routes.map');
  const latencyMap = join(opts.dir, 'latency.map');
  const onError = opts.onError ?? ((m: string) => process.emitWarning(`pier edge (haproxy): ${m}`));
  // Both sockets live in the edge directory; one deeper than ~95 bytes is reached through a short link (socket-path.ts).
  const proc = new HaproxyProcess(opts.bin ?? 'haproxy', cfgFile, socketPath(opts.dir, 'admin.sock', true), socketPath(opts.dir, 'master.sock', true),
    (how, alert, pid) => died(how, alert, pid));

  // What HAProxy holds now (applied state): backends with their slots, and the map text.
  let backends = new Map<string, BackendSlots>();
  let mapText = '';
  let reloads = 0;
  // Supervision: the newest table handed in (a restart applies it), whether HAProxy serves, restarts so far.
  let desired: AppRoutes[] = [];
  let up = false;
  let upSince = 0;
  let restarts = 0;
  let lastDelay: number | null = null;
  let lastDeath: string | null = null;
  let restartTimer: NodeJS.Timeout | null = null;
  // Serialise applies and restarts; a table arriving while one runs replaces any waiting one (last wins). A job that
  // throws is logged and never stops the ones after it (queue.ts).
  const jobs = jobQueue((what, err) => onError(`${what} failed: ${err.message}`));
  let pending: AppRoutes[] | null = null;
  let closed = false;
  let domain = opts.domain;
  // Set when a runtime change failed halfway: what HAProxy holds is unknown, so the next table rewrites the config.
  let forceReload = false;
  // Which route keys and app each backend counts for (metrics), from the last plan.
  let owners = new Map<string, { routeKeys: string[]; appIds: string[] }>();
  // Backends whose load is watched, from the same plan (read every LOAD_POLL_MS), and their rise detection.
  let watched = new Map<string, { serviceId: string; watch: LoadWatch }>();
  const loadWatch = new BackendLoadWatch();
  /** Takes a new plan's owners and watched backends (the backends it no longer watches are forgotten). */
  const takeOwners = (plan: HaproxyPlan): void => {
    owners = ownersOf(plan);
    watched = watchedOf(plan);
    loadWatch.keep(new Set(watched.keys()));
  };
  let stats = new Map<string, StatRow>();
  // Counters of workers replaced by reloads, so totals never go down.
  const carried = new Map<string, StatRow>();
  // Latency from the backends' stick tables: the raw counts last read (per backend, per key), and what they added up
  // to per backend and per instance (the slot's instance when the count grew), kept across reloads.
  let latencyRaw = new Map<string, Map<number, number>>();
  const latencyByBackend = new Map<string, Latency>();
  const latencyByInstance = new Map<string, Latency>();

  const { host: bindHost, port: bindPort } = parseAddr(opts.addr);
  const bind = `${bindHost.includes(':') ? `[${bindHost}]` : bindHost}:${bindPort}`;
  // Port 0 cannot be handed to HAProxy (a reload would bind elsewhere): pick a free port once.
  const publicPort = bindPort === 0 ? await freePort(bindHost) : bindPort;
  const bindFixed = bind.replace(/:\d+$/, `:${publicPort}`);

  let tlsBind: string | null = null;
  let tlsPublic: { host: string; port: number } | null = null;
  if (opts.tlsAddr !== undefined && node.tlsUrl !== undefined) {
    const t = parseAddr(opts.tlsAddr);
    const port = t.port === 0 ? await freePort(t.host) : t.port;
    tlsPublic = { host: t.host, port };
    tlsBind = `${t.host.includes(':') ? `[${t.host}]` : t.host}:${port}`;
    mkdirSync(certDir, { recursive: true, mode: 0o700 });
  }
  const tls = tlsBind === null ? undefined
    : { bind: tlsBind, crtList: crtListFile, nodeEdgeTls: `127.0.0.1:${new URL(node.tlsUrl!).port}` };

  const threads = haproxyThreads(availableParallelism());
  // Multi-region routes: HAProxy prefers this edge's region, or sends a client of another region to Node (docs/edge.md).
  const regions = regionPreference(opts.region ?? 'local', opts.regionHeader ?? 'x-pier-region', opts.regionMap);
  const writeFiles = (map: string): void => {
    if (tls !== undefined) atomicWrite(crtListFile, crtListText);
    const cfg = renderConfig({
      bind: bindFixed, nodeEdge: `127.0.0.1:${nodePort}`, adminSocket: proc.adminSocket, mapFile, tls,
      backends: [...backends.values()], connectTimeoutMs: opts.connectTimeoutMs, responseTimeoutMs: opts.responseTimeoutMs, threads,
      latencyMap, regions,
    });
    atomicWrite(mapFile, map);
    atomicWrite(cfgFile, cfg);
  };

  atomicWrite(latencyMap, renderLatencyMap());
  writeFiles('');
  try {
    const leftover = await proc.start();
    if (leftover !== null) onError(`stopped a HAProxy (master pid ${leftover}) an earlier Pier left running on ${opts.dir}: it held the public address beside this one`);
  } catch (err) {
    await node.close();
    throw err;
  }
  up = true;
  upSince = Date.now();

  /** A new worker starts its counters at 0: keep the old totals (not its seconds-since-last, which would freeze). */
  const carryCounters = (): void => {
    for (const [name, row] of stats) carried.set(name, { ...addRows(carried.get(name), row), lastsess: -1 });
    stats = new Map();
    latencyRaw = new Map(); // the new worker's tables start empty: whatever they count next is new
  };

  /** HAProxy's master exited on its own (its worker's death takes it down too): log once, restart after a backoff. */
  function died(how: string, alert: string, pid: number): void {
    if (closed) return;
    up = false;
    const upFor = Date.now() - upSince;
    lastDelay = restartDelay(lastDelay, upFor);
    lastDeath = `haproxy (master pid ${pid}) died after ${(upFor / 1000).toFixed(1)} s up (${how}${alert ? `; haproxy: ${alert}` : ''})`;
    onError(`${lastDeath}; the public address does not answer until it is restarted: restart ${restarts + 1} in ${lastDelay} ms with the current route table`);
    scheduleRestart(lastDelay);
  }

  function scheduleRestart(ms: number): void {
    restartTimer = setTimeout(() => {
      restartTimer = null;
      void jobs.push('restarting haproxy', restart);
    }, ms);
  }

  /** Start HAProxy again with the newest table (in the apply queue, so no apply runs meanwhile). */
  async function restart(): Promise<void> {
    if (closed) return;
    let map: string;
    try {
      const plan = planHaproxy(desired, domain, regions);
      takeOwners(plan);
      carryCounters();
      backends = slotsForConfig(plan, backends);
      map = renderMap(plan.map);
      writeFiles(map);
      await proc.start();
    } catch (err) {
      // Never served: no death to log, but the attempt failed; try again later (the backoff keeps growing).
      lastDelay = restartDelay(lastDelay, 0);
      onError(`restarting haproxy failed: ${(err as Error).message}; next try in ${lastDelay} ms`);
      if (!closed) scheduleRestart(lastDelay);
      return;
    }
    mapText = map;
    forceReload = false;
    restarts++;
    up = true;
    upSince = Date.now();
  }

  /** Replace HAProxy's map as a whole and atomically (prepare / add @version / commit), and the file with it. */
  async function replaceMap(lines: [string, string][]): Promise<void> {
    const prepared = await proc.command(`prepare map ${mapFile}`);
    const v = /New version created: (\d+)/.exec(prepared)?.[1];
    if (v === undefined) throw new Error(`haproxy "prepare map": ${prepared.trim()}`);
    for (const [k, be] of lines) await proc.command(`add map @${v} ${mapFile} ${k} ${be}`);
    await proc.command(`commit map @${v} ${mapFile}`);
    mapText = renderMap(lines);
    atomicWrite(mapFile, mapText);
  }

  /** Apply one plan: runtime changes when the backends fit, else rewrite the config and reload. */
  async function apply(plan: HaproxyPlan): Promise<void> {
    const step = planRuntime(backends, plan, forceReload);
    const lines = plan.map;
    const newMap = renderMap(lines);
    if (step.reload !== null) {
      // Until the new worker serves, the old one still answers requests on its open connections: keys of backends it
      // does not have go to the Node edge first, so a shorter prefix it has (say `/`) never answers for `/api`.
      const interim = plan.map.map(([k, v]): [string, string] => [k, backends.has(v) ? v : NODE_BACKEND]);
      if (renderMap(interim) !== mapText) await replaceMap(interim);
      carryCounters();
      const prev = backends;
      backends = step.backends;
      writeFiles(newMap);
      try {
        await proc.check();
        await proc.reload();
      } catch (err) {
        backends = prev;
        throw err;
      }
      mapText = newMap;
      reloads++;
      forceReload = false;
      return;
    }
    // 1. New and moved servers first, so a map entry never points at a backend without them. `backends` takes the
    //    planned state first: if a command fails, forceReload rewrites the whole config from it.
    backends = step.backends;
    for (const cmd of step.before) await proc.command(cmd);
    // 2. The map, replaced as a whole and atomically.
    if (newMap !== mapText) await replaceMap(lines);
    // 3. Servers gone from the table, and every server of a backend no route uses any more: no new requests
    //    (requests in flight finish; drain() waits for them).
    for (const cmd of step.after) await proc.command(cmd);
  }

  /**
   * Write the PEM bundles and the crt-list for `certs`, then change HAProxy's certificates through the runtime API
   * (no reload); a reload only when that cannot express the change or fails halfway (then the files are the truth).
   * Certificates that do not load are left out here (the Node edge reports them), so one bad PEM never stops it.
   */
  async function applyCertificates(certs: EdgeCertificate[]): Promise<void> {
    const usable = certs.filter((c) => { try { createSecureContext({ cert: c.certPem, key: c.keyPem }); return true; } catch { return false; } });
    const planned = planCertificates(usable, certDir);
    if (planned.crtList === crtListText || closed) return;
    for (const f of planned.files) atomicWrite(join(certDir, f.file), f.pem);
    const prevList = crtListText;
    const prevEntries = crtEntries;
    crtListText = planned.crtList;
    crtEntries = planned.entries;
    const steps = up ? planCertRuntime(certDir, crtListFile, prevEntries, planned.entries, planned.files) : null;
    let runtimeOk = false;
    if (steps !== null) {
      try {
        for (const st of steps) await proc.command(st.cmd, st.payload, st.expect);
        atomicWrite(crtListFile, crtListText);
        runtimeOk = true;
      } catch (err) {
        onError(`changing certificates through the runtime API failed, reloading instead: ${(err as Error).message}`);
      }
    }
    if (up && !runtimeOk) {
      carryCounters();
      writeFiles(mapText);
      try {
        await proc.check();
        await proc.reload();
      } catch (err) {
        crtListText = prevList;
        crtEntries = prevEntries;
        writeFiles(mapText);
        throw err;
      }
      reloads++;
    }
    const keep = new Set(planned.files.map((f) => f.file));
    for (const f of readdirSync(certDir)) if (!keep.has(f)) unlinkSync(join(certDir, f));
  }

  const kick = (): void => {
    void jobs.push('applying the route table', async () => {
      const apps = pending;
      pending = null;
      if (apps === null || closed || !up) return; // while HAProxy is down, its restart applies the newest table
      try {
        const plan = planHaproxy(apps, domain, regions);
        takeOwners(plan);
        await apply(plan);
      } catch (err) {
        forceReload = true;
        onError(`applying the route table failed (HAProxy keeps its previous state; the Node edge serves every miss): ${(err as Error).message}`);
      }
    });
  };

  // Per-backend and per-server counters, read once a second (merged into metrics()).
  const poll = async (): Promise<void> => {
    try {
      const csv = await proc.command('show stat');
      const next = new Map<string, StatRow>();
      const lines = csv.split('\n');
      const head = (lines[0] ?? '').replace(/^# /, '').split(',');
      const col = (n: string) => head.indexOf(n);
      const [px, sv, scur, stot, bout, reqTot, last, qtime, ctime, rtime] = ['pxname', 'svname', 'scur', 'stot', 'bout', 'req_tot', 'lastsess', 'qtime', 'ctime', 'rtime'].map(col);
      const hrsp = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx'].map(col);
      for (const line of lines.slice(1)) {
        const f = line.split(',');
        const name = f[px!]!;
        if (f.length < head.length - 1 || !backends.has(name)) continue;
        const n = (i: number) => Number(f[i] || 0);
        next.set(`${name}/${f[sv!]}`, {
          scur: n(scur!), stot: n(stot!), reqTot: n(reqTot!), bout: n(bout!), hrsp: hrsp.map(n), lastsess: n(last!),
          // Queue + connect + response-header time, averaged by HAProxy over the server's last 1,024 requests: what
          // the latency tables measure (ttime would add a keep-alive connection's idle time before the request).
          reqMs: n(qtime!) + n(ctime!) + n(rtime!),
        });
      }
      stats = next;
    } catch { /* a reload in progress: keep the last numbers */ }
  };

  /**
   * Reads every backend's latency table (one runtime API call per ~8 KB of commands) and adds what grew since the last read. A count
   * lower than the last one is a new worker's (a reload or restart that carryCounters did not see yet): all of it is
   * new. The summed time is estimated per server from HAProxy's averages over its last 1,024 requests (queue,
   * connect and response time): HAProxy 2.6 cannot add a duration to a counter, only count.
   */
  let latencyRead: Promise<void> | null = null;
  // One read at a time (of two overlapping reads answered out of order, the older counts would look like a reset and
  // be added again); a caller arriving during a read waits for it and then reads again, so what it gets counts every
  // request answered before it asked.
  const pollLatency = async (): Promise<void> => {
    while (latencyRead) await latencyRead;
    latencyRead = readLatency().catch(() => { /* a reload in progress: the next read counts it */ }).finally(() => { latencyRead = null; });
    await latencyRead;
  };
  const readLatency = async (): Promise<void> => {
    const names = [...backends.keys()];
    if (names.length === 0) return;
    let out = '';
    for (const call of latencyTableCommands(names)) out += await proc.command(call);
    const next = new Map<string, Map<number, number>>();
    let table: Map<number, number> | undefined;
    for (const line of out.split('\n')) {
      const head = /^# table: ([^,]+),/.exec(line);
      if (head) { next.set(head[1]!, table = new Map()); continue; }
      const row = /\bkey=(\d+)\b.*\bgpc0=(\d+)/.exec(line);
      if (row && table) table.set(Number(row[1]), Number(row[2]));
    }
    for (const [name, keys] of next) {
      const b = backends.get(name);
      const before = latencyRaw.get(name);
      for (const [key, count] of keys) {
        const k = latencyKey(key);
        const was = before?.get(key) ?? 0;
        const grew = count >= was ? count - was : count;
        if (k === null || grew === 0) continue;
        const ms = (stats.get(`${name}/s${k.slot + 1}`)?.reqMs ?? 0) * grew;
        addLatency(latencyByBackend, name, k.bucket, grew, ms);
        const instanceId = b?.slots[k.slot]?.instanceId;
        if (instanceId) addLatency(latencyByInstance, instanceId, k.bucket, grew, ms);
      }
    }
    latencyRaw = next;
  };
  // Counters and latency once a second; a drain reads the counters alone, as often as it needs.
  const pollAll = async (): Promise<void> => { await poll(); await pollLatency(); };
  const poller = setInterval(() => { void pollAll(); }, 1000);
  poller.unref();

  // Load reports (issue #23, load-watch.ts): the watched backends' counters every LOAD_POLL_MS; on a rise, the full
  // counters are read first, so the sample the report causes sees it.
  let watching = false;
  const watchLoad = async (): Promise<void> => {
    if (watching || !opts.onLoad || !up || closed) return;
    if (watched.size === 0) return;
    watching = true;
    try {
      let out = '';
      for (const call of backendStatCommands([...watched.keys()])) out += await proc.command(call);
      const now = performance.now();
      const risen: string[] = [];
      for (const [name, load] of parseBackendRows(out)) {
        const w = watched.get(name);
        const serving = backends.get(name)?.slots.filter((x) => x.instanceId !== null).length ?? 0;
        if (w && loadWatch.observe(name, load, serving, w.watch, now)) risen.push(w.serviceId);
      }
      if (risen.length === 0) return;
      await poll();
      for (const serviceId of new Set(risen)) {
        try { opts.onLoad(serviceId); } catch { /* advice only: the control plane's tick samples anyway */ }
      }
    } catch { /* a reload in progress: the next reading */ } finally {
      watching = false;
    }
  };
  const loadPoller = setInterval(() => { void watchLoad(); }, LOAD_POLL_MS);
  loadPoller.unref();

  function metrics(): EdgeMetrics {
    const m = structuredClone(node.metrics());
    const now = Date.now();
    const addLatencyTo = (t: TrafficMetrics, l: Latency | undefined): void => {
      if (!l) return;
      if (t.buckets.counts.length !== LATENCY_BUCKETS_MS.length) t.buckets = { le: LATENCY_BUCKETS_MS.slice(), counts: LATENCY_BUCKETS_MS.map(() => 0) };
      l.counts.forEach((n, i) => { t.buckets.counts[i]! += n; });
      t.sumMs += l.sumMs;
      t.latencyMs = summarize(t.buckets.counts);
    };
    const merge = (t: TrafficMetrics, r: StatRow, requests: number): void => {
      t.inFlight += r.scur;
      t.requests += requests;
      t.bytes += r.bout;
      r.hrsp.forEach((n, i) => { const k = `${i + 1}xx`; t.byStatus[k] = (t.byStatus[k] ?? 0) + n; });
      if (r.lastsess >= 0 && (r.stot > 0 || requests > 0)) {
        const at = new Date(now - r.lastsess * 1000).toISOString();
        if (t.lastRequestAt === null || at > t.lastRequestAt) t.lastRequestAt = at;
      }
    };
    for (const [name, b] of backends) {
      const be = addRows(carried.get(`${name}/BACKEND`), stats.get(`${name}/BACKEND`));
      const own = owners.get(name);
      for (const key of own?.routeKeys ?? []) {
        const t = m.routes[key];
        if (t) { merge(t, be, be.reqTot); addLatencyTo(t, latencyByBackend.get(name)); break; } // a backend counts once, on its first route
      }
      for (const appId of own?.appIds ?? []) {
        const a = m.apps[appId];
        if (!a) continue;
        a.requests += be.reqTot;
        if (be.lastsess >= 0 && be.reqTot > 0) {
          const at = new Date(now - be.lastsess * 1000).toISOString();
          if (a.lastRequestAt === null || at > a.lastRequestAt) a.lastRequestAt = at;
        }
      }
      b.slots.forEach((s, i) => {
        const r = stats.get(`${name}/s${i + 1}`);
        if (s.instanceId === null || !r) return;
        const t = (m.instances[s.instanceId] ??= emptyTraffic());
        merge(t, r, r.stot);
      });
    }
    // An instance neither HAProxy nor the Node edge knows any more takes its latency along.
    for (const [id, l] of latencyByInstance) {
      if (m.instances[id]) addLatencyTo(m.instances[id], l);
      else latencyByInstance.delete(id);
    }
    return m;
  }

  /** In-flight requests HAProxy has on the slots `instanceId` held (freed slots keep their address until reused). */
  const inFlightOn = async (instanceId: string, addrs: Set<string>): Promise<number> => {
    await poll();
    let n = 0;
    for (const [name, b] of backends) {
      b.slots.forEach((s, i) => {
        if (s.instanceId === instanceId || (s.instanceId === null && addrs.has(`${s.host}:${s.port}`))) n += stats.get(`${name}/s${i + 1}`)?.scur ?? 0;
      });
    }
    return n;
  };
  // Addresses of the instances in the current table and the one before (a drain comes after the table removing it).
  let addrsOf = new Map<string, Set<string>>();
  let lastTable = new Map<string, Set<string>>();

  return {
    url: urlOf(bindHost, publicPort),
    tlsUrl: tlsPublic === null ? node.tlsUrl : urlOf(tlsPublic.host, tlsPublic.port, 'https'),
    nodeUrl: node.url,
    reloads: () => reloads,
    setRoutes(apps, newDomain) {
      node.setRoutes(apps, newDomain);
      if (newDomain !== undefined) domain = newDomain;
      const current = new Map<string, Set<string>>();
      for (const a of apps) for (const r of a.routes) for (const u of r.upstreams) {
        let s = current.get(u.instanceId);
        if (!s) current.set(u.instanceId, (s = new Set()));
        s.add(`${u.host}:${u.port}`);
      }
      addrsOf = new Map([...addrsOf, ...current]);
      for (const id of [...addrsOf.keys()]) if (!current.has(id) && !lastTable.has(id)) addrsOf.delete(id);
      lastTable = current;
      desired = apps;
      pending = apps;
      kick();
    },
    setCertificates(certs) {
      node.setCertificates(certs);
      if (tls === undefined) return;
      void jobs.push('applying certificates (HAProxy keeps serving its previous ones)', () => applyCertificates(certs));
    },
    setAcmeChallenges: (c) => node.setAcmeChallenges(c),
    async drain(instanceId, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      await jobs.idle(); // the instance is out of HAProxy's servers once the table that removed it is applied
      await node.drain(instanceId, timeoutMs);
      const addrs = addrsOf.get(instanceId) ?? new Set<string>();
      for (let i = 0; i < 100_000 && Date.now() < deadline; i++) {
        if ((await inFlightOn(instanceId, addrs)) === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    metrics,
    async refreshMetrics() { await pollAll(); },
    // Counts, statuses, bytes, in flight and latency histograms include HAProxy's (latency: its stick tables).
    prometheus: () => renderPrometheus(metrics()) + [
      '# HELP pier_edge_haproxy_up Whether the HAProxy data plane serves the public address (0 between a death and its restart).',
      '# TYPE pier_edge_haproxy_up gauge',
      `pier_edge_haproxy_up ${up ? 1 : 0}`,
      '# HELP pier_edge_haproxy_restarts_total HAProxy restarts after it died.',
      '# TYPE pier_edge_haproxy_restarts_total counter',
      `pier_edge_haproxy_restarts_total ${restarts}`,
      '# HELP pier_edge_haproxy_reloads_total HAProxy reloads (new backends, backends outgrowing their slots).',
      '# TYPE pier_edge_haproxy_reloads_total counter',
      `pier_edge_haproxy_reloads_total ${reloads}`,
    ].join('\n') + '\n',
    dataplane: () => ({ up, restarts, reloads, masterPid: proc.masterPid(), lastDeath }),
    async close() {
      closed = true;
      if (restartTimer !== null) clearTimeout(restartTimer);
      clearInterval(poller);
      clearInterval(loadPoller);
      await jobs.idle();
      await proc.stop();
      for (const name of ['admin.sock', 'master.sock']) removeSocketLink(opts.dir, name);
      await node.close();
    },
    settled: () => jobs.idle(),
  };
}

function addRows(a: StatRow | undefined, b: StatRow | undefined): StatRow {
  const z: StatRow = { scur: 0, stot: 0, reqTot: 0, bout: 0, hrsp: [0, 0, 0, 0, 0], lastsess: -1 };
  const x = a ?? z, y = b ?? z;
  const lasts = [x.lastsess, y.lastsess].filter((n) => n >= 0);
  return {
    scur: y.scur, stot: x.stot + y.stot, reqTot: x.reqTot + y.reqTot, bout: x.bout + y.bout,
    hrsp: x.hrsp.map((n, i) => n + (y.hrsp[i] ?? 0)), lastsess: lasts.length ? Math.min(...lasts) : -1,
  };
}

function addLatency(to: Map<string, Latency>, key: string, bucket: number, n: number, ms: number): void {
  let l = to.get(key);
  if (!l) to.set(key, (l = { counts: LATENCY_BUCKETS_MS.map(() => 0), sumMs: 0 }));
  l.counts[bucket]! += n;
  l.sumMs += ms;
}

function emptyTraffic(): TrafficMetrics {
  return {
    inFlight: 0, requests: 0, byStatus: {}, bytes: 0, latencyMs: { p50: 0, p95: 0, p99: 0 },
    buckets: { le: [], counts: [] }, sumMs: 0, connectErrors: 0, lastRequestAt: null,
  };
}

function atomicWrite(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

async function freePort(host: string): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

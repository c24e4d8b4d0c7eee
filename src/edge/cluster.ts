// Multi-process edge: `workers` node:cluster processes share one listen port; each accepts for itself, or this
// process accepts and hands connections out round-robin (`balance`, see types.ts). Requests always flow worker ↔
// client directly. This process otherwise only coordinates: it sends every
// routing update to every worker, merges their counters, forwards access-log batches, dedupes wake-ups and
// fans `drain` out. A worker that dies is replaced and gets the current routes before it listens.
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { LOAD_REPORT_GAP_MS } from './load-watch.ts';
import { mergeMetrics, renderPrometheus } from './metrics.ts';
import { parseAddr, urlOf } from './addr.ts';
import { CertificateTable } from './tls.ts';
import type { AccessLogEntry, AcmeChallenges, AppRoutes, Edge, EdgeCertificate, EdgeMetrics, EdgeOptions } from './types.ts';

/** Messages from the coordinator to a worker. */
export type ToWorker =
  | { t: 'init'; apps: AppRoutes[] | null; domain?: string; certs: EdgeCertificate[]; acme: AcmeChallenges }
  | { t: 'routes'; apps: AppRoutes[]; domain?: string }
  | { t: 'certs'; certs: EdgeCertificate[] }
  | { t: 'acme'; acme: AcmeChallenges }
  | { t: 'drain'; id: number; instanceId: string; timeoutMs: number }
  | { t: 'metrics-now'; id: number }
  | { t: 'wake-failed'; appId: string; message: string }
  | { t: 'close' };

/** Messages from a worker to the coordinator. */
export type FromWorker =
  | { t: 'hello' }
  | { t: 'ready'; port: number; tlsPort?: number }
  | { t: 'metrics'; m: EdgeMetrics; id?: number }
  | { t: 'log'; entries: AccessLogEntry[] }
  | { t: 'wake'; appId: string }
  /** A route's load passed its loadWatch; the worker's counters went just before it (a 'metrics' message). */
  | { t: 'load'; serviceId: string }
  | { t: 'drained'; id: number };

/** Options a worker needs, passed through the environment as JSON (functions stay here). */
export interface WorkerConfig {
  addr: string;
  options: Omit<EdgeOptions, 'addr' | 'workers' | 'accessLog' | 'onWake' | 'onLoad' | 'onCertificateError'>;
  accessLog: boolean;
}

/** Start `opts.workers` worker processes and resolve once all of them listen. */
export async function createClusterEdge(opts: EdgeOptions): Promise<Edge> {
  if (!cluster.isPrimary) throw new Error('createClusterEdge must run in the primary process');
  const { host } = parseAddr(opts.addr);
  const n = Math.max(2, Math.floor(opts.workers ?? 2));
  const config: WorkerConfig = {
    addr: opts.addr,
    accessLog: opts.accessLog !== undefined,
    options: {
      domain: opts.domain, regionHeader: opts.regionHeader, regionMap: opts.regionMap, region: opts.region,
      holdQueueSize: opts.holdQueueSize, holdTimeoutMs: opts.holdTimeoutMs, maxTries: opts.maxTries,
      connectTimeoutMs: opts.connectTimeoutMs, responseTimeoutMs: opts.responseTimeoutMs, trustForwarded: opts.trustForwarded,
      clientFromForwardedFor: opts.clientFromForwardedFor, http2IdleTimeoutMs: opts.http2IdleTimeoutMs,
      maxConnections: opts.maxConnections, tlsAddr: opts.tlsAddr, requireRoutes: opts.requireRoutes,
    },
  };
  // When every worker accepts for itself, one that wakes first may take a whole burst of connections (splits of
  // 46/4 were measured for 50 keep-alive clients); round-robin evens that out at the price of routing every new
  // connection through this process. Node freezes the policy at the first setupPrimary() of the process.
  cluster.schedulingPolicy = opts.balance === 'round-robin' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  cluster.setupPrimary({
    exec: fileURLToPath(new URL('./worker.ts', import.meta.url)),
    // Parallel scavenges wait for helper threads that compete with the workers, the instances and the clients
    // for the same cores; under the edge benchmark, one thread made young-generation pauses a third shorter
    // (median 1.0-1.1 ms → 0.6-0.8 ms) and cut total GC time, and those pauses sit right at the p99.
    execArgv: ['--no-parallel-scavenge', '--import', import.meta.resolve('tsx')],
    args: [],
  });

  let apps: AppRoutes[] = [];
  // Whether a table arrived (requireRoutes: a worker started before it answers 503 too), and the domain it came with.
  let tabled = !opts.requireRoutes;
  let tableDomain: string | undefined;
  // Certificates are loaded here first, so a bad one is reported once and workers only get ones that load.
  const certs = new CertificateTable();
  const onCertificateError = opts.onCertificateError
    ?? ((names: string[], message: string) => process.emitWarning(`certificate for ${names.join(', ')} not loaded: ${message}`, 'PierEdgeTls'));
  let acme: AcmeChallenges = {};
  let closing = false;
  let port = 0;
  let tlsPort = 0;
  const workers = new Set<Worker>();
  const snapshots = new Map<Worker, EdgeMetrics>();
  const pending = new Map<number, { left: Set<Worker>; done: () => void }>();
  let nextId = 1;
  const wokenAt = new Map<string, number>();
  const holdTimeoutMs = opts.holdTimeoutMs ?? 30_000;

  const send = (w: Worker, msg: ToWorker): void => {
    if (w.isConnected()) w.send(msg);
  };
  const settle = (w: Worker, id: number): void => {
    const p = pending.get(id);
    if (!p) return;
    p.left.delete(w);
    if (p.left.size === 0) {
      pending.delete(id);
      p.done();
    }
  };
  /** Send a request to every worker and resolve when all answered (or left), or after `timeoutMs`. */
  const fanOut = (make: (id: number) => ToWorker, timeoutMs: number): Promise<void> => {
    const id = nextId++;
    const live = [...workers].filter((w) => w.isConnected());
    if (live.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => { pending.delete(id); resolve(); }, timeoutMs);
      pending.set(id, { left: new Set(live), done: () => { clearTimeout(timer); resolve(); } });
      for (const w of live) send(w, make(id));
    });
  };

  const spawn = (): Promise<void> => new Promise((resolve, reject) => {
    const w = cluster.fork({ PIER_EDGE_WORKER: JSON.stringify(config) });
    workers.add(w);
    w.on('message', (msg: FromWorker) => {
      switch (msg.t) {
        // Messages sent before the worker registered its listener would be lost, so it asks for its routes.
        case 'hello': send(w, { t: 'init', apps: tabled ? apps : null, domain: tableDomain, certs: certs.usable, acme }); break;
        case 'ready': port = msg.port; tlsPort = msg.tlsPort ?? 0; resolve(); break;
        case 'metrics': snapshots.set(w, msg.m); if (msg.id !== undefined) settle(w, msg.id); break;
        case 'drained': settle(w, msg.id); break;
        case 'log': for (const e of msg.entries) opts.accessLog?.(e); break;
        case 'wake': wake(msg.appId); break;
        case 'load': reportLoad(msg.serviceId); break;
      }
    });
    w.once('exit', (code, signal) => {
      workers.delete(w);
      snapshots.delete(w);
      for (const id of [...pending.keys()]) settle(w, id);
      if (port === 0) reject(new Error(`edge worker exited before listening (code ${code}, signal ${signal})`));
      else if (!closing) void spawn().catch(() => undefined);
    });
  });

  // Several workers see the same rise: one report per service per LOAD_REPORT_GAP_MS goes on.
  const reportedAt = new Map<string, number>();
  const reportLoad = (serviceId: string): void => {
    const now = performance.now();
    const last = reportedAt.get(serviceId);
    if (last !== undefined && now - last < LOAD_REPORT_GAP_MS) return;
    if (reportedAt.size > 10_000) reportedAt.clear();
    reportedAt.set(serviceId, now);
    try {
      opts.onLoad?.(serviceId);
    } catch { /* advice only: the control plane's tick samples anyway */ }
  };

  const wake = (appId: string): void => {
    // Several workers hold requests for the same app: ask the control plane once per hold period.
    const last = wokenAt.get(appId);
    if (last !== undefined && performance.now() - last < holdTimeoutMs) return;
    wokenAt.set(appId, performance.now());
    if (!opts.onWake) return;
    Promise.resolve()
      .then(() => opts.onWake!(appId))
      .catch((err: unknown) => {
        wokenAt.delete(appId);
        const message = err instanceof Error ? err.message : String(err);
        for (const w of workers) send(w, { t: 'wake-failed', appId, message });
      });
  };

  try {
    await Promise.all(Array.from({ length: n }, () => spawn()));
  } catch (err) {
    closing = true;
    for (const w of workers) w.process.kill('SIGKILL');
    throw err;
  }
  const metricsTimer = setInterval(() => undefined, 1 << 30);
  metricsTimer.unref();

  const merged = (): EdgeMetrics => mergeMetrics([...snapshots.values()]);
  return {
    url: urlOf(host, port),
    tlsUrl: opts.tlsAddr !== undefined ? urlOf(parseAddr(opts.tlsAddr).host, tlsPort, 'https') : undefined,
    setCertificates(next) {
      certs.replace(next, onCertificateError);
      for (const w of workers) send(w, { t: 'certs', certs: certs.usable });
    },
    setAcmeChallenges(next) {
      acme = { ...next };
      for (const w of workers) send(w, { t: 'acme', acme });
    },
    setRoutes(next, domain) {
      apps = next;
      tabled = true;
      if (domain) tableDomain = domain;
      for (const a of next) if (!a.sleeping) wokenAt.delete(a.appId);
      for (const w of workers) send(w, { t: 'routes', apps: next, domain });
    },
    drain: (instanceId, timeoutMs) => fanOut((id) => ({ t: 'drain', id, instanceId, timeoutMs }), timeoutMs + 1000),
    metrics: merged,
    refreshMetrics: () => fanOut((id) => ({ t: 'metrics-now', id }), 2000),
    prometheus: () => renderPrometheus(merged()),
    async close() {
      closing = true;
      clearInterval(metricsTimer);
      const exits = [...workers].map((w) => new Promise<void>((resolve) => {
        if (w.isDead()) return resolve();
        const kill = setTimeout(() => w.process.kill('SIGKILL'), 5000);
        w.once('exit', () => { clearTimeout(kill); resolve(); });
        send(w, { t: 'close' });
      }));
      await Promise.all(exits);
    },
  };
}

// Entry point of an edge worker process (started by cluster.ts). It serves the shared listen socket with an
// EdgeCore and talks to the coordinator over IPC: routes in; counters, access-log batches, wake-ups and load reports out.
import cluster from 'node:cluster';
import type { FromWorker, ToWorker, WorkerConfig } from './cluster.ts';
import { EdgeCore } from './core.ts';
import { listenOn } from './addr.ts';
import type { AccessLogEntry } from './types.ts';

/** Counters are pushed this often, so `metrics()` in the coordinator is at most this stale. */
const METRICS_EVERY_MS = 250;
/** Access-log entries travel in batches to keep IPC off the per-request path. */
const LOG_BATCH = 256;
const LOG_EVERY_MS = 100;

/** An EdgeCore whose wake-ups go to the coordinator, which dedupes them across workers. */
class WorkerCore extends EdgeCore {
  protected override wake(appId: string): void {
    post({ t: 'wake', appId });
  }

  /** The coordinator's counters are up to METRICS_EVERY_MS old: this worker's go first, so the report's sample sees the rise. */
  override reportLoad(serviceId: string): void {
    post({ t: 'metrics', m: this.metrics() });
    post({ t: 'load', serviceId });
  }
}

function post(msg: FromWorker): void {
  if (process.connected) process.send!(msg);
}

function main(): void {
  if (!cluster.isWorker || !process.env.PIER_EDGE_WORKER) throw new Error('worker.ts runs only as an edge worker');
  const config = JSON.parse(process.env.PIER_EDGE_WORKER) as WorkerConfig;
  let logs: AccessLogEntry[] = [];
  const flushLogs = (): void => {
    if (logs.length === 0) return;
    post({ t: 'log', entries: logs });
    logs = [];
  };
  const core = new WorkerCore({
    ...config.options,
    accessLog: config.accessLog ? (e) => { logs.push(e); if (logs.length >= LOG_BATCH) flushLogs(); } : undefined,
  });
  // Only a changed snapshot travels: idle, a worker's tick reads a few numbers per route and posts nothing.
  let posted = '';
  const pushMetrics = (): void => {
    const now = core.activity();
    if (now === posted) return;
    posted = now;
    post({ t: 'metrics', m: core.metrics() });
  };
  const timers = [
    setInterval(pushMetrics, METRICS_EVERY_MS),
    setInterval(flushLogs, LOG_EVERY_MS),
  ];
  let listening = false;
  process.on('message', (msg: ToWorker) => {
    switch (msg.t) {
      case 'init': {
        if (msg.apps) core.setRoutes(msg.apps, msg.domain);
        posted = '';
        core.setCertificates(msg.certs);
        core.setAcmeChallenges(msg.acme);
        if (listening) break;
        listening = true;
        void listenAll(core, config).then((ports) => post({ t: 'ready', ...ports }), (err: Error) => {
          // The coordinator sees the exit before any 'ready' and fails createEdge with it.
          process.stderr.write(`edge worker: ${err.message}\n`);
          process.exit(1);
        });
        break;
      }
      case 'routes': core.setRoutes(msg.apps, msg.domain); posted = ''; break;
      case 'certs': core.setCertificates(msg.certs); break;
      case 'acme': core.setAcmeChallenges(msg.acme); break;
      case 'drain': void core.drain(msg.instanceId, msg.timeoutMs).then(() => post({ t: 'drained', id: msg.id })); break;
      case 'metrics-now': post({ t: 'metrics', m: core.metrics(), id: msg.id }); break;
      case 'wake-failed': core.wakeFailed(msg.appId, msg.message); break;
      case 'close':
        for (const t of timers) clearInterval(t);
        void core.close().finally(() => {
          flushLogs();
          post({ t: 'metrics', m: core.metrics() });
          process.disconnect();
          process.exit(0);
        });
        break;
    }
  });
  // The coordinator went away: stop serving rather than run unsupervised.
  process.on('disconnect', () => process.exit(0));
  post({ t: 'hello' });
}

/**
 * Plain listener first, TLS second, in every worker: node's cluster keys a shared listen socket by address and
 * listen order, so with port 0 each worker's n-th listen joins the same socket as the others' n-th.
 */
async function listenAll(core: EdgeCore, config: WorkerConfig): Promise<{ port: number; tlsPort?: number }> {
  const port = await listenOn(core.server, config.addr);
  if (core.tlsServer === null || config.options.tlsAddr === undefined) return { port };
  const tlsPort = await listenOn(core.tlsServer, config.options.tlsAddr);
  core.setTlsPort(tlsPort);
  return { port, tlsPort };
}

main();

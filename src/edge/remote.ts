// A remote edge: an edge proxy running away from the control plane (one per region, on that region's machines). It
// reads the route table from the API (GET /v1/pier/edge/routes, long-polled with the table's ETag), sets its own
// region so clients are served by that region's instances first and fail over to others as the in-process edge does,
// and keeps serving the last table it got while the API is unreachable.
// It follows the leader: it is given one or several control planes' API URLs; a follower answers the poll with 409
// and the leader's URL (details[0].metadata.leader_url, from the lease row), and the edge switches to it (one log
// line); an unreachable URL is skipped for the next one. It binds at once: until its first table every request gets
// 503 "no route table yet" with Retry-After, and `/_pier/ready` answers 503 (200 once a table is held).
// Its data plane is chosen as the control plane's is (dataplane.ts): HAProxy in front of the Node edge where asked (the
// CLI's default where HAProxy is installed), the Node edge alone otherwise; HAProxy's files go to a private directory.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAddr } from './addr.ts';
import { startEdgeDataplane, type Dataplane, type DataplaneChoice } from './dataplane.ts';
import { trafficReport, trafficReportToWire } from './remote-traffic.ts';
import { TcpProxy, type TcpProxyLimits } from './tcp-proxy.ts';
import type { AppRoutes, Edge, EdgeOptions } from './types.ts';

/** How to start a remote edge. */
export interface RemoteEdgeOptions {
  /**
   * Base URLs of Pier's API (any control plane's: followers point to the leader), e.g. `http://10.0.0.1:7700`; a
   * string may list several, comma-separated. They are tried in order; an unreachable one is skipped.
   */
  api: string | string[];
  /** An operator token (full-access token of the installation's first organization). */
  token: string;
  /** Listen address `host:port`. */
  addr: string;
  /** This edge's region: its clients are sent to that region's instances first. */
  region: string;
  /** More edge options (workers, TLS listener, region header or map...). */
  edge?: Partial<Omit<EdgeOptions, 'addr' | 'region' | 'domain'>>;
  /** Where state changes go (API unreachable, reachable again, leader followed). Default: stderr. */
  log?: (line: string) => void;
  /** Seconds the API holds a long-poll before answering "unchanged" (1-25, default 25). */
  waitSeconds?: number;
  /** Backoff between failed rounds (every URL tried): from `minMs` doubling to `maxMs` (default 250 ms to 5 s). */
  retry?: { minMs: number; maxMs: number };
  /** Aborting stops polling (the edge itself is closed by close()). */
  signal?: AbortSignal;
  /** The data plane (default: the Node edge alone); `auto` falls back to the Node edge when HAProxy cannot start. */
  dataplane?: DataplaneChoice;
  /** HAProxy's directory (config, map, sockets, certificates; made 0700). Default: a fresh one under the system's temp directory, removed at close. */
  dir?: string;
  /** How often its traffic counters are posted to the control plane (default 1 s). */
  trafficIntervalMs?: number;
  /** The TCP proxy's limits (default: its own; the CLI passes PIER_TCP_PROXY_IDLE_TIMEOUT and _MAX_CONNECTIONS). */
  tcpProxyLimits?: Partial<TcpProxyLimits>;
}

/** A running remote edge. */
export interface RemoteEdge {
  /** The edge proxy itself (url, metrics, close...). */
  edge: Edge;
  /** The data plane that serves its address. */
  dataplane: Dataplane;
  url: string;
  /** ETag of the table being served ('' before the first table). */
  etag(): string;
  /** Whether a route table arrived (before that every request is a 503 "no route table yet"). */
  ready(): boolean;
  /** Resolves when the first table arrives (rejects if the edge closes first). */
  firstTable: Promise<void>;
  /** The API URL the edge polls now (the leader, once found). */
  apiUrl(): string;
  /** Whether the last request to the API failed (the edge then serves its last table). */
  apiUnreachable(): boolean;
  /** Stops polling and closes the edge. */
  close(): Promise<void>;
}

interface TableReply { etag: string; domain: string; apps: AppRoutes[] }

type Fetched = { kind: 'table'; table: TableReply } | { kind: 'unchanged' };

/** A follower's answer: the leader is elsewhere (its URL when the lease row names one). */
class NotLeaderError extends Error {
  constructor(message: string, readonly leaderUrl: string | undefined) { super(message); }
}

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(done, ms);
  function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
  signal.addEventListener('abort', done, { once: true });
});

/** The API URLs of `api` (comma-separated or a list), without trailing slashes; at least one. */
export function parseApiUrls(api: string | string[]): string[] {
  const urls = (Array.isArray(api) ? api : [api]).flatMap((a) => a.split(',')).map((a) => a.trim().replace(/\/+$/, '')).filter(Boolean);
  if (urls.length === 0) throw new Error('pier edge needs at least one API URL');
  for (const u of urls) {
    let parsed: URL;
    try { parsed = new URL(u); } catch { throw new Error(`not an API URL: ${u}`); }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error(`not an http(s) API URL: ${u}`);
  }
  return urls;
}

/** The leader's URL from a 409 body (either error shape: the ErrorInfo detail's metadata). */
function leaderUrlOf(body: unknown): string | undefined {
  const details = (body as { details?: unknown } | null)?.details;
  if (!Array.isArray(details)) return undefined;
  for (const d of details) {
    const url = (d as { metadata?: { leader_url?: unknown } } | null)?.metadata?.leader_url;
    if (typeof url === 'string' && /^https?:\/\//.test(url)) return url.replace(/\/+$/, '');
  }
  return undefined;
}

/** One GET of the table from `api`; `wait` long-polls. A plain timer bounds it (the server answers within waitSeconds). */
async function fetchTable(opts: RemoteEdgeOptions, api: string, wait: string | undefined, stop: AbortSignal): Promise<Fetched> {
  const waitSeconds = opts.waitSeconds ?? 25;
  const url = new URL('/v1/pier/edge/routes', api + '/');
  url.searchParams.set('region', opts.region);
  if (wait !== undefined) {
    url.searchParams.set('wait', wait);
    url.searchParams.set('timeout', String(waitSeconds));
  }
  const ctl = new AbortController();
  const onStop = () => ctl.abort(new Error('remote edge closing'));
  stop.addEventListener('abort', onStop, { once: true });
  const timer = setTimeout(() => ctl.abort(new Error('the API did not answer in time')), (wait !== undefined ? waitSeconds : 0) * 1000 + 10_000);
  try {
    const res = await fetch(url, { headers: { authorization: `Bearer ${opts.token}` }, signal: ctl.signal });
    if (res.status === 304) { await res.body?.cancel(); return { kind: 'unchanged' }; }
    const text = await res.text();
    if (res.status !== 200) {
      let message = text.slice(0, 200);
      let body: unknown;
      try { body = JSON.parse(text); message = (body as { message?: string }).message ?? message; } catch { /* not JSON */ }
      if (res.status === 409) throw new NotLeaderError(`HTTP 409: ${message}`, leaderUrlOf(body));
      throw new Error(`HTTP ${res.status}: ${message}`);
    }
    const table = JSON.parse(text) as TableReply;
    if (typeof table.etag !== 'string' || typeof table.domain !== 'string' || !Array.isArray(table.apps)) throw new Error('malformed route table');
    return { kind: 'table', table };
  } finally {
    clearTimeout(timer);
    stop.removeEventListener('abort', onStop);
  }
}

/**
 * Starts a remote edge: binds at once (503 "no route table yet" until the first table), then keeps the table fresh
 * by long-polling the leader's API, following the lease across control planes. Requests in flight while a table
 * changes finish on the upstream they started on.
 */
export async function createRemoteEdge(opts: RemoteEdgeOptions): Promise<RemoteEdge> {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const retry = opts.retry ?? { minMs: 250, maxMs: 5000 };
  const apis = parseApiUrls(opts.api);
  const stopper = new AbortController();
  if (opts.signal?.aborted) stopper.abort();
  opts.signal?.addEventListener('abort', () => stopper.abort(), { once: true });
  let unreachableSince: number | undefined;
  let backoff = retry.minMs;
  /** The URL polled now: one of `apis`, or the leader a follower named. */
  let target = apis[0]!;
  /** Next index in `apis` to try when `target` fails. */
  let nextIndex = 1 % apis.length;
  let etag = '';
  /** Whether `target` just changed: its first request is not a long poll, so the switch is confirmed at once. */
  let fresh = true;
  /** The leader URL last announced in the log (one line per switch, not per retry). */
  let announced: string | undefined;

  /** Services whose load rose past what their instances take (the edge's load watch), to report with the next post. */
  const loads = new Set<string>();
  /** Ends the traffic loop's wait early (a load report, a new table); set while it waits. */
  let wakePush: (() => void) | undefined;
  /** A new table arrived: the next post goes out even if the counters did not change. */
  let postNow = false;

  // Requests get 503 until the first table; wake-ups go to whichever control plane is polled (a follower refuses).
  const choice = opts.dataplane ?? { dataplane: 'node', auto: false };
  const ownDir = choice.dataplane === 'haproxy' && opts.dir === undefined ? mkdtempSync(join(tmpdir(), 'pier-edge-')) : undefined;
  const dropOwnDir = () => { if (ownDir) rmSync(ownDir, { recursive: true, force: true }); };
  const started = await startEdgeDataplane(choice, {
    ...opts.edge, addr: opts.addr, region: opts.region, domain: 'localhost', requireRoutes: true,
    // A request for a sleeping app is held here while the control plane wakes it; the new table releases it.
    onWake: async (appId) => {
      const res = await fetch(new URL('/v1/pier/edge/wake', target + '/'), {
        method: 'POST', headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ app_id: appId }), signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`wake of app ${appId} refused: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    },
    // A rise past a service's watch: post the counters now, with the service named, so the leader samples at once
    // (as for its own edge) instead of at its next tick.
    onLoad: (serviceId) => { loads.add(serviceId); wakePush?.(); },
  }, { dir: opts.dir ?? ownDir ?? '', onError: (m) => log(`pier edge (haproxy): ${m}`) }, log).catch((err: unknown) => {
    dropOwnDir();
    throw err;
  });
  const edge = started.edge;
  if (started.dataplane !== 'haproxy') dropOwnDir(); // HAProxy did not start (auto): the Node edge serves alone
  // Services' proxy_ports on this edge's host too, this region's instances first (tcp-proxy.ts).
  const tcp = new TcpProxy({ host: parseAddr(opts.addr).host, region: opts.region, limits: opts.tcpProxyLimits, onError: (m) => log(`pier edge: ${m}`) });
  log(`pier edge: region ${opts.region}, listening on ${edge.url} (data plane: ${started.dataplane}${started.dataplane === 'haproxy' ? ', Node edge behind it' : ''}); no route table yet (503 until it arrives), asking ${apis.join(', ')}`);

  // Logs the first failure of a run of failures and the recovery, not every retry.
  const failed = (err: unknown) => {
    if (unreachableSince === undefined) {
      unreachableSince = Date.now();
      log(`pier edge: API ${target} unreachable (${(err as Error).message}); ${etag ? `serving the last route table (${etag})` : 'no route table yet'}, retrying${apis.length > 1 ? ' the other URLs' : ''}`);
    }
  };
  const reached = () => {
    if (unreachableSince !== undefined) log(`pier edge: API reachable again after ${((Date.now() - unreachableSince) / 1000).toFixed(1)} s (${target})`);
    unreachableSince = undefined;
    backoff = retry.minMs;
  };
  /** Failures since the last success: once every configured URL failed, back off before the next round. */
  let failures = 0;
  /** Moves to the next configured URL (a dead one is skipped); true when a whole round failed. */
  const skip = (): boolean => {
    target = apis[nextIndex]!;
    nextIndex = (nextIndex + 1) % apis.length;
    fresh = true;
    if (++failures < apis.length) return false;
    failures = 0;
    return true;
  };

  let resolveFirst!: () => void;
  let rejectFirst!: (err: Error) => void;
  const firstTable = new Promise<void>((resolve, reject) => { resolveFirst = resolve; rejectFirst = reject; });
  firstTable.catch(() => undefined);

  const poll = (async () => {
    let hops = 0;
    while (!stopper.signal.aborted) {
      try {
        const got = await fetchTable(opts, target, fresh ? undefined : etag || undefined, stopper.signal);
        fresh = false;
        reached();
        hops = 0;
        failures = 0;
        if (got.kind === 'table' && got.table.etag !== etag) {
          const firstOne = etag === '';
          edge.setRoutes(got.table.apps, got.table.domain);
          void tcp.setRoutes(got.table.apps);
          etag = got.table.etag;
          // Post the counters now: a drain on the leader waits for a report made after this table.
          postNow = true;
          wakePush?.();
          if (firstOne) {
            log(`pier edge: first route table from ${target}: ${got.table.apps.length} apps (table ${etag}); serving`);
            resolveFirst();
          }
        }
      } catch (err) {
        if (stopper.signal.aborted) break;
        // A control plane answered: it is alive and an election is under way (or it names a leader). Poll at the
        // shortest period instead of backing off as from a dead API, so the new leader is followed within ~minMs of
        // taking the lease (the back-off had grown to seconds by then: the edge followed 3.7 s after the new leader).
        if (err instanceof NotLeaderError) backoff = retry.minMs;
        if (err instanceof NotLeaderError && err.leaderUrl && err.leaderUrl !== target && hops < apis.length + 2) {
          // Bounded: a chain of followers each naming another is cut after a few hops, then backs off.
          hops++;
          if (announced !== err.leaderUrl) log(`pier edge: ${target} is not the leader; following the leader at ${err.leaderUrl}`);
          announced = err.leaderUrl;
          target = err.leaderUrl;
          fresh = true;
          continue;
        }
        hops = 0;
        failed(err);
        if (skip()) {
          await sleep(backoff, stopper.signal);
          backoff = Math.min(retry.maxMs, backoff * 2);
        }
      }
    }
    rejectFirst(new Error('remote edge closed before its first route table arrived'));
  })();

  // Its traffic, every second, to the control plane polled (the leader): the autoscaler and the idle rule count this
  // region's requests, held requests and TCP connections as the in-process edge's. A failed post is left to the next
  // (the poll above logs an unreachable API); an unchanged report is sent again only every 5 s (to stay fresh).
  const edgeId = randomBytes(6).toString('hex');
  const every = opts.trafficIntervalMs ?? 1000;
  const nap = () => new Promise<void>((resolve) => {
    const done = () => { clearTimeout(timer); wakePush = undefined; stopper.signal.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, every);
    wakePush = done;
    stopper.signal.addEventListener('abort', done, { once: true });
  });
  const push = (async () => {
    let lastBody = '';
    let lastAt = 0;
    while (!stopper.signal.aborted) {
      if (loads.size === 0 && !postNow) await nap();
      if (stopper.signal.aborted || etag === '') continue;
      const load = [...loads];
      loads.clear();
      const force = postNow;
      postNow = false;
      const report = trafficReport(opts.region, edgeId, etag, edge.metrics(), tcp.activity());
      const counters = JSON.stringify(trafficReportToWire(report));
      if (!force && load.length === 0 && counters === lastBody && Date.now() - lastAt < 5000) continue;
      const body = load.length ? JSON.stringify(trafficReportToWire(report, load)) : counters;
      try {
        const res = await fetch(new URL('/v1/pier/edge/traffic', target + '/'), {
          method: 'POST', headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
          body, signal: AbortSignal.any([stopper.signal, AbortSignal.timeout(5000)]),
        });
        await res.arrayBuffer();
        if (res.ok) { lastBody = counters; lastAt = Date.now(); }
      } catch {
        // Unreachable or stopping: the next round tries again.
      }
    }
  })();

  let closing: Promise<void> | undefined;
  return {
    edge,
    dataplane: started.dataplane,
    url: edge.url,
    etag: () => etag,
    ready: () => etag !== '',
    firstTable,
    apiUrl: () => target,
    apiUnreachable: () => unreachableSince !== undefined,
    close() {
      closing ??= (async () => {
        stopper.abort();
        await poll;
        await push;
        await tcp.close();
        await edge.close();
        dropOwnDir();
      })();
      return closing;
    },
  };
}

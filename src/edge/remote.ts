// A remote edge: an edge proxy running away from the control plane (one per region, on that region's machines). It
// reads the route table from the API (GET /v1/pier/edge/routes, long-polled with the table's ETag), sets its own
// region so clients are served by that region's instances first and fail over to others as the in-process edge does,
// and keeps serving the last table it got while the API is unreachable.
import { createEdge } from './edge.ts';
import type { AppRoutes, Edge, EdgeOptions } from './types.ts';

/** How to start a remote edge. */
export interface RemoteEdgeOptions {
  /** Base URL of Pier's API, e.g. `http://10.0.0.1:7700`. */
  api: string;
  /** An operator token (full-access token of the installation's first organization). */
  token: string;
  /** Listen address `host:port`. */
  addr: string;
  /** This edge's region: its clients are sent to that region's instances first. */
  region: string;
  /** More edge options (workers, TLS listener, region header or map...). */
  edge?: Partial<Omit<EdgeOptions, 'addr' | 'region' | 'domain'>>;
  /** Where state changes go (API unreachable, reachable again, table updates). Default: stderr. */
  log?: (line: string) => void;
  /** Seconds the API holds a long-poll before answering "unchanged" (1-25, default 25). */
  waitSeconds?: number;
  /** Backoff between failed requests: from `minMs` doubling to `maxMs` (default 250 ms to 5 s). */
  retry?: { minMs: number; maxMs: number };
  /** Aborting gives up the start (while the first table is awaited) and stops polling. */
  signal?: AbortSignal;
}

/** A running remote edge. */
export interface RemoteEdge {
  /** The edge proxy itself (url, metrics, close...). */
  edge: Edge;
  url: string;
  /** ETag of the table being served. */
  etag(): string;
  /** Whether the last request to the API failed (the edge then serves its last table). */
  apiUnreachable(): boolean;
  /** Stops polling and closes the edge. */
  close(): Promise<void>;
}

interface TableReply { etag: string; domain: string; apps: AppRoutes[] }

type Fetched = { kind: 'table'; table: TableReply } | { kind: 'unchanged' };

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  const t = setTimeout(done, ms);
  function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
  signal.addEventListener('abort', done, { once: true });
});

/** One GET of the table; `wait` long-polls. A plain timer bounds it (the server answers within waitSeconds). */
async function fetchTable(opts: RemoteEdgeOptions, wait: string | undefined, stop: AbortSignal): Promise<Fetched> {
  const waitSeconds = opts.waitSeconds ?? 25;
  const url = new URL('/v1/pier/edge/routes', opts.api.replace(/\/+$/, '') + '/');
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
      try { message = (JSON.parse(text) as { message?: string }).message ?? message; } catch { /* not JSON */ }
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
 * Starts a remote edge: fetches the first table (retrying, logged, until `close()`), listens, then keeps the table
 * fresh by long-polling. Requests in flight while a table changes finish on the upstream they started on.
 */
export async function createRemoteEdge(opts: RemoteEdgeOptions): Promise<RemoteEdge> {
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const retry = opts.retry ?? { minMs: 250, maxMs: 5000 };
  const stopper = new AbortController();
  if (opts.signal?.aborted) stopper.abort();
  opts.signal?.addEventListener('abort', () => stopper.abort(), { once: true });
  let unreachableSince: number | undefined;
  let backoff = retry.minMs;

  // Logs the first failure of a run of failures and the recovery, not every retry.
  const failed = (err: unknown, serving: string) => {
    if (unreachableSince === undefined) {
      unreachableSince = Date.now();
      log(`pier edge: API ${opts.api} unreachable (${(err as Error).message}); ${serving}`);
    }
  };
  const reached = () => {
    if (unreachableSince !== undefined) log(`pier edge: API reachable again after ${((Date.now() - unreachableSince) / 1000).toFixed(1)} s`);
    unreachableSince = undefined;
    backoff = retry.minMs;
  };

  let first: TableReply | undefined;
  for (let i = 0; !first && !stopper.signal.aborted && i < Number.MAX_SAFE_INTEGER; i++) {
    try {
      const got = await fetchTable(opts, undefined, stopper.signal);
      if (got.kind === 'table') first = got.table;
      reached();
    } catch (err) {
      failed(err, 'no route table yet, retrying');
      await sleep(backoff, stopper.signal);
      backoff = Math.min(retry.maxMs, backoff * 2);
    }
  }
  if (!first) throw new Error('remote edge closed before its first route table arrived');

  const edge = await createEdge({
    ...opts.edge, addr: opts.addr, region: opts.region, domain: first.domain,
    // A request for a sleeping app is held here while the control plane wakes it; the new table releases it.
    onWake: async (appId) => {
      const res = await fetch(new URL('/v1/pier/edge/wake', opts.api), {
        method: 'POST', headers: { authorization: `Bearer ${opts.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ app_id: appId }), signal: AbortSignal.timeout(10_000),
      });
      if (!res.ok) throw new Error(`wake of app ${appId} refused: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    },
  });
  edge.setRoutes(first.apps);
  let etag = first.etag;
  log(`pier edge: region ${opts.region}, listening on ${edge.url}, ${first.apps.length} apps (table ${etag})`);

  const poll = (async () => {
    while (!stopper.signal.aborted) {
      try {
        const got = await fetchTable(opts, etag, stopper.signal);
        reached();
        if (got.kind === 'table' && got.table.etag !== etag) {
          edge.setRoutes(got.table.apps);
          etag = got.table.etag;
        }
      } catch (err) {
        if (stopper.signal.aborted) break;
        failed(err, `serving the last route table (${etag})`);
        await sleep(backoff, stopper.signal);
        backoff = Math.min(retry.maxMs, backoff * 2);
      }
    }
  })();

  let closing: Promise<void> | undefined;
  return {
    edge,
    url: edge.url,
    etag: () => etag,
    apiUnreachable: () => unreachableSince !== undefined,
    close() {
      closing ??= (async () => {
        stopper.abort();
        await poll;
        await edge.close();
      })();
      return closing;
    },
  };
}

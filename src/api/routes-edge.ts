// Remote edges (`pier edge`, one per region) read the route table the control plane hands its own edge:
// GET /v1/pier/edge/routes answers the table with an ETag; `?wait=<etag>` long-polls until the table changes (or
// `timeout` seconds, 25 by default, then 304). The table reaches the API through an EdgeRouteFeed per store, which
// the composition root feeds each time it calls `edge.setRoutes` (the API has no handle on the controller).
import { createHash } from 'node:crypto';
import { PierError, validationError } from '../domain/errors.ts';
import type { AppRoutes } from '../edge/types.ts';
import type { Store } from '../store/store.ts';
import { assertOperator } from './auth.ts';
import type { RequestContext, Route } from './router.ts';

/** Longest a long-poll is held (seconds) before it answers 304: under common proxies' idle timeouts. */
export const MAX_WAIT_SECONDS = 25;

const REGION = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** What a remote edge last fetched, for operators (`edges()`). */
export interface RemoteEdgeSeen { region: string; etag: string; at: string }

/** The current route table for remote edges, with change notification for long-polls. */
export class EdgeRouteFeed {
  private table: { etag: string; json: string } | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly seen = new Map<string, RemoteEdgeSeen>();
  /** Wakes a sleeping app (set by the composition root to the controller's wake while it leads). */
  onWake: ((appId: string) => void) | undefined;

  /** Replaces the table (same content: no change, no wake-up); the ETag is a hash, stable across restarts. */
  publish(apps: AppRoutes[]): void {
    const json = JSON.stringify(apps);
    const etag = `"${createHash('sha256').update(json).digest('hex').slice(0, 24)}"`;
    if (this.table?.etag === etag) return;
    this.table = { etag, json };
    this.wake();
  }

  /** Forgets the table (this control plane stopped leading): remote edges keep what they have and ask again. */
  clear(): void {
    this.table = undefined;
    this.wake();
  }

  /** The current table as `{etag, json}` (the JSON text of AppRoutes[]), or undefined before the first publish. */
  current(): { etag: string; json: string } | undefined {
    return this.table;
  }

  /** Resolves when the table's ETag is no longer `etag`, after `ms`, or when `signal` aborts (whichever first). */
  changed(etag: string | undefined, ms: number, signal?: AbortSignal): Promise<void> {
    if (this.table?.etag !== etag || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const check = () => { if (this.table?.etag !== etag) done(); };
      const timer = setTimeout(done, ms);
      this.waiters.add(check);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Notes which table a remote edge of `region` holds now. */
  sawEdge(region: string, etag: string): void {
    this.seen.set(region, { region, etag, at: new Date().toISOString() });
  }

  /** The remote edges that asked, by region, with the table each last fetched. */
  edges(): RemoteEdgeSeen[] {
    return [...this.seen.values()];
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

const feeds = new WeakMap<Store, EdgeRouteFeed>();

/** The feed of the API serving `store` (one per store, created on first use by either side). */
export function edgeRouteFeed(store: Store): EdgeRouteFeed {
  let feed = feeds.get(store);
  if (!feed) feeds.set(store, feed = new EdgeRouteFeed());
  return feed;
}

/** Remote edges are infrastructure: only operators may read every app's routes. */
const OPERATOR = 'read the edge route table';

async function routesHandler(c: RequestContext): Promise<undefined> {
  await assertOperator(c, OPERATOR);
  const region = c.query.str('region');
  if (region !== undefined && !REGION.test(region)) throw validationError([{ field: 'region', description: 'a region id: lowercase letters, digits and dashes' }]);
  const timeout = c.query.int('timeout', MAX_WAIT_SECONDS)!;
  if (timeout < 1 || timeout > MAX_WAIT_SECONDS) throw validationError([{ field: 'timeout', description: `seconds, 1 to ${MAX_WAIT_SECONDS}` }]);
  const feed = edgeRouteFeed(c.store);
  const wait = c.query.str('wait');
  const known = wait ?? c.req.headers['if-none-match'];
  if (wait !== undefined) {
    // The connection may go away mid-wait (edge restarted): stop waiting then.
    const gone = new AbortController();
    const onClose = () => gone.abort();
    c.res.once('close', onClose);
    try {
      await feed.changed(wait, timeout * 1000, gone.signal);
    } finally {
      c.res.off('close', onClose);
    }
    if (gone.signal.aborted) return undefined;
  }
  const table = feed.current();
  // A 4xx, not a 503: the API itself is fine, this process just runs no edge (starting, or a follower on PostgreSQL).
  if (!table) throw new PierError('invalid_state', 'This control plane has no route table (it runs no edge: starting, or not the leader); ask again shortly or ask the leader');
  if (region) feed.sawEdge(region, table.etag);
  if (known === table.etag) {
    c.res.writeHead(304, { etag: table.etag });
    c.res.end();
    return undefined;
  }
  const body = `{"etag":${JSON.stringify(table.etag)},"domain":${JSON.stringify(c.domain)},"apps":${table.json}}`;
  c.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), etag: table.etag });
  c.res.end(body);
  return undefined;
}

/** A remote edge holds a request for a sleeping app and asks the control plane to wake it, as the in-process edge does. */
async function wakeHandler(c: RequestContext): Promise<Record<string, never>> {
  await assertOperator(c, OPERATOR);
  const body = ((await c.body()) ?? {}) as { app_id?: unknown };
  if (typeof body.app_id !== 'string' || !/^[A-Za-z0-9-]{1,64}$/.test(body.app_id)) {
    throw validationError([{ field: 'app_id', description: 'the id of the app to wake (from the route table)' }]);
  }
  const feed = edgeRouteFeed(c.store);
  if (!feed.onWake) throw new PierError('invalid_state', 'This control plane runs no controller (starting, or not the leader); ask the leader');
  feed.onWake(body.app_id);
  return {};
}

/** Routes of the remote-edge feed. */
export function edgeRoutes(): Route[] {
  return [
    { method: 'POST', path: '/v1/pier/edge/wake', operationId: 'PierEdgeWake', tag: 'Pier', pier: true, handler: wakeHandler },
    { method: 'GET', path: '/v1/pier/edge/routes', operationId: 'PierEdgeRoutes', tag: 'Pier', pier: true, handler: routesHandler },
    {
      method: 'GET', path: '/v1/pier/edge/edges', operationId: 'PierListRemoteEdges', tag: 'Pier', pier: true,
      handler: async (c) => {
        await assertOperator(c, OPERATOR);
        const table = edgeRouteFeed(c.store).current();
        return { edges: edgeRouteFeed(c.store).edges().map((e) => ({ ...e, current: e.etag === table?.etag })) };
      },
    },
  ];
}

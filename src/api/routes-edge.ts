// Remote edges (`pier edge`, one per region) read the route table the control plane hands its own edge:
// GET /v1/pier/edge/routes answers the table with an ETag; `?wait=<etag>` long-polls until the table changes (or
// `timeout` seconds, 25 by default, then 304). The table reaches the API through the EdgeRouteFeed the composition
// root hands both the API and the route publisher (src/control/route-publisher.ts); the API has no handle on the
// controller.
import { PierError, validationError } from '../domain/errors.ts';
import { leaseHolder } from '../control/leader.ts';
import { EDGE_ID, parseTrafficReport, REGION_ID } from '../edge/remote-traffic.ts';
import { assertOperator } from './auth.ts';
import { errorReplyFor } from './error-body.ts';
import type { RequestContext, Route } from './router.ts';

/** Longest a long-poll is held (seconds) before it answers 304: under common proxies' idle timeouts. */
export const MAX_WAIT_SECONDS = 25;

/** Remote edges are infrastructure: only operators may read every app's routes. */
const OPERATOR = 'read the edge route table';

async function routesHandler(c: RequestContext): Promise<undefined> {
  await assertOperator(c, OPERATOR);
  const region = c.query.str('region');
  if (region !== undefined && !REGION_ID.test(region)) throw validationError([{ field: 'region', description: 'a region id: lowercase letters, digits and dashes' }]);
  const timeout = c.query.int('timeout', MAX_WAIT_SECONDS)!;
  if (timeout < 1 || timeout > MAX_WAIT_SECONDS) throw validationError([{ field: 'timeout', description: `seconds, 1 to ${MAX_WAIT_SECONDS}` }]);
  const feed = c.routeFeed;
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
  // The leader's advertised API URL (from the lease row) rides in the error's details, so the edge follows the lease.
  // A deposed leader keeps serving its last table on its own edge, but that table is no longer updated: send remote
  // edges to the leader rather than hand them a stale one.
  if (!table || c.info().leader === false) {
    const leader = await leaseHolder(c.store.db).catch(() => undefined);
    const leaderUrl = leader && leader.expiresInMs > 0 && leader.apiUrl ? leader.apiUrl : undefined;
    const message = leaderUrl
      ? `This control plane is not the leader and has no route table; the leader's API is ${leaderUrl}`
      : 'This control plane has no route table (it runs no edge: starting, or not the leader) and no leader is known; ask again shortly';
    const reply = errorReplyFor('invalid_state', message, [], c.req.url?.split('?')[0] ?? '/v1/pier/edge/routes');
    const details = reply.body.details as { metadata: Record<string, string> }[];
    if (leaderUrl) details[0]!.metadata = { leader_url: leaderUrl };
    const body = JSON.stringify(reply.body);
    c.res.writeHead(reply.status, reply.reason, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    c.res.end(body);
    return undefined;
  }
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
  if (typeof body.app_id !== 'string' || !EDGE_ID.test(body.app_id)) {
    throw validationError([{ field: 'app_id', description: 'the id of the app to wake (from the route table)' }]);
  }
  const feed = c.routeFeed;
  if (!feed.onWake) throw new PierError('invalid_state', 'This control plane runs no controller (starting, or not the leader); ask the leader');
  feed.onWake(body.app_id);
  return {};
}

/**
 * A remote edge's traffic counters (every second): the autoscaler and the idle rule count its requests, held requests
 * and TCP proxy connections as the in-process edge's. Taken by any control plane; only the leader's controller reads.
 */
async function trafficHandler(c: RequestContext): Promise<Record<string, never>> {
  await assertOperator(c, OPERATOR);
  const { report, load, errors } = parseTrafficReport(await c.body());
  if (!report) throw validationError(errors);
  c.routeFeed.traffic.report(report);
  // After the counters are in: the sample the controller takes now sees the rise.
  for (const id of load) c.routeFeed.onLoad?.(id);
  return {};
}

/** Routes of the remote-edge feed. */
export function edgeRoutes(): Route[] {
  return [
    { method: 'POST', path: '/v1/pier/edge/wake', operationId: 'PierEdgeWake', tag: 'Pier', pier: true, handler: wakeHandler },
    { method: 'POST', path: '/v1/pier/edge/traffic', operationId: 'PierEdgeTraffic', tag: 'Pier', pier: true, handler: trafficHandler },
    { method: 'GET', path: '/v1/pier/edge/routes', operationId: 'PierEdgeRoutes', tag: 'Pier', pier: true, handler: routesHandler },
    {
      method: 'GET', path: '/v1/pier/edge/edges', operationId: 'PierListRemoteEdges', tag: 'Pier', pier: true,
      handler: async (c) => {
        await assertOperator(c, OPERATOR);
        const feed = c.routeFeed;
        const table = feed.current();
        return { edges: feed.edges().map((e) => ({ ...e, current: e.etag === table?.etag })) };
      },
    },
  ];
}

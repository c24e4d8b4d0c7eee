// Publishes the controller's route table to the in-process edge and to the remote edges' feed. Tables are
// recomputed after route-changing passes, before each drain and after bursts of API writes; these may overlap, so
// each computation takes a ticket and an older, slower one never overwrites a newer table. An unchanged table is
// not resent to the same edge.
import type { EdgeRouteFeed } from '../edge/route-feed.ts';
import type { AppRoutes, Edge } from '../edge/types.ts';

/** What the publisher reads and where it publishes. */
export interface RoutePublisherOptions {
  /** The current table (the controller's `routes()`), or undefined while no controller runs. */
  routes: () => Promise<AppRoutes[]> | undefined;
  /** The in-process edge, while it runs. */
  edge: () => Edge | undefined;
  /** The table remote edges long-poll through the API. */
  feed: EdgeRouteFeed;
  log: (line: string) => void;
  /** How long pushSoon() gathers a burst of writes into one recomputation (default 20 ms). */
  burstMs?: number;
  /** Also handed every table the in-process edge gets (the TCP proxy, which runs beside it). */
  onTable?: (apps: AppRoutes[]) => void;
}

/** The publisher's three ways in: now (awaitable), now (errors logged), and once per burst. */
export interface RoutePublisher {
  /** Recomputes and publishes now; rejects when computing the table fails. */
  refresh(): Promise<void>;
  /** refresh() with failures logged, never rejected. */
  push(): Promise<void>;
  /** One push after a short delay, however many calls arrive meanwhile (a 10k-service store makes each cost ms). */
  pushSoon(): void;
}

/** Builds a publisher. */
export function createRoutePublisher(o: RoutePublisherOptions): RoutePublisher {
  let started = 0;
  let applied = 0;
  let lastTable = '';
  let lastEdge: Edge | undefined;
  let queued = false;

  async function refresh(): Promise<void> {
    const pending = o.edge() ? o.routes() : undefined;
    if (!pending) return;
    const ticket = ++started;
    const apps = await pending;
    const edge = o.edge();
    if (ticket < applied || !edge) return;
    applied = ticket;
    const table = JSON.stringify(apps);
    if (edge === lastEdge && table === lastTable) return;
    lastEdge = edge;
    lastTable = table;
    edge.setRoutes(apps);
    o.onTable?.(apps);
    // Remote edges (`pier edge`, one per region) long-poll the same table from the API.
    o.feed.publish(apps);
  }

  function push(): Promise<void> {
    return refresh().catch((err) => o.log(`pier: updating edge routes failed: ${(err as Error).message}`));
  }

  function pushSoon(): void {
    if (queued) return;
    queued = true;
    setTimeout(() => { queued = false; void push(); }, o.burstMs ?? 20).unref();
  }

  return { refresh, push, pushSoon };
}

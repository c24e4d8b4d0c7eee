// Where the time of one cold path goes, from timestamps the control plane recorded (not from the client's polls):
//   api_write        POST sent → its reply (client clock, same process);
//   provision        reply → the deployment allocates (the git fetch and build, or the image's digest resolved);
//   pickup           allocation → the instance row exists (the deployment reconciler's next step);
//   runtime_start    row created → STARTING (runtime.start returned: container or sandbox running);
//   first_probe_pass STARTING → HEALTHY (succeeded_at: the first passing health check);
//   route_published  HEALTHY → the first route table naming the instance handed to the edge (the route feed);
//   first_request    route published → the first 200 through the edge (a 5 ms edge poll from the bench).
// All in wall-clock milliseconds of this process (the control plane runs in it), so the steps add up.
import type { EdgeRouteFeed } from '../src/edge/route-feed.ts';

/** One cold path's steps, ms. */
export interface Breakdown {
  api_write: number; provision: number; pickup: number; runtime_start: number; first_probe_pass: number; route_published: number; first_request: number;
}

export const STEPS: (keyof Breakdown)[] = ['api_write', 'provision', 'pickup', 'runtime_start', 'first_probe_pass', 'route_published', 'first_request'];

/** Records the wall-clock time of every route table the control plane publishes, until stop(). */
export function watchRouteFeed(feed: EdgeRouteFeed): { tables: { at: number; json: string }[]; stop(): void } {
  const tables: { at: number; json: string }[] = [];
  const abort = new AbortController();
  void (async () => {
    for (let i = 0; i < 1_000_000 && !abort.signal.aborted; i++) {
      const cur = feed.current();
      if (cur && tables.at(-1)?.json !== cur.json) tables.push({ at: Date.now(), json: cur.json });
      await feed.changed(cur?.etag, 60_000, abort.signal);
    }
  })();
  return { tables, stop: () => abort.abort() };
}

/** When a table naming `instanceId` was first published after `afterMs` (undefined if never). */
export function publishedAt(tables: { at: number; json: string }[], instanceId: string, afterMs: number): number | undefined {
  return tables.find((t) => t.at >= afterMs && t.json.includes(instanceId))?.at;
}

/** The steps from the marks; a missing mark yields NaN for the steps around it. */
export function breakdown(m: { sent: number; replied: number; allocated?: string | null; created?: string | null; started?: string | null; healthy?: string | null; routed?: number; served?: number }): Breakdown {
  const t = (s?: string | null) => (s ? Date.parse(s) : NaN);
  const allocated = t(m.allocated); const created = t(m.created); const started = t(m.started); const healthy = t(m.healthy);
  const routed = m.routed ?? NaN; const served = m.served ?? NaN;
  return {
    api_write: m.replied - m.sent, provision: allocated - m.replied, pickup: created - allocated, runtime_start: started - created,
    first_probe_pass: healthy - started, route_published: routed - healthy, first_request: served - routed,
  };
}

/** Per step, the median over runs (NaN runs left out), rounded to 0.1 ms. */
export function medianSteps(runs: Breakdown[]): Record<keyof Breakdown, number> {
  const out = {} as Record<keyof Breakdown, number>;
  for (const k of STEPS) {
    const v = runs.map((r) => r[k]).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    out[k] = v.length ? +v[Math.floor((v.length - 1) / 2)].toFixed(1) : NaN;
  }
  return out;
}

/** `api 3 / provision 150 / pickup 2 / start 80 / probe 10 / route 2 / serve 3` for a table cell. */
export function describeSteps(s: Record<keyof Breakdown, number>): string {
  const short: Record<keyof Breakdown, string> = { api_write: 'api', provision: 'provision', pickup: 'pickup', runtime_start: 'start', first_probe_pass: 'probe', route_published: 'route', first_request: 'serve' };
  // A step a result does not have (provision: no build; results from before a step existed) is left out.
  return STEPS.filter((k) => s[k] !== undefined).map((k) => `${short[k]} ${Number.isFinite(s[k]) ? Math.round(s[k]) : '?'}`).join(' / ');
}

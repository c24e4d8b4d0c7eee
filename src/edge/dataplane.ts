// Which data plane serves the public address (docs/edge.md, "Which data plane serves"): HAProxy in front of the
// Node edge, or the Node edge alone. HAProxy chosen by default (PIER_EDGE_DATAPLANE unset or auto, and installed)
// that cannot start leaves the Node edge serving alone, with one line saying why; named, its failure is Pier's.
import { createEdge } from './edge.ts';
import { createHaproxyEdge } from './haproxy/edge.ts';
import type { Edge, EdgeOptions } from './types.ts';

/** The two data planes. */
export type Dataplane = 'node' | 'haproxy';

/** What was asked: the data plane, and whether it was chosen by default (`auto`) rather than named. */
export interface DataplaneChoice { dataplane: Dataplane; auto: boolean }

/** Starts the edge on the chosen data plane; resolves with the edge and the data plane that serves. */
export async function startEdgeDataplane(
  choice: DataplaneChoice, options: EdgeOptions, haproxy: { dir: string; onError: (message: string) => void }, log: (line: string) => void,
): Promise<{ edge: Edge; dataplane: Dataplane }> {
  if (choice.dataplane === 'haproxy') {
    try {
      return { edge: await createHaproxyEdge({ ...options, dir: haproxy.dir, onError: haproxy.onError }), dataplane: 'haproxy' };
    } catch (err) {
      if (!choice.auto) throw err;
      log(`pier: edge: HAProxy did not start (${(err as Error).message}); the Node edge serves alone `
        + '(PIER_EDGE_DATAPLANE=node skips HAProxy, PIER_EDGE_DATAPLANE=haproxy makes this an error)');
    }
  }
  return { edge: await createEdge(options), dataplane: 'node' };
}

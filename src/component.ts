// The component types the composition root (main.ts) starts, and the core they are built from. Apart from main.ts so
// that components (controller, leader, certificates, metrics) can name them without importing the root back.
import type { ExecBackend } from './domain/exec.ts';
import type { PierConfig } from './config.ts';
import type { EdgeRouteFeed } from './edge/route-feed.ts';
import type { Store } from './store/store.ts';

/** A long-running part of Pier (reconcilers, edge proxy, log collector...) started after the API and stopped before it. */
export interface PierComponent {
  name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}

/** What components are built from. */
export interface PierCore {
  config: PierConfig;
  store: Store;
  /** The bootstrap organization. */
  organizationId: string;
  /** Registers a listener called after every successful API write (e.g. the controller's kick). */
  onWrite(listener: () => void): void;
  /** Adds facts to /v1/pier/info (e.g. `edge_url`, `runtime`). */
  setInfo(facts: Record<string, unknown>): void;
  /** Appends Prometheus text to the API's /metrics (e.g. the edge's counters). */
  addMetrics(render: () => string): void;
  /** Where start-up lines go. */
  log(line: string): void;
  /** This process's API URL (the leader advertises it beside its lease, for regional edges). */
  apiUrl?: string;
  /** The route table remote edges long-poll through the API; the leader's route publisher feeds it. */
  routeFeed: EdgeRouteFeed;
  /** Gives the API what runs `instances exec` commands (the platform, once its runtime exists). */
  setExec?(backend: ExecBackend): void;
}

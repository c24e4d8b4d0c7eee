// The route table for remote edges (`pier edge`, one per region): the composition root creates one feed and hands
// it to the API (GET /v1/pier/edge/routes long-polls it) and to the route publisher (src/control), which publishes
// each table it gives the in-process edge. Change notification wakes the long-polls.
import { createHash } from 'node:crypto';
import { RemoteTraffic } from './remote-traffic.ts';
import type { AppRoutes } from './types.ts';

/** What a remote edge last fetched, for operators (`edges()`). */
export interface RemoteEdgeSeen { region: string; etag: string; at: string }

/** The current route table for remote edges, with change notification for long-polls. */
export class EdgeRouteFeed {
  private table: { etag: string; json: string } | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly seen = new Map<string, RemoteEdgeSeen>();
  /** Wakes a sleeping app (set by the composition root to the controller's wake while it leads). */
  onWake: ((appId: string) => void) | undefined;
  /** A remote edge saw a service's load rise (set by the composition root to the controller's load while it leads). */
  onLoad: ((serviceId: string) => void) | undefined;
  /** What remote edges report of their traffic (POST /v1/pier/edge/traffic), merged into the autoscaler's counters. */
  readonly traffic = new RemoteTraffic();

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

  /**
   * Resolves true once every remote edge heard from in the last `recentMs` was sent the current table, false after
   * `ms`. A drain waits for it: an instance must leave the regional edges' tables too before it is stopped.
   */
  async remoteEdgesCaughtUp(ms: number, recentMs = 60_000): Promise<boolean> {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 100_000; i++) {
      const etag = this.table?.etag;
      const now = Date.now();
      const behind = [...this.seen.values()].some((e) => e.etag !== etag && now - Date.parse(e.at) < recentMs);
      if (!etag || !behind) return true;
      if (now >= deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  /** The remote edges that asked, by region, with the table each last fetched. */
  edges(): RemoteEdgeSeen[] {
    return [...this.seen.values()];
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

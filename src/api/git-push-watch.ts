// What `git push` shows after the refs moved: the deployment's build lines as they are stored (the log bus), each
// status change, and the end: the URL once HEALTHY, the reason when it fails, or how to follow it at the timeout.
// It reads the store only; the controller (same process, or another one on PostgreSQL) does the work.
import type { App, Deployment } from '../domain/types.ts';
import { getApp } from '../store/apps.ts';
import { getDeployment } from '../store/deployments.ts';
import type { LogLine } from '../store/logs.ts';
import type { Store } from '../store/store.ts';

/** Statuses that end the wait well or badly (as `pier ... --wait` reads them). */
const SUCCESS = new Set(['HEALTHY', 'SLEEPING']);
const FAILURE = new Set(['DEGRADED', 'UNHEALTHY', 'ERROR', 'CANCELED', 'STOPPED']);

/** How a watched deployment ended, for the caller's last line and for tests. */
export type WatchOutcome = 'healthy' | 'failed' | 'timeout' | 'gone';

/** What to watch and where to write each line; `closed` says when the client went away (stop watching). */
export interface WatchOptions {
  deploymentId: string;
  timeoutMs: number;
  pollMs?: number;
  /** The edge's URL from /v1/pier/info (its port goes into the service's URL); absent: no port. */
  edgeUrl?: string;
  /** `<app>/<service>`, for the commands the last line suggests. */
  serviceRef: string;
  say: (line: string) => void;
  closed: () => boolean;
}

/** Follows one deployment until it is healthy, fails, the client leaves, or the timeout; returns how it ended. */
export async function watchDeployment(store: Store, opts: WatchOptions): Promise<WatchOutcome> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const off = store.logBus.subscribe((l: LogLine) => {
    if (l.deployment_id !== opts.deploymentId || l.type !== 'build') return;
    for (const line of l.msg.replace(/\n$/, '').split('\n')) opts.say(line);
  });
  let last = '';
  try {
    for (;;) {
      const d = await getDeployment(store.db, opts.deploymentId);
      if (!d) return 'gone';
      if (d.status !== last) {
        last = d.status;
        const why = d.messages?.at(-1)?.split('\n')[0];
        opts.say(`==> ${d.status}${why ? `: ${why}` : ''} (${Math.round((Date.now() - started) / 1000)} s)`);
      }
      if (SUCCESS.has(d.status)) {
        for (const url of await urlsOf(store, d, opts.edgeUrl)) opts.say(`==> Deployed: ${url}`);
        return 'healthy';
      }
      if (FAILURE.has(d.status)) {
        for (const m of d.messages ?? []) opts.say(`==> ${m}`);
        opts.say(`==> Deployment v${d.version} failed; logs: pier service logs ${opts.serviceRef}`);
        return 'failed';
      }
      if (opts.closed()) return 'gone';
      if (Date.now() >= deadline) {
        opts.say(`==> Still ${d.status} after ${Math.round(opts.timeoutMs / 1000)} s; the deployment goes on: pier service get ${opts.serviceRef}`);
        return 'timeout';
      }
      await new Promise<void>((resolve) => { setTimeout(resolve, Math.min(opts.pollMs ?? 500, Math.max(0, deadline - Date.now()))); });
    }
  } finally {
    off();
  }
}

/** `http://<app domain>[:<edge port>]<route>` for each route of the deployment. */
async function urlsOf(store: Store, d: Deployment, edgeUrl: string | undefined): Promise<string[]> {
  const app: App | undefined = await getApp(store.db, d.app_id);
  const domain = app?.domains?.find((x) => x.type === 'AUTOASSIGNED')?.name ?? app?.domains?.[0]?.name;
  if (!domain) return [];
  let port = '';
  try { port = edgeUrl && new URL(edgeUrl).port ? `:${new URL(edgeUrl).port}` : ''; } catch { /* a malformed edge URL: no port */ }
  return (d.definition.routes ?? []).map((r) => `http://${domain}${port}${r.path || '/'}`);
}

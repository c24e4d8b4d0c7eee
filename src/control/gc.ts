// Garbage collection of build outputs: built images (`pier-build/<service>:<deployment>`), build directories
// (`<data-dir>/builds/deployments/<id>`, per-service caches) and uploaded archives that no deployment can run or roll
// back to. Level-triggered like every reconciler: each pass reads the store, decides what is retained (a pure
// function), removes the rest, and running it twice removes nothing more. It runs periodically, after API writes
// (at most every minGapMs) and again soon while outputs it must remove are still in use (a deleted service whose
// containers are stopping).
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { PierComponent } from '../component.ts';
import type { Db } from '../store/db.ts';
import {
  deleteArchiveRow, deleteTraceBefore, listArchiveRows, listDeploymentOutputs, listServiceRetention, type DeploymentOutputRow,
  type ServiceRetentionRow,
} from '../store/retention.ts';
import { archiveFile } from '../store/archives.ts';
import { DockerEngine, EngineError } from '../runtime/docker/engine.ts';
import { whileIdle } from '../runtime/docker/image-gate.ts';

/** Deployments per service whose outputs are kept by default (PIER_GC_KEEP_DEPLOYMENTS). */
export const DEFAULT_KEEP_DEPLOYMENTS = 10;

/** Days events and activities are kept by default (PIER_EVENTS_KEEP_DAYS). */
export const DEFAULT_EVENTS_KEEP_DAYS = 90;

/** How often a pass runs by default (PIER_GC_INTERVAL). */
export const DEFAULT_GC_INTERVAL_MS = 3600_000;

/** Statuses after which a deployment runs nothing (STASHED never ran). */
const FINISHED = new Set(['STOPPED', 'ERROR', 'CANCELED', 'STASHED']);

/**
 * The deployments whose outputs must stay: per live service its `keep` newest versions, whatever it points at
 * (active, latest, last provisioned) and every deployment still running or in progress. A deleted service keeps
 * nothing once its deployments have finished; deployments of unknown services likewise.
 */
export function retainedDeployments(services: ServiceRetentionRow[], deployments: DeploymentOutputRow[], keep: number): Set<string> {
  const retained = new Set<string>();
  const live = new Map(services.filter((s) => s.status !== 'DELETED').map((s) => [s.id, s]));
  const byService = new Map<string, DeploymentOutputRow[]>();
  for (const d of deployments) {
    if (!FINISHED.has(d.status)) retained.add(d.id);
    const list = byService.get(d.serviceId) ?? [];
    list.push(d);
    byService.set(d.serviceId, list);
  }
  for (const [serviceId, list] of byService) {
    const service = live.get(serviceId);
    if (!service) continue;
    for (const d of [...list].sort((a, b) => b.version - a.version).slice(0, keep)) retained.add(d.id);
    for (const id of service.pinned) retained.add(id);
  }
  return retained;
}

/** Built images of this installation, as the collector sees them. */
export interface BuiltImages {
  /** Every built image: its reference, the deployment it was built for, and when (ms since epoch). */
  list(): Promise<{ ref: string; deploymentId: string; createdMs: number }[]>;
  /**
   * Removes one reference; 'in_use' when a container still uses it, 'building' when a build runs on the engine (whose
   * cache its untagged parents may be): both retried by a later pass.
   */
  remove(ref: string): Promise<'removed' | 'in_use' | 'gone' | 'building'>;
}

/** The images the builder made on this Docker engine, found by the installation's scope label. */
export function dockerBuiltImages(engine: DockerEngine, scope: string): BuiltImages {
  return {
    async list() {
      const images = await engine.json<{ RepoTags?: string[] | null; Labels?: Record<string, string> | null; Created: number }[]>(
        'GET', '/images/json', { query: { filters: JSON.stringify({ label: [`dev.pier.scope=${scope}`] }) } },
      );
      return images.flatMap((img) => (img.RepoTags ?? []).filter((t) => t.startsWith('pier-build/')).map((ref) => ({
        ref, deploymentId: img.Labels?.['dev.pier.deployment_id'] ?? ref.slice(ref.lastIndexOf(':') + 1), createdMs: img.Created * 1000,
      })));
    },
    async remove(ref) {
      return whileIdle(engine.socketPath, async () => {
        try {
          return (await engine.jsonOrNull('DELETE', `/images/${encodeURIComponent(ref)}`)) === null ? 'gone' : 'removed';
        } catch (err) {
          if (err instanceof EngineError && err.status === 409) return 'in_use';
          throw err;
        }
      });
    },
  };
}

/** How the collector is set up. */
export interface GcOptions {
  db: Db;
  /** `<data-dir>/builds`: `deployments/<id>` and `cache/<service id>` below it. */
  buildsDir: string;
  /** `<data-dir>/archives`. */
  archivesDir: string;
  /** Built images (Docker); absent when the runtime runs directories. */
  images?: BuiltImages;
  /** Deployments per service to keep (default 10). */
  keep?: number;
  /**
   * Outputs the store does not know yet (a build directory or image of a deployment created after the pass read the
   * store, an archive uploaded but not deployed yet) stay this long (default 24 h).
   */
  graceMs?: number;
  /** Days events and activities are kept (default 90): older ones are deleted by each pass. */
  eventsKeepDays?: number;
  now?: () => number;
  log?: (line: string) => void;
}

/**
 * What one pass removed, and what it could not remove yet: images still used by a container, images kept while a
 * build ran (`building`), and services being deleted (DELETING: their outputs go once the reconciler has stopped
 * everything and marked them DELETED).
 */
export interface GcReport {
  images: string[]; directories: string[]; archives: string[]; inUse: string[]; building: string[]; deleting: string[];
  /** How many events and activities went past their retention. */
  trace: { events: number; activities: number };
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function ageMs(path: string, now: number): number {
  try {
    return now - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** One collection pass. */
export async function collectGarbage(o: GcOptions): Promise<GcReport> {
  const now = (o.now ?? Date.now)();
  const grace = o.graceMs ?? 86_400_000;
  const [services, deployments, archives] = await Promise.all([listServiceRetention(o.db), listDeploymentOutputs(o.db), listArchiveRows(o.db)]);
  const retained = retainedDeployments(services, deployments, o.keep ?? DEFAULT_KEEP_DEPLOYMENTS);
  const known = new Set(deployments.map((d) => d.id));
  const report: GcReport = {
    images: [], directories: [], archives: [], inUse: [], building: [], deleting: services.filter((s) => s.status === 'DELETING').map((s) => s.id),
    trace: { events: 0, activities: 0 },
  };
  // An output of a deployment the store knows and does not retain goes; of one it does not know, once old.
  const collectable = (id: string, age: number) => (known.has(id) ? !retained.has(id) : age > grace);

  if (o.images) {
    for (const img of await o.images.list()) {
      if (!collectable(img.deploymentId, now - img.createdMs)) continue;
      const r = await o.images.remove(img.ref);
      if (r === 'removed') report.images.push(img.ref);
      else if (r === 'in_use') report.inUse.push(img.ref);
      else if (r === 'building') report.building.push(img.ref);
    }
  }

  const deploymentsDir = join(o.buildsDir, 'deployments');
  for (const id of entries(deploymentsDir)) {
    const path = join(deploymentsDir, id);
    if (!collectable(id, ageMs(path, now))) continue;
    rmSync(path, { recursive: true, force: true });
    report.directories.push(path);
  }
  // A service's dependency cache goes with the service.
  const liveServices = new Set(services.filter((s) => s.status !== 'DELETED').map((s) => s.id));
  const knownServices = new Set(services.map((s) => s.id));
  const cacheDir = join(o.buildsDir, 'cache');
  for (const id of entries(cacheDir)) {
    const path = join(cacheDir, id);
    if (liveServices.has(id) || (!knownServices.has(id) && ageMs(path, now) <= grace)) continue;
    rmSync(path, { recursive: true, force: true });
    report.directories.push(path);
  }

  // Archives: kept while a retained deployment names one; a never-deployed upload stays for the grace period.
  const wanted = new Set(deployments.filter((d) => retained.has(d.id) && d.archiveId).map((d) => d.archiveId!));
  const named = new Set(deployments.filter((d) => d.archiveId).map((d) => d.archiveId!));
  for (const a of archives) {
    if (wanted.has(a.id) || (!named.has(a.id) && now - Date.parse(a.createdAt) <= grace)) continue;
    rmSync(archiveFile(o.archivesDir, a.id), { force: true });
    await deleteArchiveRow(o.db, a.id);
    report.archives.push(a.id);
  }

  // Traceability has a horizon: events and activities older than the retention go (indexed on their time).
  const keepDays = o.eventsKeepDays ?? DEFAULT_EVENTS_KEEP_DAYS;
  report.trace = await deleteTraceBefore(o.db, new Date(now - keepDays * 86_400_000).toISOString());
  if (report.trace.events || report.trace.activities) {
    o.log?.(`pier: retention removed ${report.trace.events} event(s) and ${report.trace.activities} activitie(s) older than ${keepDays} days`);
  }

  const removed = report.images.length + report.directories.length + report.archives.length;
  if (removed || report.inUse.length || report.building.length) {
    o.log?.(`pier: garbage collection removed ${report.images.length} image(s), ${report.directories.length} build directorie(s), ${report.archives.length} archive(s)`
      + (report.inUse.length ? `; ${report.inUse.length} image(s) still in use, retried soon` : '')
      + (report.building.length ? `; ${report.building.length} image(s) kept while a build runs, retried soon` : ''));
  }
  return report;
}

/** The collector as a Pier component: a pass at start, every intervalMs (0 = none), and soon after kicks. */
export interface GcComponent extends PierComponent {
  /** Asks for a pass (after API writes): at most one per minGapMs. */
  kick(): void;
  /** One pass now (tests). */
  runOnce(): Promise<GcReport>;
}

/** Builds the collector component. */
export function gcComponent(o: GcOptions & { intervalMs?: number; minGapMs?: number; retryMs?: number }): GcComponent {
  const interval = o.intervalMs ?? DEFAULT_GC_INTERVAL_MS;
  const minGap = o.minGapMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  let soon: NodeJS.Timeout | undefined;
  let running: Promise<GcReport> | undefined;
  let lastStart = 0;
  let retries = 0;
  let stopped = true;

  function runOnce(): Promise<GcReport> {
    running ??= (async () => {
      lastStart = Date.now();
      try {
        const report = await collectGarbage(o);
        // A service being deleted, and its images, stay until its containers are gone: look again soon (bounded).
        if ((report.inUse.length || report.building.length || report.deleting.length) && retries < 20) {
          retries++;
          schedule(o.retryMs ?? 30_000);
        } else {
          retries = 0;
        }
        return report;
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  function runLogged(): void {
    runOnce().catch((err) => o.log?.(`pier: garbage collection failed: ${(err as Error)?.message ?? String(err)}`));
  }

  function schedule(delayMs: number): void {
    if (stopped || soon) return;
    soon = setTimeout(() => { soon = undefined; if (!stopped) runLogged(); }, delayMs);
    soon.unref();
  }

  return {
    name: 'garbage-collector',
    kick() { schedule(Math.max(0, lastStart + minGap - Date.now())); },
    runOnce,
    start() {
      stopped = false;
      if (interval > 0) {
        timer = setInterval(() => { if (!stopped) runLogged(); }, interval);
        timer.unref();
      }
      schedule(0);
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(soon);
      soon = undefined;
      await running?.catch(() => undefined);
    },
  };
}

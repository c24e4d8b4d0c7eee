// Usage: how long each instance ran, by instance type, sampled from the instance rows the reconcilers keep (never by
// asking a runtime). Level-triggered like the reconcilers: each pass reads the running instances and the open usage
// rows, integrates the running time since each row's last mark, and closes rows of instances that stopped running
// (stopped, failed, sleeping, gone). A restart or a wake-up restarts the count from the instance's new started_at,
// so sleeping time is never counted. Marks advance by whole seconds only, so nothing is lost to rounding.
import type { PierComponent } from '../component.ts';
import type { Instance } from '../domain/types.ts';
import type { Db } from '../store/db.ts';
import { getInstance, listInstances } from '../store/instances.ts';
import { putUsage, usageToSample, type UsageRow } from '../store/quotas.ts';

/** Instance statuses during which the workload runs (and counts). */
export const RUNNING_STATUSES = ['STARTING', 'HEALTHY', 'UNHEALTHY', 'STOPPING'];

/** How often a pass runs by default. */
export const DEFAULT_USAGE_INTERVAL_MS = 60_000;

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : NaN);
const iso = (t: number) => new Date(t).toISOString();

/**
 * One instance's next usage row given its current row (if any) and its instance row (undefined once gone); undefined
 * when nothing changes. Pure.
 */
export function nextUsage(row: UsageRow | undefined, inst: Instance | undefined, nowMs: number): UsageRow | undefined {
  const running = inst !== undefined && RUNNING_STATUSES.includes(inst.status) && Number.isFinite(ms(inst.started_at));
  if (running) {
    const started = ms(inst.started_at);
    const base: UsageRow = row ?? {
      instance_id: inst.id, organization_id: inst.organization_id, app_id: inst.app_id, service_id: inst.service_id,
      deployment_id: inst.xyz_deployment_id, regional_deployment_id: inst.regional_deployment_id, region: inst.region,
      instance_type: inst.type, started_at: inst.started_at!, terminated_at: null, duration_seconds: 0, sampled_at: inst.started_at!,
    };
    // From the later of the last mark and the latest start: a restart or wake-up does not count the pause before it.
    const from = Math.max(ms(base.sampled_at), started);
    const secs = Math.max(0, Math.floor((nowMs - from) / 1000));
    if (row && row.terminated_at === null && secs === 0) return undefined;
    return { ...base, terminated_at: null, duration_seconds: base.duration_seconds + secs, sampled_at: iso(from + secs * 1000) };
  }
  if (!row || row.terminated_at !== null) return undefined;
  // Stopped running: count up to when it stopped (its terminated_at, else when its row last changed, else now).
  const mark = ms(row.sampled_at);
  const endCandidate = ms(inst?.terminated_at) || ms(inst?.updated_at) || nowMs;
  const end = Math.max(mark, Math.min(endCandidate, nowMs));
  const secs = Math.floor((end - mark) / 1000);
  return { ...row, terminated_at: iso(end), duration_seconds: row.duration_seconds + secs, sampled_at: iso(mark + secs * 1000) };
}

/** One sampling pass over the store; returns how many usage rows it wrote. */
export async function sampleUsage(db: Db, nowMs: number = Date.now()): Promise<number> {
  return db.transaction(async (tx) => {
    const running = (await listInstances(tx, { statuses: RUNNING_STATUSES })).items;
    const byId = new Map<string, Instance>(running.map((i) => [i.id, i]));
    const rows = await usageToSample(tx, running.map((i) => i.id));
    const rowById = new Map(rows.map((r) => [r.instance_id, r]));
    let written = 0;
    for (const id of new Set([...byId.keys(), ...rowById.keys()])) {
      const row = rowById.get(id);
      const inst = byId.get(id) ?? (row && row.terminated_at === null ? await getInstance(tx, id) : undefined);
      const next = nextUsage(row, inst, nowMs);
      if (!next) continue;
      await putUsage(tx, next);
      written++;
    }
    return written;
  });
}

/** The sampler as a leader component: a pass at start and every intervalMs. */
export function usageComponent(o: { db: Db; intervalMs?: number; log?: (line: string) => void }): PierComponent & { runOnce(): Promise<number> } {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  const runOnce = () => (running ??= sampleUsage(o.db).finally(() => { running = undefined; }));
  const logged = () => { runOnce().catch((err) => o.log?.(`pier: usage sampling failed: ${(err as Error)?.message ?? String(err)}`)); };
  return {
    name: 'usage-sampler',
    runOnce,
    start() {
      logged();
      timer = setInterval(logged, o.intervalMs ?? DEFAULT_USAGE_INTERVAL_MS);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}

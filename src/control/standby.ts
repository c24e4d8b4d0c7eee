// Standbys (issue #23): an autoscaled region's frozen spares. A scale-up on Docker waited for container starts
// (80-230 ms each on 2 cores, two side by side slower still), so the extra instances served 300-600 ms after a load
// step. A standby is an instance of the region started ahead, checked, and frozen (light sleep's freezer: memory
// kept, no CPU); the scale-up thaws it (milliseconds) and it serves at once, the very process that passed its checks.
//
// Lifecycle, all of it visible in the API with the reference's statuses:
//   ALLOCATING ("Standby instance created...") → STARTING (started, probed on the startup ramp) → SLEEPING (passed,
//   frozen) ──scale-up──► STARTING → HEALTHY (thawed, routed at once); a stop, a failure or a crash → STOPPING → STOPPED.
// The autoscaling step (reconcile-scaling.ts) makes one once the region has settled (its count unchanged for
// SETTLE_MS, every counted instance HEALTHY, no rollout, no panic), keeps at most `AutoscaleConfig.standby` of them and
// never more than the region's max leaves room for, stops them when the region sleeps or stops being autoscaled, and
// thaws them first on a scale-up. A failed one is stopped, and the next waits 5 s, doubling per failure in a row. The deployment reconciler neither counts nor stops them (ensureInstances); the
// instance reconciler starts and probes them as any instance and parks them (freeze, SLEEPING) where it would mark
// HEALTHY. Routes never carry one until it is HEALTHY (collectRoutes leaves them out of the sleep test too). Only on
// runtimes that keep them (Runtime.keepsStandbys: Docker with runc, the process runtime), for services without volumes.
// Which rows are standbys is this control-plane life's memory: after a restart a starting standby is a plain instance
// (the autoscaler trims the count) and a frozen one's workload was removed by recover(), its row stopped here.
import { instanceMessage } from '../domain/messages.ts';
import type { Deployment, Instance, RegionalDeployment, Service } from '../domain/types.ts';
import type { InstanceHandle } from '../runtime/contract.ts';
import type { ControlContext } from './context.ts';
import { createInstanceRow, requestStop } from './instance-rows.ts';
import { instanceMarks, markInstance } from './marks.ts';
import type { RegionMemory } from './autoscale-memory.ts';

/** A thawed instance serves at once; its health checks resume this soon after (then on their interval). */
export const THAWED_FIRST_CHECK_MS = 1000;
/** A standby is made once the region's count and instances have not changed for this long. */
export const SETTLE_MS = 1000;
/**
 * After a standby failed (start, checks, freeze, exit), the region makes no other for a while: 5 s after the first
 * failure, doubling with each one in a row up to 5 min (a busy box's passing trouble is retried soon, a standby that
 * can never pass does not loop); a standby that freezes starts the count over.
 */
export const FAILED_PAUSE_MS = 5_000;
export const FAILED_PAUSE_MAX_MS = 300_000;

const GONE = ['STOPPING', 'STOPPED', 'ERROR'];

/** Whether the runtime can freeze workloads (light sleep, standbys). */
export function canFreeze(ctx: ControlContext): boolean {
  return typeof ctx.runtime.freeze === 'function' && typeof ctx.runtime.thaw === 'function';
}

/** Whether an instance row is a standby of this life. */
export function isStandby(ctx: ControlContext, instanceId: string): boolean {
  return ctx.autoscale.standby.has(instanceId);
}

/**
 * The instance reconciler's step for a standby that passed its checks: its startup boost ends, its workload freezes,
 * the row goes SLEEPING. A freeze that fails stops the standby (and pauses the region's standbys).
 */
export async function parkStandby(ctx: ControlContext, inst: Instance, handle: InstanceHandle): Promise<void> {
  const sb = ctx.autoscale.standby.get(inst.id);
  if (!sb) return;
  // Started: a startup boost ends here, as for any instance (a failure to end it is reported, not the standby's).
  await ctx.runtime.endStartupBoost?.(handle.runtimeId).catch((err) => ctx.onError(err, `ending the startup boost of standby instance ${inst.id}`));
  try {
    await ctx.runtime.freeze!(handle.runtimeId);
  } catch (err) {
    ctx.onError(err, `freezing standby instance ${inst.id} (it is stopped instead)`);
    return failStandby(ctx, inst, `its workload could not be frozen (${err instanceof Error ? err.message : String(err)})`);
  }
  sb.frozen = true;
  const rm = ctx.autoscale.regions.get(sb.regionalId);
  if (rm) rm.standbyFailures = 0;
  await ctx.logs.system(inst, instanceMessage.standbyFrozen());
  await markInstance(ctx, inst, 'SLEEPING', 'instance_standby', instanceMessage.standbyFrozen());
}

/**
 * A standby that cannot serve (its start, a check or its freeze failed, its workload exited): stopped, never
 * restarted or left in ERROR (it was never one of the region's instances), and the region makes no other for a while.
 */
export async function failStandby(ctx: ControlContext, inst: Instance, why: string): Promise<void> {
  const sb = ctx.autoscale.standby.get(inst.id);
  ctx.autoscale.standby.delete(inst.id);
  const rm = sb && ctx.autoscale.regions.get(sb.regionalId);
  const failures = (rm?.standbyFailures ?? 0) + 1;
  const pauseMs = Math.min(FAILED_PAUSE_MAX_MS, FAILED_PAUSE_MS * 2 ** (failures - 1));
  if (rm) { rm.standbyFailures = failures; rm.standbyPausedUntilMs = ctx.clock.now().getTime() + pauseMs; }
  const message = `Standby instance stopped: ${why}. No other standby is made for ${pauseMs / 1000} s.`;
  await ctx.logs.system(inst, message);
  await requestStop(ctx, inst, why, message);
  ctx.nextPassMs = Math.min(ctx.nextPassMs ?? Infinity, 10);
}

/** Stops a standby the region no longer keeps (the instance reconciler finishes the stop: a frozen one is thawed first). */
async function stopStandby(ctx: ControlContext, inst: Instance, why: string): Promise<void> {
  ctx.autoscale.standby.delete(inst.id);
  await requestStop(ctx, inst, why);
  ctx.nextPassMs = Math.min(ctx.nextPassMs ?? Infinity, 10);
}

/**
 * Scale-up: up to `n` of the region's standbys become its instances, frozen ones first: thawed, HEALTHY at once (the
 * process that passed its checks before it froze; its checks resume on their interval) and routed as the scaling step
 * ends; a standby still starting is counted from now and marked HEALTHY by its checks. A thaw that fails stops that
 * standby (a new instance replaces it). Answers how many became instances.
 */
export async function promoteStandbys(ctx: ControlContext, regionalId: string, rows: Instance[], n: number, nowMs: number): Promise<number> {
  const mine = rows.filter((i) => ctx.autoscale.standby.get(i.id)?.regionalId === regionalId && !GONE.includes(i.status));
  mine.sort((a, b) => Number(ctx.autoscale.standby.get(b.id)!.frozen) - Number(ctx.autoscale.standby.get(a.id)!.frozen) || a.replica_index - b.replica_index);
  const picked = mine.slice(0, Math.max(0, n));
  const outcomes = await Promise.all(picked.map(async (i) => {
    const sb = ctx.autoscale.standby.get(i.id)!;
    const h = ctx.bindings.get(i.id);
    if (!sb.frozen || i.status !== 'SLEEPING') {
      ctx.autoscale.standby.delete(i.id);
      if (i.status === 'STARTING') await markInstance(ctx, i, 'STARTING', 'instance_starting', instanceMessage.starting());
      return true;
    }
    if (!h) { await failStandby(ctx, i, 'its workload is gone'); return false; }
    try {
      await ctx.runtime.thaw!(h.runtimeId);
    } catch (err) {
      ctx.onError(err, `thawing standby instance ${i.id} (a new instance replaces it)`);
      await failStandby(ctx, i, `its workload could not be thawed (${err instanceof Error ? err.message : String(err)})`);
      return false;
    }
    ctx.autoscale.standby.delete(i.id);
    ctx.health.passing(i.id, nowMs, THAWED_FIRST_CHECK_MS);
    await ctx.logs.system(i, instanceMessage.standbyThawed());
    const waking = await markInstance(ctx, i, 'STARTING', 'instance_standby_thawed', instanceMessage.standbyThawed());
    await instanceMarks.healthy(ctx, waking, instanceMessage.healthy());
    ctx.routesDirty = true;
    return true;
  }));
  return outcomes.filter(Boolean).length;
}

/** What keepStandbys needs to know about the region's step. */
export interface StandbyStep {
  ctx: ControlContext;
  svc: Service;
  d: Deployment;
  r: RegionalDeployment;
  rm: RegionMemory;
  rows: Instance[];
  max: number;
  nowMs: number;
  /** Whether the region may keep standbys at all (runtime freezes, no volumes, the setting above 0). */
  allowed: boolean;
  panicking: boolean;
}

/**
 * Keeps an awake region's standbys: forgets the ones that went, stops the ones beyond what it may keep (the setting,
 * and the room its max leaves), and makes one when it has settled. A SLEEPING row of an awake region that is no
 * standby of this life (one from before a restart: recover() removed its workload) is stopped.
 */
export async function keepStandbys(s: StandbyStep): Promise<void> {
  const { ctx, rm, rows, nowMs } = s;
  const mem = ctx.autoscale;
  const mine: Instance[] = [];
  for (const i of rows) {
    const sb = mem.standby.get(i.id);
    if (sb && GONE.includes(i.status)) { mem.standby.delete(i.id); continue; }
    if (sb) { mine.push(i); continue; }
    if (i.status === 'SLEEPING') {
      if (ctx.bindings.has(i.id)) await stopStandby(ctx, i, 'a standby of an earlier control-plane life');
      else await markInstance(ctx, i, 'STOPPED', 'instance_stopped', 'Standby instance stopped: the control plane restarted, its workload is gone.', { terminated_at: new Date(nowMs).toISOString() });
    }
    // Any start of the region's own instances (a replacement, a restart) holds a new standby back.
    if (i.status === 'ALLOCATING' || i.status === 'STARTING') rm.settledSinceMs = nowMs;
  }
  const keep = s.allowed ? Math.max(0, Math.min(mem.config.standby, s.max - rm.desired)) : 0;
  if (mine.length > keep) {
    const extra = mine.sort((a, b) => b.replica_index - a.replica_index).slice(0, mine.length - keep);
    for (const i of extra) await stopStandby(ctx, i, keep === 0 ? 'the region keeps no standby now' : `the region is at ${rm.desired} of its max ${s.max}`);
    return;
  }
  if (mine.length >= keep || s.panicking) return;
  if (mine.some((i) => i.status !== 'SLEEPING')) return; // one at a time
  if (nowMs < (rm.standbyPausedUntilMs ?? 0)) return;
  const since = rm.settledSinceMs ?? rm.awakeSinceMs;
  if (nowMs - since < SETTLE_MS) { ctx.nextPassMs = Math.min(ctx.nextPassMs ?? Infinity, SETTLE_MS - (nowMs - since)); return; }
  // Settled: the active deployment alone (no rollout), serving its full count, every instance HEALTHY.
  if (s.svc.latest_deployment_id !== s.d.id || s.svc.active_deployment_id !== s.d.id) return;
  const counted = rows.filter((i) => !mem.standby.has(i.id) && !GONE.includes(i.status));
  if (counted.length !== rm.desired || counted.some((i) => i.status !== 'HEALTHY')) return;
  const taken = new Set(rows.filter((i) => i.status !== 'STOPPED' && i.status !== 'ERROR').map((i) => i.replica_index));
  let index = 0;
  while (taken.has(index)) index++;
  const row = await createInstanceRow(ctx, s.svc, s.d, s.r, index, true);
  mem.standby.set(row.id, { regionalId: s.r.id, frozen: false });
  ctx.nextPassMs = Math.min(ctx.nextPassMs ?? Infinity, 10);
}

/** Stops every standby of a region (it sleeps, or it is no longer autoscaled); `rows` when the caller has them. */
export async function dropStandbys(ctx: ControlContext, regionalId: string, why: string, rows?: Instance[]): Promise<void> {
  for (const [id, sb] of [...ctx.autoscale.standby]) {
    if (sb.regionalId !== regionalId) continue;
    const row = rows?.find((i) => i.id === id) ?? await ctx.state.getInstance(id);
    if (row) await stopStandby(ctx, row, why);
    else ctx.autoscale.standby.delete(id);
  }
}

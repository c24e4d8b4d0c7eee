// The instance reconciler: for each live instance row, compare the row with the workload the runtime runs and
// take the next step: start ALLOCATING rows, observe exits (restart with bounded exponential backoff, or ERROR
// after a crash loop), run health checks, finish STOPPING rows (drain, stop with grace, remove), replace lost ones.
import { instanceResources } from '../domain/catalog.ts';
import { crashReason, type OutputLine } from '../domain/crash-reason.ts';
import { instanceMessage } from '../domain/messages.ts';
import type { App, Deployment, Instance, RegionalDeployment, Service } from '../domain/types.ts';
import type { ExitStatus, InstanceHandle, InstanceSpec } from '../runtime/contract.ts';
import type { ControlContext } from './context.ts';
import { resolveChecks } from './health.ts';
import { redact } from './logs.ts';
import { instanceMarks, markInstance } from './marks.ts';
import { registryAuthFor } from './image-resolve.ts';
import { buildInstanceSpec } from './spec.ts';
import { failStandby, isStandby, parkStandby } from './standby.ts';

/** How many of a workload's last lines the crash reason is picked from. */
const CRASH_TAIL_LINES = 200;

/** The rows an instance belongs to, loaded once per pass. */
export interface Owner { regional: RegionalDeployment; deployment: Deployment; service: Service; app: App }

/** Per-pass cache of owners, so N instances of one deployment cost one read each. */
export class OwnerCache {
  private readonly cache = new Map<string, Promise<Owner | undefined>>();
  constructor(private readonly ctx: ControlContext) {}
  /** The owner rows of an instance (undefined if any is gone). */
  get(inst: Instance): Promise<Owner | undefined> {
    let p = this.cache.get(inst.regional_deployment_id);
    if (!p) {
      p = (async () => {
        const regional = await this.ctx.state.getRegionalDeployment(inst.regional_deployment_id);
        const deployment = regional && (await this.ctx.state.getDeployment(regional.deployment_id));
        const service = deployment && (await this.ctx.state.getService(deployment.service_id));
        const app = service && (await this.ctx.state.getApp(service.app_id));
        return regional && deployment && service && app ? { regional, deployment, service, app } : undefined;
      })();
      this.cache.set(inst.regional_deployment_id, p);
    }
    return p;
  }
}

/** Options of one instance pass. */
export interface InstancePassOptions {
  publicDomain: string;
  /**
   * How long the pass waits for its instances' steps; the ones still running then go on alone (ctx.instanceSteps)
   * and ask for a pass when they end. Absent: wait for every step, this pass's and earlier ones' (reconcileOnce).
   */
  budgetMs?: number;
}

/**
 * Runs one pass over every live instance; instances are independent, so they advance in parallel. An instance whose
 * step from an earlier pass still runs (a probe waiting for its timeout, a stop waiting out its grace) is left to it:
 * one tenant's app that accepts connections and never answers its health check, or ignores SIGTERM, must not hold
 * every other tenant's starts, checks and stops back for as long (a pass used to wait for its slowest instance).
 */
export async function reconcileInstances(ctx: ControlContext, opts: InstancePassOptions): Promise<void> {
  const owners = new OwnerCache(ctx);
  const live = (await ctx.state.listLiveInstances()).filter((i) => !ctx.instanceSteps.has(i.id));
  let pending = live.length;
  const othersBusy = () => pending > 1;
  let alone = false;
  const steps = live.map((inst) => {
    const step = (async () => {
      try {
        await reconcileInstance(ctx, inst, owners, opts, othersBusy);
      } catch (err) {
        ctx.onError(err, `reconciling instance ${inst.id}`);
      } finally {
        pending--;
        ctx.instanceSteps.delete(inst.id);
        // Ended after its pass moved on: publish what it changed and let a pass take the next step.
        if (alone) { ctx.publishRoutes?.(); ctx.requestPass?.(); }
      }
    })();
    ctx.instanceSteps.set(inst.id, step);
    return step;
  });
  const all = Promise.all(steps);
  if (opts.budgetMs === undefined) {
    await all;
    await Promise.all(ctx.instanceSteps.values());
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([all.then(() => true), new Promise<boolean>((r) => { timer = setTimeout(() => r(false), opts.budgetMs); })]);
  clearTimeout(timer);
  if (!done) alone = true;
}

async function reconcileInstance(ctx: ControlContext, inst: Instance, owners: OwnerCache, opts: InstancePassOptions, othersBusy: () => boolean): Promise<void> {
  const handle = ctx.bindings.get(inst.id);
  switch (inst.status) {
    case 'STOPPING':
      return finishStop(ctx, inst);
    case 'ALLOCATING': {
      if (handle) return; // a start is being recorded by the pass that bound it
      const started = await startInstance(ctx, inst, owners, opts);
      if (started) await probeAhead(ctx, started, owners, othersBusy);
      return;
    }
    case 'STARTING': case 'HEALTHY': case 'UNHEALTHY': {
      if (!handle) {
        const mem = ctx.restarts.get(inst.id);
        if (mem?.nextStartAtMs !== undefined) {
          if (ctx.clock.now().getTime() >= mem.nextStartAtMs) {
            const started = await startInstance(ctx, inst, owners, opts);
            if (started) await probeAhead(ctx, started, owners, othersBusy);
          }
          return;
        }
        return markLost(ctx, inst, 'the runtime has no workload for it');
      }
      const observed = await ctx.runtime.inspect(handle.runtimeId);
      if (!observed) return markLost(ctx, inst, 'the runtime no longer knows its workload');
      if (!observed.running) {
        // A standby is never restarted: it was not one of the region's instances yet.
        if (isStandby(ctx, inst.id)) return failStandby(ctx, inst, `its workload exited (code ${observed.exit?.exitCode ?? 'unknown'})`);
        return onExit(ctx, inst, handle, observed.exit ?? { exitCode: null, oomKilled: false });
      }
      await checkHealth(ctx, inst, handle, owners);
      // Its first pass (or a HEALTHY one failing) changes the routes: while the pass still starts others (a Docker
      // start takes 100+ ms), publish now rather than after the slowest of them (the bench saw 100-155 ms lost).
      if (ctx.routesDirty && othersBusy()) ctx.publishRoutes?.();
      return;
    }
    default:
      return; // SLEEPING: nothing runs on purpose
  }
}

/**
 * A start that finished while other instances of the same pass are still being worked on (a scale-up of several, a
 * rollout): its first probes run now, on the startup ramp, instead of after the slowest start of the pass, and once
 * it passes the routes are published at once (issue #23: the first extra instance of a 1 -> 3 step waited for the
 * third's start). Ends when it passed, a counted probe failed, it was unbound, or the pass's other work is done: the
 * next pass goes on as for any instance. Bounded by the pass itself (and 200 rounds).
 */
async function probeAhead(ctx: ControlContext, row: Instance, owners: OwnerCache, othersBusy: () => boolean): Promise<void> {
  const handle = ctx.bindings.get(row.id);
  for (let i = 0; handle && i < 200 && othersBusy(); i++) {
    const due = ctx.health.startupDueInMs(row.id, ctx.clock.now().getTime());
    if (due === undefined) return; // passed already (or not tracked)
    if (due > 0) { await new Promise((r) => setTimeout(r, Math.min(due, 25))); continue; }
    if (ctx.bindings.get(row.id) !== handle) return;
    const outcome = await checkHealth(ctx, row, handle, owners);
    if (outcome === 'pass') { ctx.publishRoutes?.(); return; }
    if (outcome !== 'waiting') return;
  }
}

/** Starts the workload of an ALLOCATING row (or restarts an exited one) and marks it STARTING; answers that row. */
async function startInstance(ctx: ControlContext, inst: Instance, owners: OwnerCache, opts: InstancePassOptions): Promise<Instance | void> {
  const owner = await owners.get(inst);
  if (!owner) return failInstance(ctx, inst, 'owner_missing', 'its deployment no longer exists');
  // Volumes (#20): each must be made and mounted by no other instance (the old one of a rollout stops first).
  const mounts = await volumeMounts(ctx, inst, owner);
  if (mounts === undefined) return;
  const standby = isStandby(ctx, inst.id);
  if (inst.status === 'ALLOCATING') await ctx.logs.system(inst, standby ? instanceMessage.standbyAllocated() : instanceMessage.allocated());
  let built;
  try {
    const secrets = await ctx.state.secretValues(inst.organization_id);
    built = buildInstanceSpec({
      instance: inst, def: owner.regional.definition, deployment: owner.deployment, service: owner.service,
      app: owner.app, secrets, publicDomain: opts.publicDomain, allowPrivileged: ctx.allowPrivileged, startupCpuBoost: ctx.startupCpuBoost,
      // A secret deleted after the deploy-time check only matters if the pinned image must be pulled again.
      registryAuth: await registryAuthFor(ctx.state, inst.organization_id, owner.regional.definition.docker).catch(() => undefined),
      volumes: mounts,
    });
  } catch (err) {
    return failInstance(ctx, inst, 'invalid_spec', instanceMessage.startFailed(errMessage(err)));
  }
  let handle: InstanceHandle;
  try {
    // A driver whose start makes the network (Docker) makes it while the container is created: no wait here.
    if (built.spec.network && !ctx.runtime.startEnsuresNetwork) await ctx.runtime.ensureNetwork?.(built.spec.network);
    handle = await ctx.runtime.start(built.spec);
  } catch (err) {
    return failInstance(ctx, inst, 'start_failed', instanceMessage.startFailed(errMessage(err)));
  }
  const now = ctx.clock.now();
  ctx.bindings.set(inst.id, handle);
  const mem = ctx.restarts.get(inst.id);
  if (mem) mem.nextStartAtMs = undefined;
  ctx.health.reset(inst.id, now.getTime());
  ctx.logs.follow(inst, handle, built.secretValues);
  const starting = standby ? instanceMessage.standbyStarting() : instanceMessage.starting();
  await ctx.logs.system(inst, starting);
  const row = await markInstance(ctx, inst, 'STARTING', mem ? 'instance_restarted' : standby ? 'instance_standby_starting' : 'instance_starting', starting,
    { started_at: now.toISOString(), allocation_id: handle.runtimeId });
  ctx.routesDirty = true;
  return row;
}

/**
 * The volumes an instance mounts, mounted on the host; undefined when it must wait (it stays ALLOCATING, or keeps its
 * restart slot, with a message saying for what) or cannot run (then it is failed here).
 */
async function volumeMounts(ctx: ControlContext, inst: Instance, owner: Owner): Promise<InstanceSpec['volumes'] | undefined> {
  if ((owner.regional.definition.volumes ?? []).length === 0) return [];
  if (!ctx.volumes) {
    await failInstance(ctx, inst, 'volumes_unavailable', instanceMessage.startFailed('this Pier has no volume driver: persistent volumes are unavailable here (see pier doctor)'));
    return undefined;
  }
  let answer;
  try {
    answer = await ctx.volumes.mountsFor(ctx.state, inst, owner.regional.definition, (id) => ctx.bindings.has(id));
  } catch (err) {
    answer = { ok: false as const, wait: `Waiting for its volume to mount: ${errMessage(err)}` };
  }
  if (answer.ok) return answer.volumes;
  if ('error' in answer) { await failInstance(ctx, inst, 'volume_unavailable', instanceMessage.startFailed(answer.error)); return undefined; }
  if (inst.status === 'ALLOCATING') await markInstance(ctx, inst, 'ALLOCATING', 'instance_waiting_volume', answer.wait);
  ctx.nextPassMs = Math.min(ctx.nextPassMs ?? Infinity, 500);
  return undefined;
}

/** Records why the workload ended, removes it, and plans a restart (or declares a crash loop). */
async function onExit(ctx: ControlContext, inst: Instance, handle: InstanceHandle, exit: ExitStatus): Promise<void> {
  // The crash reason becomes a status message, so it is redacted like every stored log line.
  const lastLine = redact(await lastLogLine(ctx, handle.runtimeId), Object.values(await ctx.state.secretValues(inst.organization_id)));
  const startedMs = Date.parse(exit.startedAt ?? inst.started_at ?? '') || NaN;
  const finishedMs = Date.parse(exit.finishedAt ?? '') || ctx.clock.now().getTime();
  const afterMs = Number.isFinite(startedMs) ? Math.max(0, finishedMs - startedMs) : 0;
  const message = exit.oomKilled ? instanceMessage.oom(instanceResources(inst.type)?.memoryBytes ?? 0)
    : exit.error ? exit.error
    : instanceMessage.exited(exit.exitCode ?? -1, afterMs, lastLine);
  await unbind(ctx, inst.id, handle);
  await ctx.logs.system(inst, message);
  return planRestart(ctx, inst, exit.oomKilled ? 'instance_oom_killed' : 'instance_exited', message, exit.lost === true);
}

/**
 * Counts a restart: past the limit the instance is in a crash loop (ERROR), else it restarts after a backoff. A
 * workload whose host was lost (`lost`) is replaced at the next pass: no backoff, not counted as a crash.
 */
async function planRestart(ctx: ControlContext, inst: Instance, reason: string, message: string, lost = false): Promise<void> {
  const mem = ctx.restarts.get(inst.id) ?? { restarts: 0 };
  mem.lastMessage = message;
  ctx.restarts.set(inst.id, mem);
  if (lost) {
    mem.nextStartAtMs = ctx.clock.now().getTime();
    ctx.nextPassMs = Math.min(ctx.nextPassMs ?? Infinity, 10);
    await instanceMarks.unhealthy(ctx, inst, reason, message);
    ctx.routesDirty = true;
    return;
  }
  mem.restarts += 1;
  if (mem.restarts > ctx.intervals.maxRestarts) {
    ctx.restarts.delete(inst.id);
    return failInstance(ctx, inst, 'crash_loop', instanceMessage.crashLoop(mem.restarts - 1, message));
  }
  const delay = Math.min(ctx.intervals.restartBackoffMaxMs, ctx.intervals.restartBackoffMs * 2 ** (mem.restarts - 1));
  mem.nextStartAtMs = ctx.clock.now().getTime() + delay;
  await instanceMarks.unhealthy(ctx, inst, reason, message);
  ctx.routesDirty = true;
}

/**
 * Runs the health checks that are due and moves the instance between STARTING, HEALTHY and UNHEALTHY; answers 'pass',
 * 'waiting' (nothing new, or not due) or 'fail'.
 */
async function checkHealth(ctx: ControlContext, inst: Instance, handle: InstanceHandle, owners: OwnerCache): Promise<'pass' | 'waiting' | 'fail'> {
  const owner = await owners.get(inst);
  if (!owner) return 'waiting';
  const def = owner.regional.definition;
  const checks = def.type === 'WORKER' ? [] : resolveChecks(def, ctx.intervals.health);
  const nowMs = ctx.clock.now().getTime();
  const verdict = checks.length === 0 ? { kind: 'pass' as const }
    : await ctx.health.evaluate(inst.id, checks, handle.endpoints, nowMs);
  // A starting instance is probed on a fast rhythm: come back when its next probe is due, not at the next resync.
  const due = ctx.health.startupDueInMs(inst.id, nowMs);
  if (due !== undefined && checks.length > 0) ctx.nextPassMs = Math.min(ctx.nextPassMs ?? Infinity, Math.max(10, due));
  if (!verdict || verdict.kind === 'waiting') return 'waiting';
  if (verdict.kind === 'pass') {
    // A standby that passed is frozen, not routed (standby.ts).
    if (isStandby(ctx, inst.id)) { await parkStandby(ctx, inst, handle); return 'pass'; }
    if (inst.status !== 'HEALTHY') {
      await instanceMarks.healthy(ctx, inst, instanceMessage.healthy());
      ctx.routesDirty = true;
      // Started: a startup boost (InstanceSpec.startupCpu) ends here, the instance's own CPU limit from now on.
      ctx.runtime.endStartupBoost?.(handle.runtimeId).catch((err) => ctx.onError(err, `ending the startup boost of instance ${inst.id}`));
    }
    return 'pass';
  }
  const message = instanceMessage.unhealthy(verdict.check.kind === 'http' ? 'HTTP' : 'TCP', verdict.check.port, verdict.detail);
  if (isStandby(ctx, inst.id)) { await failStandby(ctx, inst, message); return 'fail'; }
  if (inst.status === 'HEALTHY') ctx.routesDirty = true;
  if (inst.status !== 'UNHEALTHY' || inst.messages[0] !== message) await ctx.logs.system(inst, message);
  if (!verdict.restart) {
    await instanceMarks.unhealthy(ctx, inst, 'health_check_failed', message);
    return 'fail';
  }
  // Liveness: restart_limit consecutive failures restart the instance (counted like an exit).
  await ctx.runtime.stop(handle.runtimeId, ctx.intervals.stopGraceMs);
  await unbind(ctx, inst.id, handle);
  await planRestart(ctx, inst, 'health_check_restart', `${message}; restarting the instance`);
  return 'fail';
}

/** Finishes a STOPPING row: leave the edge, drain, stop with grace, remove, STOPPED. */
async function finishStop(ctx: ControlContext, inst: Instance): Promise<void> {
  const handle = ctx.bindings.get(inst.id);
  ctx.restarts.delete(inst.id);
  if (handle) {
    if (ctx.drain) {
      try {
        await ctx.drain(inst.id, ctx.intervals.drainTimeoutMs);
      } catch (err) {
        ctx.onError(err, `draining instance ${inst.id}`);
      }
    }
    await ctx.runtime.stop(handle.runtimeId, ctx.intervals.stopGraceMs);
    await unbind(ctx, inst.id, handle);
  }
  await ctx.logs.system(inst, instanceMessage.stopped());
  await instanceMarks.stopped(ctx, inst, instanceMessage.stopped());
}

/** A row whose workload vanished: stopped (so the deployment reconciler schedules a replacement). */
async function markLost(ctx: ControlContext, inst: Instance, why: string): Promise<void> {
  if (isStandby(ctx, inst.id)) { await unbind(ctx, inst.id, ctx.bindings.get(inst.id)); return failStandby(ctx, inst, why); }
  const message = `Instance lost: ${why}; a replacement is scheduled.`;
  await unbind(ctx, inst.id, ctx.bindings.get(inst.id));
  ctx.restarts.delete(inst.id);
  await ctx.logs.system(inst, message);
  const stopping = await markInstance(ctx, inst, 'STOPPING', 'instance_lost', message);
  await markInstance(ctx, stopping, 'STOPPED', 'instance_lost', message, { terminated_at: ctx.clock.now().toISOString() });
  ctx.routesDirty = true;
}

async function failInstance(ctx: ControlContext, inst: Instance, reason: string, message: string): Promise<void> {
  // A standby that cannot start is stopped, not left in ERROR: it was not one of the region's instances.
  if (isStandby(ctx, inst.id)) return failStandby(ctx, inst, message);
  await unbind(ctx, inst.id, ctx.bindings.get(inst.id));
  ctx.restarts.delete(inst.id);
  await ctx.logs.system(inst, message);
  await instanceMarks.error(ctx, inst, reason, message);
  ctx.routesDirty = true;
}

/** Drops what Pier holds for a workload and removes it from the runtime. */
async function unbind(ctx: ControlContext, instanceId: string, handle: InstanceHandle | undefined): Promise<void> {
  ctx.bindings.delete(instanceId);
  ctx.health.forget(instanceId);
  await ctx.logs.stop(instanceId);
  if (handle) await ctx.runtime.remove(handle.runtimeId);
}

/** Why the workload crashed, picked from the last lines it printed (bounded read of its whole output). */
async function lastLogLine(ctx: ControlContext, runtimeId: string): Promise<string> {
  // The reason is picked from the tail: a crash's error sits above its frames and banners (crash-reason.ts).
  const tail: OutputLine[] = [];
  let n = 0;
  try {
    for await (const l of ctx.runtime.logs(runtimeId, { follow: false })) {
      tail.push(l);
      if (tail.length > CRASH_TAIL_LINES) tail.shift();
      if (++n > 100_000) break;
    }
  } catch (err) {
    ctx.onError(err, `reading the last log lines of ${runtimeId}`);
  }
  return crashReason(tail);
}


function errMessage(err: unknown): string { return err instanceof Error ? err.message : String(err); }

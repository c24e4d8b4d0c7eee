// The autoscaling step of a pass (runs before the deployment reconciler). For each active deployment's region whose
// rule can change its count (min < max, or min 0) and that no manual scaling overrides, it samples the edge's
// per-instance counters (and runtime stats when a CPU or memory target asks), asks the pure decider
// (src/autoscale) for a count, and records every change as a service event with its reason. The deployment
// reconciler reads the count through scaledCount().
// Scale-to-zero: after the idle delay the region's HEALTHY replica goes SLEEPING (its workload stops a moment later,
// once the edge has stopped routing to it) and the others stop; the deployment rolls up to SLEEPING and the edge
// holds requests. wake(appId) (the edge's onWake) brings the region back to max(min, 1) on the next pass. A runtime
// with `resume` (Docker) keeps a deep sleeper's stopped workload, and the wake-up starts that one again at once.
import { instanceResources } from '../domain/catalog.ts';
import { instanceMessage } from '../domain/messages.ts';
import { desiredInstances } from '../domain/regional.ts';
import type { Deployment, Instance, RegionalDeployment, Service } from '../domain/types.ts';
import {
  decide, isAutoscaled, nextSleepInMs, policyOf, quantilesOf, sampleRegion, sleepStep,
  type Counters, type MetricSample, type ScalingPolicy, type SleepMode, type Usage,
} from '../autoscale/index.ts';
import type { EdgeMetrics } from '../edge/types.ts';
import type { InstanceHandle } from '../runtime/contract.ts';
import type { ControlContext } from './context.ts';
import { markDeployment, markInstance } from './marks.ts';
import { requestStop } from './instance-rows.ts';
import type { RegionMemory } from './autoscale-memory.ts';
import { hasVolumes } from './reconcile-volumes.ts';
import { canFreeze, dropStandbys, keepStandbys, promoteStandbys, THAWED_FIRST_CHECK_MS } from './standby.ts';
export { requestSample, requestWake, type MetricsSource } from './autoscale-memory.ts';

/** How long a sleeping replica keeps its workload after the edge stopped routing to it (routes update async). */
const SLEEP_STOP_DELAY_MS = 300;
/** Pass period while an autoscaled row waits for its workload (health probes ask for their own passes: health.ts). */
const STARTING_PASS_MS = 25;
/** Samples the edge's reports ask for are at least this far apart (ms). */
const REPORTED_SAMPLE_GAP_MS = 25;
const RUNNING_DEPLOYMENT = ['ALLOCATING', 'STARTING', 'HEALTHY', 'DEGRADED', 'UNHEALTHY', 'SLEEPING'];
const SERVING_INSTANCE = ['ALLOCATING', 'STARTING', 'HEALTHY', 'UNHEALTHY'];

/** The runtime's `resume` (deep sleep keeps the stopped workload), or undefined where it has none. */
function resumer(ctx: ControlContext): ((h: InstanceHandle) => Promise<InstanceHandle>) | undefined {
  return ctx.runtime.resume?.bind(ctx.runtime);
}

/**
 * The count the deployment reconciler keeps in a region (when no manual scaling applies): the autoscaler's, else
 * the definition's min, but at least one for a deployment that has not served yet (min 0 sleeps only once idle).
 */
export function scaledCount(ctx: ControlContext, svc: Service, d: Deployment, r: RegionalDeployment, want: { min: number; max: number }): number {
  const known = ctx.autoscale.regions.get(r.id);
  if (known) return known.desired;
  if (d.id === svc.active_deployment_id) return r.status === 'SLEEPING' ? 0 : Math.max(want.min, 1);
  // A rollout starts as many instances as the active deployment runs in the region (within the new rule's range).
  let carried = 0;
  for (const m of ctx.autoscale.regions.values()) if (m.key === `${svc.id} ${r.region}`) carried = m.desired;
  return Math.min(want.max, Math.max(want.min, 1, carried));
}

/** One autoscaling step over every active deployment; its failures are reported, never stop the pass. */
export async function reconcileScaling(ctx: ControlContext): Promise<void> {
  try {
    await scaleAll(ctx);
  } catch (err) {
    ctx.onError(err, 'autoscaling');
  }
}

async function scaleAll(ctx: ControlContext): Promise<void> {
  const mem = ctx.autoscale;
  const nowMs = ctx.clock.now().getTime();
  const metrics = mem.metrics?.();
  // On the tick, or sooner when the edge reported a rise (its sample then covers only the time since the last one,
  // and the decider weighs it so), but not twice within REPORTED_SAMPLE_GAP_MS.
  const sinceSample = mem.lastSampleMs === undefined ? Infinity : nowMs - mem.lastSampleMs;
  const asked = mem.sampleAsked === true;
  const sampling = sinceSample >= mem.config.tickMs * 0.8 || (asked && sinceSample >= REPORTED_SAMPLE_GAP_MS);
  // This sample answers the reports so far (or none can be taken: no counters, the edge stopped); a report that
  // arrives during the pass asks again.
  if (sampling || !metrics) mem.sampleAsked = false;
  const wakes = new Map(mem.wakeRequests);
  // Every kept workload of a waking app starts now, in parallel (the wake-up itself began most: thawEarly).
  for (const app of wakes.keys()) resumeEarly(ctx, app);
  const seen = new Set<string>();
  let autoscaled = false;
  for (const svc of await ctx.state.listServices()) {
    if (!svc.active_deployment_id || !['HEALTHY', 'DEGRADED', 'UNHEALTHY', 'STARTING', 'RESUMING'].includes(svc.status)) continue;
    try {
      const d = await ctx.state.getDeployment(svc.active_deployment_id);
      if (!d || !RUNNING_DEPLOYMENT.includes(d.status)) continue;
      // Most services run a fixed count: skip their rows unless one sleeps (a manual override set while asleep).
      if (d.status !== 'SLEEPING' && !(d.definition.scalings ?? []).some((x) => x.min < x.max || x.min === 0)) continue;
      const manual = await ctx.state.getManualScaling(svc.id);
      let deployment = d;
      for (const r of await ctx.state.listRegionalDeployments(d.id)) {
        const policy = policyOf(r.definition.scaling);
        const step = { ctx, svc, r, policy, nowMs, metrics, sampling };
        const fixed = desiredInstances(d.definition, r.region, manual).manual;
        if (fixed !== undefined || !isAutoscaled(policy)) {
          // Manual scaling set while asleep applies on wake (as Koyeb's deep sleep); a manual 0 stays off.
          if (fixed !== 0 && wakes.has(svc.app_id) && deployment.status === 'SLEEPING') deployment = await wakeRegion(step, undefined, deployment, await ctx.state.listInstancesOfRegional(r.id));
          continue;
        }
        seen.add(r.id);
        autoscaled = true;
        deployment = await reconcileRegion(step, deployment, wakes.has(svc.app_id));
      }
    } catch (err) {
      ctx.onError(err, `autoscaling service ${svc.id}`);
    }
  }
  // Forget regions that are no longer autoscaled (manual override, new deployment, service gone), and stop their
  // standbys (a retired deployment's go with it anyway).
  for (const id of [...mem.regions.keys()]) if (!seen.has(id)) mem.regions.delete(id);
  for (const sb of [...mem.standby.values()]) {
    if (!seen.has(sb.regionalId)) await dropStandbys(ctx, sb.regionalId, 'the region is no longer autoscaled').catch((err) => ctx.onError(err, 'stopping standbys'));
  }
  for (const [app, at] of wakes) if (mem.wakeRequests.get(app) === at) mem.wakeRequests.delete(app);
  // A thawed instance whose workload is gone (its service deleted or redeployed before its region woke) serves no more.
  for (const id of mem.thawed) if (!ctx.bindings.has(id)) mem.thawed.delete(id);
  // A kept workload that went with its instance (retired, replaced) is nobody's to resume.
  for (const id of mem.kept.keys()) if (!ctx.bindings.has(id)) mem.kept.delete(id);
  for (const id of mem.resuming.keys()) if (!ctx.bindings.has(id)) mem.resuming.delete(id);
  if (sampling && metrics) {
    mem.lastSampleMs = nowMs;
    mem.previous = new Map(Object.entries(metrics.instances));
  } else if (asked && metrics) {
    soon(ctx, Math.max(1, REPORTED_SAMPLE_GAP_MS - sinceSample));
  }
  if (autoscaled) soon(ctx, mem.config.tickMs);
}

interface Step {
  ctx: ControlContext;
  svc: Service;
  r: RegionalDeployment;
  policy: ScalingPolicy;
  nowMs: number;
  metrics: EdgeMetrics | undefined;
  sampling: boolean;
}

async function reconcileRegion(s: Step, d: Deployment, wake: boolean): Promise<Deployment> {
  const { ctx, r, policy, nowMs } = s;
  const mem = ctx.autoscale;
  const rows = await ctx.state.listInstancesOfRegional(r.id);
  let rm = mem.regions.get(r.id);
  if (!rm) {
    const running = rows.filter((i) => SERVING_INSTANCE.includes(i.status)).length;
    const desired = r.status === 'SLEEPING' ? 0 : Math.min(policy.max, Math.max(policy.min, 1, running));
    // Found asleep by a new control-plane life: recover() removed its workloads, so it sleeps deeply.
    rm = {
      key: `${s.svc.id} ${r.region}`, desired, samples: [], decider: { recent: [] }, awakeSinceMs: nowMs,
      ...(desired === 0 ? { asleepSinceMs: nowMs - SLEEP_STOP_DELAY_MS, sleepMode: 'deep' as const, idleSinceMs: nowMs } : {}),
    };
    mem.regions.set(r.id, rm);
  }
  rm.max = policy.max;
  if (rm.desired === 0) {
    if (wake) return wakeRegion(s, rm, d, rows);
    await deepenSleep(s, rm, rows);
    await stopSleepingWorkloads(s, rm, rows, !hasVolumes(d));
    return d;
  }
  await watchStarting(s, rows);
  const serving = rows.filter((i) => i.status === 'HEALTHY');
  const activity = lastActivity(s, rm, rows);
  // The first read of this life only sets the baseline: the counters hold everything since the edge started.
  if (s.sampling && s.metrics && mem.lastSampleMs !== undefined) {
    rm.samples.push(sampleRegion({
      atMs: nowMs, elapsedMs: nowMs - mem.lastSampleMs,
      instances: serving.map((i) => i.id), previous: mem.previous, current: s.metrics.instances,
      usage: await usageOf(s, serving), quantiles: quantilesOf(policy),
    }));
    rm.samples = rm.samples.filter((x) => x.atMs > nowMs - mem.config.stableWindowMs);
  }
  // Without the edge's counters traffic cannot be seen, so nothing is ever idle.
  // A frozen workload keeps its volumes mounted: a rollout or restore meanwhile would meet a writer that thaws later
  // (its SIGTERM handler flushing into a volume another instance now mounts). A service with volumes sleeps deeply.
  const volumes = hasVolumes(d);
  const idle = s.metrics ? sleepStep(policy, activity, nowMs, canFreeze(ctx) && !volumes,
    volumes ? 'this service mounts volumes, which a frozen workload would keep mounted' : undefined) : { reason: '' };
  if (idle.mode) return sleepRegion(s, rm, rows, `${rm.desired} -> 0: ${idle.reason}`, d, idle.mode, activity);
  const decision = decide({ nowMs, samples: rm.samples, current: rm.desired, policy, config: mem.config, state: rm.decider });
  rm.decider = decision.state;
  if (decision.desired !== rm.desired) {
    // A scale-up thaws the region's standbys first (they serve as this step ends); the rest start as new instances.
    const thawed = decision.desired > rm.desired ? await promoteStandbys(ctx, r.id, rows, decision.desired - rm.desired, nowMs) : 0;
    await scalingEvent(s, rm.desired, decision.desired, thawed > 0 ? `${decision.reason}; ${thawed} standby instance${thawed === 1 ? '' : 's'} thawed` : decision.reason,
      { panic: decision.panic, ...(thawed > 0 ? { standby_thawed: thawed } : {}) });
    rm.desired = decision.desired;
    rm.settledSinceMs = nowMs;
    if (thawed > 0) return d;
  }
  await keepStandbys({
    ctx, svc: s.svc, d, r, rm, rows, max: policy.max, nowMs, panicking: decision.panic === true,
    allowed: mem.config.standby > 0 && ctx.runtime.keepsStandbys === true && canFreeze(ctx) && !volumes,
  });
  return d;
}

/**
 * The last moment the region saw traffic: the edge's last request to one of its instances, or the TCP proxy's last
 * connection opened or closed to one; now if a request is in flight or a proxied connection is open.
 */
function lastActivity(s: Step, rm: RegionMemory, rows: Instance[]): number {
  let last = rm.awakeSinceMs;
  for (const i of rows) {
    const tcp = s.metrics?.tcp?.[i.id];
    if (tcp) {
      if (tcp.open > 0) return s.nowMs;
      if (tcp.lastAt > last) last = tcp.lastAt;
    }
    const t = s.metrics?.instances[i.id];
    if (!t) continue;
    if (t.inFlight > 0) return s.nowMs;
    const at = t.lastRequestAt ? Date.parse(t.lastRequestAt) : 0;
    if (at > last) last = at;
  }
  // Requests held for the app mean someone is waiting: never idle then.
  if ((s.metrics?.apps[s.svc.app_id]?.held ?? 0) > 0) return s.nowMs;
  return last;
}

/** Runtime stats of the serving instances, as percentages of their limits; only read when a target needs them. */
async function usageOf(s: Step, serving: Instance[]): Promise<Record<string, Usage> | undefined> {
  if (!s.policy.targets.some((t) => t.metric === 'average_cpu' || t.metric === 'average_mem')) return undefined;
  const out: Record<string, Usage> = {};
  await Promise.all(serving.map(async (i) => {
    const h = s.ctx.bindings.get(i.id);
    if (!h) return;
    try {
      const st = await s.ctx.runtime.stats(h.runtimeId);
      const cpus = instanceResources(i.type)?.cpu ?? 1;
      out[i.id] = { cpu: st.cpuPercent / Math.max(cpus, 0.01), mem: st.memoryLimitBytes > 0 ? (st.memoryBytes / st.memoryLimitBytes) * 100 : 0 };
    } catch (err) {
      s.ctx.onError(err, `reading stats of instance ${i.id}`);
    }
  }));
  return out;
}

/** What a sleeping instance's messages say, per mode (light: frozen, memory held; deep: stopped). */
function sleepMessage(mode: SleepMode, seconds: number): string {
  return mode === 'light'
    ? `Instance is sleeping (light sleep): no request for ${seconds} s, its workload is frozen (memory kept, no CPU). The next request thaws it.`
    : `Instance is sleeping (deep sleep): no request for ${seconds} s, its workload is stopped. The next request starts it again.`;
}

/** Scale to zero: the lowest HEALTHY replica sleeps (its workload freezes or stops a moment later), the others stop. */
async function sleepRegion(s: Step, rm: RegionMemory, rows: Instance[], reason: string, d: Deployment, mode: SleepMode, idleSinceMs: number): Promise<Deployment> {
  const { ctx } = s;
  await scalingEvent(s, rm.desired, 0, reason, { sleep: true, mode });
  rm.desired = 0;
  rm.samples = [];
  rm.decider = { recent: [] };
  rm.asleepSinceMs = s.nowMs;
  rm.sleepMode = mode;
  rm.idleSinceMs = idleSinceMs;
  rm.appId = s.svc.app_id;
  // Standbys stop (a sleeping region scales up by waking, which thaws its own sleeper).
  const standbys = new Set(rows.filter((i) => ctx.autoscale.standby.get(i.id)?.regionalId === s.r.id).map((i) => i.id));
  await dropStandbys(ctx, s.r.id, 'the service scaled to zero', rows);
  const live = rows.filter((i) => SERVING_INSTANCE.includes(i.status) && !standbys.has(i.id)).sort((a, b) => a.replica_index - b.replica_index);
  const sleeper = live.find((i) => i.status === 'HEALTHY');
  const seconds = Math.round((s.nowMs - idleSinceMs) / 1000);
  for (const i of live) {
    if (i === sleeper) {
      await markInstance(ctx, i, 'SLEEPING', mode === 'light' ? 'instance_light_sleep' : 'instance_sleeping', sleepMessage(mode, seconds));
    } else {
      await requestStop(ctx, i, 'scaled to zero');
    }
  }
  ctx.routesDirty = true;
  soon(ctx, SLEEP_STOP_DELAY_MS);
  return d;
}

/** A light sleep whose deep delay came: deep sleep from now on (its frozen workloads stop below). */
async function deepenSleep(s: Step, rm: RegionMemory, rows: Instance[]): Promise<void> {
  const { ctx, policy, nowMs } = s;
  if (rm.sleepMode !== 'light' || rm.idleSinceMs === undefined) return;
  // A request waits (it came after this pass read the wake-ups): the next pass wakes the region, maybe already thawed.
  if (ctx.autoscale.wakeRequests.has(s.svc.app_id)) return;
  const step = sleepStep(policy, rm.idleSinceMs, nowMs, true);
  if (step.mode !== 'deep') {
    const due = nextSleepInMs(policy, rm.idleSinceMs, nowMs, 'light');
    if (due !== undefined) soon(ctx, Math.max(due, SLEEP_STOP_DELAY_MS));
    return;
  }
  await scalingEvent(s, 0, 0, `0 -> 0: ${step.reason}`, { sleep: true, mode: 'deep' });
  rm.sleepMode = 'deep';
  const seconds = Math.round((nowMs - rm.idleSinceMs) / 1000);
  for (const i of rows) if (i.status === 'SLEEPING') await markInstance(ctx, i, 'SLEEPING', 'instance_deep_sleep', sleepMessage('deep', seconds));
}

/**
 * Once the edge no longer routes to them, the workloads of SLEEPING replicas are frozen (light sleep: kept, thawed
 * by the next request) or stopped (deep sleep, or a freeze that failed): kept stopped where the runtime can start
 * them again (`resume`: memory freed, the wake skips the create) and `keepable` (no volumes: a kept workload must
 * not hold a volume another instance may mount), else removed.
 */
async function stopSleepingWorkloads(s: Step, rm: RegionMemory, rows: Instance[], keepable: boolean): Promise<void> {
  const { ctx } = s;
  for (const i of rows) {
    const h = ctx.bindings.get(i.id);
    if (i.status !== 'SLEEPING' || !h) continue;
    if (rm.sleepMode === 'light' && rm.frozen?.has(i.id)) continue; // frozen already
    if (ctx.autoscale.kept.has(i.id)) continue; // stopped and kept already
    if (s.nowMs - (rm.asleepSinceMs ?? 0) < SLEEP_STOP_DELAY_MS) { soon(ctx, SLEEP_STOP_DELAY_MS); continue; }
    if (!rm.frozen?.has(i.id) && ctx.drain) {
      try { await ctx.drain(i.id, ctx.intervals.drainTimeoutMs); } catch (err) { ctx.onError(err, `draining instance ${i.id}`); }
    }
    // A wake-up may have claimed the workload while draining.
    if (ctx.bindings.get(i.id) !== h) continue;
    if (rm.sleepMode === 'light' && canFreeze(ctx)) {
      try {
        await ctx.runtime.freeze!(h.runtimeId);
        (rm.frozen ??= new Set()).add(i.id);
        await ctx.logs.system(i, 'Instance is in light sleep: its workload is frozen (memory kept, no CPU). The next request thaws it.');
        continue;
      } catch (err) {
        ctx.onError(err, `freezing instance ${i.id} (it sleeps deeply instead)`);
      }
    }
    rm.frozen?.delete(i.id);
    rm.thawing?.delete(i.id);
    ctx.autoscale.thawed.delete(i.id);
    ctx.health.forget(i.id);
    await ctx.logs.stop(i.id);
    if (keepable && resumer(ctx)) {
      // The binding stays (a retirement stops and removes it as any workload's); the wake-up starts it again.
      await ctx.runtime.stop(h.runtimeId, ctx.intervals.stopGraceMs);
      ctx.autoscale.kept.set(i.id, i.app_id);
      await ctx.logs.system(i, 'Instance is in deep sleep: its workload stopped (memory freed, the stopped workload kept). The next request starts it again.');
      continue;
    }
    ctx.bindings.delete(i.id);
    await ctx.runtime.stop(h.runtimeId, ctx.intervals.stopGraceMs);
    await ctx.runtime.remove(h.runtimeId);
    await ctx.logs.system(i, 'Instance is in deep sleep: its workload stopped. The next request starts it again.');
  }
}

/**
 * Deep-sleep wake of a kept workload: started again, its (maybe new) endpoints bound, its checks from the start of
 * their ramp, its logs followed from now on. A failure answers why, the workload removed (a new instance replaces
 * this one).
 */
async function resumeKept(ctx: ControlContext, i: Instance, h: InstanceHandle, nowMs: number): Promise<{ ok: true } | { ok: false; why: string }> {
  const mem = ctx.autoscale;
  const early = mem.resuming.get(i.id);
  mem.kept.delete(i.id);
  mem.resuming.delete(i.id);
  try {
    const handle = await (early ?? resumer(ctx)!(h));
    ctx.bindings.set(i.id, handle);
    ctx.health.reset(i.id, nowMs);
    const secrets = Object.values(await ctx.state.secretValues(i.organization_id));
    ctx.logs.follow(i, handle, secrets, new Date(nowMs));
    return { ok: true };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    ctx.onError(err, `starting the kept workload of instance ${i.id} (a new instance replaces it)`);
    ctx.bindings.delete(i.id);
    ctx.health.forget(i.id);
    await ctx.runtime.remove(h.runtimeId).catch(() => undefined);
    return { ok: false, why };
  }
}

/**
 * Starts the kept workloads of a deep-sleeping app at once, in parallel, without waiting for a pass: the pass that
 * wakes their region awaits these starts (resumeKept) and handles a failure. Called by the wake-up (thawEarly).
 */
function resumeEarly(ctx: ControlContext, appId: string): void {
  const resume = resumer(ctx);
  if (!resume) return;
  const mem = ctx.autoscale;
  for (const [id, app] of mem.kept) {
    const h = ctx.bindings.get(id);
    if (app !== appId || !h || mem.resuming.has(id)) continue;
    const p = resume(h);
    p.catch(() => undefined); // the failure is handled by the pass (resumeKept), which awaits the same promise
    mem.resuming.set(id, p);
  }
}

/**
 * Wake-up: back to max(min, 1); a frozen sleeper thaws, a kept stopped one starts again, a sleeper without workload is
 * replaced by a new instance.
 */
async function wakeRegion(s: Step, rm: RegionMemory | undefined, d: Deployment, rows: Instance[]): Promise<Deployment> {
  const { ctx, policy, nowMs } = s;
  const mode = rm?.sleepMode;
  if (rm) {
    const to = Math.min(policy.max, Math.max(policy.min, 1));
    await scalingEvent(s, 0, to, `0 -> ${to}: a request arrived while the service slept${mode === 'light' ? ' (light sleep: thawing its workload)' : ''}`, { wake: true, ...(mode ? { mode } : {}) });
    rm.desired = to;
    rm.awakeSinceMs = nowMs;
    rm.asleepSinceMs = undefined;
    rm.sleepMode = undefined;
    rm.idleSinceMs = undefined;
  }
  for (const i of rows.filter((x) => x.status === 'SLEEPING')) {
    const h = ctx.bindings.get(i.id);
    let thawed = false;
    if (h && rm?.frozen?.delete(i.id)) {
      // Light sleep: thaw before anything routes to it.
      try {
        const early = rm.thawing?.get(i.id);
        rm.thawing?.delete(i.id);
        await (early ?? ctx.runtime.thaw!(h.runtimeId));
        thawed = true;
      } catch (err) {
        ctx.onError(err, `thawing instance ${i.id} (a new instance replaces it)`);
        ctx.bindings.delete(i.id);
        ctx.health.forget(i.id);
        await ctx.logs.stop(i.id);
        await ctx.runtime.remove(h.runtimeId).catch(() => undefined);
      }
    }
    if (thawed) {
      // The very process that passed its checks before it froze: it serves at once (the edge routes to it as this
      // step ends, or already does: thawEarly), and its checks resume on their interval.
      ctx.health.passing(i.id, nowMs, THAWED_FIRST_CHECK_MS);
      const waking = await markInstance(ctx, i, 'STARTING', 'instance_waking', 'Instance thawed from light sleep: a request arrived.');
      await markInstance(ctx, waking, 'HEALTHY', 'instance_healthy', instanceMessage.healthy());
      ctx.autoscale.thawed.delete(i.id);
      continue;
    }
    // Not thawed here: whatever thawEarly routed is the next tables' no more (STARTING waits for its checks).
    ctx.autoscale.thawed.delete(i.id);
    let failedResume: string | undefined;
    if (h && ctx.autoscale.kept.has(i.id)) {
      // Deep sleep kept the stopped workload: start that one again (no create); its checks decide HEALTHY.
      const r = await resumeKept(ctx, i, h, nowMs);
      if (r.ok) {
        await markInstance(ctx, i, 'STARTING', 'instance_waking', 'Instance woke from deep sleep: its stopped workload started again. Waiting for health checks to pass.', { started_at: new Date(nowMs).toISOString() });
        continue;
      }
      failedResume = r.why;
    }
    if (failedResume !== undefined) {
      const message = `Stopped while sleeping: its stopped workload did not start again (${failedResume}); the wake-up started a new instance.`;
      await ctx.logs.system(i, message);
      await markInstance(ctx, i, 'STOPPED', 'instance_woken', message, { terminated_at: new Date(nowMs).toISOString() });
    } else if (ctx.bindings.has(i.id)) {
      ctx.health.reset(i.id, nowMs);
      await markInstance(ctx, i, 'STARTING', 'instance_waking', instanceMessage.starting());
    } else {
      await markInstance(ctx, i, 'STOPPED', 'instance_woken', 'Stopped while sleeping; the wake-up started a new instance.', { terminated_at: new Date(nowMs).toISOString() });
    }
  }
  ctx.routesDirty = true;
  soon(ctx, STARTING_PASS_MS);
  if (d.status !== 'SLEEPING') return d;
  return markDeployment(ctx, d, 'STARTING', 'deployment_waking', 'Waking up: a request arrived.');
}

/**
 * Thaws the frozen workloads of a light-sleeping app the moment a request asks to wake it. The process that passed
 * its checks before it froze serves at once: each workload whose thaw succeeds joins `thawed` (routed as HEALTHY,
 * collectRoutes) and `onServing` publishes the routes, so the held requests go to it without waiting for a pass.
 * That pass (wakeRegion) awaits the same thaw, marks the instance HEALTHY and takes it out of `thawed`; a thaw that
 * failed is left to it (the instance is replaced, as in a deep-sleep wake). Only workloads whose freeze finished are
 * touched (a freeze still running is thawed by that pass instead).
 */
export function thawEarly(ctx: ControlContext, appId: string, onServing?: () => void): void {
  // Deep sleep's kept workloads start now too (their checks, in the pass, decide when they serve).
  resumeEarly(ctx, appId);
  const thaw = ctx.runtime.thaw?.bind(ctx.runtime);
  if (!thaw) return;
  const mem = ctx.autoscale;
  for (const rm of mem.regions.values()) {
    if (rm.appId !== appId || rm.desired !== 0 || rm.sleepMode !== 'light' || !rm.frozen?.size) continue;
    for (const id of rm.frozen) {
      const h = ctx.bindings.get(id);
      if (!h || rm.thawing?.has(id)) continue;
      const p = thaw(h.runtimeId);
      (rm.thawing ??= new Map()).set(id, p);
      p.then(() => {
        // Still this wake's to serve: no pass claimed the thaw meanwhile (wakeRegion) or stopped the workload.
        if (rm.thawing?.get(id) !== p || ctx.bindings.get(id) !== h) return;
        mem.thawed.add(id);
        onServing?.();
      }, () => undefined); // the failure is handled by wakeRegion, which awaits the same promise
    }
  }
}

/**
 * A row waiting for its workload gets the next pass soon; a starting instance needs nothing here: the health
 * tracker probes it on its startup ramp (10, 20, 40 ms...) and asks for the passes it needs (health.ts).
 */
async function watchStarting(s: Step, rows: Instance[]): Promise<void> {
  for (const i of rows) if (i.status === 'ALLOCATING') soon(s.ctx, STARTING_PASS_MS);
}

async function scalingEvent(s: Step, from: number, to: number, message: string, extra: Record<string, unknown>): Promise<void> {
  await s.ctx.state.appendEvent({
    kind: 'service', resourceId: s.svc.id, organizationId: s.svc.organization_id, type: 'autoscaled', message,
    metadata: { deployment_id: s.r.deployment_id, regional_deployment_id: s.r.id, region: s.r.region, from, to, ...extra },
    when: new Date(s.nowMs).toISOString(),
  });
}

/** Asks the controller for the next pass within `ms` (the earliest ask of a pass wins). */
function soon(ctx: ControlContext, ms: number): void {
  ctx.nextPassMs = Math.min(ctx.nextPassMs ?? Infinity, ms);
}

// Runs the reconcilers: recover() once at start (adopt running workloads, remove orphans), then passes on a
// periodic resync plus kick() after API writes. Passes never overlap; a pass that changed something is followed
// by another at once, so a deployment walks its steps without waiting for the next resync.
import type { AppRoutes } from '../edge/types.ts';
import type { Endpoint, Runtime } from '../runtime/contract.ts';
import { createContext, type ControlContext, type ControlIntervals } from './context.ts';
import type { Prober } from './health.ts';
import { markInstance } from './marks.ts';
import type { Builder, Clock, ControlReads, ControlState, ControlWrites } from './ports.ts';
import { systemClock } from './ports.ts';
import { reconcileDeployments } from './reconcile-deployments.ts';
import { reconcileInstances } from './reconcile-instances.ts';
import { reconcileScaling, requestSample, requestWake, thawEarly, type MetricsSource } from './reconcile-scaling.ts';
import type { AutoscaleConfig } from '../autoscale/config.ts';
import { collectRoutes } from './routes.ts';
import { breathe } from './breathe.ts';
import { VolumeReconciler, type VolumeState, type VolumeUsage } from './reconcile-volumes.ts';
import type { VolumeDriver } from '../runtime/volumes/contract.ts';

/** What the composition root wires into the controller. */
export interface ControllerOptions {
  state: ControlState;
  runtime: Runtime;
  clock?: Clock;
  intervals?: ControlIntervals;
  /** Called before an instance is stopped, so the edge can finish its in-flight requests. */
  drain?: (instanceId: string, timeoutMs: number) => Promise<void>;
  /** Called after a pass that changed what the edge should route (then call `routes()`). */
  onRoutesChanged?: () => void;
  /** Public domain for `<app>-<org>.<domain>` hosts and KOYEB_PUBLIC_DOMAIN (default `localhost`). */
  publicDomain?: string;
  prober?: Prober;
  builder?: Builder;
  allowPrivileged?: boolean;
  /** vCPUs a small instance may use while it starts, until its first passing health check (0 or absent: no boost). */
  startupCpuBoost?: number;
  onError?: (err: unknown, context: string) => void;
  /** The edge's request counters: the autoscaler's input. */
  metrics?: MetricsSource;
  /** Autoscaler tuning (windows, sampling period); KPA defaults otherwise. */
  autoscale?: Partial<AutoscaleConfig>;
  /** Persistent volumes (#20): the host's driver and the rows it reconciles. */
  volumes?: { driver: VolumeDriver; state: VolumeState; onUsage?: (usage: VolumeUsage[]) => void };
}

/**
 * A runtime that can say when what it runs may have changed behind Pier's back (the swarm driver: a node declared
 * down). Optional: the controller only runs a pass sooner; the pass reads the state as always, and the periodic resync
 * stays the safety net. `watch` returns the function that stops watching.
 */
export interface WatchableRuntime { watch?(onChange: () => void): () => void }

/** The running control loops. */
export interface Controller {
  /** Recovers, then runs passes until stop(). */
  start(): Promise<void>;
  /** Stops the loops and log followers; instances keep running (a restarted control plane adopts them). */
  stop(): Promise<void>;
  /** Runs one full pass (serialised with any running pass). */
  reconcileOnce(): Promise<void>;
  /** Asks for a pass as soon as possible (after an API write). */
  kick(): void;
  /** Re-attaches to workloads the runtime still runs; removes the ones no live row owns. */
  recover(): Promise<void>;
  /** The route table for the edge, from the current state and the known endpoints. */
  routes(): Promise<AppRoutes[]>;
  /** Where an instance's ports are published, if it runs. */
  endpoints(instanceId: string): Endpoint[] | undefined;
  /**
   * A request waits for a sleeping app (the edge's onWake): its frozen workloads thaw and are routed at once, the
   * next pass wakes its sleeping services (marks the thawed instances HEALTHY, starts the others).
   */
  wake(appId: string): void;
  /**
   * The edge saw a service's load pass what its serving instances take (EdgeOptions.onLoad): the next pass, at once,
   * samples the counters instead of waiting for the autoscaler's tick, so a rise is decided on when it comes.
   */
  load(serviceId: string): void;
}

/**
 * Which writes count as progress (another pass follows at once). Every write of the port is listed, and the type
 * makes a new one a compile error until it is listed here. Log lines are not progress: workloads print all the time.
 */
const PROGRESS: Record<keyof ControlWrites, boolean> = {
  createInstance: true, updateInstance: true, updateRegionalDeployment: true, updateDeployment: true,
  updateService: true, updateApp: true, appendEvent: true, appendLog: false, atomically: false,
};

/** Every read of the port, listed so the counting wrapper forwards exactly the port (the type checks the list). */
const READS: Record<keyof ControlReads, true> = {
  getOrganization: true, listApps: true, getApp: true, listServices: true, getService: true, getDeployment: true,
  listOpenDeployments: true, getRegionalDeployment: true, listRegionalDeployments: true, listInstancesOfRegional: true,
  listLiveInstances: true, getInstance: true, getManualScaling: true, secretValues: true, registrySecret: true,
};

/**
 * The state with each progress-making write counted through `count` (called as the write starts). While `breatheIf()`
 * holds, each read first lets the event loop turn when the pass has held it past a small budget (breathe.ts).
 */
export function countingState(state: ControlState, count: () => void, breatheIf?: () => boolean): ControlState {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(READS) as (keyof ControlReads)[]) {
    const read = state[name] as ((...args: unknown[]) => unknown) | undefined;
    if (!read) continue;
    out[name] = breatheIf ? async (...args: unknown[]) => { if (breatheIf()) await breathe(); return read.apply(state, args); } : read.bind(state);
  }
  for (const name of Object.keys(PROGRESS) as (keyof ControlWrites)[]) {
    const write = state[name] as ((...args: unknown[]) => Promise<void>) | undefined;
    if (!write) continue; // an optional write the state does not offer (atomically)
    out[name] = PROGRESS[name] ? (...args: unknown[]) => { count(); return write.apply(state, args); } : write.bind(state);
  }
  return out as unknown as ControlState;
}

/** The volume port with its writes counted as progress, like the control state's. */
function countingVolumeState(state: VolumeState, count: () => void): VolumeState {
  return {
    listVolumes: () => state.listVolumes(), getVolume: (id) => state.getVolume(id), hostBytes: (id) => state.hostBytes(id),
    listSnapshots: () => state.listSnapshots(),
    // A usage-only patch (no status, no messages) is a measurement: not progress.
    updateVolume: (id, p) => { if (p.status !== undefined || p.messages !== undefined) count(); return state.updateVolume(id, p); },
    setHostBytes: (id, b) => { count(); return state.setHostBytes(id, b); },
    updateSnapshot: (id, p) => { count(); return state.updateSnapshot(id, p); },
    appendVolumeEvent: (e) => { count(); return state.appendVolumeEvent(e); },
    transitionVolume: (id, from, p, e) => { count(); return state.transitionVolume(id, from, p, e); },
    transitionSnapshot: (id, from, p, e) => { count(); return state.transitionSnapshot(id, from, p, e); },
  };
}

/**
 * How long a loop pass waits for its instances' steps before it moves on (they go on alone; reconcile-instances.ts).
 * A pass takes a few ms, a Docker start 100-250 ms; a probe may wait seconds for its timeout and a stop its grace.
 */
export const PASS_STEP_BUDGET_MS = 250;

/** Builds a controller; nothing runs until start() or reconcileOnce(). */
export function createController(o: ControllerOptions): Controller {
  let writes = 0;
  // Set by a wake-up that routed a thawed instance, until the passes it kicked are done: the edge is answering that
  // request on this event loop, so the passes breathe (over SQLite they would hold the loop from end to end). Only
  // then: an API reader in this process otherwise keeps seeing a burst of passes' writes all at once (an instance
  // HEALTHY together with its deployment ACTIVE and its routes published), as tests and clients expect today.
  let breathing = false;
  // Counts state writes so the loop knows whether a pass made progress and another should follow at once.
  const state = countingState(o.state, () => { writes++; }, () => breathing);
  const ctx: ControlContext = createContext({ ...o, state, clock: o.clock ?? systemClock });
  // A starting instance's output (a function's wrapper prints that it serves) brings its next probe forward: pass now.
  ctx.logs.onOutput = (id) => { if (ctx.health.probeSoon(id, ctx.clock.now().getTime())) kick(); };
  // A starting instance's port that refused its probe now accepts connections: its probe is due, pass now.
  ctx.health.onListening = () => kick();
  if (o.volumes) ctx.volumes = new VolumeReconciler(o.volumes.driver, countingVolumeState(o.volumes.state, () => { writes++; }), ctx.clock, ctx.onError, o.volumes.onUsage);
  const publicDomain = o.publicDomain ?? 'localhost';
  let chain: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let running = false;
  let kicked = false;
  let looping = false;

  let recovered = false;
  let unwatch: (() => void) | undefined;

  async function pass(budgetMs?: number): Promise<void> {
    // Without the bindings recover() rebuilds, every running instance would look lost: recover first, always.
    if (!recovered) await recover();
    ctx.nextPassMs = undefined;
    await reconcileScaling(ctx);
    // A wake-up (a thawed instance) or a sleep changes the routes now: publish before the rest of the pass.
    publishIfDirty();
    // Volumes first: a volume made in this pass can be mounted by an instance started in the same pass.
    if (ctx.volumes && await ctx.volumes.pass(ctx.state, (id) => ctx.bindings.has(id))) ctx.nextPassMs = Math.min(ctx.nextPassMs ?? Infinity, 250);
    await reconcileDeployments(ctx);
    await reconcileInstances(ctx, { publicDomain, budgetMs });
    publishIfDirty();
  }

  ctx.publishRoutes = () => publishIfDirty();
  ctx.requestPass = () => kick();

  function publishIfDirty(): void {
    if (!ctx.routesDirty) return;
    ctx.routesDirty = false;
    publishNow();
  }

  function publishNow(): void {
    try { o.onRoutesChanged?.(); } catch (err) { ctx.onError(err, 'notifying route changes'); }
  }

  /** One pass; the loop's wait at most `budgetMs` for slow instance steps (reconcile-instances.ts), others for all. */
  function reconcileOnce(budgetMs?: number): Promise<void> {
    const run = () => pass(budgetMs);
    const next = chain.then(run, run);
    chain = next.catch((err) => ctx.onError(err, 'reconcile pass'));
    return next;
  }

  function kick(): void {
    kicked = true;
    if (!looping) schedule(0);
  }

  function schedule(delayMs: number): void {
    if (!running) return;
    clearTimeout(timer);
    timer = setTimeout(loop, delayMs);
  }

  async function loop(): Promise<void> {
    if (!running || looping) return;
    looping = true;
    // Up to 20 back-to-back passes while they make progress (bounded), then back to the resync rhythm.
    for (let i = 0; i < 20 && running; i++) {
      kicked = false;
      const before = writes;
      await reconcileOnce(PASS_STEP_BUDGET_MS).catch(() => {});
      if (writes === before && !kicked) break;
    }
    looping = false;
    breathing = false;
    schedule(Math.min(ctx.intervals.resyncMs, ctx.nextPassMs ?? Infinity));
  }

  async function recover(): Promise<void> {
    recovered = true;
    const handles = await ctx.runtime.recover();
    const live = new Map((await ctx.state.listLiveInstances()).map((i) => [i.id, i]));
    const now = ctx.clock.now();
    for (const h of handles) {
      const id = h.instanceId || h.labels['dev.pier.instance_id'];
      const row = id ? live.get(id) : undefined;
      if (!row || ctx.bindings.has(row.id) || row.status === 'SLEEPING') {
        // An orphan: a workload no live row owns (or a duplicate). Pier created it, so Pier removes it.
        try {
          await ctx.runtime.stop(h.runtimeId, ctx.intervals.stopGraceMs);
          await ctx.runtime.remove(h.runtimeId);
        } catch (err) {
          ctx.onError(err, `removing orphan workload ${h.runtimeId}`);
        }
        continue;
      }
      ctx.bindings.set(row.id, h);
      ctx.health.reset(row.id, now.getTime());
      const secrets = Object.values(await ctx.state.secretValues(row.organization_id));
      ctx.logs.follow(row, h, secrets, now);
      if (row.status === 'ALLOCATING') {
        // The control plane died between starting the workload and recording it: adopt, do not start twice.
        await markInstance(ctx, row, 'STARTING', 'instance_adopted', 'Instance is starting... Waiting for health checks to pass.',
          { started_at: now.toISOString(), allocation_id: h.runtimeId });
      }
    }
    for (const row of live.values()) {
      if (row.status === 'ALLOCATING' && !ctx.bindings.has(row.id)) {
        await ctx.logs.system(row, 'Control plane restarted during start; starting the instance again.');
      }
    }
    ctx.routesDirty = true;
  }

  return {
    async start() {
      if (running) return;
      await reconcileOnce().catch(() => {}); // recovers first
      running = true;
      unwatch = (o.runtime as Runtime & WatchableRuntime).watch?.(kick);
      void loop();
    },
    async stop() {
      running = false;
      unwatch?.();
      unwatch = undefined;
      clearTimeout(timer);
      await chain;
      await Promise.all(ctx.instanceSteps.values());
      await ctx.logs.stopAll();
    },
    reconcileOnce: () => reconcileOnce(),
    kick,
    recover,
    routes: () => collectRoutes(ctx.state, publicDomain, (id) => ctx.bindings.get(id)?.endpoints, ctx.autoscale.thawed, ctx.autoscale.standby),
    endpoints: (id) => ctx.bindings.get(id)?.endpoints,
    load(serviceId) {
      if (!requestSample(ctx.autoscale, serviceId)) return;
      kicked = true;
      if (!looping) schedule(0);
    },
    wake(appId) {
      requestWake(ctx.autoscale, appId, ctx.clock.now().getTime());
      // Light sleep: thaw now and route to the thawed instances at once; the pass marks them HEALTHY after.
      thawEarly(ctx, appId, () => { breathing = true; publishNow(); });
      kicked = true;
      if (!looping) schedule(0);
    },
  };
}

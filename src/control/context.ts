// What every reconciler shares during one control-plane life: the ports, the observed bindings to running
// workloads (rebuilt by recover() after a restart), per-instance restart memory, and the timings.
import type { InstanceHandle, Runtime } from '../runtime/contract.ts';
import { HealthTracker, type HealthTiming, type Prober } from './health.ts';
import { LogCollector } from './logs.ts';
import type { MarkContext } from './marks.ts';
import type { Builder, BuildResult, Clock, ControlState } from './ports.ts';
import type { AutoscaleConfig } from '../autoscale/config.ts';
import { createAutoscaleMemory, type AutoscaleMemory, type MetricsSource } from './autoscale-memory.ts';
import type { VolumeReconciler } from './reconcile-volumes.ts';

/** Timings of the loops; every one has a production default and can be shortened by tests. */
export interface ControlIntervals {
  /** Periodic full resync (default 2 s). */
  resyncMs?: number;
  /** Health-check overrides (interval / grace / timeout) applied to every check. */
  health?: HealthTiming;
  /** First restart delay after an exit; doubles per restart (default 1 s). */
  restartBackoffMs?: number;
  /** Cap of the restart delay (default 60 s). */
  restartBackoffMaxMs?: number;
  /** Restarts after which an instance is in a crash loop and goes to ERROR (default 5). */
  maxRestarts?: number;
  /** How long a new deployment may take to become healthy before it fails (default 15 min, as Koyeb). */
  rolloutTimeoutMs?: number;
  /** SIGTERM-to-SIGKILL grace when stopping an instance (default 10 s). */
  stopGraceMs?: number;
  /** How long the drain hook may hold a stopping instance (default 10 s). */
  drainTimeoutMs?: number;
}

/** The intervals with defaults applied. */
export type ResolvedIntervals = Required<Omit<ControlIntervals, 'health'>> & { health: HealthTiming };

/** Applies defaults to the intervals. */
export function resolveIntervals(i: ControlIntervals = {}): ResolvedIntervals {
  return {
    resyncMs: i.resyncMs ?? 2000,
    health: i.health ?? {},
    restartBackoffMs: i.restartBackoffMs ?? 1000,
    restartBackoffMaxMs: i.restartBackoffMaxMs ?? 60_000,
    maxRestarts: i.maxRestarts ?? 5,
    rolloutTimeoutMs: i.rolloutTimeoutMs ?? 15 * 60_000,
    stopGraceMs: i.stopGraceMs ?? 10_000,
    drainTimeoutMs: i.drainTimeoutMs ?? 10_000,
  };
}

/** Restart memory of one instance (in memory on purpose: a restarted control plane gives instances a fresh budget). */
export interface RestartMemory { restarts: number; nextStartAtMs?: number; lastMessage?: string }

/** Everything the reconcilers share. */
export interface ControlContext extends MarkContext {
  runtime: Runtime;
  intervals: ResolvedIntervals;
  /** Instance id → the workload running it right now. */
  bindings: Map<string, InstanceHandle>;
  restarts: Map<string, RestartMemory>;
  health: HealthTracker;
  logs: LogCollector;
  builder?: Builder;
  /** Builds in flight or finished during this life, by deployment id. */
  builds: Map<string, { image?: string; commit?: BuildResult['commit']; error?: string; abort: AbortController }>;
  drain?: (instanceId: string, timeoutMs: number) => Promise<void>;
  allowPrivileged: boolean;
  /** vCPUs a small instance may use while it starts (InstanceSpec.startupCpu); 0 = no boost. */
  startupCpuBoost: number;
  onError: (err: unknown, context: string) => void;
  /** Set when something the edge sees changed (instance health, active deployment). */
  routesDirty: boolean;
  /** Publishes the routes now if they changed, mid-pass (set by the controller; a probe-ahead that passed calls it). */
  publishRoutes?: () => void;
  /** The autoscaler's samples, counts and wake-ups (reconcile-scaling.ts). */
  autoscale: AutoscaleMemory;
  /** Set during a pass that wants the next one sooner than the resync (e.g. an instance waking up). */
  nextPassMs?: number;
  /**
   * Each instance's step still running after the pass that began it moved on (a probe waiting for its timeout, a
   * stop waiting out its grace, a slow start), by instance id: later passes leave that instance alone until it
   * ends, and its end asks for a pass (`requestPass`). So one tenant's slow instance never holds back the others.
   */
  instanceSteps: Map<string, Promise<void>>;
  /** Asks for a pass as soon as possible (set by the controller). */
  requestPass?: () => void;
  /** Persistent volumes (#20): absent when this Pier has no volume driver (definitions naming volumes then fail to start). */
  volumes?: VolumeReconciler;
}

/** Options to build a context. */
export interface ContextOptions {
  state: ControlState;
  runtime: Runtime;
  clock: Clock;
  intervals?: ControlIntervals;
  prober?: Prober;
  builder?: Builder;
  drain?: (instanceId: string, timeoutMs: number) => Promise<void>;
  allowPrivileged?: boolean;
  /** vCPUs a small instance may use while it starts (default 0: no boost). */
  startupCpuBoost?: number;
  onError?: (err: unknown, context: string) => void;
  /** The edge's request counters, for the autoscaler. */
  metrics?: MetricsSource;
  /** Autoscaler tuning (windows, sampling period). */
  autoscale?: Partial<AutoscaleConfig>;
}

/** Builds the shared context. */
export function createContext(o: ContextOptions): ControlContext {
  const onError = o.onError ?? ((err, context) => console.error(`[control] ${context}:`, err instanceof Error ? err.message : err));
  return {
    state: o.state, clock: o.clock, runtime: o.runtime, intervals: resolveIntervals(o.intervals),
    bindings: new Map(), restarts: new Map(), health: new HealthTracker(o.prober),
    logs: new LogCollector(o.state, o.runtime, o.clock, onError),
    builder: o.builder, builds: new Map(), drain: o.drain, allowPrivileged: o.allowPrivileged ?? false, startupCpuBoost: o.startupCpuBoost ?? 0, onError, routesDirty: true,
    instanceSteps: new Map(),
    autoscale: createAutoscaleMemory(o.metrics, o.autoscale),
  };
}

// What the autoscaler remembers during one control-plane life (kept in the controller's context): per-region
// samples, decider state and counts, the edge's wake-up requests and the last counters. In memory on purpose: a
// restarted control plane starts from the definitions' counts and samples afresh.
import type { AutoscaleConfig, Counters, DeciderState, MetricSample, SleepMode } from '../autoscale/index.ts';
import { DEFAULT_AUTOSCALE_CONFIG } from '../autoscale/config.ts';
import type { EdgeMetrics } from '../edge/types.ts';
import type { InstanceHandle } from '../runtime/contract.ts';

/** Where the autoscaler reads request counters: the edge's `metrics()` (undefined while no edge runs). */
export type MetricsSource = () => EdgeMetrics | undefined;

/** What the autoscaler remembers about one regional deployment during this control-plane life. */
export interface RegionMemory {
  /** `<service id> <region>`: a rollout carries the count over to the next deployment's region. */
  key: string;
  /** The count the region should run; 0 while it sleeps. */
  desired: number;
  /** The most its rule allows (set by each pass): at max, a report of more load has nothing to ask for. */
  max?: number;
  samples: MetricSample[];
  decider: DeciderState;
  /** When the region last woke or was first seen: the idle delay counts from here at the earliest. */
  awakeSinceMs: number;
  /** When the region went to sleep (its sleeping workloads stop a moment after). */
  asleepSinceMs?: number;
  /** While asleep: light (workloads frozen) or deep (workloads stopped), and the last request before it. */
  sleepMode?: SleepMode;
  idleSinceMs?: number;
  /** Instances whose workload this life froze (light sleep): thawed on wake, stopped at deep sleep. */
  frozen?: Set<string>;
  /** The app of the region (set when it sleeps), so a wake-up can find its frozen workloads at once. */
  appId?: string;
  /** Thaws started by the wake-up itself, ahead of the pass that marks the instances HEALTHY. */
  thawing?: Map<string, Promise<void>>;
  /** When the count last changed or an instance of the region last started: a standby is made once it has settled. */
  settledSinceMs?: number;
  /** No new standby before this (a standby failed to start, pass or freeze: not retried in a loop). */
  standbyPausedUntilMs?: number;
  /** Standbys that failed in a row (the pause doubles with each; one that freezes resets it). */
  standbyFailures?: number;
}

/** The autoscaler's memory, kept in the controller's context. */
export interface AutoscaleMemory {
  config: AutoscaleConfig;
  metrics?: MetricsSource;
  regions: Map<string, RegionMemory>;
  /** Wake-ups asked by the edge, by app id → when. */
  wakeRequests: Map<string, number>;
  previous: Map<string, Counters>;
  lastSampleMs?: number;
  /** The edge reported a rise (Controller.load): the next pass samples without waiting for the tick. */
  sampleAsked?: boolean;
  /**
   * Instances a wake-up thawed (light sleep) whose HEALTHY mark is still to come: the route table serves them
   * already (collectRoutes), the pass that wakes their region marks them and takes them out.
   */
  thawed: Set<string>;
  /**
   * SLEEPING instances whose workload deep sleep stopped and kept (a runtime with `resume`: Docker keeps the stopped
   * container), instance id → app id: their binding stays, the wake-up starts that workload again instead of a new
   * instance.
   */
  kept: Map<string, string>;
  /** Starts of kept workloads a wake-up began at once (all in parallel), awaited by the pass that wakes their region. */
  resuming: Map<string, Promise<InstanceHandle>>;
  /**
   * Standbys (standby.ts), instance id → its regional deployment and whether its workload is frozen yet: rows the
   * deployment reconciler neither counts nor stops, and that the instance reconciler freezes (SLEEPING) instead of
   * marking HEALTHY once they pass their checks. Lost with this life: a restart finds a starting one a plain
   * instance (the autoscaler trims the count) and a frozen one's workload removed (recover), its row stopped.
   */
  standby: Map<string, Standby>;
}

/** One standby of an autoscaled region. */
export interface Standby { regionalId: string; frozen: boolean }

/** Builds the memory; `config` overrides the KPA defaults (tests and benchmarks shorten the windows). */
export function createAutoscaleMemory(metrics?: MetricsSource, config: Partial<AutoscaleConfig> = {}): AutoscaleMemory {
  return { config: { ...DEFAULT_AUTOSCALE_CONFIG, ...config }, metrics, regions: new Map(), wakeRequests: new Map(), previous: new Map(), thawed: new Set(), kept: new Map(), resuming: new Map(), standby: new Map() };
}

/** Records that a request waits for a sleeping app; the next pass wakes its sleeping regions. */
export function requestWake(mem: AutoscaleMemory, appId: string, nowMs: number): void {
  if (!mem.wakeRequests.has(appId)) mem.wakeRequests.set(appId, nowMs);
}

/**
 * Records the edge's report that a service's load passed what its instances take; true when that asks for a sample
 * not asked for yet (the caller then runs a pass), false when one is already coming or the service has no awake
 * autoscaled region below its max here (nothing to ask). Reports of many services share one pending sample.
 */
export function requestSample(mem: AutoscaleMemory, serviceId: string): boolean {
  if (mem.sampleAsked) return false;
  const prefix = `${serviceId} `;
  for (const r of mem.regions.values()) {
    if (r.key.startsWith(prefix) && r.desired > 0 && (r.max === undefined || r.desired < r.max)) {
      mem.sampleAsked = true;
      return true;
    }
  }
  return false;
}

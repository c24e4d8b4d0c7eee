// The sleep state machine of a scale-to-zero region (pure): awake → light sleep (the workload frozen: memory kept,
// no CPU, thawed by the next request in milliseconds) → deep sleep (the workload stopped; the next request starts
// a new one). Delays count from the region's last request: light at `light_sleep_value`, deep at
// `deep_sleep_value` (Koyeb's `sleep_idle_delay`). Without light_sleep_value, or on a runtime that cannot freeze,
// the region goes straight to deep sleep at the first delay (as before light sleep existed).
import type { ScalingPolicy } from './types.ts';

/** How a region sleeps: frozen (light) or stopped (deep). */
export type SleepMode = 'light' | 'deep';

/** Where a region stands: the mode it should be in now (undefined: awake) and why, in the user's words. */
export interface SleepStep { mode?: SleepMode; reason: string }

/**
 * The sleep mode a min-0 region should be in `nowMs`, idle since `idleSinceMs` (its last request). Monotonic in
 * time: once due, light stays due until deep is; deep stays. `canFreeze`: the runtime offers freeze/thaw.
 */
export function sleepStep(p: ScalingPolicy, idleSinceMs: number, nowMs: number, canFreeze: boolean, whyNotFreeze = 'this runtime cannot freeze'): SleepStep {
  if (p.min !== 0 || p.sleepAfterMs === undefined) return { reason: '' };
  const idleMs = nowMs - idleSinceMs;
  const light = p.lightSleepAfterMs;
  const deep = p.deepSleepAfterMs ?? p.sleepAfterMs;
  const idle = `no request for ${fmt(idleMs / 1000)} s`;
  if (idleMs >= deep) {
    return { mode: 'deep', reason: light === undefined ? `${idle} (sleep_idle_delay ${fmt(deep / 1000)} s): scaling to zero` : `${idle} (deep_sleep_value ${fmt(deep / 1000)} s): deep sleep, the workload stops` };
  }
  if (light === undefined || idleMs < light) return { reason: '' };
  if (!canFreeze) return { mode: 'deep', reason: `${idle} (light_sleep_value ${fmt(light / 1000)} s; ${whyNotFreeze}, so the workload stops)` };
  return { mode: 'light', reason: `${idle} (light_sleep_value ${fmt(light / 1000)} s): light sleep, the workload is frozen` };
}

/** Milliseconds until a region idle since `idleSinceMs` is due for its next deeper mode (undefined: none left). */
export function nextSleepInMs(p: ScalingPolicy, idleSinceMs: number, nowMs: number, mode: SleepMode | undefined): number | undefined {
  if (p.min !== 0 || p.sleepAfterMs === undefined || mode === 'deep') return undefined;
  const at = mode === 'light' ? (p.deepSleepAfterMs ?? p.sleepAfterMs) : p.sleepAfterMs;
  return Math.max(0, idleSinceMs + at - nowMs);
}

function fmt(n: number): string {
  return n >= 100 ? String(Math.round(n)) : String(Math.round(n * 10) / 10);
}

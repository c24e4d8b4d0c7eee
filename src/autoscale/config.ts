// Autoscaler tuning from PIER_AUTOSCALE_* variables (milliseconds), for operators and for tests and benchmarks that
// cannot wait a minute per decision. Unset variables keep the KPA defaults; bad values fail loudly.
import { DEFAULT_DECIDER_CONFIG, type DeciderConfig } from './types.ts';

/** Tuning of the autoscaling loop: the decider's windows plus how often the control plane samples. */
export interface AutoscaleConfig extends DeciderConfig {
  /** Sampling and decision period while autoscaled services run (default 1 s). */
  tickMs: number;
  /**
   * Frozen spares (standbys) an autoscaled region keeps for its next scale-up, at most (default 2; 0: none): each is
   * an instance started, checked and frozen ahead (memory held, no CPU), so a scale-up thaws it instead of starting
   * one (src/control/standby.ts). Only on runtimes that keep them (Docker with runc, process), for services without volumes, below their max.
   */
  standby: number;
}

/** The defaults of AutoscaleConfig. */
export const DEFAULT_AUTOSCALE_CONFIG: AutoscaleConfig = { ...DEFAULT_DECIDER_CONFIG, tickMs: 1000, standby: 2 };

const VARS: [keyof AutoscaleConfig, string][] = [
  ['stableWindowMs', 'PIER_AUTOSCALE_STABLE_WINDOW_MS'],
  ['panicWindowMs', 'PIER_AUTOSCALE_PANIC_WINDOW_MS'],
  ['burstWindowMs', 'PIER_AUTOSCALE_BURST_WINDOW_MS'],
  ['scaleDownDelayMs', 'PIER_AUTOSCALE_SCALE_DOWN_DELAY_MS'],
  ['tickMs', 'PIER_AUTOSCALE_TICK_MS'],
];

/** Reads the tuning from an environment; throws with the variable's name on a bad value. */
export function autoscaleConfigFromEnv(env: Record<string, string | undefined>): AutoscaleConfig {
  const out: AutoscaleConfig = { ...DEFAULT_AUTOSCALE_CONFIG };
  const standby = env.PIER_AUTOSCALE_STANDBY;
  if (standby !== undefined && standby !== '') {
    const n = Number(standby);
    if (!Number.isInteger(n) || n < 0 || n > 3) throw new Error(`PIER_AUTOSCALE_STANDBY must be a whole number of frozen spares per autoscaled region from 0 to 3, got ${JSON.stringify(standby)}`);
    out.standby = n;
  }
  for (const [key, name] of VARS) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    // The burst window alone may be 0: off (the panic window alone decides a panic's count, as in Knative).
    if (key === 'burstWindowMs' && n === 0) { out[key] = 0; continue; }
    if (!Number.isInteger(n) || n < 10 || n > 3_600_000) throw new Error(`${name} must be a whole number of milliseconds from 10 to 3600000, got ${JSON.stringify(raw)}`);
    out[key] = n;
  }
  if (out.panicWindowMs > out.stableWindowMs) throw new Error('PIER_AUTOSCALE_PANIC_WINDOW_MS must not exceed the stable window');
  if (out.burstWindowMs > out.panicWindowMs) throw new Error('PIER_AUTOSCALE_BURST_WINDOW_MS must not exceed the panic window (0 turns it off)');
  return out;
}

// Where one Docker instance start spends its time (issue #23): named spans of the driver's start path, handed to a
// hook (the deploy bench's `driver_spans_ms`). Silent and free otherwise. (No env switch: settings are read in
// config.ts only, test/architecture.test.ts.)

/** One start's spans (startedAt: wall-clock ms): name → ms, in the order they ended; concurrent spans overlap (their sum may exceed total). */
export interface StartTimings { instanceId: string; startedAt: number; totalMs: number; spans: Record<string, number> }

/** Receives every start's timings (bench/deploy.ts); undefined when nobody listens. */
let hook: ((t: StartTimings) => void) | undefined;

/** Sets (or clears) the process-wide receiver of start timings. */
export function onDockerStartTimings(fn: ((t: StartTimings) => void) | undefined): void { hook = fn; }

/** Records spans of one start; a no-op unless the env var or a hook asks for them. */
export class StartSpans {
  private readonly t0 = performance.now();
  private readonly at = Date.now();
  private readonly spans: Record<string, number> = {};
  private readonly on: boolean;

  constructor(private readonly instanceId: string) {
    this.on = hook !== undefined;
  }

  /** Times `fn` as span `name` (accumulated if the name repeats). */
  async span<T>(name: string, fn: () => Promise<T>): Promise<T> {
    if (!this.on) return fn();
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.spans[name] = +((this.spans[name] ?? 0) + performance.now() - t).toFixed(1);
    }
  }

  /** Hands the spans to the hook. */
  done(): void {
    if (!this.on) return;
    const t: StartTimings = { instanceId: this.instanceId, startedAt: this.at, totalMs: +(performance.now() - this.t0).toFixed(1), spans: this.spans };
    hook?.(t);
  }
}

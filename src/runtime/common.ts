// Small helpers shared by the drivers: label names, exit-code interpretation, timestamps.
import { PIER_LABEL_PREFIX } from './contract.ts';

/** Label that marks a workload as Pier's; recover() lists only workloads carrying it. */
export const MANAGED_LABEL = `${PIER_LABEL_PREFIX}managed`;
/** Label carrying Pier's instance id. */
export const INSTANCE_LABEL = `${PIER_LABEL_PREFIX}instance_id`;

const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };

/** The signal a shell-style exit code (128 + n) stands for, or null; an inference, since an app may exit 137 itself. */
export function signalFromExitCode(code: number | null | undefined): string | null {
  if (code == null || code <= 128 || code > 128 + 64) return null;
  return SIGNALS[code - 128] ?? `SIG${code - 128}`;
}

/** Normalises an engine timestamp to ISO-8601 with milliseconds; Go's zero time and garbage become undefined. */
export function isoTime(value: string | number | undefined | null): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const d = typeof value === 'number' ? new Date(value) : new Date(value);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1971) return undefined;
  return d.toISOString();
}

/** Prefixes spec labels with `dev.pier.` and adds the managed and instance-id labels. */
export function pierLabels(instanceId: string, labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) out[k.startsWith(PIER_LABEL_PREFIX) ? k : `${PIER_LABEL_PREFIX}${k}`] = v;
  out[MANAGED_LABEL] = 'true';
  out[INSTANCE_LABEL] = instanceId;
  return out;
}

/** The inverse of pierLabels: the spec labels without prefix, managed and instance-id. */
export function specLabels(labels: Record<string, string> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (!k.startsWith(PIER_LABEL_PREFIX) || k === MANAGED_LABEL || k === INSTANCE_LABEL) continue;
    out[k.slice(PIER_LABEL_PREFIX.length)] = v;
  }
  return out;
}

/** Splits a chunked byte stream into lines, keeping the unfinished tail for the next chunk. */
export class LineSplitter {
  private tail = '';
  /** Feeds a chunk and returns the complete lines it finished (without the newline). */
  push(chunk: string): string[] {
    const parts = (this.tail + chunk).split('\n');
    this.tail = parts.pop() ?? '';
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }
  /** Returns the unfinished last line, if any, and resets. */
  flush(): string[] {
    const rest = this.tail;
    this.tail = '';
    return rest ? [rest] : [];
  }
}

/** Runs at most one call per key at a time: callers asking while one is in flight share its promise. */
export class SingleFlight {
  private readonly inFlight = new Map<string, Promise<void>>();
  run(key: string, fn: () => Promise<void>): Promise<void> {
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const p = fn().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }
}

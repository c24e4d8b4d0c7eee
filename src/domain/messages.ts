// The wording of status messages users see on instances (and in the `koyeb` system log stream). Kept in one place
// so the control plane, tests and docs agree, and close to Koyeb's own wording where it is known.
import type { DeploymentHealthCheck } from './types.ts';

const MAX_LINE = 200;

/** A duration for humans: "350 ms", "2 s", "3 min 5 s", "2 h 10 min". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '0 ms';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** A size for humans in binary units labelled as the catalog does: "256 MB", "1 GB", "1.5 GB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return '0 B';
  const mib = bytes / 1024 ** 2;
  if (mib < 1) return bytes < 1024 ? `${bytes} B` : `${Math.round(bytes / 1024)} KB`;
  if (mib < 1024) return `${Math.round(mib)} MB`;
  return `${Number((mib / 1024).toFixed(1))} GB`;
}

/** One log line fit for a status message: trimmed, control characters dropped, at most 200 characters. */
export function summarizeLine(line: string | undefined): string {
  // eslint-disable-next-line no-control-regex
  const clean = (line ?? '').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return clean.length > MAX_LINE ? `${clean.slice(0, MAX_LINE - 1)}…` : clean;
}

type CheckKind = 'HTTP' | 'TCP';

function describeCheck(check: DeploymentHealthCheck | CheckKind, port?: number): { kind: CheckKind; port: number | undefined } {
  if (typeof check === 'string') return { kind: check, port };
  return check.http ? { kind: 'HTTP', port: check.http.port } : { kind: 'TCP', port: check.tcp?.port };
}

function unhealthy(check: DeploymentHealthCheck, detail?: string): string;
function unhealthy(kind: CheckKind, port: number, detail?: string): string;
function unhealthy(check: DeploymentHealthCheck | CheckKind, portOrDetail?: number | string, detail?: string): string {
  const { kind, port } = describeCheck(check, typeof portOrDetail === 'number' ? portOrDetail : undefined);
  const why = summarizeLine(typeof portOrDetail === 'string' ? portOrDetail : detail);
  const where = port === undefined ? '' : ` on port ${port}`;
  return why ? `${kind} health check failed${where}: ${why}` : `${kind} health check failed${where}.`;
}

/** Messages for instance statuses; each returns the sentence stored in `messages` and written to the system log. */
export const instanceMessage = {
  /** The instance row exists and its workload is about to be created. */
  allocated: (): string => 'Instance created. Preparing to start...',
  /** The workload runs; health checks have not passed yet. */
  starting: (): string => 'Instance is starting... Waiting for health checks to pass.',
  /** Every health check passes. */
  healthy: (): string => 'Instance is healthy. All health checks are passing.',
  /** A health check fails: `unhealthy(check, detail)` or `unhealthy('HTTP', 8000, 'GET / returned 500')`. */
  unhealthy,
  /** The workload exited on its own. */
  exited: (code: number, afterMs: number, lastLine?: string): string => {
    const line = summarizeLine(lastLine);
    const head = `exited with code ${code} after ${formatDuration(afterMs)}`;
    return line ? `${head}: ${line}` : head;
  },
  /** The kernel killed the workload for using more memory than its instance type allows. */
  oom: (limitBytes: number): string => `killed: out of memory (limit ${formatBytes(limitBytes)})`,
  /** The instance is being stopped, with why. */
  stopping: (reason: string): string => `Instance is stopping: ${summarizeLine(reason) || 'requested'}.`,
  /** The workload is gone. */
  stopped: (): string => 'Instance stopped.',
  /** The instance keeps failing right after start; Pier stopped restarting it. */
  crashLoop: (restarts: number, lastError: string): string => {
    const why = summarizeLine(lastError);
    return `Instance keeps crashing (restarted ${restarts} time${restarts === 1 ? '' : 's'}); last error: ${why || 'unknown'}`;
  },
  /** The instance was stopped because its service scaled to zero. */
  sleeping: (idleMs: number): string => `Instance is sleeping: no traffic for ${formatDuration(idleMs)}. The next request wakes it.`,
  /** A standby (an autoscaled region's frozen spare) exists; its workload is about to be created. */
  standbyAllocated: (): string => 'Standby instance created: it starts, passes its health checks and is frozen, ready for the next scale-up.',
  /** A standby's workload runs; its checks have not passed yet. */
  standbyStarting: (): string => 'Standby instance is starting... Waiting for health checks to pass before it is frozen.',
  /** A standby passed its checks and is frozen: it serves nothing until a scale-up thaws it. */
  standbyFrozen: (): string => 'Standby instance is sleeping: it passed its health checks and its workload is frozen (memory kept, no CPU). The next scale-up thaws it and it serves at once.',
  /** A scale-up thawed a standby. */
  standbyThawed: (): string => 'Standby instance thawed: the service scaled up.',
  /** The workload could not be created. */
  startFailed: (detail: string): string => `Instance failed to start: ${summarizeLine(detail) || 'unknown error'}`,
};

// Pure formatting: relative times, status tones, sizes. Shared by every page.

const units = [
  ['year', 365 * 24 * 3600], ['month', 30 * 24 * 3600], ['week', 7 * 24 * 3600],
  ['day', 24 * 3600], ['hour', 3600], ['minute', 60], ['second', 1],
];

/** "3 minutes ago" / "in 2 hours" / "just now"; empty for a missing time. */
export function relativeTime(iso, now = Date.now()) {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const diff = Math.round((t - now) / 1000);
  if (Math.abs(diff) < 5) return 'just now';
  for (const [unit, secs] of units) {
    if (Math.abs(diff) >= secs || unit === 'second') {
      const n = Math.trunc(diff / secs);
      const label = Math.abs(n) === 1 ? unit : unit + 's';
      return n < 0 ? `${-n} ${label} ago` : `in ${n} ${label}`;
    }
  }
  return '';
}

const tones = {
  HEALTHY: 'ok', ACTIVE: 'ok', COMPLETED: 'ok', RUNNING: 'progress',
  STARTING: 'progress', RESUMING: 'progress', PENDING: 'progress', PROVISIONING: 'progress', SCHEDULED: 'progress',
  ALLOCATING: 'progress', PAUSING: 'progress', DELETING: 'progress', STOPPING: 'progress', CANCELING: 'progress',
  ERRORING: 'bad', ERROR: 'bad', UNHEALTHY: 'bad', FAILED: 'bad',
  DEGRADED: 'warn',
  PAUSED: 'idle', STOPPED: 'idle', CANCELED: 'idle', DELETED: 'idle', STASHED: 'idle', SLEEPING: 'idle', ABORTED: 'idle',
  UNKNOWN: 'idle',
};

/** Colour family of a status, one of ok | warn | bad | progress | idle. */
export function statusTone(status) {
  return tones[status] ?? 'idle';
}

/** Deployment statuses that mean "still being built or rolled out". */
export const IN_PROGRESS_DEPLOYMENT = new Set(['PENDING', 'PROVISIONING', 'SCHEDULED', 'ALLOCATING', 'STARTING', 'CANCELING', 'STOPPING', 'ERRORING']);

/** The first 8 characters of an id, as the CLI shows it. */
export function shortId(id) {
  return typeof id === 'string' ? id.slice(0, 8) : '';
}

/** Human bytes: 1536 → "1.5 KiB". */
export function formatBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  const steps = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < steps.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${steps[i]}`;
}

/** How a deployment came to be, for the history table. */
export function describeTrigger(deployment) {
  const t = deployment?.metadata?.trigger;
  if (!t) return 'manual';
  const actor = t.actor && t.actor !== 'UNKNOWN_ACTOR' ? t.actor.toLowerCase() : '';
  const type = t.type && t.type !== 'UNKNOWN_TYPE' ? t.type.toLowerCase() : '';
  const git = t.git?.sha ? `${t.git.branch ? t.git.branch + '@' : ''}${t.git.sha.slice(0, 7)}` : '';
  const rollback = deployment?.metadata?.rollback_of ?? t.rollback_of;
  const parts = [type || (actor ? 'manual' : ''), actor && `by ${actor}`, git, rollback && `rollback to ${shortId(rollback)}`];
  return parts.filter(Boolean).join(' ') || 'manual';
}

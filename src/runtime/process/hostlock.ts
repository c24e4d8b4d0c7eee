// A host-wide lock file for the process runtime's network changes: several Pier installations (and a control plane
// with concurrent starts) share one kernel, and choosing a free subnet or address must not race. The file holds the
// owner's pid, so a lock left by a dead process is taken over instead of blocking forever.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Default lock path: /run is a tmpfs, so a reboot never leaves a stale lock behind. */
export const NETWORK_LOCK = '/run/pier/network.lock';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ownerAlive(path: string): boolean {
  let pid: number;
  try { pid = Number(readFileSync(path, 'utf8').trim()); } catch { return true; } // being written: treat as held
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

// Within one process the file alone cannot tell two holders apart (same pid), so calls queue here first.
const queues = new Map<string, Promise<unknown>>();

/** Runs `body` holding the lock at `path`; waits at most `timeoutMs` for it. */
export async function withHostLock<T>(path: string, body: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const prev = queues.get(path) ?? Promise.resolve();
  const run = prev.catch(() => undefined).then(() => locked(path, body, timeoutMs));
  queues.set(path, run);
  try { return await run; } finally { if (queues.get(path) === run) queues.delete(path); }
}

async function locked<T>(path: string, body: () => Promise<T>, timeoutMs: number): Promise<T> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try { writeSync(fd, `${process.pid}\n`); } finally { closeSync(fd); }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (!ownerAlive(path)) { rmSync(path, { force: true }); continue; }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the network lock ${path} (held by pid ${readFileSync(path, 'utf8').trim()})`);
      await sleep(Math.min(50, 2 + attempt));
    }
  }
  try {
    return await body();
  } finally {
    rmSync(path, { force: true });
  }
}

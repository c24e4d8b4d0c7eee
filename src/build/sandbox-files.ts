// The files around a sandboxed build: handing the build and cache directories to the build uid (never following a
// link the source or an earlier build planted), writing Pier's own files into a directory a tenant step has written
// (without following its links either), and the disk cap: what the steps write is measured with `du` while they
// run, and the build is stopped, with the reason in its log, once it passes the limit.
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, constants, lchownSync, lstatSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Gives `dir` and everything under it to uid:gid; links are re-owned themselves, never followed. */
export function chownTree(dir: string, uid: number, gid = uid): void {
  const walk = (p: string) => {
    const st = lstatSync(p);
    if (st.uid !== uid || st.gid !== gid) lchownSync(p, uid, gid);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
  };
  walk(dir);
}

/**
 * Writes `text` at `rel` inside `root` (a directory a build step wrote), as root, without following a link: each
 * directory on the way that is not a real directory is removed and made again, the file is removed and created
 * with O_EXCL | O_NOFOLLOW, so a planted `.pier -> /etc` cannot turn Pier's write into a write on the host.
 */
export function writeInsideBuild(root: string, rel: string, text: string, mode = 0o644): void {
  const parts = rel.split('/').filter(Boolean);
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    if (part === '..' || part === '.') throw new Error(`refusing to write ${rel} outside the build directory`);
    dir = join(dir, part);
    let st;
    try { st = lstatSync(dir); } catch { st = undefined; }
    if (st && !st.isDirectory()) rmSync(dir, { force: true, recursive: true });
    if (!st || !st.isDirectory()) mkdirSync(dir, { mode: 0o755 });
  }
  const file = join(dir, parts[parts.length - 1]!);
  rmSync(file, { force: true, recursive: true });
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try { writeSync(fd, text); } finally { closeSync(fd); }
  chmodSync(file, mode); // the umask may have narrowed the mode; the path is ours now (created exclusively)
}

/** Bytes of disk the trees use (du's blocks, hard links once), or undefined when du fails. */
export function diskUsage(dirs: string[], signal?: AbortSignal): Promise<number | undefined> {
  return new Promise((resolve) => {
    const child = spawn('du', ['-s', '-x', '-B1', '-c', ...dirs], { stdio: ['ignore', 'pipe', 'ignore'], env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' }, signal });
    let out = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.on('error', () => resolve(undefined));
    child.on('close', () => {
      // du exits 1 when a file vanished mid-walk (a build deleting files): the total it printed still counts.
      const total = /^(\d+)\s+total$/m.exec(out);
      resolve(total ? Number(total[1]) : undefined);
    });
  });
}

/** A running disk watch; `dispose()` stops it. */
export interface DiskWatch { dispose(): void }

/**
 * Measures `dirs` every `intervalMs` while the build runs and calls `onOver` once with a message when they have
 * grown by more than `limitBytes` since `baseline`. One measurement at a time; stops on dispose.
 */
export function watchDisk(dirs: string[], baseline: number, limitBytes: number, onOver: (message: string) => void, intervalMs = 2000): DiskWatch {
  const stop = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    const used = await diskUsage(dirs, stop.signal);
    if (stop.signal.aborted) return;
    if (used !== undefined && used - baseline > limitBytes) {
      onOver(`build disk limit reached: the build wrote ${mb(used - baseline)} MB, more than its ${mb(limitBytes)} MB`);
      return;
    }
    timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, intervalMs);
  return { dispose() { stop.abort(); if (timer) clearTimeout(timer); } };
}

function mb(bytes: number): number { return Math.round(bytes / (1024 * 1024)); }

/** A build's steps' stop signal: aborted by the caller's signal or by the disk limit. `dispose()` when the steps end. */
export interface StepGuard { signal: AbortSignal; dispose(): void }

/**
 * What both sandboxes set up around their steps: a local signal that follows the caller's, and a disk watch over
 * `dirs` that logs the limit message and aborts the local signal once they grow past `limitBytes`.
 */
export async function guardSteps(dirs: string[], limitBytes: number, signal: AbortSignal, log: (message: string, stream: 'stderr') => void): Promise<StepGuard> {
  const local = new AbortController();
  const follow = () => local.abort(signal.reason);
  if (signal.aborted) follow(); else signal.addEventListener('abort', follow, { once: true });
  const watch = watchDisk(dirs, await diskUsage(dirs) ?? 0, limitBytes, (message) => {
    log(message, 'stderr');
    local.abort(new Error(message));
  });
  return {
    signal: local.signal,
    dispose() { watch.dispose(); signal.removeEventListener('abort', follow); },
  };
}

// Unix socket paths that fit. A socket's path must fit in sun_path (108 bytes with its NUL): a data directory deep
// enough pushes `<dir>/<name>` past it, and QEMU or HAProxy then refuse to bind the socket (the VM or the edge never
// starts). Such a socket is bound and reached through a short link to its directory, named after the directory's hash
// in a link directory of Pier's own; the socket file itself stays where it belongs. Paths that fit are used as they are.
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The longest unix socket path: sun_path's 108 bytes less its NUL. */
export const SOCKET_PATH_MAX = 107;

/**
 * Where short links live: `/run/pier-sockets` for root; for another user a directory of theirs under the temp dir
 * (`pier-sockets-<uid>`, 0700, refused when someone else owns it or others may write it).
 */
export function defaultLinkDir(): string {
  const uid = process.getuid?.() ?? 0;
  return uid === 0 ? '/run/pier-sockets' : join(tmpdir(), `pier-sockets-${uid}`);
}

/** The short link a socket `name` in `dir` is reached through, or undefined when `<dir>/<name>` fits as it is. */
export function socketLink(dir: string, name: string, linkDir = defaultLinkDir()): string | undefined {
  if (Buffer.byteLength(join(dir, name)) <= SOCKET_PATH_MAX) return undefined;
  return join(linkDir, createHash('sha256').update(dir).digest('hex').slice(0, 20));
}

/**
 * The path to bind or reach the socket `name` of directory `dir` by: `<dir>/<name>` when it fits, else through the
 * directory's short link. `make` creates (or repairs) the link; without it the path is only computed (the same one
 * every time, so whoever recovers the socket later finds it).
 */
export function socketPath(dir: string, name: string, make = false, linkDir = defaultLinkDir()): string {
  const link = socketLink(dir, name, linkDir);
  if (link === undefined) return join(dir, name);
  const path = join(link, name);
  if (Buffer.byteLength(path) > SOCKET_PATH_MAX) {
    throw new Error(`the socket ${join(dir, name)} is too long for a unix socket, and so is its short link ${path}: use a shorter link directory`);
  }
  if (make) {
    ownLinkDir(linkDir);
    let current: string | undefined;
    try { current = readlinkSync(link); } catch { /* none yet */ }
    if (current !== dir) {
      rmSync(link, { force: true });
      symlinkSync(dir, link);
    }
  }
  return path;
}

/** Removes `dir`'s short link for the socket `name`, if it has one (the link only, never the directory it names). */
export function removeSocketLink(dir: string, name: string, linkDir = defaultLinkDir()): void {
  const link = socketLink(dir, name, linkDir);
  if (link !== undefined) rmSync(link, { force: true });
}

/** Makes the link directory (0700) and refuses one that is not ours alone: a link there names what we bind. */
function ownLinkDir(linkDir: string): void {
  mkdirSync(linkDir, { recursive: true, mode: 0o700 });
  const st = lstatSync(linkDir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o022) !== 0) {
    throw new Error(`${linkDir} (short links to socket directories) must be a directory of uid ${uid} that nobody else may write; remove it or fix its owner and mode`);
  }
}

// A build context: the files of a source directory minus .git and what .dockerignore (or .gitignore) excludes,
// packed as a tar stream by the `tar` npm package (long paths, modes and symlinks handled) or copied into a directory.
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tar from 'tar';
import { compileIgnore, ignoreNothing, type IgnoreMatcher } from './ignore.ts';

/** Upper bound on files in one context, so a runaway repository fails clearly instead of exhausting memory. */
export const MAX_CONTEXT_FILES = 200_000;

/** The ignore rules of a context: .dockerignore if present, else .gitignore (archives and buildpacks honour both). */
export function contextIgnore(dir: string): IgnoreMatcher {
  const docker = join(dir, '.dockerignore');
  if (existsSync(docker)) return compileIgnore(readFileSync(docker, 'utf8'), 'docker');
  const git = join(dir, '.gitignore');
  if (existsSync(git)) return compileIgnore(readFileSync(git, 'utf8'), 'git');
  return ignoreNothing;
}

/** Context-relative paths (directories before their contents) that are kept. `.git` is always left out. */
export function listContext(dir: string, ignore: IgnoreMatcher = contextIgnore(dir)): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      if (path === '.git') continue;
      const st = lstatSync(join(dir, path));
      const isDir = st.isDirectory();
      if (ignore.ignores(path, isDir)) {
        // A re-included child of an excluded directory still needs its directory entry; walk to find one (only
        // when the rules can re-include: git's cannot, so node_modules is never walked).
        if (isDir && ignore.reincludes !== false) { const before = out.length; walk(path); if (out.length > before) out.splice(before, 0, path); }
        continue;
      }
      out.push(path);
      if (out.length > MAX_CONTEXT_FILES) throw new Error(`the build context has more than ${MAX_CONTEXT_FILES} files; exclude some in .dockerignore`);
      if (isDir) walk(path);
    }
  };
  walk('');
  return out;
}

/**
 * Packs the listed paths of `dir` into a tar archive (no recursion: the list is the whole truth) with the `tar` npm
 * package, not the tar binary (GNU tar's flags are refused by macOS's bsdtar, and the CLI packs on the user's
 * machine). Entries are owned by 0:0 with no user or group names; modes keep their execute bits.
 */
export async function tarContext(dir: string, paths: string[], signal?: AbortSignal): Promise<Buffer> {
  signal?.throwIfAborted();
  // tar.create reads a name starting with "@" as an archive to splice in; "./" keeps it a plain path.
  const names = paths.map((p) => (p.startsWith('@') ? `./${p}` : p));
  // portable: no uid/gid/atime/ctime, so the tar (and the engine's cache key) does not change with who touched a
  // file. But portable also masks every mode with ~0o022 (node-tar's modeFix), which made a base image's /tmp 1755,
  // so no build step could write there (Go: "creating work dir: permission denied"). An entry that is group or world
  // writable keeps its mode exactly: it is written as non-portable (rare in a context; /tmp is 1777 on purpose).
  const stream = tar.create({
    cwd: dir, portable: true, noDirRecurse: true,
    onWriteEntry: (e) => { if (e.stat && (e.stat.mode & 0o022) !== 0) e.portable = false; },
  }, names);
  const chunks: Buffer[] = [];
  const abort = () => stream.destroy?.(new Error('packing the build context was canceled'));
  signal?.addEventListener('abort', abort, { once: true });
  try {
    for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  } catch (err) {
    throw new Error(`packing the build context failed: ${(err as Error).message}`);
  } finally {
    signal?.removeEventListener('abort', abort);
  }
  signal?.throwIfAborted();
  return Buffer.concat(chunks);
}

/** Copies the listed paths of `from` into `to` (files, directories and symlinks as they are). */
export function copyContext(from: string, to: string, paths: string[]): void {
  mkdirSync(to, { recursive: true });
  for (const p of paths) {
    const src = join(from, p);
    const dst = join(to, p);
    const st = lstatSync(src);
    if (st.isDirectory()) mkdirSync(dst, { recursive: true });
    else {
      mkdirSync(dirname(dst), { recursive: true });
      if (st.isSymbolicLink()) symlinkSync(readlinkSync(src), dst);
      else if (st.isFile()) copyFileSync(src, dst);
    }
  }
}

/**
 * `paths` plus each of `extra` that exists in `dir` (with its parent directories and, for a directory, everything
 * below it), whatever the ignore rules say: the Dockerfile, and what host build steps wrote.
 */
export function withPaths(dir: string, paths: string[], extra: string[]): string[] {
  const have = new Set(paths);
  const out = [...paths];
  const add = (p: string) => { if (!have.has(p)) { have.add(p); out.push(p); } };
  for (const e of extra) {
    const rel = e.replace(/^\.?\/+/, '').replace(/\/+$/, '');
    if (!rel || rel.split('/').includes('..') || !existsSync(join(dir, rel))) continue;
    const parts = rel.split('/');
    for (let n = 1; n < parts.length; n++) add(parts.slice(0, n).join('/'));
    add(rel);
    if (lstatSync(join(dir, rel)).isDirectory()) for (const p of listContext(join(dir, rel), ignoreNothing)) add(`${rel}/${p}`);
  }
  return out;
}

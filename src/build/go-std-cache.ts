// The Go standard library compiled once per toolchain, not in every service's first build. Since Go 1.20 the
// toolchain ships no compiled std: a service whose cache is empty compiles net/http and its ~180 dependencies first
// (about 50 s on 2 cores). Pier compiles the std packages web services use once, in the build sandbox, with no
// tenant input, exactly as the buildpack compiles an app (same flags and env, so Go's action IDs match), and keeps
// that GOCACHE under its data dir (<data-dir>/builds/go-std/<key>). A service cache without go-build gets a private
// COPY of it before its steps run: never the seed itself, never hard links, so no tenant can write what another
// tenant's build reads. The seed is made in a temporary directory and renamed into place when complete; builds of
// one Pier share one in-flight seeding, and two Piers racing keep the first complete rename.
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, type Stats } from 'node:fs';
import { dirname, join } from 'node:path';
import { GO_BUILD_FLAGS } from './buildpacks/go.ts';
import { chownTree } from './sandbox-files.ts';
import { sandboxBuildEnv } from './sandbox.ts';

/**
 * The std packages a seed holds (with everything they import): what HTTP services and their common frameworks (gin,
 * echo, chi, database drivers) import. Not all of `std` (360 packages, three times an app's share): a package left out
 * is compiled by the build that needs it, once per service, as before.
 */
export const GO_STD_SEED_PACKAGES = [
  'net/http', 'net/http/httputil', 'net/http/pprof', 'net/smtp', 'net/mail', 'net/rpc', 'encoding/json', 'encoding/xml',
  'encoding/csv', 'encoding/gob', 'encoding/base32', 'encoding/hex', 'encoding/pem', 'html/template', 'text/template',
  'database/sql', 'log/slog', 'expvar', 'flag', 'os/signal', 'os/exec', 'os/user', 'compress/gzip', 'compress/zlib',
  'archive/zip', 'archive/tar', 'crypto/hmac', 'crypto/rand', 'crypto/ed25519', 'crypto/x509', 'crypto/sha512', 'regexp',
  'embed', 'io/fs', 'path/filepath', 'hash/crc32', 'hash/fnv', 'math/rand', 'math/rand/v2', 'unicode/utf16',
  'container/list', 'container/heap', 'runtime/debug',
];

/** Pier's seeding step: the seed packages built the way goPlan builds an app (its flags, the sandbox's env). */
export const GO_STD_SEED_COMMAND = `go build ${GO_BUILD_FLAGS} ${GO_STD_SEED_PACKAGES.join(' ')}`;

/** What the build log says while the seed is made. */
export const GO_STD_SEEDING_MESSAGE = 'compiling the Go standard library once for this toolchain (cached for later builds)';

// Bumped when what a seed holds changes in a way its key does not show.
const SEED_REVISION = 1;

/**
 * The seed's name for a toolchain: its version (GOROOT/VERSION), where it lives, the host architecture, the step's
 * Go env and the seeding command. A name that does not match only costs a seeding; Go's own action IDs (which
 * include the compiler's build ID) decide what is reused, so a stale seed is never wrong, only useless.
 */
export function goStdSeedKey(goRoot: string, command = GO_STD_SEED_COMMAND, arch = process.arch): string {
  const version = readFileSync(join(goRoot, 'VERSION'), 'utf8').split('\n')[0]!.trim();
  const env = sandboxBuildEnv();
  const goEnv = Object.keys(env).filter((k) => k.startsWith('GO') || k === 'CGO_ENABLED').sort().map((k) => `${k}=${env[k]}`);
  const hash = createHash('sha256').update(JSON.stringify([SEED_REVISION, version, goRoot, arch, goEnv, command])).digest('hex').slice(0, 16);
  return `${version.replace(/[^\w.-]/g, '_')}-${arch}-${hash}`;
}

/** Runs Pier's seeding command in the build sandbox with `appDir` at /app and `cacheDir` at /cache. */
export type SeedStepRunner = (command: string, appDir: string, cacheDir: string) => Promise<void>;

/** What making (or finding) a seed needs. */
export interface GoStdSeedOptions {
  /** Where seeds live (<data-dir>/builds/go-std). */
  dir: string;
  /** The Go tree builds use. */
  goRoot: string;
  runStep: SeedStepRunner;
  log: (line: string) => void;
  /** The seeding command (tests give a cheap one). */
  command?: string;
}

const inFlight = new Map<string, Promise<string | undefined>>();

/**
 * The seed for this toolchain, made first when missing (once per key at a time in this process). Resolves undefined,
 * with a note in the log, when it cannot be made: the build then compiles std itself, as before.
 */
export function ensureGoStdSeed(o: GoStdSeedOptions): Promise<string | undefined> {
  const command = o.command ?? GO_STD_SEED_COMMAND;
  const key = goStdSeedKey(o.goRoot, command);
  const seed = join(o.dir, key);
  if (isDir(seed)) return Promise.resolve(seed);
  const pending = inFlight.get(seed);
  if (pending) {
    o.log(`${GO_STD_SEEDING_MESSAGE}: waiting for the build already compiling it`);
    return pending;
  }
  const made = makeSeed(o, command, seed).finally(() => inFlight.delete(seed));
  inFlight.set(seed, made);
  return made;
}

async function makeSeed(o: GoStdSeedOptions, command: string, seed: string): Promise<string | undefined> {
  const tmp = join(o.dir, `.tmp-${randomBytes(6).toString('hex')}`);
  const started = Date.now();
  o.log(GO_STD_SEEDING_MESSAGE);
  try {
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
    removeStale(o.dir, seed);
    mkdirSync(join(tmp, 'app'), { recursive: true });
    mkdirSync(join(tmp, 'cache', 'home'), { recursive: true });
    await o.runStep(command, join(tmp, 'app'), join(tmp, 'cache'));
    const built = join(tmp, 'cache', 'go-build');
    if (!isDir(built)) throw new Error('the step wrote no go-build cache');
    // The step ran as the build uid: the seed becomes Pier's before anything reads it.
    if (process.getuid?.() === 0) chownTree(built, 0);
    try {
      renameSync(built, seed);
    } catch (err) {
      // Another Pier renamed its complete seed first: keep that one.
      if (!isDir(seed)) throw err;
    }
    o.log(`compiled the Go standard library in ${Math.round((Date.now() - started) / 1000)} s`);
    return seed;
  } catch (err) {
    o.log(`note: the Go standard library was not cached (${(err as Error).message.split('\n')[0]}); this build compiles it itself`);
    return undefined;
  } finally {
    try { rmSync(tmp, { recursive: true, force: true }); } catch { /* nothing was made there */ }
  }
}

// Seeds of other toolchains (or other flags) are never used again. A temporary directory older than an hour was
// left by a Pier that stopped mid-seeding (a live seeding ends within a build's time limit, 20 min by default).
// Only names Pier gives are removed: PIER_BUILD_GO_STD_DIR may name a directory that holds other things.
function removeStale(dir: string, keep: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatOrUndefined(p);
    if (p === keep || !st) continue;
    const tmp = /^\.tmp-[0-9a-f]{12}$/.test(name);
    if ((tmp && Date.now() - st.mtimeMs > 3600_000) || (!tmp && SEED_NAME.test(name))) rmSync(p, { recursive: true, force: true });
  }
}

const SEED_NAME = /^go[\w.-]*-[a-z0-9]+-[0-9a-f]{16}$/;

/**
 * Gives `cacheDir` a private copy of `seed` as its go-build when it has none (no entry of that name at all: a link a
 * step planted counts as one and is left alone). The copy is made beside `cacheDir` in a directory no step can
 * reach, then renamed in, so a build never sees half a copy and Pier never writes through a step's links.
 * Returns whether it copied.
 */
export function copyGoStdSeed(seed: string, cacheDir: string): boolean {
  const target = join(cacheDir, 'go-build');
  if (lstatOrUndefined(target)) return false;
  const stage = join(dirname(cacheDir), `.go-std-copy-${randomBytes(6).toString('hex')}`);
  try {
    // Plain copies (new inodes, new mtimes so Go's trimming sees them as fresh), never links.
    cpSync(seed, stage, { recursive: true, dereference: false, verbatimSymlinks: true, errorOnExist: true, force: false });
    try {
      renameSync(stage, target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'ENOTDIR') return false; // a go-build appeared meanwhile
      throw err;
    }
    return true;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Whether the cache directory already has a go-build (or anything by that name). */
export function hasGoCache(cacheDir: string): boolean {
  return lstatOrUndefined(join(cacheDir, 'go-build')) !== undefined;
}

/**
 * Before a Go build's steps: when the service's cache has no go-build yet, the toolchain's seed is copied in; a
 * build that `makes` seeds (one running `go build` with GO_BUILD_FLAGS, whose packages the seed matches) first makes
 * it when missing, others only use it. Never fails the build: without a seed, the build compiles std itself.
 */
export async function prepareGoCache(o: GoStdSeedOptions & { cacheDir: string; makes: boolean }): Promise<void> {
  if (hasGoCache(o.cacheDir) || !existsSync(join(o.goRoot, 'VERSION'))) return;
  const existing = join(o.dir, goStdSeedKey(o.goRoot, o.command ?? GO_STD_SEED_COMMAND));
  const seed = o.makes ? await ensureGoStdSeed(o) : isDir(existing) ? existing : undefined;
  if (!seed) return;
  try {
    if (copyGoStdSeed(seed, o.cacheDir)) o.log(`using the Go standard library compiled for ${seed.split('/').pop()}`);
  } catch (err) {
    o.log(`note: the compiled Go standard library could not be copied (${(err as Error).message}); this build compiles it itself`);
  }
}

function isDir(p: string): boolean {
  try { return lstatSync(p).isDirectory(); } catch { return false; }
}

function lstatOrUndefined(p: string): Stats | undefined {
  try { return lstatSync(p); } catch { return undefined; }
}

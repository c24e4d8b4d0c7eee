// Base images for buildpack builds, made locally because no registry is reachable: a merged-/usr rootfs with
// Debian's static busybox (sh and the usual tools), plus the host's own Node (node + npm) or Python (python3 +
// stdlib + pip) with exactly the shared libraries `ldd` says they need. Built once per engine, tagged pier-base/*.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { DockerEngine, consumeProgress } from '../runtime/docker/engine.ts';
import { duringBuild } from '../runtime/docker/image-gate.ts';
import { listContext, tarContext } from './context.ts';
import { ignoreNothing } from './ignore.ts';
import type { Stack } from './detect.ts';

/** The base image kinds: busybox alone, or with a language runtime. */
export type BaseKind = 'busybox' | 'node' | 'python';

/** The base a stack builds on. */
export function baseKindOf(stack: Stack): BaseKind {
  return stack === 'node' ? 'node' : stack === 'python' ? 'python' : 'busybox';
}

function which(cmd: string, candidates: string[]): string {
  for (const p of candidates) if (existsSync(p)) return realpathSync(p);
  throw new Error(`${cmd} not found on this host (looked in ${candidates.join(', ')}): buildpack builds need it`);
}

/** Shared libraries a binary loads, as absolute paths (from `ldd`); empty for static binaries. */
export function sharedLibraries(binary: string): string[] {
  let out: string;
  try { out = execFileSync('ldd', [binary], { encoding: 'utf8' }); } catch { return []; }
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/**
 * What the base images contain, as a revision in their tags: bump it whenever stageBaseRootfs changes, so engines
 * that already hold an older base make the new one instead of reusing it.
 */
// r4: /tmp is 1777 again (r3 images packed with node-tar's portable mode got 1755: no build step could write /tmp).
const LAYOUT = 'r4';

/** The major.minor of the host's python3, the only Python buildpack builds offer (e.g. "3.11"). */
export function hostPythonVersion(): string | undefined {
  try { return basename(which('python3', ['/usr/bin/python3'])).replace(/^python/, '') || undefined; } catch { return undefined; }
}

/** The tag of a base image; the Node and Python ones carry the host's version so an upgrade makes a new base. */
export function baseImageTag(kind: BaseKind): string {
  if (kind === 'node') return `pier-base/node:${process.versions.node}-${LAYOUT}`;
  if (kind === 'python') return `pier-base/python:${hostPythonVersion() ?? '3'}-${LAYOUT}`;
  return `pier-base/busybox:${LAYOUT}`;
}

/**
 * glibc and its usual companions, from the host: prebuilt native modules (pydantic-core, a bundler's binary, Next's
 * SWC) expect them on any glibc system, although neither node nor python links them all itself.
 */
export const RUNTIME_LIBRARIES = ['libc.so.6', 'libm.so.6', 'libdl.so.2', 'libpthread.so.0', 'librt.so.1', 'libutil.so.1', 'libresolv.so.2',
  'libgcc_s.so.1', 'libstdc++.so.6', 'libz.so.1', 'libssl.so.3', 'libcrypto.so.3', 'libffi.so.8'];

const LIBRARY_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'];

/** The host's copies of RUNTIME_LIBRARIES (those it has) with what they load in turn, the dynamic loader included. */
export function runtimeLibraries(): string[] {
  const out = new Set<string>();
  for (const name of RUNTIME_LIBRARIES) {
    const path = LIBRARY_DIRS.map((d) => join(d, name)).find((p) => existsSync(p));
    if (!path) continue;
    out.add(path);
    for (const l of sharedLibraries(path)) out.add(l);
  }
  return [...out];
}

function copyLib(stage: string, lib: string): void {
  const dest = join(stage, realpathSync(dirname(lib)), basename(lib));
  if (existsSync(dest)) return;
  mkdirSync(dirname(dest), { recursive: true });
  copyFileSync(realpathSync(lib), dest);
}

/** Lays out the rootfs of a base image in `stage` and returns the Dockerfile lines that follow FROM scratch. */
export function stageBaseRootfs(kind: BaseKind, stage: string): string[] {
  for (const d of ['usr/bin', 'usr/lib', 'usr/lib64', 'etc', 'tmp', 'root', 'app']) mkdirSync(join(stage, d), { recursive: true });
  chmodSync(join(stage, 'tmp'), 0o1777);
  for (const l of ['bin', 'lib', 'lib64', 'sbin']) symlinkSync(l === 'sbin' ? 'usr/bin' : `usr/${l}`, join(stage, l));
  const busybox = which('busybox', ['/usr/bin/busybox', '/bin/busybox']);
  copyFileSync(busybox, join(stage, 'usr/bin/busybox'));
  chmodSync(join(stage, 'usr/bin/busybox'), 0o755);
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => /^[\w.[-]+$/.test(a) && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(stage, 'usr/bin', a));
  writeFileSync(join(stage, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(stage, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  if (existsSync('/etc/ssl/certs/ca-certificates.crt')) {
    mkdirSync(join(stage, 'etc/ssl/certs'), { recursive: true });
    copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(stage, 'etc/ssl/certs/ca-certificates.crt'));
  }
  for (const lib of runtimeLibraries()) copyLib(stage, lib);
  // Time zones (Python's zoneinfo, Go's time.LoadLocation, Django's TIME_ZONE); the right/ and posix/ copies are left out.
  if (existsSync('/usr/share/zoneinfo')) {
    cpSync('/usr/share/zoneinfo', join(stage, 'usr/share/zoneinfo'), { recursive: true, dereference: true, filter: (src) => !/^\/usr\/share\/zoneinfo\/(right|posix)(\/|$)/.test(src) });
  }
  const env = ['ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/root LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu:/usr/lib64:/usr/lib'];
  const replace = (name: string) => rmSync(join(stage, 'usr/bin', name), { force: true });
  if (kind === 'node') {
    const node = which('node', ['/usr/bin/node', '/usr/local/bin/node', process.execPath]);
    replace('node');
    copyFileSync(node, join(stage, 'usr/bin/node'));
    chmodSync(join(stage, 'usr/bin/node'), 0o755);
    for (const lib of sharedLibraries(node)) copyLib(stage, lib);
    const npmDir = ['/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm'].find((d) => existsSync(d));
    if (!npmDir) throw new Error('npm not found on this host (/usr/lib/node_modules/npm): Node buildpack builds need it');
    cpSync(npmDir, join(stage, 'usr/lib/node_modules/npm'), { recursive: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(stage, 'usr/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(stage, 'usr/bin/npx'));
    env.push('ENV NODE_ENV=production npm_config_update_notifier=false');
  } else if (kind === 'python') {
    const py = which('python3', ['/usr/bin/python3']);
    const version = basename(py); // python3.11
    replace('python3');
    copyFileSync(py, join(stage, 'usr/bin', version));
    chmodSync(join(stage, 'usr/bin', version), 0o755);
    symlinkSync(version, join(stage, 'usr/bin/python3'));
    symlinkSync(version, join(stage, 'usr/bin/python'));
    const stdlib = `/usr/lib/${version}`;
    // Without Debian's PEP 668 marker: the image is the app's own, so pip installs into /usr/local as on any image.
    cpSync(stdlib, join(stage, stdlib), { recursive: true, filter: (src) => !/\/(test|tests|idlelib|tkinter|__pycache__|EXTERNALLY-MANAGED)$/.test(src) });
    const libs = new Set(sharedLibraries(py));
    const dynload = join(stdlib, 'lib-dynload');
    if (existsSync(dynload)) for (const so of readdirSync(dynload)) for (const l of sharedLibraries(join(dynload, so))) libs.add(l);
    for (const lib of libs) copyLib(stage, lib);
    const pip = findPip(version);
    if (pip) cpSync(pip, join(stage, `usr/lib/python3/dist-packages/pip`), { recursive: true, filter: (src) => !src.endsWith('__pycache__') });
    mkdirSync(join(stage, `usr/local/lib/${version}/dist-packages`), { recursive: true });
  }
  return env;
}

/** A pip package directory usable by the host's Debian python (Debian's own, else a same-version pyenv one). */
function findPip(version: string): string | undefined {
  const candidates = ['/usr/lib/python3/dist-packages/pip'];
  const pyenv = join(process.env.HOME ?? '/root', '.pyenv/versions');
  if (existsSync(pyenv)) {
    for (const v of readdirSync(pyenv)) candidates.push(join(pyenv, v, 'lib', version, 'site-packages/pip'));
  }
  return candidates.find((c) => existsSync(c));
}

const inflight = new Map<string, Promise<string>>();

/** Ensures the base image of `kind` exists in the engine (building it once); resolves with its tag. */
export function ensureBaseImage(engine: DockerEngine, kind: BaseKind, log: (line: string) => void = () => {}): Promise<string> {
  const tag = baseImageTag(kind);
  let p = inflight.get(tag);
  if (!p) {
    p = (async () => {
      if (await engine.jsonOrNull('GET', `/images/${encodeURIComponent(tag)}/json`)) return tag;
      log(`Making base image ${tag} from this host's files (first build only)`);
      const stage = mkdtempSync(join(tmpdir(), 'pier-base-'));
      try {
        const env = stageBaseRootfs(kind, join(stage, 'rootfs'));
        writeFileSync(join(stage, 'Dockerfile'), ['FROM scratch', 'COPY rootfs/ /', ...env, 'WORKDIR /app', 'CMD ["/bin/sh"]', ''].join('\n'));
        const tar = await tarContext(stage, listContext(stage, ignoreNothing));
        await duringBuild(engine.socketPath, async () => {
          const res = await engine.request('POST', '/build', {
            query: { t: tag, rm: 1, forcerm: 1, labels: JSON.stringify({ 'dev.pier.base': 'true' }) },
            body: tar, headers: { 'content-type': 'application/x-tar' }, timeoutMs: 300_000,
          });
          await consumeProgress(res);
        });
        return tag;
      } finally {
        rmSync(stage, { recursive: true, force: true });
      }
    })();
    inflight.set(tag, p);
    p.catch(() => inflight.delete(tag));
  }
  return p;
}

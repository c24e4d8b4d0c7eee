// A microVM's root filesystem: the image's files (`docker create` + export, unpacked once per image id into a cached
// tree, no root tricks), plus Pier's static busybox at /.pier/busybox (the guest init runs the app through it), made
// into a per-instance ext4 disk of the instance type's size with `mkfs.ext4 -d` (sparse: only written blocks use
// host disk). Each instance writes its own disk: nothing is shared between instances at run time.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DockerEngine } from '../docker/engine.ts';
import { program, runProgram } from '../sbin.ts';

/** What the image says about how to run it (docker's image config). */
export interface ImageRunConfig { id: string; entrypoint: string[]; cmd: string[]; env: string[]; workdir: string; user: string }

interface ImageInspect { Id: string; Config?: { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string; User?: string } }

/** The image's id and run configuration, or null when the engine does not have it. */
export async function imageConfig(engine: DockerEngine, image: string): Promise<ImageRunConfig | null> {
  const i = await engine.jsonOrNull<ImageInspect>('GET', `/images/${encodeURIComponent(image)}/json`);
  if (!i) return null;
  const c = i.Config ?? {};
  return { id: i.Id, entrypoint: c.Entrypoint ?? [], cmd: c.Cmd ?? [], env: c.Env ?? [], workdir: c.WorkingDir || '/', user: c.User ?? '' };
}

function busyboxPath(): string {
  for (const p of ['/usr/bin/busybox', '/bin/busybox']) if (existsSync(p)) return p;
  throw new Error('busybox not found: install busybox-static');
}

// Unpacks under way in this process, by tree directory: concurrent first starts of one image share one.
const unpacking = new Map<string, Promise<string>>();

/** Unpacks an image (by id) into `<cacheDir>/<id>/root` once; resolves with that directory. */
export function ensureImageTree(engine: DockerEngine, imageId: string, cacheDir: string): Promise<string> {
  const dir = join(cacheDir, imageId.replace(/^sha256:/, '').slice(0, 32));
  if (existsSync(join(dir, 'complete'))) return Promise.resolve(join(dir, 'root'));
  let p = unpacking.get(dir);
  if (!p) {
    p = unpackImage(engine, imageId, dir).finally(() => unpacking.delete(dir));
    unpacking.set(dir, p);
  }
  return p;
}

async function unpackImage(engine: DockerEngine, imageId: string, dir: string): Promise<string> {
  const root = join(dir, 'root');
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  mkdirSync(join(tmp, 'root'), { recursive: true });
  const tar = program('tar');
  if (!tar) throw new Error('tar is not installed');
  const created = await engine.json<{ Id: string }>('POST', '/containers/create', {
    body: { Image: imageId, Entrypoint: ['/.pier-export'], Labels: { 'dev.pier.microvm-export': 'true' }, HostConfig: { NetworkMode: 'none' } },
  });
  try {
    const res = await engine.request('GET', `/containers/${created.Id}/export`, { timeoutMs: 600_000 });
    if ((res.statusCode ?? 0) >= 300) { res.resume(); throw new Error(`docker export failed with HTTP ${res.statusCode}`); }
    await new Promise<void>((resolve, reject) => {
      const child = spawn(tar, ['-x', '-C', join(tmp, 'root'), '--no-same-owner', '--numeric-owner'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (c) => { err += c; });
      child.on('error', reject);
      child.on('close', (code) => code === 0 ? resolve() : reject(new Error(`tar: ${err.trim() || `exit ${code}`}`)));
      res.on('error', reject);
      res.pipe(child.stdin);
    });
  } finally {
    await engine.jsonOrNull('DELETE', `/containers/${created.Id}`, { query: { force: true } }).catch(() => undefined);
  }
  mkdirSync(join(tmp, 'root', '.pier'), { recursive: true });
  copyFileSync(busyboxPath(), join(tmp, 'root', '.pier', 'busybox'));
  writeFileSync(join(tmp, 'complete'), `${imageId}\n`);
  // Another process may have finished first, and its VMs may be reading the tree: keep it, drop ours.
  if (existsSync(join(dir, 'complete'))) { rmSync(tmp, { recursive: true, force: true }); return root; }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return root;
}

/** `mkfs.ext4` argv: the tree copied in (`-d`), no reserved blocks, root-owned top directory, size in KiB. */
export function mkfsArgs(tree: string, disk: string, bytes: number): string[] {
  return ['-q', '-F', '-m', '0', '-E', 'root_owner=0:0', '-d', tree, disk, `${Math.max(16 * 1024, Math.floor(bytes / 1024))}k`];
}

/** Makes the instance's root disk from the image tree. */
export async function makeRootDisk(tree: string, disk: string, bytes: number): Promise<void> {
  const mkfs = program('mkfs.ext4');
  if (!mkfs) throw new Error('mkfs.ext4 is not installed (apt-get install e2fsprogs)');
  await runProgram(mkfs, mkfsArgs(tree, disk, bytes));
}

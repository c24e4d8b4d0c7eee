// The guest kernel: the host's Debian `linux-image-*` bzImage, uncompressed once into the ELF `vmlinux` QEMU's microvm
// machine boots directly (PVH entry note: no firmware, no real-mode setup). The bzImage carries the kernel as one xz
// stream; `xz --single-stream` decompresses it and ignores what follows (scripts/extract-vmlinux does the same).
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, openSync, readSync, closeSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { program } from '../sbin.ts';

/** The xz stream header magic. */
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

/** A guest kernel image on the host: its version (for the modules) and its bzImage path. */
export interface HostKernel { version: string; vmlinuz: string }

/** Orders kernel versions like `6.1.0-57-amd64` numerically (newest last). */
export function compareKernelVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = b.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? -1; const y = pb[i] ?? -1;
    if (x === y) continue;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x) < String(y) ? -1 : 1;
  }
  return 0;
}

/** The newest `/boot/vmlinuz-<version>` whose modules are installed, or undefined (apt-get install linux-image-amd64). */
export function findHostKernel(bootDir = '/boot', modulesDir = '/lib/modules'): HostKernel | undefined {
  if (!existsSync(bootDir)) return undefined;
  const versions = readdirSync(bootDir)
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(join(modulesDir, v, 'modules.dep')))
    .sort(compareKernelVersions);
  const version = versions.at(-1);
  return version ? { version, vmlinuz: join(bootDir, `vmlinuz-${version}`) } : undefined;
}

/** The offset of the first xz stream in a bzImage, or -1. */
export function xzStreamOffset(image: Buffer): number {
  return image.indexOf(XZ_MAGIC);
}

/** Whether a file starts with the ELF magic. */
function isElf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 0);
    return b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/**
 * The uncompressed `vmlinux` of a bzImage, made once into `cacheDir` (named by the bzImage's name, size and mtime,
 * so an upgraded kernel gets a new one). Resolves with its path.
 */
export async function ensureVmlinux(vmlinuz: string, cacheDir: string): Promise<string> {
  const st = statSync(vmlinuz);
  const out = join(cacheDir, `vmlinux-${basename(vmlinuz).replace(/^vmlinuz-/, '')}-${st.size}-${Math.floor(st.mtimeMs)}`);
  if (existsSync(out)) return out;
  const xz = program('xz');
  if (!xz) throw new Error('xz is not installed (apt-get install xz-utils): it extracts the guest kernel from the bzImage');
  const image = readFileSync(vmlinuz);
  const offset = xzStreamOffset(image);
  if (offset < 0) throw new Error(`${vmlinuz} holds no xz stream: only xz-compressed kernels (Debian's) are supported`);
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  await new Promise<void>((resolve, reject) => {
    const child = spawn(xz, ['--decompress', '--stdout', '--single-stream'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const file = createWriteStream(tmp);
    let err = '';
    child.stderr.on('data', (c) => { err += c; });
    child.stdout.pipe(file);
    child.on('error', reject);
    child.stdin.on('error', () => undefined);
    let exitCode: number | null = null;
    let closed = false;
    const done = () => { if (exitCode === null || !closed) return; if (exitCode === 0) resolve(); else reject(new Error(`xz: ${err.trim() || `exit ${exitCode}`}`)); };
    child.on('close', (code) => { exitCode = code ?? 1; done(); });
    file.on('close', () => { closed = true; done(); });
    child.stdin.end(image.subarray(offset));
  });
  if (!isElf(tmp)) { rmSync(tmp, { force: true }); throw new Error(`the xz stream of ${vmlinuz} is not an ELF vmlinux`); }
  renameSync(tmp, out);
  return out;
}

// The guest's initramfs: a cpio "newc" archive (written here, no cpio binary), gzip-compressed, holding Debian's
// static busybox, the kernel modules the guest needs in dependency order (`modprobe --show-depends`), and Pier's
// `/init` (guest-init.ts), which stays PID 1 for the VM's life.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { program } from '../sbin.ts';
import { GUEST_INIT } from './guest-init.ts';

/** One archive member. Directories and nodes carry no data; symlinks carry their target. */
export type CpioEntry =
  | { type: 'file'; path: string; data: Buffer | string; mode?: number }
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'char'; path: string; major: number; minor: number; mode?: number };

function header(fields: number[], name: string): Buffer {
  const hex = (n: number) => n.toString(16).padStart(8, '0');
  const text = `070701${fields.map(hex).join('')}`;
  const nameBuf = Buffer.from(`${name}\0`);
  const head = Buffer.concat([Buffer.from(text, 'ascii'), nameBuf]);
  return Buffer.concat([head, Buffer.alloc((4 - (head.length % 4)) % 4)]);
}

/** The newc archive of `entries` (paths relative, no leading slash), ending with the TRAILER!!! record. */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const e of entries) {
    const path = e.path.replace(/^\/+/, '');
    let mode: number; let data: Buffer = Buffer.alloc(0); let rdev = [0, 0];
    if (e.type === 'file') { mode = 0o100000 | (e.mode ?? 0o644); data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data); }
    else if (e.type === 'dir') mode = 0o040000 | (e.mode ?? 0o755);
    else if (e.type === 'symlink') { mode = 0o120777; data = Buffer.from(e.target); }
    else { mode = 0o020000 | (e.mode ?? 0o600); rdev = [e.major, e.minor]; }
    // ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
    parts.push(header([ino++, mode, 0, 0, e.type === 'dir' ? 2 : 1, 0, data.length, 0, 0, rdev[0], rdev[1], Buffer.byteLength(path) + 1, 0], path));
    parts.push(data, Buffer.alloc((4 - (data.length % 4)) % 4));
  }
  parts.push(header([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 'TRAILER!!!'.length + 1, 0], 'TRAILER!!!'));
  return Buffer.concat(parts);
}

/** The modules the guest loads, by name: virtio over MMIO, its disk, network and console, ext4, and 9p over virtio (volumes). */
export const GUEST_MODULES = ['virtio_mmio', 'virtio_blk', 'virtio_net', 'ext4', '9pnet_virtio', '9p'];

/** The `.ko` files to load for `names`, in dependency order, each once (from `modprobe --show-depends`). */
export function moduleFiles(kernelVersion: string, names = GUEST_MODULES): string[] {
  const modprobe = program('modprobe');
  if (!modprobe) throw new Error('modprobe is not installed (apt-get install kmod)');
  const out: string[] = [];
  for (const name of names) {
    const text = execFileSync(modprobe, ['--show-depends', '-S', kernelVersion, name], { encoding: 'utf8' });
    for (const line of text.split('\n')) {
      const m = /^insmod (\S+\.ko)\b/.exec(line.trim());
      if (m && !out.includes(m[1])) out.push(m[1]);
    }
  }
  return out;
}

function busyboxPath(): string {
  for (const p of ['/usr/bin/busybox', '/bin/busybox']) if (existsSync(p)) return p;
  throw new Error('busybox not found: install busybox-static');
}

/** Builds (once per kernel version, in `cacheDir`) the gzip'd initramfs; resolves with its path. */
export function ensureInitramfs(kernelVersion: string, cacheDir: string): string {
  const modules = moduleFiles(kernelVersion);
  const out = join(cacheDir, `initramfs-${kernelVersion}-${hashOf(GUEST_INIT + modules.join())}.cpio.gz`);
  if (existsSync(out)) return out;
  const entries: CpioEntry[] = [
    { type: 'dir', path: 'bin' }, { type: 'dir', path: 'dev' }, { type: 'dir', path: 'proc' }, { type: 'dir', path: 'sys' },
    { type: 'dir', path: 'newroot' }, { type: 'dir', path: 'lib' }, { type: 'dir', path: 'lib/modules' },
    { type: 'char', path: 'dev/console', major: 5, minor: 1 },
    { type: 'file', path: 'bin/busybox', data: readFileSync(busyboxPath()), mode: 0o755 },
    { type: 'symlink', path: 'bin/sh', target: 'busybox' },
    ...modules.map((m): CpioEntry => ({ type: 'file', path: `lib/modules/${basename(m)}`, data: readFileSync(m) })),
    { type: 'file', path: 'modules.order', data: modules.map((m) => basename(m)).join('\n') + '\n' },
    { type: 'file', path: 'init', data: GUEST_INIT, mode: 0o755 },
  ];
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, gzipSync(cpioNewc(entries)));
  renameSync(tmp, out);
  return out;
}

function hashOf(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) { h ^= text.charCodeAt(i); h = Math.imul(h, 16777619); }
  return (h >>> 0).toString(16);
}

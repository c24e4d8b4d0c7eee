// The volume helper of the Swarm runtime (issue #20): a short-lived container that does a volume's filesystem work
// ON the node that keeps it, run through that node's engine. Its image is built here FROM scratch out of the host's
// static busybox (sh, mount, umount, nsenter, stat, fsfreeze) and the host's mke2fs/e2fsck/resize2fs and GNU cp with
// their shared libraries (ext4 with a journal: busybox's own mke2fs makes ext2 only; sparse copies: busybox's cp has
// none), pushed to the cluster's registry like the pause image.
//
// Why nsenter: the loop mount must exist in the mount namespace where the node's runc resolves bind sources, or the
// instance's bind of `<root>/mnt/<id>` would find an empty directory. Docker only lets a container's mounts propagate
// to the host through an `rshared` bind whose source is a shared mount, which a node's / need not be (this machine's
// is private). So the helper enters the mount namespace of its own parent, the containerd shim (the namespace runc
// runs in), and runs the static busybox of its own image from there (`/proc/<helper pid>/root/bin/busybox`).
// Everything else (mke2fs, e2fsck on the image file) runs inside the container on a plain bind of the node's
// volume directory at /v.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { RuntimeError } from '../errors.ts';
import type { DockerEngine } from '../docker/engine.ts';
import { consumeProgress, EngineError, readBody } from '../docker/engine.ts';
import { FrameDecoder } from '../docker/frames.ts';
import { putImage } from './push.ts';

/** Label on helper containers (a crash mid-run leaves one behind: the next run of the same node removes it). */
export const HELPER_LABEL = 'dev.pier.volume_helper';

/**
 * Where a node's volumes live: images `<root>/<id>.ext4`, mounts `<root>/mnt/<id>`, root `pier-volumes` beside the
 * engine's data root (`/var/lib/docker` -> `/var/lib/pier-volumes`). Not inside it: dockerd refuses a private bind
 * whose source is under its data root, and rslave/rshared binds need a shared mount a node's / need not be.
 */
export function nodeVolumeRoot(dockerRootDir: string): string {
  const parent = dockerRootDir.replace(/\/+$/, '').replace(/\/[^/]*$/, '');
  return `${parent}/pier-volumes`;
}

/**
 * The helper's fixed script; every value arrives as a positional parameter ($1 operation, $2 the node's volume root
 * as the node sees it, $3 the volume id, $4 the size in bytes or a snapshot id, $5 for create the snapshot to restore),
 * never interpolated into it. Output lines: `mounted <id> <available bytes>` per mounted volume it looked at, `stored
 * <snapshot id> <bytes>` after a snapshot.
 */
export const HELPER_SCRIPT = `set -eu
op=$1 root=$2 id=\${3:-} size=\${4:-0}
read -r _ _ _ shim _ < /proc/$$/stat
bb=/proc/$$/root/bin/busybox
host() { /bin/busybox nsenter -t "$shim" -m -- "$bb" "$@"; }
mounted() { host grep -q " $1 " /proc/self/mountinfo; }
report() { set -- "$1" $(host stat -f -c '%S %a' "$root/mnt/$1"); echo "mounted $1 $(( $2 * $3 ))"; }
ensure() {
  [ -f "/v/$id.ext4" ] || { echo "volume $id has no filesystem image on this node ($root/$id.ext4)" >&2; exit 3; }
  mkdir -p "/v/mnt/$id"
  if ! mounted "$root/mnt/$id"; then
    if ! host mount -t ext4 -o loop,nodev,nosuid,discard "$root/$id.ext4" "$root/mnt/$id"; then
      /sbin/e2fsck -p "/v/$id.ext4" || [ $? -lt 4 ]
      host mount -t ext4 -o loop,nodev,nosuid,discard "$root/$id.ext4" "$root/mnt/$id"
    fi
  fi
  report "$id"
}
case "$op" in
  create)
    if [ ! -f "/v/$id.ext4" ]; then
      rm -f "/v/$id.ext4.tmp"
      if [ -n "\${5:-}" ]; then
        # A restore: a sparse copy of the snapshot, grown offline when the new volume is larger.
        [ -f "/v/snapshots/$5.ext4" ] || { echo "snapshot $5 has no image on this node" >&2; exit 3; }
        /sbin/gnucp --sparse=always "/v/snapshots/$5.ext4" "/v/$id.ext4.tmp"
        if [ "$(stat -c %s "/v/$id.ext4.tmp")" -lt "$size" ]; then
          truncate -s "$size" "/v/$id.ext4.tmp"
          /sbin/e2fsck -f -p "/v/$id.ext4.tmp" || [ $? -lt 4 ]
          /sbin/resize2fs "/v/$id.ext4.tmp" >/dev/null
        fi
      else
        truncate -s "$size" "/v/$id.ext4.tmp"
        /sbin/mke2fs -q -F -t ext4 -m 0 -L pier-volume "/v/$id.ext4.tmp"
      fi
      mv "/v/$id.ext4.tmp" "/v/$id.ext4"
    fi
    ensure ;;
  snapshot)
    # $4: the snapshot id. Frozen while copied whenever mounted (the host's dirty pages reach the image first).
    sid=$4
    [ -f "/v/$id.ext4" ] || { echo "volume $id has no filesystem image on this node" >&2; exit 3; }
    mkdir -p /v/snapshots
    if [ ! -f "/v/snapshots/$sid.ext4" ]; then
      frozen=0
      if mounted "$root/mnt/$id"; then host fsfreeze --freeze "$root/mnt/$id"; frozen=1; fi
      rc=0
      /sbin/gnucp --sparse=always "/v/$id.ext4" "/v/snapshots/$sid.ext4.tmp" || rc=$?
      if [ "$frozen" = 1 ]; then host fsfreeze --unfreeze "$root/mnt/$id"; fi
      [ "$rc" = 0 ] || exit "$rc"
      mv "/v/snapshots/$sid.ext4.tmp" "/v/snapshots/$sid.ext4"
    fi
    set -- $(stat -c '%b %B' "/v/snapshots/$sid.ext4")
    echo "stored $sid $(( $1 * $2 ))" ;;
  rmsnap)
    rm -f "/v/snapshots/$4.ext4" "/v/snapshots/$4.ext4.tmp" ;;
  mount) ensure ;;
  remove)
    if mounted "$root/mnt/$id"; then host umount "$root/mnt/$id" || host umount -l "$root/mnt/$id"; fi
    rm -f "/v/$id.ext4" "/v/$id.ext4.tmp"
    rmdir "/v/mnt/$id" 2>/dev/null || true ;;
  usage)
    for d in /v/mnt/*; do
      [ -d "$d" ] || continue
      v=\${d##*/}
      if mounted "$root/mnt/$v"; then report "$v"; fi
    done ;;
  *) echo "unknown operation $op" >&2; exit 2 ;;
esac
`;

interface LayerFile { path: string; data: Buffer; mode: number }

/** The host files the helper image holds: static busybox, mke2fs and e2fsck with the libraries ldd names. */
export function helperFiles(): LayerFile[] {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new RuntimeError('unavailable', 'volumes on the swarm runtime need a static busybox on the Pier host (apt-get install busybox-static)');
  const files: LayerFile[] = [{ path: 'bin/busybox', data: readFileSync(busybox), mode: 0o755 }];
  const libs = new Set<string>();
  const programs = [
    ['mke2fs', ['/usr/sbin/mke2fs', '/sbin/mke2fs'], 'e2fsprogs'], ['e2fsck', ['/usr/sbin/e2fsck', '/sbin/e2fsck'], 'e2fsprogs'],
    ['resize2fs', ['/usr/sbin/resize2fs', '/sbin/resize2fs'], 'e2fsprogs'],
    // GNU cp for --sparse=always (busybox's cp writes every zero of an image): snapshots and restores.
    ['gnucp', ['/usr/bin/cp', '/bin/cp'], 'coreutils'],
  ] as const;
  for (const [name, candidates, pkg] of programs) {
    const bin = candidates.find((p) => existsSync(p));
    if (!bin) throw new RuntimeError('unavailable', `volumes on the swarm runtime need ${name === 'gnucp' ? 'cp' : name} on the Pier host (apt-get install ${pkg})`);
    files.push({ path: `sbin/${name}`, data: readFileSync(bin), mode: 0o755 });
    const ldd = execFileSync('ldd', [bin], { encoding: 'utf8', timeout: 10_000 });
    for (const m of ldd.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) libs.add(m[1]);
  }
  for (const lib of [...libs].sort()) files.push({ path: lib.replace(/^\//, ''), data: readFileSync(realpathSync(lib)), mode: 0o755 });
  if (existsSync('/etc/mke2fs.conf')) files.push({ path: 'etc/mke2fs.conf', data: readFileSync('/etc/mke2fs.conf'), mode: 0o644 });
  return files;
}

function tarHeader(path: string, size: number, mode: number, type: '0' | '5'): Buffer {
  if (Buffer.byteLength(path) > 99) throw new Error(`helper image: path too long for a plain tar header: ${path}`);
  const h = Buffer.alloc(512);
  const put = (s: string, at: number) => h.write(s, at, 'ascii');
  put(path, 0);
  put(`${mode.toString(8).padStart(7, '0')}\0`, 100);
  put('0000000\0', 108);
  put('0000000\0', 116);
  put(`${size.toString(8).padStart(11, '0')}\0`, 124);
  put('00000000000\0', 136);
  put('        ', 148);
  put(type, 156);
  put('ustar\0', 257);
  put('00', 263);
  let sum = 0;
  for (const byte of h) sum += byte;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** A ustar archive of `files` (owned by root, mtime 0), parent directories first: the helper image's one layer. */
export function helperLayer(files: LayerFile[]): Buffer {
  const parts: Buffer[] = [];
  const dirs = new Set<string>();
  for (const f of files) {
    const segs = f.path.split('/').slice(0, -1);
    for (let i = 1; i <= segs.length; i++) {
      const d = `${segs.slice(0, i).join('/')}/`;
      if (!dirs.has(d)) { dirs.add(d); parts.push(tarHeader(d, 0, 0o755, '5')); }
    }
    parts.push(tarHeader(f.path, f.data.length, f.mode, '0'), f.data, Buffer.alloc((512 - (f.data.length % 512)) % 512));
  }
  for (const d of ['v/', 'tmp/']) if (!dirs.has(d)) parts.push(tarHeader(d, 0, 0o755, '5'));
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Builds the helper image from the host's files and pushes it to `registry`; resolves with its pinned reference. */
export async function pushHelperImage(registry: string): Promise<string> {
  const layer = helperLayer(helperFiles());
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Env: ['PATH=/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [diffId] }, history: [{ created_by: 'pier: volume helper (busybox, e2fsprogs)' }],
  }));
  return putImage(registry, 'pier/volume-helper', 'amd64', config, [layer]);
}

/** What one helper run printed and how it ended. */
export interface HelperResult { code: number; stdout: string; stderr: string }

/** Pulls `image` on the node unless it has it (the reference is pinned by digest, so "has it" is exact). */
export async function ensureImage(engine: DockerEngine, image: string): Promise<void> {
  if (await engine.jsonOrNull('GET', `/images/${encodeURIComponent(image)}/json`)) return;
  const res = await engine.request('POST', '/images/create', { query: { fromImage: image }, timeoutMs: 120_000 });
  await consumeProgress(res);
}

/**
 * Runs the helper once on a node: `args` are the script's positional parameters. The container enters the shim's
 * mount namespace (CAP_SYS_ADMIN, the host's pid namespace, no seccomp), may use loop devices (block major 7 and
 * /dev/loop-control) and has no network. It is removed afterwards, whatever happened.
 */
export async function runHelper(engine: DockerEngine, image: string, root: string, args: string[], timeoutMs = 120_000): Promise<HelperResult> {
  if (!/^\/[\w./-]+$/.test(root)) throw new RuntimeError('invalid_spec', `the node's volume directory ${JSON.stringify(root)} must be a plain absolute path`);
  const body = {
    Image: image,
    Entrypoint: ['/bin/busybox', 'sh', '-c', HELPER_SCRIPT, 'pier-volume-helper'],
    Cmd: args,
    Labels: { 'dev.pier.managed': 'true', [HELPER_LABEL]: 'true' },
    HostConfig: {
      Binds: [`${root}:/v`],
      PidMode: 'host',
      NetworkMode: 'none',
      CapAdd: ['SYS_ADMIN', 'SYS_PTRACE'],
      SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
      DeviceCgroupRules: ['b 7:* rwm', 'c 10:237 rwm'],
    },
  };
  const { Id: id } = await engine.json<{ Id: string }>('POST', '/containers/create', { body });
  try {
    await engine.json('POST', `/containers/${id}/start`);
    const waited = await engine.json<{ StatusCode: number }>('POST', `/containers/${id}/wait`, { timeoutMs });
    const res = await engine.request('GET', `/containers/${id}/logs`, { query: { stdout: 1, stderr: 1, timestamps: 1 } });
    const decoder = new FrameDecoder();
    const lines = [...decoder.push(await readBody(res)), ...decoder.end()];
    const pick = (s: string) => lines.filter((l) => l.stream === s).map((l) => l.line).join('\n');
    return { code: waited.StatusCode, stdout: pick('stdout'), stderr: pick('stderr') };
  } finally {
    await engine.jsonOrNull('DELETE', `/containers/${id}`, { query: { force: 1, v: 1 } }).catch((err: unknown) => {
      if (!(err instanceof EngineError)) throw err;
    });
  }
}

/** Parses the helper's `stored <snapshot id> <bytes on disk>` line. */
export function parseStored(stdout: string, snapshotId: string): number | undefined {
  const m = stdout.match(/^stored (\S+) (\d+)$/m);
  return m && m[1] === snapshotId ? Number(m[2]) : undefined;
}

/** Parses the helper's `mounted <id> <available bytes>` lines. */
export function parseMounted(stdout: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of stdout.matchAll(/^mounted (\S+) (\d+)$/gm)) out.set(m[1], Number(m[2]));
  return out;
}

// Test workloads that need no registry: a FROM-scratch image with Debian's static busybox, and the same app as a
// directory for the process driver. One shell script (app.sh) implements every behaviour the conformance suite needs.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine, consumeProgress } from '../docker/engine.ts';
import { createTar, type TarEntry } from './tar.ts';

/** The default test image tag. */
export const TEST_IMAGE = 'pier-test/busybox:1';

/**
 * The test app. Modes (first argument): `serve` (default: HTTP on $PORT answering / and /health, logs to stdout and
 * stderr, exits 0 on SIGTERM), `exit N`, `orphan` (exits 4, a child left running), `ignore-term`, `oom MB` (one buffer of MB megabytes filled by one read:
 * past the memory limit, an OOM kill), `logs N SECONDS` (N lines on each stream, a pause between them), `sleep`.
 */
export const TEST_APP_SCRIPT = `#!/bin/sh
mode="\${1:-serve}"
port="\${PORT:-8000}"
case "$mode" in
serve)
  # The trap comes first: a stop right after the first line (slow machines, emulated VMs) still finds it set.
  trap 'echo "got SIGTERM, exiting"; [ -n "$srv" ] && kill "$srv" 2>/dev/null; exit 0' TERM
  echo "starting on port $port"
  echo "a line on stderr" >&2
  echo "GREETING=\${GREETING:-}"
  mkdir -p /tmp/www
  printf 'hello from pier %s\\n' "\${GREETING:-}" > /tmp/www/index.html
  echo ok > /tmp/www/health
  busybox httpd -f -p "$port" -h /tmp/www &
  srv=$!
  wait "$srv"
  ;;
exit)
  echo "exiting with $2"
  echo "goodbye from stderr" >&2
  exit "$2"
  ;;
orphan)
  # The main process exits and leaves a child running that holds its stdout: the instance ends anyway.
  busybox sleep 600 &
  echo "left a child behind"
  exit 4
  ;;
ignore-term)
  trap 'echo "ignoring SIGTERM"' TERM
  echo "ready"
  while :; do sleep 1; done
  ;;
oom)
  # One read of /dev/zero into one buffer of $2 MB: the kernel fills it page by page until the memory limit kills.
  # (A pipe of zeros into tail did the same in ~100,000 small reads and writes: each one a ptrace round trip on
  # gVisor and emulated under TCG, minutes per kill in a microVM.)
  echo "allocating $2 MB"
  dd if=/dev/zero of=/dev/null bs="$2"M count=1
  echo "allocation ended with $?"
  exit 1
  ;;
logs)
  i=1
  while [ "$i" -le "$2" ]; do
    echo "out $i"
    echo "err $i" >&2
    sleep "\${3:-0}"
    i=$((i + 1))
  done
  ;;
sleep)
  echo "sleeping"
  while :; do sleep 1; done
  ;;
*)
  echo "unknown mode $mode" >&2
  exit 64
  ;;
esac
`;

function busyboxPath(): string {
  for (const p of ['/usr/bin/busybox', '/bin/busybox']) if (existsSync(p)) return p;
  throw new Error('busybox not found: install busybox-static (scripts/setup-host.sh does)');
}

/** The build context of the test image: busybox as /bin/busybox with one symlink per applet, and /app/app.sh. */
export function testImageContext(): Buffer {
  const busybox = busyboxPath();
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => /^[\w.[-]+$/.test(a) && a !== 'busybox');
  const entries: TarEntry[] = [
    { type: 'file', path: 'Dockerfile', data: 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nENTRYPOINT ["/bin/sh", "/app/app.sh"]\nCMD ["serve"]\n' },
    { type: 'dir', path: 'rootfs' },
    { type: 'dir', path: 'rootfs/bin' },
    { type: 'file', path: 'rootfs/bin/busybox', data: readFileSync(busybox), mode: 0o755 },
    ...applets.map((a): TarEntry => ({ type: 'symlink', path: `rootfs/bin/${a}`, target: 'busybox' })),
    { type: 'dir', path: 'rootfs/app' },
    { type: 'file', path: 'rootfs/app/app.sh', data: TEST_APP_SCRIPT, mode: 0o755 },
    { type: 'dir', path: 'rootfs/tmp', mode: 0o1777 },
    { type: 'file', path: 'rootfs/etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\n' },
  ];
  return createTar(entries);
}

/** Builds the test image through the Engine API if the engine does not have it yet; resolves with its name. */
export async function ensureTestImage(name = TEST_IMAGE, engine = new DockerEngine()): Promise<string> {
  // An image built from an older app.sh is rebuilt (same tag): the label carries a hash of the script.
  const script = createHash('sha256').update(TEST_APP_SCRIPT).digest('hex').slice(0, 16);
  const existing = await engine.jsonOrNull<{ Config?: { Labels?: Record<string, string> | null } }>('GET', `/images/${encodeURIComponent(name)}/json`);
  if (existing && existing.Config?.Labels?.['dev.pier.test.app'] === script) return name;
  const res = await engine.request('POST', '/build', {
    query: { t: name, rm: 1, forcerm: 1, labels: JSON.stringify({ 'dev.pier.test': 'true', 'dev.pier.test.app': script }) },
    body: testImageContext(),
    headers: { 'content-type': 'application/x-tar' },
    timeoutMs: 120_000,
  });
  await consumeProgress(res);
  return name;
}

/** Creates a directory app for the process driver: app.sh plus nothing else (it runs on the host's busybox). */
export function prepareTestAppDir(parent = tmpdir()): { dir: string; entrypoint: string[] } {
  const dir = mkdtempSync(join(parent, 'pier-test-app-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'app.sh'), TEST_APP_SCRIPT, { mode: 0o755 });
  return { dir, entrypoint: [busyboxPath(), 'sh', '/app/app.sh'] };
}

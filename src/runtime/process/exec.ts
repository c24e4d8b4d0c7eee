// Runtime.exec for the process runtime: a command inside a running instance's sandbox, never beside it.
// Chain (argv arrays, minimal environment on the host side, so nothing of the tenant's reaches a root process):
//   bash (joins the instance's cgroups) → setpriv --clear-groups → nsenter --target <app pid> into its user, mount,
//   pid, network, ipc, uts and cgroup namespaces, its root and working directory (uid/gid 0 inside = the instance's
//   own unprivileged host uid) → setpriv --no-new-privs, empty bounding/inheritable/ambient sets → python3 (the
//   host's, read-only under /usr in the sandbox) running EXEC_HELPER: loads the instance's seccomp filter (fd 4),
//   takes the app's environment (fd 5), then execs the command, on a new pseudo-terminal with tty (resizes on fd 3).
// The instance stopping kills it: its pid namespace's init dies, and stop()/remove() kill the whole cgroup.
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import type { ExecOptions, ExecSession } from '../contract.ts';
import { RuntimeError } from '../errors.ts';
import { ENV_NAME } from './sandbox.ts';
import { seccompFilter } from './seccomp.ts';

/** The python3 the helper runs on (inside the sandbox: the host's /usr, bound read-only). */
export const EXEC_PYTHON = '/usr/bin/python3';

/**
 * The helper, run as `python3 -I -S -c EXEC_HELPER <tty 0|1> <cols> <rows> <namespaces> <argv...>`, inside the sandbox with
 * no capabilities. fd 3: resize lines "<cols> <rows>\n"; fd 4: the seccomp program (struct sock_filter[]); fd 5: the
 * environment, NUL-separated NAME=value. Exit status: the command's (128 + n when killed by signal n), 127 when the
 * command does not exist, 126 when it cannot run.
 */
export const EXEC_HELPER = String.raw`
import os, sys, ctypes, select, struct, fcntl, termios, errno
def readall(fd):
    out = b''
    while True:
        c = os.read(fd, 65536)
        if not c: break
        out += c
    os.close(fd)
    return out
tty = sys.argv[1] == '1'
cols, rows = int(sys.argv[2]), int(sys.argv[3])
argv = sys.argv[5:]
# The namespaces the host saw on the target pid: a pid reused between that look and nsenter lands elsewhere: refuse.
for want in sys.argv[4].split(','):
    if os.readlink('/proc/self/ns/' + want.split(':')[0]) != want:
        os.write(2, b'pier: the instance changed under the exec (its process is gone): try again\n')
        os._exit(125)
prog = readall(4)
env = {}
for kv in readall(5).split(b'\0'):
    if b'=' in kv:
        k, v = kv.split(b'=', 1)
        env[os.fsdecode(k)] = os.fsdecode(v)
class Fprog(ctypes.Structure):
    _fields_ = [('len', ctypes.c_ushort), ('filter', ctypes.c_void_p)]
buf = ctypes.create_string_buffer(prog, len(prog))
fp = Fprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
if not prog or libc.prctl(38, 1, None, 0, 0) != 0 or libc.prctl(22, 2, ctypes.cast(ctypes.pointer(fp), ctypes.c_void_p), 0, 0) != 0:
    os.write(2, b'pier: cannot apply the instance seccomp filter\n')
    os._exit(126)
def run():
    try:
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        os.write(2, ('exec: ' + argv[0] + ': not found\n').encode())
        os._exit(127)
    except OSError as e:
        os.write(2, ('exec: ' + argv[0] + ': ' + e.strerror + '\n').encode())
        os._exit(126)
if not tty:
    os.close(3)
    run()
master, slave = os.openpty()
def winsize(c, r):
    if c > 0 and r > 0:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', r, c, 0, 0))
winsize(cols, rows)
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    for fd in (slave, master, 3):
        os.close(fd)
    run()
os.close(slave)
os.set_blocking(master, False)
pending = b''
watch = [0, 3]
ctrl = b''
while True:
    r, w, _ = select.select(watch + [master], [master] if pending else [], [])
    if master in w:
        try:
            pending = pending[os.write(master, pending):]
        except BlockingIOError:
            pass
    if 0 in r:
        data = os.read(0, 65536)
        if data:
            pending += data
        else:
            watch.remove(0)
    if 3 in r:
        data = os.read(3, 4096)
        if not data:
            watch.remove(3)
        ctrl += data
        while b'\n' in ctrl:
            line, ctrl = ctrl.split(b'\n', 1)
            parts = line.split()
            if len(parts) == 2:
                winsize(int(parts[0]), int(parts[1]))
    if master in r:
        try:
            data = os.read(master, 65536)
        except BlockingIOError:
            continue
        except OSError as e:
            if e.errno == errno.EIO:
                break
            raise
        if not data:
            break
        os.write(1, data)
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
os._exit(128 - code if code < 0 else code)
`;

/** Where one instance's processes are, seen from the host. */
export interface ExecTarget {
  /** The cgroup.procs files of the instance (the exec joins them). */
  procsFiles: string[];
  /** Pids in the instance's cgroups. */
  pids: number[];
  /** The host uid the sandbox runs as (the exec must end up as it). */
  uid?: number;
}

/** Host paths of the programs the chain runs. */
export interface ExecPrograms { nsenter: string; setpriv: string }

const HOST_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MAX_ENVIRON = 1 << 20;

function nsPidOf(pid: number): number[] | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('NSpid:'));
    return line?.slice(6).trim().split(/\s+/).map(Number);
  } catch {
    return undefined;
  }
}

/**
 * The app's main process: pid 2 of the sandbox's pid namespace. Never bubblewrap's init (pid 1): until it has built
 * the sandbox (mounts, pivot_root) its root is still a copy of the host's, and it forks the app only once that is
 * done. Never the outer bubblewrap either (it is in the host's namespaces).
 */
export function sandboxProcess(pids: number[]): number | undefined {
  let own: string;
  try { own = readlinkSync('/proc/self/ns/user'); } catch { return undefined; }
  for (const pid of pids) {
    let ns: string;
    try { ns = readlinkSync(`/proc/${pid}/ns/user`); } catch { continue; }
    if (ns === own) continue;
    const inner = nsPidOf(pid);
    if (inner && inner.length >= 2 && inner[inner.length - 1] === 2) return pid;
  }
  return undefined;
}

/** The environment the app started with (NUL-separated), or an empty one. Only valid names survive. */
function appEnvironment(pid: number): Record<string, string> {
  const env: Record<string, string> = {};
  let raw: Buffer;
  try { raw = readFileSync(`/proc/${pid}/environ`); } catch { return env; }
  for (const kv of raw.subarray(0, MAX_ENVIRON).toString('utf8').split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0 && ENV_NAME.test(kv.slice(0, eq))) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return env;
}

/** bash: `$1` cgroup.procs files follow; writes its own pid into each, then execs the rest of its arguments. */
const JOIN_CGROUPS = `n=$1; shift
for ((i = 0; i < n; i++)); do printf '%s\\n' "$$" > "$1" || { echo "pier: cannot join cgroup $1" >&2; exit 125; }; shift; done
exec "$@"`;

/** The argv of the whole chain (pure; the first element is /bin/bash). */
export function execArgv(target: number, procsFiles: string[], programs: ExecPrograms, opts: ExecOptions, namespaces: string[] = []): string[] {
  return [
    '/bin/bash', '--norc', '--noprofile', '-c', JOIN_CGROUPS, 'pier-exec', String(procsFiles.length), ...procsFiles,
    programs.setpriv, '--clear-groups', '--',
    programs.nsenter, `--target=${target}`, '--user', '--mount', '--pid', '--net', '--ipc', '--uts', '--cgroup', '--root', '--wd', '--',
    programs.setpriv, '--no-new-privs', '--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all', '--',
    EXEC_PYTHON, '-I', '-S', '-c', EXEC_HELPER, opts.tty ? '1' : '0', String(opts.size?.cols ?? 0), String(opts.size?.rows ?? 0),
    namespaces.join(','), ...opts.command,
  ];
}

/** Starts `opts.command` inside the sandbox of a running instance. */
export function processExec(runtimeId: string, target: ExecTarget, programs: ExecPrograms, opts: ExecOptions): ExecSession {
  if (opts.command.length === 0) throw new RuntimeError('invalid_spec', 'exec needs a command');
  for (const name of Object.keys(opts.env ?? {})) if (!ENV_NAME.test(name)) throw new RuntimeError('invalid_spec', `invalid environment variable name: ${name}`);
  const pid = sandboxProcess(target.pids);
  if (pid === undefined) throw new RuntimeError('not_found', `instance ${runtimeId} is not running (no process in its sandbox)`);
  const env = { PATH: HOST_PATH, ...appEnvironment(pid), ...opts.env };
  // Read now, checked again by the helper once inside (see EXEC_HELPER): the pid cannot be swapped in between.
  let namespaces: string[];
  try {
    namespaces = ['user', 'mnt', 'pid'].map((ns) => readlinkSync(`/proc/${pid}/ns/${ns}`));
  } catch {
    throw new RuntimeError('not_found', `instance ${runtimeId} is not running (its process just exited)`);
  }
  const argv = execArgv(pid, target.procsFiles, programs, opts, namespaces);
  const child = spawn(argv[0], argv.slice(1), {
    // Its own session: no controlling terminal of Pier's (TIOCSTI), and one process group to kill.
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
    // Host-side programs run as root: the tenant's environment reaches the command only through fd 5.
    env: { PATH: HOST_PATH, LC_ALL: 'C' },
  });
  const [stdinPipe, stdout, stderr, ctrl, seccomp, envPipe] = child.stdio as unknown as [Writable, Readable, Readable, Writable, Writable, Writable];
  for (const p of [stdinPipe, ctrl, seccomp, envPipe]) p.on('error', () => { /* the command ended first: reported by its exit */ });
  seccomp.end(seccompFilter());
  envPipe.end(Buffer.from(Object.entries(env).map(([k, v]) => `${k}=${v}\0`).join('')));
  let exited = false;
  const kill = () => {
    if (exited || !child.pid) return;
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  };
  if (opts.signal) {
    if (opts.signal.aborted) kill();
    else opts.signal.addEventListener('abort', kill, { once: true });
  }
  const exit = new Promise<number>((resolve) => {
    let code = 255;
    const done = () => {
      opts.signal?.removeEventListener('abort', kill);
      // The command is gone: its input pipes would otherwise stay open (and keep this process alive) until written to.
      for (const p of [stdinPipe, ctrl, seccomp, envPipe]) p.destroy();
      resolve(code);
    };
    child.once('error', () => { exited = true; done(); });
    child.once('exit', (c, sig) => {
      exited = true;
      code = c ?? 128 + (sig ? constants.signals[sig] ?? 9 : 9);
      // Output is complete once the pipes close; a background process still holding them gets 2 s, then is cut off.
      const cut = setTimeout(() => { stdout.destroy(); stderr.destroy(); done(); }, 2000);
      child.once('close', () => { clearTimeout(cut); done(); });
    });
  });
  return {
    stdin: {
      write(data) { if (!exited && stdinPipe.writable) stdinPipe.write(data); },
      end() { if (stdinPipe.writable) stdinPipe.end(); },
    },
    stdout, stderr, exit, kill,
    async resize(cols, rows) {
      if (opts.tty && !exited && ctrl.writable && cols > 0 && rows > 0) ctrl.write(`${Math.floor(cols)} ${Math.floor(rows)}\n`);
    },
  };
}

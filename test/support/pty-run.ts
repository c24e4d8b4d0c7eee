// Runs a program on a real pseudo-terminal (python3's pty module: Node has none), as a person at a terminal would:
// stdin is always the terminal; stdout is the terminal too (`tty: true`) or a pipe (then the program sees a terminal
// on stdin only). Scripted steps wait for text, type, resize the terminal (the kernel sends SIGWINCH) or pause.
// Bounded: the program is killed at `timeoutMs`. argv arrays only, no shell.
import { spawn } from 'node:child_process';

/** One scripted step; `expect` waits (bounded by the run's timeout) until the output seen so far contains it. */
export type PtyStep = { expect: string } | { write: string } | { resize: [cols: number, rows: number] } | { sleepMs: number };

/** What a pty run saw. */
export interface PtyResult { code: number; /** What the program wrote to the terminal. */ tty: string; stdout: string; stderr: string; timedOut: boolean }

const DRIVER = String.raw`
import os, sys, json, select, time, struct, fcntl, termios, signal, pty
spec = json.loads(sys.stdin.read())
master, slave = pty.openpty()
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 80, 0, 0))
outr, outw = os.pipe()
errr, errw = os.pipe()
pid = os.fork()
if pid == 0:
    os.setsid()
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    os.dup2(slave, 0)
    os.dup2(slave if spec['tty'] else outw, 1)
    os.dup2(errw, 2)
    for fd in (master, slave, outr, outw, errr, errw):
        os.close(fd)
    os.execvpe(spec['argv'][0], spec['argv'], spec['env'])
for fd in (slave, outw, errw):
    os.close(fd)
bufs = {master: b'', outr: b'', errr: b''}
open_fds = [master, outr, errr]
steps = spec['steps']
deadline = time.time() + spec['timeoutMs'] / 1000.0
status = None
timed_out = False
wake = 0.0
while True:
    now = time.time()
    if now > deadline:
        timed_out = True
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        break
    while steps and now >= wake:
        s = steps[0]
        if 'expect' in s:
            if s['expect'].encode() not in bufs[master] + bufs[outr]:
                break
        elif 'write' in s:
            os.write(master, s['write'].encode())
        elif 'resize' in s:
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', s['resize'][1], s['resize'][0], 0, 0))
        elif 'sleepMs' in s:
            wake = now + s['sleepMs'] / 1000.0
        steps.pop(0)
    if status is None:
        p, st = os.waitpid(pid, os.WNOHANG)
        if p == pid:
            status = st
    r = select.select(open_fds, [], [], 0.05)[0] if open_fds else []
    for fd in r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b''
        if data:
            bufs[fd] += data
        else:
            open_fds.remove(fd)
    if status is not None and (not open_fds or not r):
        break
    if not open_fds:
        time.sleep(0.05)
if status is None:
    _, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
print(json.dumps({'code': 128 - code if code < 0 else code, 'tty': bufs[master].decode('utf-8', 'replace'),
    'stdout': bufs[outr].decode('utf-8', 'replace'), 'stderr': bufs[errr].decode('utf-8', 'replace'), 'timedOut': timed_out}))
`;

/** Runs argv on a new terminal (80x24) following the steps; resolves when it exits or was killed at timeoutMs. */
export function runInPty(opts: { argv: string[]; env: NodeJS.ProcessEnv; tty: boolean; steps?: PtyStep[]; timeoutMs: number }): Promise<PtyResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', DRIVER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('error', reject);
    child.on('close', (code) => {
      try { resolve(JSON.parse(out) as PtyResult); } catch { reject(new Error(`pty driver exited ${code}: ${err.slice(-2000)}`)); }
    });
    child.stdin.end(JSON.stringify({ argv: opts.argv, env: opts.env, tty: opts.tty, steps: opts.steps ?? [], timeoutMs: opts.timeoutMs }));
  });
}

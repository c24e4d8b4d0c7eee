// HAProxy as a child of Pier: master-worker mode (`-W -S <master socket>`), the runtime API on the admin socket, and
// reloads through the master socket (the new worker takes the listeners over, the old one finishes its requests).
// One HaproxyProcess may be started again after HAProxy died (the edge supervises it, src/edge/haproxy/edge.ts).
//
// HAProxy must not outlive the Pier that started it: it keeps the public address (Linux lets a second HAProxy bind
// the same port beside it, SO_REUSEPORT), so a Pier restarted after a crash would share its connections with a
// leftover serving a stale table and a dead Node edge behind it. Two guards: the master runs under util-linux's
// `setpriv --pdeathsig TERM`, so the kernel stops it when Pier's process dies however it dies (kill -9, OOM kill), and
// the master writes its pid next to its config, so a start first stops a leftover of the same config (Pier without
// setpriv, or a leftover of an older Pier).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { connect } from 'node:net';

/** util-linux's setpriv, which sets the parent-death signal and execs the program (same pid), where installed. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** The pid file the master writes (`-p`): beside its config, so one edge directory has one master. */
export function pidFileOf(configFile: string): string {
  return join(dirname(configFile), 'haproxy.pid');
}

/**
 * Whether `pid` runs HAProxy on `configFile` (its command line says `-f <configFile>`): only such a process is a
 * leftover of this edge's; a pid reused by another program is never signalled.
 */
export function runsConfig(pid: number, configFile: string): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  const f = argv.indexOf('-f');
  return f > 0 && argv[f + 1] === configFile && /haproxy/.test(argv[0] ?? '');
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readStatus(pid));
function readStatus(pid: number): string {
  try { return readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return ''; }
}

/** Polls every 20 ms until `pid` has exited or `ms` passed. */
async function waitExit(pid: number, ms: number): Promise<void> {
  for (let i = 0; i < ms / 20 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Stops the HAProxy master a pid file names when it still runs this config (SIGTERM stops it with its workers; SIGKILL
 * after 5 s). Resolves with its pid, or null when there was none.
 */
export async function stopLeftover(configFile: string): Promise<number | null> {
  let pid: number;
  try {
    pid = Number(readFileSync(pidFileOf(configFile), 'utf8').trim().split('\n')[0]);
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid || !runsConfig(pid, configFile)) return null;
  try { process.kill(pid, 'SIGTERM'); } catch { return null; }
  await waitExit(pid, 5000);
  if (alive(pid) && runsConfig(pid, configFile)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ }
    await waitExit(pid, 2000);
  }
  return pid;
}

/** Send one command to a HAProxy CLI socket (admin or master) and resolve with its whole answer. */
export function socketCommand(path: string, command: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    let out = '';
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`haproxy socket ${path}: no answer to "${command.split(' ')[0]}" within ${timeoutMs} ms`)); }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(command + '\n'));
    sock.on('data', (d: string) => { out += d; });
    sock.on('error', (err) => { clearTimeout(timer); reject(err); });
    sock.on('close', () => { clearTimeout(timer); resolve(out); });
  });
}

/** How a process ended, as a log line says it: `exit code 137` or `signal SIGKILL`. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal !== null ? `signal ${signal}` : `exit code ${code}`;
}

/** Why the master gave up, from its ALERT lines: the last one naming a worker's exit, else the last one, else ''. */
function lastAlert(stderr: string): string {
  const alerts = stderr.split('\n').filter((l) => l.includes('[ALERT]'));
  const line = alerts.filter((l) => / exited /.test(l)).at(-1) ?? alerts.at(-1) ?? '';
  return line.replace(/^\[ALERT\]\s*\(\d+\)\s*:\s*/, '').trim().slice(0, 300);
}

/** A running HAProxy master and its worker. */
export class HaproxyProcess {
  private child: ChildProcess | null = null;
  private stderrTail = '';
  private exited: string | null = null;
  /** The worker last seen answering (a new master must answer with another one: the old may outlive its master). */
  private lastWorker: number | null = null;

  constructor(
    private readonly bin: string,
    private readonly configFile: string,
    readonly adminSocket: string,
    readonly masterSocket: string,
    /**
     * Called when a started HAProxy master exits on its own (not through stop(), and not while start() is waiting
     * for it: start() rejects then). `how` is describeExit's text, `alert` HAProxy's last ALERT line.
     */
    private readonly onExit: (how: string, alert: string, pid: number) => void = () => {},
  ) {}
  private stopping = false;

  /** Check a config file with `haproxy -c`; rejects with HAProxy's own message. */
  check(file = this.configFile): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(this.bin, ['-c', '-q', '-f', file], { timeout: 10_000 }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`haproxy rejected ${file}: ${stderr.trim() || err.message}`));
        else resolve();
      });
    });
  }

  /**
   * Start the master and resolve once the worker answers on the admin socket; with the pid of a leftover master of
   * this config that it stopped first (see the top of this file), else null.
   */
  async start(): Promise<number | null> {
    await this.check();
    const leftover = this.child === null ? await stopLeftover(this.configFile) : null;
    this.stopping = false;
    this.exited = null;
    this.stderrTail = '';
    let started = false;
    const args = ['-W', '-S', `${this.masterSocket},mode,600`, '-p', pidFileOf(this.configFile), '-f', this.configFile];
    const child = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'TERM', '--', this.bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(this.bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => { this.stderrTail = (this.stderrTail + d).slice(-4000); });
    child.on('exit', (code, signal) => {
      this.exited = `exited (${describeExit(code, signal)})`;
      if (started && !this.stopping && this.child === child) this.onExit(describeExit(code, signal), lastAlert(this.stderrTail), child.pid ?? 0);
    });
    child.on('error', (err) => { this.exited = err.message; });
    try {
      await this.waitForWorker(this.lastWorker, 10_000);
    } catch (err) {
      if (this.exited === null) await this.stop();
      throw err;
    }
    started = true;
    return leftover;
  }

  /** The master's pid while it runs, else null. */
  masterPid(): number | null {
    return this.child !== null && this.exited === null ? this.child.pid ?? null : null;
  }

  /** Whether the master runs (it exits when its worker dies). */
  running(): boolean {
    return this.masterPid() !== null;
  }

  /** The worker's pid, from `show info` on the admin socket. */
  async workerPid(): Promise<number> {
    const info = await socketCommand(this.adminSocket, 'show info', 2000);
    const m = /^Pid: (\d+)$/m.exec(info);
    if (!m) throw new Error(`haproxy admin socket gave no Pid: ${info.slice(0, 200)}`);
    return Number(m[1]);
  }

  /** Resolve once the admin socket answers with a worker other than `oldPid`. */
  private async waitForWorker(oldPid: number | null, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (let i = 0; i < 10_000; i++) {
      if (this.exited !== null) throw new Error(`haproxy ${this.exited}: ${this.stderrTail.trim().slice(-1000)}`);
      try {
        const pid = await this.workerPid();
        if (pid !== oldPid) { this.lastWorker = pid; return; }
      } catch { /* not listening yet */ }
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`haproxy worker not ready within ${ms} ms: ${this.stderrTail.trim().slice(-1000)}`);
  }

  /** Reload the config (already written and checked) through the master socket; resolves once the new worker serves. */
  async reload(): Promise<void> {
    const old = await this.workerPid();
    await socketCommand(this.masterSocket, 'reload', 5000);
    await this.waitForWorker(old, 15_000);
  }

  /**
   * Runtime API command on the worker; rejects when HAProxy answers with an error, or without `expect` when given.
   * A `payload` (e.g. a PEM bundle) follows the command (`<<`, ended by an empty line) and is never in an error.
   */
  async command(cmd: string, payload?: string, expect?: string): Promise<string> {
    const out = await socketCommand(this.adminSocket, payload === undefined ? cmd : `${cmd} <<\n${payload}\n`);
    if (/^(Unknown|No such|Require|Invalid|'[^']*' expects|Can't|Cannot|Failed|Missing|Not found|Error)/im.test(out)
      || (expect !== undefined && !out.includes(expect))) {
      throw new Error(`haproxy "${cmd}": ${out.trim().slice(0, 300)}`);
    }
    return out;
  }

  /** Stop the master (and with it the worker); resolves when it exited. */
  async stop(): Promise<void> {
    const child = this.child;
    this.stopping = true;
    if (!child || this.exited !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { child.kill('SIGKILL'); }, 5000);
      child.once('exit', () => { clearTimeout(t); resolve(); });
      child.kill('SIGTERM'); // master-worker: SIGTERM stops the master and its workers
    });
  }
}

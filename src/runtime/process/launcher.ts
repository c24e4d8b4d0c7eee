// Starts instance supervisors from a small helper process instead of the control plane itself (issue #26). Node's
// spawn is a fork() (libuv 1.46: no vfork, no posix_spawn on Linux), which copies the parent's page tables and makes
// every page it writes afterwards fault once: measured 1.2 ms from a 42 MB process, 8.9 ms from 342 MB, 22 ms from
// 2.2 GB. The control plane's RSS grows with the instances it follows (and with everything else it holds), so each
// start cost more than the one before; the helper stays at ~40 MB RSS (~10 MB PSS beside the control plane's node),
// so a start costs the same at N = 1,000 as at N = 10. The helper is started on demand and exits after
// LAUNCHER_IDLE_MS without work, and when the control plane goes (its IPC channel closes): idle, it costs nothing.
// Supervisors are detached (own session), so they outlive the helper as they outlive the control plane.
// The helper keeps a ChildProcess per live supervisor (node holds it until the child exits), so it must keep nothing
// else per start: holding each request (the sandbox's argv, the app's environment) grew its heap by ~30 KiB per
// instance toward its 32 MiB cap, and at N = 1,000 every start paid for back-to-back full GCs (2.6 -> 15.2 ms of the
// helper's CPU per start; 1 full GC instead of 161 over 1,000 starts once it keeps only the ChildProcess).
import { spawn, type ChildProcess } from 'node:child_process';

/** One supervisor to start: program, argv, cwd, environment, its log file (stdout and stderr), fd 3 and fd 4 contents. */
export interface LaunchRequest {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Opened for append (mode 0600) as the child's stdout and stderr. */
  logPath: string;
  /** Written to the child's fd 3 and fd 4 (pipes), then closed. */
  fd3: Buffer;
  fd4: Buffer;
}

/** How long the helper waits for the next request before it exits. */
export const LAUNCHER_IDLE_MS = 30_000;

/**
 * The helper (plain JavaScript, run with `node -e`: no TypeScript loader to start). Requests and answers travel on
 * the IPC channel; fd 3 and fd 4 contents (the app's environment, the seccomp program) only ever sit in memory.
 * It exits once idle or disconnected, but only after every pipe it writes has been flushed to its supervisor.
 */
export const LAUNCHER_SCRIPT = `'use strict';
const { spawn } = require('node:child_process');
const { openSync, closeSync } = require('node:fs');
process.title = 'pier-launcher';
let writing = 0, idle, gone = false;
const maybeExit = () => { if (writing === 0 && gone) process.exit(0); };
const arm = () => { clearTimeout(idle); idle = setTimeout(() => { gone = true; maybeExit(); }, ${LAUNCHER_IDLE_MS}); };
process.on('disconnect', () => { gone = true; maybeExit(); });
process.on('message', (m) => { arm(); launch(m); });
// Nothing the child's listeners keep may hold the request (argv, the app's environment): a live supervisor's
// ChildProcess stays reachable until it exits, and so would everything its closures share a scope with.
function launch(m) {
  const id = m.id;
  let child;
  try {
    const fd = openSync(m.logPath, 'a', 0o600);
    try {
      child = spawn(m.file, m.args, { detached: true, stdio: ['ignore', fd, fd, 'pipe', 'pipe'], cwd: m.cwd, env: m.env });
    } finally { closeSync(fd); }
  } catch (err) {
    process.send({ id, error: String((err && err.message) || err) });
    return;
  }
  child.spawnargs = []; // the sandbox's whole argv, never read again
  let failed;
  child.on('error', (err) => { failed = err; });
  feed(child.stdio[3], m.fd3);
  feed(child.stdio[4], m.fd4);
  child.unref();
  // spawn reports a missing program on the next tick ('error'), with no pid.
  setImmediate(() => process.send({ id, pid: child.pid || 0, error: failed ? String(failed.message) : undefined }));
}
function feed(s, data) {
  writing++;
  let done = false;
  const finish = () => { if (!done) { done = true; writing--; maybeExit(); } };
  s.on('error', finish); s.on('close', finish); s.on('finish', finish);
  s.end(Buffer.from(data, 'base64'));
}
arm();
`;

interface Pending { resolve: (pid: number) => void; reject: (err: Error) => void }

/** The helper of this process, started on demand; several drivers share it. */
class Launcher {
  private child?: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** Starts `req` detached from the helper; resolves with its pid. */
  launch(req: LaunchRequest): Promise<number> {
    const child = this.helper();
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      child.channel?.ref(); // a start in flight keeps this process alive; an idle helper does not
      const msg = { id, file: req.file, args: req.args, cwd: req.cwd, env: req.env, logPath: req.logPath, fd3: req.fd3.toString('base64'), fd4: req.fd4.toString('base64') };
      child.send(msg, (err) => { if (err) this.settle(id, new Error(`the supervisor launcher is gone: ${err.message}`)); });
    });
  }

  /**
   * Starts the helper now if it is not running (it exits after LAUNCHER_IDLE_MS idle), so that node's own start
   * (~40 ms here) overlaps a start's other steps (its network, its stage) instead of coming after them (issue #23).
   */
  warm(): void {
    try { this.helper(); } catch { /* launch() says why, with the start it fails */ }
  }

  /** The pid of the running helper, if any (diagnostics and the density bench). */
  get pid(): number | undefined { return this.child?.pid; }

  private helper(): ChildProcess {
    if (this.child?.connected) return this.child;
    // Only what node needs: the control plane's environment (database URL, tokens) stays in the control plane.
    const child = spawn(process.execPath, ['--max-old-space-size=32', '-e', LAUNCHER_SCRIPT], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env: { LC_ALL: 'C' },
    });
    child.on('message', (m: { id: number; pid?: number; error?: string }) => {
      this.settle(m.id, m.error || !m.pid ? new Error(m.error ?? 'no pid') : undefined, m.pid);
    });
    const lost = (why: string) => {
      if (this.child === child) this.child = undefined;
      for (const id of [...this.pending.keys()]) this.settle(id, new Error(`the supervisor launcher ${why}`));
    };
    child.on('error', (err) => lost(`could not run: ${err.message}`));
    child.on('exit', (code, sig) => lost(`exited (${code ?? sig})`));
    child.unref();
    child.channel?.unref();
    this.child = child;
    return child;
  }

  private settle(id: number, err: Error | undefined, pid = 0): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.child?.channel?.unref();
    if (err) p.reject(err); else p.resolve(pid);
  }
}

/** The process-wide launcher. */
export const supervisorLauncher = new Launcher();

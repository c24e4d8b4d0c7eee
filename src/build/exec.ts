// Runs one build step as an argv array (never a shell string from us), streaming its output line by line, bounded by
// an AbortSignal (cancel and the build time limit). The whole process group is killed so `npm` children die too.
import { spawn } from 'node:child_process';

/** Options of one build step. */
export interface StepOptions {
  cwd: string;
  env: Record<string, string>;
  signal: AbortSignal;
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  /** cgroup.procs files the step joins before it runs (the build's cpu/memory cap). */
  joinFiles?: string[];
  /** How errors name the step (default: its argv); a sandboxed step is named by the tenant's command, not bwrap's. */
  label?: string;
  /**
   * Bytes the step reads on fd 3, 4, ... (one pipe each): a sandboxed step's environment, kept off argv and off the
   * host-side env, and its seccomp filter.
   */
  extraFds?: Buffer[];
}

// Joins each cgroup named by the arguments, then runs the step: `sh -c JOIN step-argv0 files... -- argv...`.
const JOIN = 'while [ "$1" != "--" ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';

/** A step that exited non-zero, was killed, or could not start. */
export class StepError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepError';
  }
}

/** Splits a byte stream into lines and hands each complete one to `emit`; `flush()` emits the rest. */
export function lineSplitter(emit: (line: string) => void): { push(chunk: Buffer | string): void; flush(): void } {
  let buf = '';
  return {
    push(chunk) {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) { emit(buf.slice(0, i).replace(/\r$/, '')); buf = buf.slice(i + 1); }
    },
    flush() { if (buf) emit(buf); buf = ''; },
  };
}

/** Runs argv to completion; rejects with a StepError naming the step when it fails or is aborted. */
export function runStep(argv: string[], o: StepOptions): Promise<void> {
  const name = o.label ?? argv.join(' ');
  if (o.signal.aborted) return Promise.reject(new StepError(`${o.label ?? argv[0]} not started: ${reasonOf(o.signal)}`));
  return new Promise((resolve, reject) => {
    const full = o.joinFiles?.length ? ['/bin/sh', '-c', JOIN, 'pier-build-step', ...o.joinFiles, '--', ...argv] : argv;
    const extra = o.extraFds ?? [];
    const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'pipe', 'pipe', ...extra.map(() => 'pipe' as const)];
    const child = spawn(full[0]!, full.slice(1), { cwd: o.cwd, env: o.env, stdio, detached: true });
    extra.forEach((bytes, i) => {
      const pipe = child.stdio[3 + i] as NodeJS.WritableStream & { on(e: 'error', f: () => void): void };
      pipe.on('error', () => { /* the step exited without reading it: reported by close */ });
      pipe.end(bytes);
    });
    const out = lineSplitter((l) => o.onLine(l, 'stdout'));
    const err = lineSplitter((l) => o.onLine(l, 'stderr'));
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    const kill = () => { try { if (child.pid) process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ } };
    o.signal.addEventListener('abort', kill, { once: true });
    child.on('error', (e) => {
      o.signal.removeEventListener('abort', kill);
      reject(new StepError(`${o.label ?? argv[0]} could not start: ${e.message}`));
    });
    child.on('close', (code, sig) => {
      o.signal.removeEventListener('abort', kill);
      out.flush(); err.flush();
      if (o.signal.aborted) reject(new StepError(`${name} stopped: ${reasonOf(o.signal)}`));
      else if (code === 0) resolve();
      else reject(new StepError(`${name} failed with ${code === null ? `signal ${sig}` : `exit code ${code}`}`));
    });
  });
}

/** Why a signal was aborted, in words. */
export function reasonOf(signal: AbortSignal): string {
  const r = signal.reason as unknown;
  if (r instanceof Error && r.name === 'TimeoutError') return 'build time limit reached';
  if (r instanceof Error) return r.message;
  return typeof r === 'string' ? r : 'build canceled';
}

/**
 * `signal` or a time limit, whichever comes first. Not AbortSignal.any([signal, AbortSignal.timeout(ms)]): on Node 20
 * the timeout signal inside a composite can be garbage-collected before it fires (nodejs/node#57736), and the build
 * then runs past its limit. Here a plain timer holds the controller; call dispose() when the work is done.
 */
export function timeLimited(signal: AbortSignal, ms: number): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const onAbort = () => ac.abort(signal.reason);
  if (signal.aborted) onAbort(); else signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => ac.abort(new DOMException(`time limit of ${ms} ms reached`, 'TimeoutError')), ms);
  return {
    signal: ac.signal,
    dispose() { clearTimeout(timer); signal.removeEventListener('abort', onAbort); },
  };
}

// Helpers of the function suites: a handler directory prepared the way the builder prepares it, and its wrapper
// spawned on a free port (read from the wrapper's "function ready" log line), with its log lines kept.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { findHandler, FUNCTION_DIR } from '../../src/build/functions/detect.ts';
import { prepareFunction } from '../../src/build/functions/build.ts';
import { dirView } from '../../src/build/builder.ts';
import { tempDir } from '../support/temp.ts';

/** Writes `files` into a new temp directory; returns its path. */
export function writeDir(files: Record<string, string>, prefix = 'pier-fn-'): string {
  const dir = tempDir(prefix);
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

/** A running wrapper. */
export interface RunningFunction {
  url: string;
  child: ChildProcess;
  /** stderr lines so far (the wrapper's JSON log and anything the handler printed). */
  lines: string[];
  /** Resolves with the exit code once the process exits. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Prepares `dir` as a function and starts its wrapper on a free loopback port. */
export async function startWrapper(dir: string, env: Record<string, string> = {}): Promise<RunningFunction> {
  const fn = findHandler(dirView(dir));
  if (!fn) throw new Error(`no handler in ${dir}`);
  await prepareFunction(dir, fn);
  const argv = fn.language === 'python' ? ['python3', join(dir, FUNCTION_DIR, 'wrapper.py')] : [process.execPath, join(dir, FUNCTION_DIR, 'wrapper.mjs')];
  const child = spawn(argv[0]!, argv.slice(1), { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  const ready = new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (l) => {
      lines.push(l);
      try { const j = JSON.parse(l) as { msg?: string; port?: number }; if (j.msg === 'function ready' && j.port) resolve(j.port); } catch { /* not JSON */ }
    });
    void exited.then((code) => reject(new Error(`wrapper exited (${code}) before it was ready:\n${lines.join('\n')}`)));
    setTimeout(() => reject(new Error(`wrapper not ready within 15 s:\n${lines.join('\n')}`)), 15_000).unref();
  });
  const port = await ready.catch((err) => { child.kill('SIGKILL'); throw err; });
  return {
    url: `http://127.0.0.1:${port}`, child, lines, exited,
    async stop() { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited; } },
  };
}

/** Runs `dir` as a function expecting it to fail to start; resolves with its exit code and output. */
export async function failingWrapper(dir: string): Promise<{ code: number | null; lines: string[] }> {
  try {
    const f = await startWrapper(dir);
    await f.stop();
    throw new Error('the wrapper started');
  } catch (err) {
    const m = /wrapper exited \((.*?)\) before it was ready:\n([\s\S]*)$/.exec((err as Error).message);
    if (!m) throw err;
    return { code: m[1] === 'null' ? null : Number(m[1]), lines: m[2]!.split('\n') };
  }
}

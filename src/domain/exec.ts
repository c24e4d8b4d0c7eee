// What `instances exec` needs from whoever runs instances, in the API's words: the API opens a command in an instance
// through an ExecBackend the composition root builds over the runtime (src/runtime's ExecSession is this ExecStream).
import type { Instance } from './types.ts';

/** A command running in an instance: stdin in, stdout/stderr out, terminal resizes, an exit code at the end. */
export interface ExecStream {
  /** The command's standard input; end() closes it (EOF). Writes after the command exited are dropped. */
  stdin: { write(data: Buffer): void; end(): void };
  /** Output as it comes (with a tty, everything arrives on stdout and stderr ends empty). */
  stdout: NodeJS.ReadableStream;
  stderr: NodeJS.ReadableStream;
  /** Resizes the terminal (tty only; a no-op otherwise). */
  resize(cols: number, rows: number): Promise<void>;
  /** Resolves with the exit code once the command ended and its output was read (128 + n when killed by signal n). */
  exit: Promise<number>;
  /** Kills the command (idempotent). */
  kill(): void;
}

/** Opens a command in an instance (the instance row says which workload: `allocation_id` is the runtime's id). */
export interface ExecBackend {
  open(instance: Instance, opts: { command: string[]; tty: boolean; size?: { cols: number; rows: number } }): Promise<ExecStream>;
}

// What `instances exec` needs from whoever runs instances, in the API's words: the API opens a command in an instance
// through an ExecBackend the composition root builds over the runtime (src/runtime's ExecSession fits ExecStream).
import type { Instance } from './types.ts';

/** A command running in an instance: stdin in, stdout/stderr out, terminal resizes, an exit code at the end. */
export interface ExecStream {
  stdin: { write(data: Buffer): void; end(): void };
  stdout: NodeJS.ReadableStream;
  stderr: NodeJS.ReadableStream;
  resize(cols: number, rows: number): Promise<void>;
  /** The command's exit code (128 + n when killed by signal n), once its output ended. */
  exit: Promise<number>;
  kill(): void;
}

/** Opens a command in an instance (the instance row says which workload: `allocation_id` is the runtime's id). */
export interface ExecBackend {
  open(instance: Instance, opts: { command: string[]; tty: boolean; size?: { cols: number; rows: number } }): Promise<ExecStream>;
}

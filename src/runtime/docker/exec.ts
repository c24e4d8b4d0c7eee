// Runtime.exec for Docker: the engine's exec API. POST /containers/{id}/exec creates the exec, POST /exec/{id}/start
// hijacks the connection (stdin in; output raw with a tty, else multiplexed frames), POST /exec/{id}/resize sizes its
// terminal, GET /exec/{id}/json gives its exit code. The engine copies the container's process spec (user,
// capabilities, no-new-privileges, seccomp and AppArmor profiles, cgroup, env), so nothing is set here to match the
// instance's confinement: only Privileged is pinned false. test/compat/koyeb-cli-exec.slow.test.ts compares them.
import { PassThrough } from 'node:stream';
import type { ExecOptions, ExecSession } from '../contract.ts';
import { RuntimeError, workloadNotFound } from '../errors.ts';
import type { DockerEngine } from './engine.ts';

/** Splits Docker's multiplexed stream (8-byte header: stream, 0, 0, 0, size uint32 BE) into stdout and stderr bytes. */
export class StreamDemuxer {
  private pending: Buffer = Buffer.alloc(0);

  /** Feeds bytes; calls out for every complete frame's payload (stream 2 is stderr, anything else stdout). */
  push(chunk: Buffer, out: (stream: 'stdout' | 'stderr', data: Buffer) => void): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const stream = this.pending[0] === 2 ? 'stderr' : 'stdout';
      const data = Buffer.from(this.pending.subarray(8, 8 + size));
      this.pending = this.pending.subarray(8 + size);
      if (size > 0) out(stream, data);
    }
  }
}

interface ExecJson { Running: boolean; ExitCode: number | null; Pid: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `opts.command` in a running container. `local`: the engine runs on this host, so kill() may signal the exec's
 * pid (the engine has no "kill exec"); for a remote engine (a Swarm node) kill() only drops the connection.
 */
export async function dockerExec(engine: DockerEngine, containerId: string, opts: ExecOptions, local = true): Promise<ExecSession> {
  const id = encodeURIComponent(containerId);
  const c = await engine.jsonOrNull<{ State: { Running: boolean } }>('GET', `/containers/${id}/json`);
  if (!c) throw workloadNotFound(containerId);
  if (!c.State.Running) throw new RuntimeError('not_found', `instance ${containerId} is not running`);
  if (opts.command.length === 0) throw new RuntimeError('invalid_spec', 'exec needs a command');
  const created = await engine.json<{ Id: string }>('POST', `/containers/${id}/exec`, {
    body: {
      AttachStdin: true, AttachStdout: true, AttachStderr: true, Tty: opts.tty, Privileged: false,
      Cmd: opts.command, Env: Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`),
    },
  });
  const execPath = `/exec/${encodeURIComponent(created.Id)}`;
  const socket = await engine.hijack('POST', `${execPath}/start`, { body: { Detach: false, Tty: opts.tty } });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let stdinOpen = true;
  const resize = async (cols: number, rows: number) => {
    if (!opts.tty || cols <= 0 || rows <= 0) return;
    // Right after start the engine may not have the process yet (it answers an error): retry briefly, as docker's CLI does.
    for (let i = 0; i < 10; i++) {
      try {
        await engine.json('POST', `${execPath}/resize`, { query: { h: rows, w: cols } });
        return;
      } catch {
        await sleep(10 * (i + 1));
      }
    }
  };
  if (opts.tty && opts.size) await resize(opts.size.cols, opts.size.rows);

  const demux = new StreamDemuxer();
  socket.on('data', (chunk: Buffer) => {
    if (opts.tty) stdout.write(chunk);
    else demux.push(chunk, (stream, data) => (stream === 'stderr' ? stderr : stdout).write(data));
  });
  const ended = new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.once('end', () => resolve());
    socket.once('error', () => resolve());
  });
  let pid = 0;
  const kill = () => {
    // The engine has no "kill exec": a local engine's exec is a process on this host, so signal it.
    void (async () => {
      if (local && !pid) pid = (await engine.jsonOrNull<ExecJson>('GET', `${execPath}/json`).catch(() => null))?.Pid ?? 0;
      if (local && pid > 1) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
      socket.destroy();
    })();
  };
  if (opts.signal) {
    if (opts.signal.aborted) kill();
    else opts.signal.addEventListener('abort', kill, { once: true });
  }
  const exit = (async () => {
    await ended;
    stdout.end();
    stderr.end();
    opts.signal?.removeEventListener('abort', kill);
    // The stream ends when the process closed its output; the engine records the exit code a moment later.
    for (let i = 0; i < 100; i++) {
      const info = await engine.jsonOrNull<ExecJson>('GET', `${execPath}/json`).catch(() => null);
      if (!info) break;
      if (!info.Running && info.ExitCode !== null) return info.ExitCode;
      await sleep(20);
    }
    return 137;
  })();
  return {
    stdin: {
      write(data) { if (stdinOpen && !socket.destroyed) socket.write(data); },
      end() { if (stdinOpen && !socket.destroyed) socket.end(); stdinOpen = false; },
    },
    stdout, stderr, resize, exit, kill,
  };
}

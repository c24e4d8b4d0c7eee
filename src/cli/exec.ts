// `pier instances exec ID -- CMD...` and `pier services exec SERVICE -- CMD...`: the /v1/streams/instances/exec
// websocket (the frames koyeb's CLI sends, see src/api/routes-exec.ts). A terminal on both stdin and stdout gets a
// remote tty (raw mode here, its size sent first and on every resize); otherwise three plain streams, and unlike
// koyeb's CLI a pipe works as stdin (`echo data | pier instances exec ID -- cat`). The exit code is the command's.
import WebSocket from 'ws';
import { UsageError } from './args.ts';
import type { Ctx } from './command.ts';
import { CliError } from './errors.ts';

/** The process streams an exec uses (binary, unlike CliIO's text); tests pass their own. */
export interface ExecStreams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown };
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number; on(event: 'resize', fn: () => void): unknown };
  stderr: NodeJS.WritableStream;
}

/** Runs `command` in an instance (INSTANCE_ID) or a running instance of a service (SERVICE_ID); resolves with its exit code. */
export function runExec(ctx: Ctx, target: { id: string; idType: 'INSTANCE_ID' | 'SERVICE_ID' }, command: string[], streams: ExecStreams = process as unknown as ExecStreams): Promise<number> {
  if (command.length === 0) throw new UsageError('give the command to run after --, e.g. pier instances exec ID -- sh');
  const client = ctx.client();
  const url = client.url('/v1/streams/instances/exec').replace(/^http/, 'ws');
  const token = client.bearer();
  const asProtocol = token !== undefined && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(token);
  const ws = new WebSocket(url, asProtocol ? ['Bearer', token] : [], { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const tty = Boolean(streams.stdin.isTTY && streams.stdout.isTTY);
  const size = () => ({ width: streams.stdout.columns ?? 80, height: streams.stdout.rows ?? 24 });
  const send = (frame: unknown) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame)); };
  const onData = (chunk: Buffer | string) => send({ body: { stdin: { data: Buffer.from(chunk).toString('base64') } } });
  const onEnd = () => send({ body: { stdin: { close: true } } });
  const onResize = () => send({ body: { tty_size: size() } });
  let raw = false;
  const cleanup = () => {
    streams.stdin.off('data', onData);
    streams.stdin.off('end', onEnd);
    (streams.stdout as NodeJS.EventEmitter).off('resize', onResize);
    if (raw) streams.stdin.setRawMode?.(false);
    streams.stdin.pause();
  };
  return new Promise<number>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, code = 0) => {
      if (settled) return;
      settled = true;
      cleanup();
      unregister();
      if (ws.readyState === WebSocket.OPEN) ws.close();
      if (err) reject(err);
      else resolve(code);
    };
    const unregister = ctx.io.onInterrupt(() => { if (!tty) finish(new CliError('interrupted'), 130); });
    ws.on('open', () => {
      send({ id: target.id, idType: target.idType, body: { command, disableTty: !tty, ...(tty ? { tty_size: size() } : {}) } });
      if (tty) {
        streams.stdin.setRawMode?.(true);
        raw = true;
        streams.stdout.on('resize', onResize);
      }
      streams.stdin.on('data', onData);
      streams.stdin.on('end', onEnd);
      streams.stdin.resume();
    });
    ws.on('message', (data) => {
      let frame: { result?: { stdout?: { data?: string }; stderr?: { data?: string }; exited?: boolean; exit_code?: number }; error?: { code?: number; message?: string } };
      try { frame = JSON.parse(String(data)) as typeof frame; } catch { return; }
      if (frame.error) return finish(new CliError(`exec failed: ${frame.error.message ?? 'unknown error'}`));
      const r = frame.result;
      if (!r) return;
      if (r.stdout?.data) streams.stdout.write(Buffer.from(r.stdout.data, 'base64'));
      if (r.stderr?.data) streams.stderr.write(Buffer.from(r.stderr.data, 'base64'));
      if (r.exited) finish(null, r.exit_code ?? 0);
    });
    ws.on('unexpected-response', (_req, res) => {
      ws.terminate();
      finish(new CliError(`exec was refused: HTTP ${res.statusCode}${res.statusCode === 401 ? ' (check the token)' : res.statusCode === 403 ? ' (a read-only token cannot exec)' : ''}`));
    });
    ws.on('error', (err) => finish(new CliError(`exec failed: ${err.message}`)));
    ws.on('close', () => finish(new CliError('the exec connection closed before the command exited')));
  });
}

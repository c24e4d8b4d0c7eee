// Logs for services, deployments and instances: a page from GET /v1/streams/logs/query, or with --tail/-f a
// websocket to /v1/streams/logs/tail (token in `Sec-WebSocket-Protocol: Bearer, <token>`, as the koyeb CLI sends).
import WebSocket from 'ws';
import type { LogEntry } from '../domain/types.ts';
import type { FlagSpec } from './args.ts';
import type { Ctx } from './command.ts';
import type { Query } from './client.ts';
import { parseDurationMs } from './duration.ts';
import { CliError } from './errors.ts';
import { UsageError } from './args.ts';
import { formatLogEntry, wantsColour } from './log-format.ts';

/** The log flags shared by `services logs`, `deployments logs` and `instances logs`. */
export const LOG_FLAGS: FlagSpec[] = [
  { name: 'type', short: 't', kind: 'string', placeholder: 'TYPE', help: 'Log type: runtime or build', defaultText: 'runtime' },
  { name: 'instance', kind: 'string', placeholder: 'ID', help: 'Only this instance' },
  { name: 'tail', short: 'f', kind: 'bool', aliases: ['follow'], help: 'Stream new lines until interrupted' },
  { name: 'since', kind: 'string', placeholder: 'DURATION', help: 'Start this long ago, e.g. 10m' },
  { name: 'start-time', kind: 'string', placeholder: 'TIME', help: 'Start time (RFC 3339)' },
  { name: 'end-time', kind: 'string', placeholder: 'TIME', help: 'End time (RFC 3339; not with --tail)' },
  { name: 'regex-search', kind: 'string', placeholder: 'REGEX', help: 'Only lines matching this regular expression' },
  { name: 'text-search', kind: 'string', placeholder: 'TEXT', help: 'Only lines containing this text' },
  { name: 'order', kind: 'string', placeholder: 'ORDER', help: 'asc or desc (query only)', defaultText: 'asc' },
  { name: 'raw', kind: 'bool', help: 'Print only the messages, without time, instance and stream' },
];

/** Decides, line by line, whether a line belongs to what the user asked to see (e.g. the current deployment). */
export type LineFilter = (entry: LogEntry) => boolean | Promise<boolean>;

function isoTime(text: string, flag: string): string {
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new UsageError(`${flag} "${text}" is not a time (use RFC 3339, e.g. 2026-01-02T15:04:05Z)`);
  return new Date(t).toISOString();
}

/** Builds the logs query from the shared flags plus the scope (service_id, deployment_id or instance_id). */
export function logQuery(ctx: Ctx, scope: Query): Query {
  const a = ctx.args;
  const type = a.str('type') ?? 'runtime';
  if (type !== 'runtime' && type !== 'build') throw new UsageError(`--type must be runtime or build, not "${type}"`);
  const order = a.str('order');
  if (order !== undefined && order !== 'asc' && order !== 'desc') throw new UsageError(`--order must be asc or desc`);
  if (a.has('regex-search') && a.has('text-search')) throw new UsageError('use --regex-search or --text-search, not both');
  if (a.has('since') && a.has('start-time')) throw new UsageError('use --since or --start-time, not both');
  let start = a.str('start-time') !== undefined ? isoTime(a.str('start-time')!, '--start-time') : undefined;
  const since = a.str('since');
  if (since !== undefined) {
    const ms = parseDurationMs(since);
    if (ms === undefined) throw new UsageError(`--since "${since}" is not a duration (e.g. 10m, 2h)`);
    start = new Date(ctx.io.now() - ms).toISOString();
  }
  const end = a.str('end-time') !== undefined ? isoTime(a.str('end-time')!, '--end-time') : undefined;
  return {
    type,
    ...scope,
    instance_id: a.str('instance') ?? scope.instance_id,
    start,
    end,
    regex: a.str('regex-search'),
    text: a.str('text-search'),
  };
}

function printEntry(ctx: Ctx, entry: LogEntry): void {
  if (ctx.output === 'json') ctx.out(JSON.stringify(entry));
  else ctx.out(formatLogEntry(entry, { raw: ctx.args.bool('raw'), colour: wantsColour(ctx.io.stdoutIsTTY, ctx.io.env) }));
}

/**
 * Prints the logs for a scope: one query page, or a live tail with --tail. Several scopes (a service's serving and
 * rolling-out deployments) are queried apart and merged by time. `tail` lets a caller follow a wider scope than it
 * queries (a service's tail outlives its current deployment) and drop lines itself.
 */
export async function showLogs(ctx: Ctx, scope: Query | Query[], tail?: { scope: Query; keep: LineFilter }): Promise<number> {
  const scopes = Array.isArray(scope) ? scope : [scope];
  const queries = scopes.map((s) => logQuery(ctx, s));
  if (ctx.args.bool('tail')) {
    if (queries[0]!.end !== undefined) throw new UsageError('--end-time cannot be used with --tail');
    return tailLogs(ctx, tail ? logQuery(ctx, tail.scope) : queries[0]!, tail?.keep);
  }
  // Newest first from the API keeps the latest lines when the page is full; print them oldest first unless asked.
  const order = ctx.args.str('order');
  const replies = await Promise.all(queries.map((q) =>
    ctx.client().get<{ data?: LogEntry[] }>('/v1/streams/logs/query', { ...q, order: order ?? 'desc' })));
  const data = replies.flatMap((r) => r.data ?? []);
  if (replies.length > 1) {
    const sign = (order ?? 'desc') === 'asc' ? 1 : -1;
    data.sort((a, b) => sign * a.created_at.localeCompare(b.created_at));
  }
  for (const entry of order ? data : [...data].reverse()) printEntry(ctx, entry);
  return 0;
}

/** An open log stream: `done` settles when it ends (rejects on a refused or failed stream); `close` ends it. */
export interface LogTail {
  done: Promise<void>;
  close(): void;
}

/** Opens the tail websocket for a query and calls `onEntry` for each line, in order (it may be async). */
export function openLogTail(ctx: Ctx, query: Query, onEntry: (entry: LogEntry) => void | Promise<void>): LogTail {
  const client = ctx.client();
  const url = client.url('/v1/streams/logs/tail', query).replace(/^http/, 'ws');
  const token = client.bearer();
  // A subprotocol must be an HTTP token; a token outside that alphabet goes only in the Authorization header.
  const asProtocol = token !== undefined && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(token);
  const ws = new WebSocket(url, asProtocol ? ['Bearer', token] : [], {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  // Lines are handled in arrival order even when handling one needs a request: one chain.
  let handling: Promise<void> = Promise.resolve();
  const done = new Promise<void>((resolve, reject) => {
    const end = (err?: Error): void => void handling.then(() => (err ? reject(err) : resolve()), reject);
    ws.on('message', (data) => {
      let frame: { result?: LogEntry; error?: { message?: string } };
      try {
        frame = JSON.parse(String(data)) as typeof frame;
      } catch {
        return; // Ignore frames that are not JSON (keep-alives); the stream carries on.
      }
      if (frame.error) {
        ws.close();
        end(new CliError(`log stream error: ${frame.error?.message ?? 'unknown error'}`));
      } else if (frame.result) {
        const entry = frame.result;
        handling = handling.then(() => onEntry(entry));
      }
    });
    ws.on('unexpected-response', (_req, res) => {
      ws.terminate();
      end(new CliError(`the log stream was refused: HTTP ${res.statusCode}`));
    });
    ws.on('error', (err) => end(new CliError(`log stream failed: ${err.message}`)));
    ws.on('close', () => end());
  });
  return { done, close: () => ws.close() };
}

async function tailLogs(ctx: Ctx, query: Query, keep?: LineFilter): Promise<number> {
  const tail = openLogTail(ctx, query, async (entry) => {
    if (!keep || (await keep(entry))) printEntry(ctx, entry);
  });
  const unregister = ctx.io.onInterrupt(() => tail.close());
  try {
    await tail.done;
    return 0;
  } finally {
    unregister();
  }
}

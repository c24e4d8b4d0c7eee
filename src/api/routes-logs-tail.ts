// GET /v1/streams/logs/tail over a websocket: first the recent backlog (oldest first), then live lines from the
// LogBus. Auth: `Sec-WebSocket-Protocol: Bearer, <token>` (Koyeb's CLI) or the Authorization header.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { PierError } from '../domain/errors.ts';
import { matchesLogFilter, queryLogLines, toLogEntry, type LogLine } from '../store/logs.ts';
import type { Store } from '../store/store.ts';
import { authenticate } from './auth.ts';
import { errorReply } from './error-body.ts';
import { Query } from './http.ts';
import { EXEC_PATH } from './routes-exec.ts';
import { parseLogFilter } from './routes-logs.ts';

const TAIL_PATH = '/v1/streams/logs/tail';
const MAX_BACKLOG = 1000;

function lineKey(l: LogLine): string {
  return `${l.created_at}\u0000${l.instance_id}\u0000${l.stream}\u0000${l.msg}`;
}

function rejectUpgrade(socket: Duplex, err: PierError, path: string): void {
  const reply = errorReply(err, path);
  const body = JSON.stringify(reply.body);
  socket.end(`HTTP/1.1 ${reply.status} ${reply.reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** Serves the tail websocket on the API server; returns a handle that closes open tails. */
export function attachLogTail(
  server: http.Server, store: Store, logger: (entry: Record<string, unknown>) => void,
): { close(): void } {
  // Echo "Bearer" as the chosen subprotocol so browsers, which require one of theirs back, accept the handshake.
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (protocols) => (protocols.has('Bearer') ? 'Bearer' : protocols.has('bearer') ? 'bearer' : false),
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://pier.invalid');
    if (url.pathname === EXEC_PATH) return; // served by routes-exec.ts
    if (url.pathname !== TAIL_PATH) {
      rejectUpgrade(socket, new PierError('not_implemented', `websocket ${url.pathname} is not implemented by Pier`), url.pathname);
      return;
    }
    void (async () => {
      const organizationId = await authenticate(store, req);
      const q = new Query(url.searchParams);
      const filter = parseLogFilter(q, organizationId, 24 * 3600_000, false);
      const limit = Math.min(q.int('limit', MAX_BACKLOG)!, MAX_BACKLOG);
      wss.handleUpgrade(req, socket, head, (ws) => { void stream(ws, filter, limit); });
    })().catch((err: unknown) => {
      if (err instanceof PierError) rejectUpgrade(socket, err, url.pathname);
      else {
        logger({ msg: 'log tail upgrade failed', error: err instanceof Error ? err.message : String(err) });
        rejectUpgrade(socket, new PierError('api_error', 'Internal error'), url.pathname);
      }
    });
  });

  async function stream(ws: WebSocket, filter: ReturnType<typeof parseLogFilter>, limit: number): Promise<void> {
    // Subscribe before reading the backlog so nothing appended in between is lost; duplicates are skipped.
    const pending: LogLine[] = [];
    let live = false;
    // The backlog's lines, until a line arrives that is newer than all of them: a line published after the backlog
    // was read can still be one of its own (another control plane's lines relayed here, src/store/log-relay.ts).
    let seen = new Set<string>();
    let newest = '';
    const send = (l: LogLine) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ result: toLogEntry(l) }));
    };
    const off = store.logBus.subscribe((l) => {
      if (!matchesLogFilter(l, filter)) return;
      if (!live) { pending.push(l); return; }
      if (seen.size > 0) {
        if (seen.has(lineKey(l))) return;
        if (l.created_at > newest) seen = new Set();
      }
      send(l);
    });
    ws.on('close', off);
    ws.on('error', off);
    try {
      const { lines } = await queryLogLines(store.db, filter, 'desc', limit);
      const backlog = lines.reverse();
      seen = new Set(backlog.map(lineKey));
      newest = backlog.at(-1)?.created_at ?? '';
      for (const l of backlog) send(l);
      for (const l of pending) if (!seen.has(lineKey(l))) { seen.add(lineKey(l)); send(l); }
      live = true;
    } catch (err) {
      logger({ msg: 'log tail backlog failed', error: err instanceof Error ? err.message : String(err) });
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ error: { code: 13, message: 'internal error', details: [] } }));
      ws.close(1011);
      off();
    }
  }

  return {
    close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
    },
  };
}

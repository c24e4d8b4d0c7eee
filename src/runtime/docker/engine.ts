// A small Docker Engine API client over the unix socket (node:http): JSON calls, raw streams, stable errors.
// No `docker` CLI: the driver must work with only the socket, and argv-free calls cannot leak secrets to `ps`.
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/** The socket the engine listens on by default. */
export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

/** An engine answer that was not 2xx (or a transport failure, with status 0). */
export class EngineError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'EngineError';
    this.status = status;
  }
}

/** Options of one engine call. */
export interface EngineRequest {
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON-serialisable value, or raw bytes (e.g. a tar build context). */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Socket inactivity limit; 0 disables it (streams that may stay silent, e.g. logs follow, wait). */
  timeoutMs?: number;
}

function queryString(q: EngineRequest['query']): string {
  if (!q) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** Reads a whole response body. */
export async function readBody(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The engine client; one per socket. */
export class DockerEngine {
  readonly socketPath: string;
  constructor(socketPath = DEFAULT_DOCKER_SOCKET) {
    this.socketPath = socketPath;
  }

  /** Sends a request and resolves with the raw response, whatever its status. */
  request(method: string, path: string, opts: EngineRequest = {}): Promise<IncomingMessage> {
    const headers: Record<string, string> = { ...opts.headers };
    let payload: Buffer | undefined;
    if (Buffer.isBuffer(opts.body)) {
      payload = opts.body;
      headers['content-type'] ??= 'application/octet-stream';
    } else if (opts.body !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.body));
      headers['content-type'] = 'application/json';
    }
    if (payload) headers['content-length'] = String(payload.length);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { socketPath: this.socketPath, path: path + queryString(opts.query), method, headers, signal: opts.signal },
        resolve,
      );
      const timeout = opts.timeoutMs ?? 30_000;
      if (timeout > 0) req.setTimeout(timeout, () => req.destroy(new EngineError(0, `Docker engine did not answer ${method} ${path} within ${timeout} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof EngineError || err.name === 'AbortError') reject(err);
        else reject(new EngineError(0, `Docker engine not reachable at ${this.socketPath}: ${err.code ?? err.message}`));
      });
      req.end(payload);
    });
  }

  /** Sends a request and parses the JSON answer; non-2xx becomes an EngineError carrying the engine's message. */
  async json<T>(method: string, path: string, opts: EngineRequest = {}): Promise<T> {
    const res = await this.request(method, path, opts);
    const body = await readBody(res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw new EngineError(status, engineMessage(body, status));
    if (body.length === 0) return undefined as T;
    const text = body.toString('utf8');
    return (res.headers['content-type'] ?? '').includes('json') ? JSON.parse(text) as T : text as T;
  }

  /** Like json(), but 404 (and 304 "already in that state") resolve to null instead of throwing. */
  async jsonOrNull<T>(method: string, path: string, opts: EngineRequest = {}): Promise<T | null> {
    try {
      return await this.json<T>(method, path, opts);
    } catch (err) {
      if (err instanceof EngineError && (err.status === 404 || err.status === 304)) return null;
      throw err;
    }
  }

  /**
   * Sends a request the engine answers by hijacking the connection (`Upgrade: tcp`, e.g. POST /exec/{id}/start) and
   * resolves with the raw socket: what is written goes to the process's stdin, what is read is its output.
   */
  hijack(method: string, path: string, opts: EngineRequest = {}): Promise<Duplex> {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string> = {
      ...opts.headers, connection: 'Upgrade', upgrade: 'tcp',
      ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
    };
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, path: path + queryString(opts.query), method, headers, signal: opts.signal });
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        resolve(socket);
      });
      // An answer without the upgrade is a refusal (404 unknown exec, 409 container not running...).
      req.on('response', (res) => {
        void readBody(res).then((body) => reject(new EngineError(res.statusCode ?? 0, engineMessage(body, res.statusCode ?? 0))), reject);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof EngineError || err.name === 'AbortError') reject(err);
        else reject(new EngineError(0, `Docker engine not reachable at ${this.socketPath}: ${err.code ?? err.message}`));
      });
      req.end(payload);
    });
  }

  /** Resolves when the engine answers GET /_ping. */
  async ping(timeoutMs = 5_000): Promise<void> {
    await this.json('GET', '/_ping', { timeoutMs });
  }
}

function engineMessage(body: Buffer, status: number): string {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { message?: string };
    if (parsed.message) return parsed.message;
  } catch { /* not JSON: fall through to the raw text */ }
  return body.toString('utf8').trim() || `HTTP ${status}`;
}

/** Reads a stream of newline-separated JSON objects (pull and build progress) and throws on the first error. */
export async function consumeProgress(res: IncomingMessage, onLine?: (msg: Record<string, unknown>) => void): Promise<void> {
  let buf = '';
  let failure: string | undefined;
  const handle = (line: string) => {
    if (!line.trim()) return;
    let msg: Record<string, unknown>;
    try { msg = JSON.parse(line); } catch { return; }
    if (typeof msg.error === 'string' && !failure) failure = msg.error;
    // A refused request (e.g. a pull the registry denied) answers one JSON error body: {"message": "..."}.
    if (typeof msg.message === 'string' && !failure && (res.statusCode ?? 0) >= 300) failure = msg.message;
    onLine?.(msg);
  };
  for await (const chunk of res) {
    buf += (chunk as Buffer).toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) { handle(buf.slice(0, i)); buf = buf.slice(i + 1); }
  }
  handle(buf);
  if ((res.statusCode ?? 0) >= 300) throw new EngineError(res.statusCode ?? 0, failure ?? `HTTP ${res.statusCode}`);
  if (failure) throw new EngineError(500, failure);
}

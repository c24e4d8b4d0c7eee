// A tiny HTTP server on 127.0.0.1 that records every request a Koyeb client sends and answers `{}` (or a canned
// body per path), so we can learn the exact wire traffic of the koyeb CLI and SDK without a real Pier.
// Run standalone: `node bin/run-ts.mjs test/compat/recording-server.ts [port]` prints one JSON line per request.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the client sent it (the Authorization value is masked: secrets never reach logs). */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string[]>;
  headers: Record<string, string>;
  body: unknown;
}

/** A running recording server: its base URL, what it saw so far, and a way to stop it. */
export interface RecordingServer {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** What the recorder answers: a status (default 200) and a JSON body (default `{}`). */
export interface CannedReply {
  status?: number;
  body?: unknown;
}

/** Starts the recorder; `reply` may return a canned answer for a request, else `200 {}` is sent. */
export async function startRecordingServer(
  reply: (req: RecordedRequest) => CannedReply | undefined = () => undefined,
  port = 0,
): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const query: Record<string, string[]> = {};
      for (const [k, v] of url.searchParams) (query[k] ??= []).push(v);
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = raw;
      try {
        body = raw === '' ? undefined : JSON.parse(raw);
      } catch {
        // Not JSON: keep the raw text, which is what we want to see anyway.
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        const value = Array.isArray(v) ? v.join(', ') : String(v ?? '');
        headers[k] = /authorization|sec-websocket-protocol/i.test(k) ? value.replace(/(Bearer,?\s*)\S+/, '$1***') : value;
      }
      const recorded: RecordedRequest = { method: req.method ?? 'GET', path: url.pathname, query, headers, body };
      requests.push(recorded);
      const canned = reply(recorded) ?? {};
      const payload = JSON.stringify(canned.body ?? {});
      res.writeHead(canned.status ?? 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
      res.end(payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] ?? 0);
  const rec = await startRecordingServer(() => undefined, port);
  const origPush = rec.requests.push.bind(rec.requests);
  rec.requests.push = (...items: RecordedRequest[]) => {
    for (const item of items) console.log(JSON.stringify(item));
    return origPush(...items);
  };
  console.error(`recording on ${rec.url}`);
}

// One GET through Pier's edge with a Host header (fetch cannot set Host), for every suite that talks to the edge.
import http from 'node:http';

/** The edge's answer; `ms` is the time to the full body. */
export interface EdgeReply { status: number; body: string; headers: http.IncomingHttpHeaders; ms: number }

/** How one request is sent: extra headers, keep-alive agent (default none), timeout (default 10 s). */
export interface EdgeGetOptions { headers?: Record<string, string>; agent?: http.Agent | false; timeoutMs?: number }

/** GET `path` on the edge at `edgeUrl` for `host`. */
export function edgeGet(edgeUrl: string, host: string, path = '/', o: EdgeGetOptions = {}): Promise<EdgeReply> {
  const u = new URL(edgeUrl);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get({ host: u.hostname, port: Number(u.port), path, agent: o.agent ?? false, headers: { host, ...o.headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, ms: performance.now() - t0 }));
    });
    req.setTimeout(o.timeoutMs ?? 10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

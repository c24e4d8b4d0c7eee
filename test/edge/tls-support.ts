// Real TLS clients for the edge's HTTPS suites: a bare handshake (which certificate did SNI pick, or which
// alert came back), HTTP/1.1 over TLS and HTTP/2 over TLS, all trusting only the test's local CA.
import { connect, type PeerCertificate, type TLSSocket } from 'node:tls';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { connect as h2connect } from 'node:http2';
import type { IncomingHttpHeaders } from 'node:http';

/** What a handshake produced: the leaf the server presented, or the client-side error code. */
export interface Handshake {
  cert?: PeerCertificate;
  alpn?: string | false | null;
  error?: string;
}

/** Handshake with `servername` as SNI ('' sends none), trusting `ca`; names are checked as https clients do. */
export function handshake(tlsUrl: string, servername: string, ca: string, alpn: string[] = ['h2', 'http/1.1']): Promise<Handshake> {
  const u = new URL(tlsUrl);
  return new Promise((resolve) => {
    const sock = connect({
      host: u.hostname, port: Number(u.port), ca, ALPNProtocols: alpn,
      ...(servername ? { servername } : { checkServerIdentity: () => undefined }),
    }, () => {
      const cert = sock.getPeerCertificate();
      const out = { cert, alpn: sock.alpnProtocol };
      sock.destroy();
      resolve(out);
    });
    sock.once('error', (e: Error & { code?: string }) => resolve({ error: e.code ?? e.message }));
  });
}

/** A response over TLS. */
export interface TlsReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  alpn?: string | false | null;
  /** Serial number of the certificate the edge presented. */
  serial?: string;
}

/** One HTTP/1.1 request over TLS on a fresh connection, SNI and Host set to `host`. */
export function h1(tlsUrl: string, host: string, path: string, ca: string, opts: { method?: string; body?: string } = {}): Promise<TlsReply> {
  const u = new URL(tlsUrl);
  return new Promise((resolve, reject) => {
    // ALPN is passed through to tls.connect (node's types for https.request leave it out).
    const options: RequestOptions & { ALPNProtocols: string[] } = {
      host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', servername: host, ca, agent: false,
      ALPNProtocols: ['http/1.1'], headers: { host },
    };
    const req = httpsRequest(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      const sock = res.socket as TLSSocket;
      const serial = sock.getPeerCertificate().serialNumber;
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, alpn: sock.alpnProtocol, serial }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Requests over one HTTP/2 connection (ALPN h2), `:authority` = `host`; bodies are sent without content-length. */
export async function h2(tlsUrl: string, host: string, ca: string, reqs: { path: string; method?: string; body?: string; headers?: Record<string, string | string[]> }[]): Promise<TlsReply[]> {
  const u = new URL(tlsUrl);
  const session = h2connect(`https://${host}:${u.port}`, {
    ca, servername: host,
    // Dial the edge's address whatever the name resolves to.
    createConnection: () => connect({ host: u.hostname, port: Number(u.port), servername: host, ca, ALPNProtocols: ['h2'] }),
  });
  try {
    await new Promise<void>((resolve, reject) => { session.once('connect', () => resolve()); session.once('error', reject); });
    return await Promise.all(reqs.map((r) => new Promise<TlsReply>((resolve, reject) => {
      const stream = session.request({ ':method': r.method ?? 'GET', ':path': r.path, ...r.headers }, { endStream: r.body === undefined });
      let status = 0;
      let headers: IncomingHttpHeaders = {};
      let body = '';
      stream.setEncoding('utf8');
      stream.on('response', (h) => { status = Number(h[':status']); headers = h as IncomingHttpHeaders; });
      stream.on('data', (c: string) => { body += c; });
      stream.on('end', () => resolve({ status, headers, body, alpn: session.alpnProtocol }));
      stream.on('error', reject);
      if (r.body !== undefined) stream.end(r.body);
    })));
  } finally {
    session.close();
  }
}

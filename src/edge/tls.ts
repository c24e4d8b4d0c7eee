// TLS termination: the certificate table the SNI callback reads, the HTTPS server (HTTP/2 and HTTP/1.1 by
// ALPN) that feeds the same proxy path as plain HTTP, and the small answers the edge gives itself for HTTPS
// (ACME HTTP-01 challenges, the redirect to https://).
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Socket } from 'node:net';
import type { EdgeCertificate } from './types.ts';

/** Path prefix of ACME HTTP-01 challenges (RFC 8555 §8.3). */
export const ACME_PREFIX = '/.well-known/acme-challenge/';

/** Presents no certificate: a handshake that lands here fails with a handshake_failure alert. */
let refuseContext: SecureContext | undefined;

/**
 * Which secure context answers which server name. Built whole by `replace` (off the hot path); a handshake
 * costs one Map lookup, two when only a wildcard covers the name.
 */
export class CertificateTable {
  private byName = new Map<string, SecureContext>();
  /** Contexts by certificate+key, so pushing the same set again builds nothing. */
  private built = new Map<string, { ctx: SecureContext; cert: EdgeCertificate }>();
  /** The certificates that loaded, in the order given (what workers are sent). */
  usable: EdgeCertificate[] = [];

  /** Replace the whole set; certificates that fail to load are reported and skipped. The first holder of a name wins. */
  replace(certs: EdgeCertificate[], onError: (names: string[], message: string) => void): void {
    const byName = new Map<string, SecureContext>();
    const built = new Map<string, { ctx: SecureContext; cert: EdgeCertificate }>();
    const usable: EdgeCertificate[] = [];
    for (const cert of certs) {
      const key = `${cert.certPem}\0${cert.keyPem}`;
      let entry = built.get(key) ?? this.built.get(key);
      if (entry === undefined) {
        try {
          entry = { ctx: createSecureContext({ cert: cert.certPem, key: cert.keyPem }), cert };
        } catch (err) {
          onError(cert.names, err instanceof Error ? err.message : String(err));
          continue;
        }
      }
      built.set(key, entry);
      usable.push(cert);
      for (const n of cert.names) {
        const name = normalizeName(n);
        if (name !== '' && !byName.has(name)) byName.set(name, entry.ctx);
      }
    }
    this.byName = byName;
    this.built = built;
    this.usable = usable;
  }

  /** The context for a server name: exact first, then a wildcard covering exactly its first label. */
  lookup(servername: string): SecureContext | undefined {
    const exact = this.byName.get(servername);
    if (exact !== undefined) return exact;
    const name = normalizeName(servername);
    if (name !== servername) {
      const again = this.byName.get(name);
      if (again !== undefined) return again;
    }
    const dot = name.indexOf('.');
    return dot > 0 ? this.byName.get(`*${name.slice(dot)}`) : undefined;
  }

  /** node's SNICallback: unknown names get a context without a certificate, so the handshake fails. */
  readonly sni = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.lookup(servername) ?? (refuseContext ??= createSecureContext({})));
  };
}

/** Lower-case, no trailing dot. */
function normalizeName(n: string): string {
  const s = n.toLowerCase();
  return s.endsWith('.') ? s.slice(0, -1) : s;
}

/**
 * The HTTPS server: ALPN offers h2 and http/1.1; a client without SNI, or naming a host no certificate covers,
 * gets a failed handshake rather than some other app's certificate (the default context holds none).
 */
/** An HTTP/2 connection with no open stream for this long is closed (GOAWAY), as an idle HTTP/1.1 one is. */
export const H2_IDLE_MS = 30_000;

export function createTlsServer(certs: CertificateTable, h2IdleMs = H2_IDLE_MS): { server: Http2SecureServer; destroyAll(): void } {
  const server = createSecureServer({ allowHTTP1: true, SNICallback: certs.sni });
  // The HTTP/1.1 side reads these from the server like node:http does; same limits as the plain listener.
  Object.assign(server, { keepAliveTimeout: H2_IDLE_MS, requestTimeout: 0, headersTimeout: 60_000 });
  // HTTP/2 has no keep-alive timeout of its own: a session that carried nothing for h2IdleMs is closed gracefully
  // when no stream is open (GOAWAY; a client opens a new connection for its next request). A quiet stream (a long
  // poll, a gRPC stream) keeps its session; its end is traffic, so the wait starts again from there.
  server.on('session', (session: ServerHttp2Session) => {
    let open = 0;
    session.on('stream', (stream: ServerHttp2Stream) => {
      open++;
      stream.once('close', () => { open--; });
    });
    // A listener, not setTimeout's callback (Node runs that once): the timer fires again after the next traffic.
    session.setTimeout(h2IdleMs);
    session.on('timeout', () => { if (open === 0 && !session.closed) session.close(); });
  });
  // http2's server has no closeAllConnections: track the sockets so close() does not wait for idle clients.
  const sockets = new Set<Socket>();
  server.on('secureConnection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_err: Error, socket: Socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  // A failed handshake (unknown name, no SNI, not TLS at all) already told the client; nothing to keep.
  server.on('tlsClientError', () => undefined);
  return { server, destroyAll: () => { for (const s of sockets) s.destroy(); } };
}

/** The token of an ACME challenge path (query dropped), or '' when the path is not one. */
export function acmeToken(url: string): string {
  if (!url.startsWith(ACME_PREFIX)) return '';
  const q = url.indexOf('?');
  return q < 0 ? url.slice(ACME_PREFIX.length) : url.slice(ACME_PREFIX.length, q);
}

/** The `:port` part of redirect targets: empty for 443. */
export function httpsSuffix(port: number): string {
  return port === 443 ? '' : `:${port}`;
}

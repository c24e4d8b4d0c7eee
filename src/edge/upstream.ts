// Upstream bookkeeping: per-target connection pools (HTTP/1.1 keep-alive via undici, h2c via node:http2),
// in-flight counts for least-outstanding balancing, passive ejection after refused connections, and the
// per-instance counters that `drain()` waits on.
// Upstream responses are parsed as nginx does where it is safe: header lines may end in a bare LF (RFC 9112 §2.2
// lets a recipient accept that; CGI scripts print it); obs-fold, NUL and other control characters in a header,
// a CR without LF, conflicting Content-Length or Content-Length with Transfer-Encoding stay 502s (README "Upstream
// responses").
import type { Socket } from 'node:net';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { buildConnector, Pool } from 'undici';
import { Traffic } from './metrics.ts';
import type { Upstream } from './types.ts';

/** Error codes meaning the request never reached the upstream, so sending it elsewhere is safe. */
export const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN',
]);

/** First ejection lasts this long; each further consecutive failure doubles it up to the cap. */
const EJECT_BASE_MS = 1000;
const EJECT_MAX_MS = 30_000;

/** Per-instance counters plus the callbacks of `drain()` calls waiting for in-flight to reach zero. */
export class InstanceTraffic extends Traffic {
  waiters: (() => void)[] = [];

  /** One request (or upgraded connection) ended on this instance. */
  done(): void {
    if (--this.inFlight === 0 && this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
    }
  }
}

/**
 * Lets the HTTP/1.1 parser of a fresh upstream connection accept header lines ending in a bare LF, and nothing else
 * more: llhttp's `optional_cr_before_lf` leniency only. undici does not expose it, so this reaches its per-socket
 * parser (set synchronously by undici right after the connector's callback, before any byte is read); false when
 * undici's internals moved (then responses stay strictly parsed, and test/edge's bare-LF test fails).
 */
export function allowBareLf(socket: Socket): boolean {
  const key = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'parser');
  const parser = key ? (socket as unknown as Record<symbol, { ptr?: number; llhttp?: Record<string, unknown> } | null>)[key] : undefined;
  const set = parser?.llhttp?.llhttp_set_lenient_optional_cr_before_lf;
  if (typeof set !== 'function' || typeof parser?.ptr !== 'number') return false;
  (set as (ptr: number, on: number) => void)(parser.ptr, 1);
  return true;
}

/** undici's own connector (same connect timeout), then the bare-LF leniency on the connection's parser. */
function lenientConnector(connectTimeoutMs: number): buildConnector.connector {
  const base = buildConnector({ timeout: connectTimeoutMs });
  return (opts, callback) => base(opts, (err, socket) => {
    callback(err, socket as never);
    if (!err && socket) allowBareLf(socket as Socket);
  });
}

/** Pool and timeout settings shared by every upstream. */
export interface PoolSettings {
  connectTimeoutMs: number;
  responseTimeoutMs: number;
}

/** One instance port the edge may send requests to. Survives `setRoutes` while the upstream stays listed. */
export class UpstreamState {
  readonly label: string;
  inFlight = 0;
  failures = 0;
  /** performance.now() until which the upstream is skipped (passive ejection). */
  ejectedUntil = 0;
  removed = false;
  private pool: Pool | null = null;
  private h2: ClientHttp2Session | null = null;
  /** True once the current h2 session connected: errors after that are not connect-phase errors. */
  h2Connected = false;

  constructor(
    readonly up: Upstream,
    readonly instance: InstanceTraffic,
    private readonly settings: PoolSettings,
  ) {
    this.label = `${up.host}:${up.port}`;
  }

  /** Stable identity across routing updates. */
  static keyOf(up: Upstream): string {
    return `${up.instanceId}|${up.host}|${up.port}|${up.protocol}`;
  }

  /** The keep-alive HTTP/1.1 pool, created on first use. */
  http1(): Pool {
    if (!this.pool) {
      const host = this.up.host.includes(':') ? `[${this.up.host}]` : this.up.host;
      this.pool = new Pool(`http://${host}:${this.up.port}`, {
        connections: 256,
        pipelining: 1,
        connect: lenientConnector(this.settings.connectTimeoutMs),
        headersTimeout: this.settings.responseTimeoutMs,
        // Streaming responses (SSE, long downloads) may pause for long; the client's own timeouts apply.
        bodyTimeout: 0,
        keepAliveTimeout: 4000,
      });
    }
    return this.pool;
  }

  /** The h2c session, (re)created when missing or closed. */
  http2(): ClientHttp2Session {
    if (!this.h2 || this.h2.closed || this.h2.destroyed) {
      const host = this.up.host.includes(':') ? `[${this.up.host}]` : this.up.host;
      const session = h2connect(`http://${host}:${this.up.port}`);
      this.h2Connected = false;
      session.on('connect', () => { if (this.h2 === session) this.h2Connected = true; });
      // Stream errors carry the cause to the request; the session error only needs to retire the session.
      session.on('error', () => { if (this.h2 === session) this.h2 = null; });
      session.on('close', () => { if (this.h2 === session) this.h2 = null; });
      session.unref();
      this.h2 = session;
    }
    return this.h2;
  }

  /** Count a request starting on this upstream. */
  acquire(): void {
    this.inFlight++;
    this.instance.inFlight++;
  }

  /** Count a request ending; a removed upstream closes its connections once idle. */
  release(): void {
    this.inFlight--;
    this.instance.done();
    if (this.removed && this.inFlight === 0) this.closeConnections();
  }

  /** The upstream refused a connection: skip it for a while, longer each time in a row. */
  connectFailed(now: number): void {
    this.failures++;
    this.instance.connectErrors++;
    this.ejectedUntil = now + Math.min(EJECT_BASE_MS * 2 ** (this.failures - 1), EJECT_MAX_MS);
  }

  /** A response arrived: the upstream is healthy again. */
  succeeded(): void {
    if (this.failures !== 0) {
      this.failures = 0;
      this.ejectedUntil = 0;
    }
  }

  /** Stop routing new requests here; connections close when the last in-flight request ends. */
  retire(): void {
    this.removed = true;
    if (this.inFlight === 0) this.closeConnections();
  }

  /** Close pooled connections (graceful for the pool: queued requests finish first). */
  closeConnections(): void {
    const pool = this.pool;
    this.pool = null;
    if (pool) pool.close().catch(() => pool.destroy().catch(() => undefined));
    const h2 = this.h2;
    this.h2 = null;
    if (h2 && !h2.closed) h2.close();
  }

  /** Drop connections now (edge shutdown). */
  async destroy(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    this.h2?.destroy();
    this.h2 = null;
    if (pool) await pool.destroy().catch(() => undefined);
  }
}

let rotor = 0;

/** Least outstanding requests among usable upstreams, ties broken round-robin; null when none is usable. */
export function leastLoaded(
  list: UpstreamState[] | undefined, now: number, tried: UpstreamState[] | null, ignoreEjection: boolean,
): UpstreamState | null {
  if (!list || list.length === 0) return null;
  const n = list.length;
  const start = rotor++ % n;
  let best: UpstreamState | null = null;
  for (let k = 0; k < n; k++) {
    const u = list[(start + k) % n];
    if (u.removed || (!ignoreEjection && u.ejectedUntil > now)) continue;
    if (tried !== null && tried.includes(u)) continue;
    if (best === null || u.inFlight < best.inFlight) best = u;
  }
  return best;
}

/**
 * Pick an upstream: healthy ones in the client's region first, then healthy ones anywhere, then (all ejected)
 * any not yet tried, because refusing every request is worse than trying an ejected upstream.
 */
export function pickUpstream(
  all: UpstreamState[], byRegion: Map<string, UpstreamState[]>, region: string, now: number, tried: UpstreamState[] | null,
): UpstreamState | null {
  return leastLoaded(byRegion.get(region), now, tried, false)
    ?? leastLoaded(all, now, tried, false)
    ?? leastLoaded(all, now, tried, true);
}

// One proxied HTTP request, from routing to the last response byte. The object is also the undici dispatch
// handler, so a request costs one allocation of ours on the hot path. Bodies stream both ways with
// backpressure; connect-phase failures are retried on another upstream, and a bodiless GET/HEAD/OPTIONS whose
// connection was cut before any response byte is sent once more (another instance when there is one); nothing else is.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { constants as h2constants, type ClientHttp2Stream, type IncomingHttpHeaders as H2Headers, type ServerHttp2Stream } from 'node:http2';
import type { Dispatcher } from 'undici';
import { connectionTokens, dropResponseHeader, HOP_BY_HOP, SANE_REQUEST_ID } from './headers.ts';
import { sendPage, type EdgePageCode } from './pages.ts';
import { matchRoute, hostKey, type CompiledApp, type CompiledRoute } from './route-table.ts';
import { absoluteTarget, ASTERISK_ALLOW, malformedPercent } from './target.ts';
import { acmeToken } from './tls.ts';
import type { AccessLogEntry } from './types.ts';
import { CONNECT_ERROR_CODES, pickUpstream, type UpstreamState } from './upstream.ts';

const END_STREAM = h2constants.NGHTTP2_FLAG_END_STREAM;

/** Errors meaning the upstream cut a connection the request was sent on (it may or may not have seen it). */
const RESET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

/** Methods re-sent after a cut connection (idempotent and, here, bodiless). */
const RETRYABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** A request waiting for a sleeping app to wake. */
export interface HeldRequest {
  appId: string;
  timer: NodeJS.Timeout | null;
  /** Route again (upstreams may have arrived). */
  resume(): void;
  /** Answer 503 with this message. */
  fail(message: string): void;
}

/** What a request needs from the edge that owns it. */
export interface EdgeContext {
  hosts: Map<string, CompiledApp>;
  readonly regionHeader: string;
  readonly headerLengths: Uint8Array;
  readonly maxTries: number;
  readonly trustForwarded: boolean;
  readonly accessLog: ((e: AccessLogEntry) => void) | undefined;
  /** ACME HTTP-01 answers by token. */
  readonly acme: Map<string, string>;
  /** `:port` of the TLS listener for redirects ('' for 443), null when there is no TLS listener. */
  readonly httpsSuffix: string | null;
  /** The client's region: `header` (the region header's value), else its address (`xff`: the request's x-forwarded-for, joined). */
  regionOf(req: IncomingMessage, header: string | undefined, xff: string | undefined): string;
  /** The x-forwarded-for to send upstream, given the request's own (all of its headers joined). */
  forwardedFor(req: IncomingMessage, xff: string | undefined): string;
  nextRequestId(): string;
  /** Queue a request for a sleeping app; false when the queue is full. */
  hold(app: CompiledApp, held: HeldRequest): boolean;
  unhold(held: HeldRequest): void;
  /** A route's load passed its loadWatch: tell the control plane (EdgeOptions.onLoad). */
  reportLoad(serviceId: string): void;
}

const EMPTY: never[] = [];

/** Proxies one request; call `start()` once. */
export class ProxyRequest implements HeldRequest {
  private readonly t0 = performance.now();
  appId = '';
  timer: NodeJS.Timeout | null = null;
  private requestId = '';
  private host = '';
  private rawHost: string | undefined;
  /** The target in origin form (`/path?query`): what routing sees. */
  private url = '/';
  /** Why the request must be answered 400 (found while scanning headers), or null. */
  private badRequest: string | null = null;
  private accept = '';
  private auth: string | undefined;
  private apiKey: string | undefined;
  private xff: string | undefined;
  private xfh: string | undefined;
  private xfp: string | undefined;
  private regionValue: string | undefined;
  private hasBody = false;
  private fwd: string[] = EMPTY;
  /** Length of `fwd` before the forwarding headers are appended (they are re-appended on a retry). */
  private fwdBase = 0;
  private region = '';
  private route: CompiledRoute | null = null;
  private forwardPath = '';
  private upstream: UpstreamState | null = null;
  private tried: UpstreamState[] | null = null;
  /** Whether this request was already re-sent after its upstream connection was cut (at most once). */
  private resetRetried = false;
  private status = 0;
  private bytes = 0;
  private done = false;
  private held = false;
  private abortFn: ((err?: Error) => void) | null = null;
  private resumeFn: (() => void) | null = null;
  private h2stream: ClientHttp2Stream | null = null;
  /** The client sent `te: trailers` (a gRPC client does): an h2c upstream gets it too. */
  private wantsTrailers = false;
  /** The answer went to an HTTP/2 client as headers with END_STREAM (endWithHeaders): nothing more to send. */
  private endedWithHeaders = false;

  constructor(private readonly edge: EdgeContext, private readonly req: IncomingMessage, private readonly res: ServerResponse) {}

  /** Scan headers, route, check policy and forward. */
  start(): void {
    this.scanHeaders();
    this.res.once('close', () => this.onClientClose());
    const url = this.req.url ?? '/';
    this.url = url;
    // Fast path: an origin-form target without '%' and clean headers costs two character scans.
    if ((url.charCodeAt(0) !== 47 /* / */ || this.badRequest !== null || url.indexOf('%') >= 0) && !this.checkTarget(url)) return;
    this.dispatchRoute();
  }

  /**
   * The rare targets (RFC 9112 §3.2): absolute form takes its authority as the host and routes its path;
   * `OPTIONS *` is answered here (it asks about the server, not about an app); a second Host header or a path with
   * a malformed %-escape is a 400. False when the request has been answered.
   */
  private checkTarget(url: string): boolean {
    if (this.badRequest !== null) return this.refuse(this.badRequest);
    if (url === '*') {
      if (this.req.method !== 'OPTIONS') return this.refuse('The target "*" is only for OPTIONS.');
      this.answer(200, ['allow', ASTERISK_ALLOW], '');
      return false;
    }
    if (url.charCodeAt(0) !== 47 /* / */) {
      const t = absoluteTarget(url);
      if (typeof t === 'string') return this.refuse(`Bad request: ${t}.`);
      this.useAuthority(t.authority);
      this.url = t.url;
    }
    if (malformedPercent(this.url)) {
      return this.refuse(`Bad request: path ${this.pathOnly()} has a "%" not followed by two hex digits (write a literal "%" as %25).`);
    }
    return true;
  }

  /** Absolute form: the target's authority is the host (RFC 9112 §3.2.2), also for the Host header sent upstream. */
  private useAuthority(authority: string): void {
    this.rawHost = authority;
    this.host = hostKey(authority);
    const fwd = this.fwd;
    for (let i = 0; i < this.fwdBase; i += 2) {
      if (fwd[i].length === 4 && fwd[i].toLowerCase() === 'host') { fwd[i + 1] = authority; return; }
    }
    fwd.splice(this.fwdBase, 0, 'host', authority);
    this.fwdBase += 2;
  }

  private refuse(message: string): false {
    this.page(400, 'bad_request', message);
    return false;
  }

  /** HeldRequest: the app may be awake now; route again from scratch. */
  resume(): void {
    this.held = false;
    if (!this.done) this.dispatchRoute();
  }

  /** HeldRequest: give up waiting. */
  fail(message: string): void {
    this.held = false;
    const name = this.route ? this.route.entry.serviceName : this.host;
    this.page(503, 'unavailable', `Service ${name} has no instance ready yet (starting or waking up): ${message}`, { 'retry-after': '5' });
  }

  private scanHeaders(): void {
    const raw = this.req.rawHeaders;
    const lengths = this.edge.headerLengths;
    const regionHeader = this.edge.regionHeader;
    const fwd: string[] = [];
    let tokens: string[] | null = null;
    let h2 = false;
    let hosts = 0;
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i];
      if (name.charCodeAt(0) === 58 /* : */) {
        // HTTP/2 pseudo-headers (they come first): the authority is the Host; the others are in req already.
        h2 = true;
        if (name === ':authority') { this.rawHost = raw[i + 1]; fwd.push('host', raw[i + 1]); }
        continue;
      }
      if (name.length > 255 || lengths[name.length] === 0) {
        fwd.push(name, raw[i + 1]);
        continue;
      }
      const k = name.toLowerCase();
      const v = raw[i + 1];
      switch (k) {
        case 'host':
          if (++hosts > 1) this.badRequest = 'Bad request: more than one Host header (RFC 9112 §3.2).';
          if (this.rawHost === undefined) { this.rawHost = v; fwd.push(name, v); }
          continue;
        case 'accept': this.accept = v; break;
        case 'authorization': this.auth = v; break;
        case 'x-api-key': this.apiKey = v; break;
        case 'content-length': if (v !== '0') this.hasBody = true; break;
        case 'transfer-encoding': this.hasBody = true; continue;
        case 'x-forwarded-for': this.xff = this.xff === undefined ? v : `${this.xff}, ${v}`; continue;
        case 'x-forwarded-host': this.xfh = v; continue;
        case 'x-forwarded-proto': this.xfp = v; continue;
        case 'x-request-id': if (SANE_REQUEST_ID.test(v)) this.requestId = v; continue;
        case 'connection': tokens = connectionTokens(v); continue;
        // undici refuses `expect`; node's server already answered 100-continue to the client.
        case 'expect': continue;
        case 'http2-settings': continue;
        // Hop-by-hop, but `trailers` is what gRPC clients send and gRPC servers check: passed on to h2c upstreams.
        case 'te': this.wantsTrailers = /(?:^|[\s,])trailers(?:$|[\s,;])/i.test(v); continue;
      }
      if (k === regionHeader) this.regionValue = v;
      if (HOP_BY_HOP.has(k)) continue;
      fwd.push(name, v);
    }
    if (tokens !== null && tokens.length > 0) {
      const drop = tokens;
      const kept: string[] = [];
      for (let i = 0; i < fwd.length; i += 2) if (!drop.includes(fwd[i].toLowerCase())) kept.push(fwd[i], fwd[i + 1]);
      this.fwd = kept;
    } else {
      this.fwd = fwd;
    }
    this.fwdBase = this.fwd.length;
    if (h2) this.fromHttp2();
    if (this.requestId === '') this.requestId = this.edge.nextRequestId();
    this.host = hostKey(this.rawHost);
  }

  /** HTTP/2 client: a body needs no content-length or chunking, and split cookies are one header in HTTP/1.1 (RFC 9113 §8.2.3). */
  private fromHttp2(): void {
    if (!this.hasBody) this.hasBody = !(this.req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders;
    const fwd = this.fwd;
    let first = -1;
    for (let i = 0; i < fwd.length; i += 2) {
      if (fwd[i] !== 'cookie') continue;
      if (first < 0) { first = i; continue; }
      fwd[first + 1] += `; ${fwd[i + 1]}`;
      fwd.splice(i, 2);
      i -= 2;
    }
    this.fwdBase = fwd.length;
  }

  private dispatchRoute(): void {
    // ACME challenges are answered for any host before routing; an unknown token falls through to the app.
    const token = acmeToken(this.url);
    if (token !== '') {
      const answer = this.edge.acme.get(token);
      if (answer !== undefined) return this.answer(200, ['content-type', 'text/plain'], answer);
    }
    const app = this.edge.hosts.get(this.host);
    if (app === undefined) {
      this.page(404, 'no_route', `No app is served at host "${this.host}" (path ${this.pathOnly()}).`);
      return;
    }
    this.appId = app.def.appId;
    if (app.def.httpsRedirect === true && this.edge.httpsSuffix !== null && token === '' && !this.isHttps()) {
      return this.answer(308, ['location', `https://${this.host}${this.edge.httpsSuffix}${this.url}`], '');
    }
    const m = matchRoute(app, this.url);
    if (m === null) {
      this.page(404, 'no_route', `App ${app.def.appName} has no route for path ${this.pathOnly()} on host "${this.host}".`);
      return;
    }
    const route = m.route;
    this.route = route;
    this.forwardPath = m.forwardPath;
    if (route.policy !== null && !route.policy.allows(this.auth, this.apiKey)) {
      this.page(401, 'authentication_error', `Route ${route.prefix} of service ${route.entry.serviceName} requires credentials.`,
        { 'www-authenticate': route.policy.challenge });
      return;
    }
    if (this.region === '') this.region = this.edge.regionOf(this.req, this.regionValue, this.xff);
    const wall = performance.timeOrigin + this.t0;
    route.traffic.lastRequestAt = wall;
    app.traffic.lastRequestAt = wall;
    if (route.upstreams.length === 0 && app.def.sleeping) {
      this.held = true;
      if (!this.edge.hold(app, this)) {
        this.held = false;
        this.page(503, 'overloaded', `Service ${route.entry.serviceName} is waking up and too many requests are waiting.`, { 'retry-after': '5' });
      }
      return;
    }
    this.forward();
  }

  /** Pick an upstream and send; also the retry entry point after a connect failure. */
  private forward(): void {
    const route = this.route!;
    const st = pickUpstream(route.upstreams, route.byRegion, this.region, this.t0, this.tried);
    if (st === null) {
      const e = route.entry;
      const why = route.upstreams.length === 0
        ? `Service ${e.serviceName} has no healthy instance (status ${e.serviceStatus}).`
        : `Service ${e.serviceName} refused every connection attempt (status ${e.serviceStatus}).`;
      this.page(route.upstreams.length === 0 ? 503 : 502, route.upstreams.length === 0 ? 'unavailable' : 'bad_gateway', why, { 'retry-after': '5' });
      return;
    }
    this.upstream = st;
    st.acquire();
    if (this.tried === null) {
      route.traffic.inFlight++;
      const watch = route.entry.loadWatch;
      if (watch && route.load.arrive(watch, route.upstreams.length, route.traffic.inFlight, this.t0)) this.edge.reportLoad(route.entry.serviceId);
    }
    st.instance.lastRequestAt = performance.timeOrigin + this.t0;
    // undici copies the headers when the request is created, so the array can be trimmed and reused on a retry.
    const fwdHeaders = this.fwd;
    fwdHeaders.length = this.fwdBase;
    const trust = this.edge.trustForwarded;
    fwdHeaders.push(
      'x-forwarded-for', this.edge.forwardedFor(this.req, this.xff),
      'x-forwarded-host', trust && this.xfh !== undefined ? this.xfh : (this.rawHost ?? ''),
      'x-forwarded-proto', trust && this.xfp !== undefined ? this.xfp : ((this.req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'),
      'x-request-id', this.requestId,
    );
    if (st.up.protocol === 'http2') {
      this.sendH2(st, fwdHeaders);
      return;
    }
    st.http1().dispatch({
      path: this.forwardPath,
      method: this.req.method as Dispatcher.HttpMethod,
      headers: fwdHeaders,
      body: this.hasBody ? this.req : null,
      upgrade: null,
    }, this as unknown as Dispatcher.DispatchHandler);
  }

  // ---- undici (legacy) dispatch handler ----

  /** undici: the request got a connection; keep its abort function for client disconnects. */
  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    if (this.done) abort(new Error('client closed'));
  }

  /** undici: response head. */
  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (this.done) return false;
    this.upstream!.succeeded();
    this.resumeFn = resume;
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const k = raw[i].toString('latin1');
      if (dropResponseHeader(k)) continue;
      out.push(k, raw[i + 1].toString('latin1'));
    }
    out.push('x-request-id', this.requestId);
    this.status = status;
    this.res.writeHead(status, out);
    return true;
  }

  /** undici: a body chunk; returning false pauses the upstream until the client drains. */
  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (this.res.write(chunk)) return true;
    if (this.resumeFn !== null) this.res.once('drain', this.resumeFn);
    return false;
  }

  /** undici: response finished, with the trailers of a chunked answer (raw name/value pairs) if it had any. */
  onComplete(trailers?: Buffer[] | null): void {
    if (trailers && trailers.length > 0) {
      // An object, not pairs: an HTTP/2 client's response (node's compat API) takes no other form.
      const out: Record<string, string | string[]> = {};
      let any = false;
      for (let i = 0; i < trailers.length; i += 2) {
        const k = trailers[i].toString('latin1').toLowerCase();
        if (dropResponseHeader(k)) continue;
        const v = trailers[i + 1].toString('latin1');
        const prev = out[k];
        out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
        any = true;
      }
      if (any) this.res.addTrailers(out);
    }
    this.res.end();
    this.finish();
  }

  /** undici: the request failed (connect, timeout, reset, or our own abort). */
  onError(err: Error & { code?: string }): void {
    this.upstreamFailed(err, this.abortFn === null || CONNECT_ERROR_CODES.has(err.code ?? ''));
  }

  private upstreamFailed(err: Error & { code?: string }, beforeSend: boolean): void {
    if (this.done) return;
    const st = this.upstream!;
    const connectPhase = beforeSend && CONNECT_ERROR_CODES.has(err.code ?? '');
    if (connectPhase) {
      st.connectFailed(performance.now());
      const bodyUntouched = !this.hasBody || !this.req.readableDidRead;
      if (bodyUntouched && this.status === 0 && (this.tried?.length ?? 0) + 1 < this.edge.maxTries) {
        (this.tried ??= []).push(st);
        this.upstream = null;
        st.release();
        this.forward();
        return;
      }
    }
    // The upstream closed or reset the connection before answering: a keep-alive connection it had just closed, or an
    // instance stopped under a regional edge that still routed to it. A bodiless idempotent request (RFC 9110
    // §9.2.2) is sent once more, to another instance when there is one, else on a fresh connection to the same.
    if (!connectPhase && RESET_CODES.has(err.code ?? '') && !this.resetRetried && this.status === 0 && !this.hasBody
      && RETRYABLE_METHODS.has(this.req.method ?? '')) {
      this.resetRetried = true;
      this.tried ??= [];
      if (this.route!.upstreams.length > 1) this.tried.push(st);
      this.upstream = null;
      this.abortFn = null;
      st.release();
      this.forward();
      return;
    }
    const timeout = err.code === 'UND_ERR_HEADERS_TIMEOUT';
    const name = this.route!.entry.serviceName;
    this.page(timeout ? 504 : 502, timeout ? 'gateway_timeout' : 'bad_gateway',
      timeout ? `Service ${name} did not answer in time.` : `Service ${name} failed to answer (${err.code ?? 'error'}).`);
  }

  // ---- h2c ----

  private sendH2(st: UpstreamState, flat: string[]): void {
    const headers: OutgoingHttpHeaders = {
      ':method': this.req.method, ':path': this.forwardPath, ':authority': this.rawHost ?? this.host, ':scheme': 'http',
    };
    for (let i = 0; i < flat.length; i += 2) {
      const k = flat[i].toLowerCase();
      if (k === 'host') continue;
      const prev = headers[k];
      headers[k] = prev === undefined ? flat[i + 1] : `${prev as string}${k === 'cookie' ? '; ' : ', '}${flat[i + 1]}`;
    }
    if (this.wantsTrailers) headers.te = 'trailers';
    let stream: ClientHttp2Stream;
    try {
      stream = st.http2().request(headers, { endStream: !this.hasBody });
    } catch (err) {
      this.upstreamFailed(err as Error, true);
      return;
    }
    this.h2stream = stream;
    const connectedAtStart = st.h2Connected;
    stream.on('response', (h: H2Headers, flags: number) => {
      if (this.done) return;
      st.succeeded();
      const out: string[] = [];
      for (const k of Object.keys(h)) {
        if (k.charCodeAt(0) === 58 /* : */ || dropResponseHeader(k)) continue;
        const v = h[k]!;
        if (Array.isArray(v)) for (const x of v) out.push(k, x);
        else out.push(k, String(v));
      }
      out.push('x-request-id', this.requestId);
      this.status = Number(h[':status']);
      if ((flags & END_STREAM) !== 0) {
        if (this.endWithHeaders(out)) return;
        // An HTTP/1.1 client (HAProxy in front of this edge is one) learns the same from an empty body of known
        // length, where a chunked one leaves it waiting for the last chunk: HAProxy then ends an HTTP/2 client's
        // stream with the headers, as the upstream did, instead of after them.
        if (this.status >= 200 && this.status !== 204 && this.status !== 304 && this.req.method !== 'HEAD' && h['content-length'] === undefined) {
          out.push('content-length', '0');
        }
      }
      this.res.writeHead(this.status, out);
    });
    stream.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      if (!this.res.write(chunk)) {
        stream.pause();
        this.res.once('drain', () => stream.resume());
      }
    });
    // gRPC's status (grpc-status, grpc-message) comes in the trailers: the client gets them before the end.
    stream.on('trailers', (t: H2Headers) => {
      if (this.done || this.status === 0) return;
      const out: Record<string, string | string[]> = {};
      for (const k of Object.keys(t)) if (k.charCodeAt(0) !== 58 /* : */ && !dropResponseHeader(k)) out[k] = t[k]!;
      this.res.addTrailers(out);
    });
    stream.on('end', () => {
      if (this.done) return;
      if (this.status === 0) { this.upstreamFailed(new Error('no response'), false); return; }
      if (this.endedWithHeaders) { this.finish(); return; }
      this.res.end();
      this.finish();
    });
    stream.on('error', (err: Error & { code?: string; cause?: { code?: string } }) => {
      // A stream that died before its session ever connected never reached the upstream; node reports it as
      // a cancelled stream whose cause is the session's connect error.
      const beforeSend = !connectedAtStart && !st.h2Connected;
      const cause = err.code === 'ERR_HTTP2_STREAM_CANCEL' && err.cause?.code ? err.cause as Error & { code?: string } : err;
      this.upstreamFailed(cause, beforeSend);
    });
    if (this.hasBody) this.req.pipe(stream);
  }

  /**
   * An upstream answer that ended with its headers (HTTP/2's END_STREAM on HEADERS: gRPC's trailers-only answer, which
   * carries grpc-status there) goes to an HTTP/2 client the same way. Node's compat response always waits for
   * trailers, so its headers would go without END_STREAM and a gRPC client would read the status as plain metadata
   * and then miss it ("Call ended without gRPC status"). False for an HTTP/1.1 client (headers and an empty body).
   */
  private endWithHeaders(out: string[]): boolean {
    if (this.req.httpVersionMajor !== 2) return false;
    const stream = (this.res as unknown as { stream?: ServerHttp2Stream }).stream;
    if (!stream || stream.headersSent || stream.destroyed) return false;
    const headers: OutgoingHttpHeaders = { ':status': this.status };
    for (let i = 0; i < out.length; i += 2) {
      const k = out[i].toLowerCase();
      const prev = headers[k];
      headers[k] = prev === undefined ? out[i + 1] : Array.isArray(prev) ? [...prev, out[i + 1]] : [String(prev), out[i + 1]];
    }
    stream.respond(headers, { endStream: true });
    this.endedWithHeaders = true;
    return true;
  }

  // ---- endings ----

  private onClientClose(): void {
    if (this.done) return;
    if (this.held) {
      this.held = false;
      this.edge.unhold(this);
    }
    if (this.status === 0) this.status = 499;
    if (this.abortFn !== null) this.abortFn(new Error('client closed'));
    if (this.h2stream !== null) this.h2stream.close();
    this.finish();
  }

  /** True when the client reached us over TLS (or, when trusted, a TLS terminator in front says so). */
  private isHttps(): boolean {
    if ((this.req.socket as { encrypted?: boolean }).encrypted === true) return true;
    return this.edge.trustForwarded && this.xfp === 'https';
  }

  /** A small answer of the edge's own (ACME, redirect). */
  private answer(status: number, headers: string[], body: string): void {
    this.status = status;
    const len = Buffer.byteLength(body);
    this.res.writeHead(status, [...headers, 'content-length', String(len), 'cache-control', 'no-store', 'x-request-id', this.requestId]);
    this.res.end(this.req.method === 'HEAD' ? undefined : body);
    this.bytes += this.req.method === 'HEAD' ? 0 : len;
    this.finish();
  }

  private page(status: number, code: EdgePageCode, message: string, extra?: Record<string, string>): void {
    if (this.done) return;
    this.status = this.res.headersSent ? this.status : status;
    this.bytes += sendPage(this.res, this.req.method ?? 'GET', this.accept, status, code, message, this.requestId, extra);
    this.finish();
  }

  /** Record metrics and the access log once, and release the upstream. */
  private finish(): void {
    if (this.done) return;
    this.done = true;
    const ms = performance.now() - this.t0;
    const route = this.route;
    const st = this.upstream;
    if (route !== null) {
      if (st !== null || this.tried !== null) route.traffic.inFlight--;
      route.traffic.observe(this.status, ms, this.bytes);
      route.app.traffic.observe(this.status, ms, this.bytes);
    }
    if (st !== null) {
      st.instance.observe(this.status, ms, this.bytes);
      st.release();
      this.upstream = null;
    }
    const log = this.edge.accessLog;
    if (log !== undefined) {
      log({
        time: new Date(performance.timeOrigin + this.t0).toISOString(),
        host: this.host,
        method: this.req.method ?? '',
        path: this.req.url ?? '',
        status: this.status,
        duration_ms: Math.round(ms * 1000) / 1000,
        bytes: this.bytes,
        upstream: st !== null ? st.label : '',
        request_id: this.requestId,
        region: this.region,
      });
    }
  }

  private pathOnly(): string {
    const url = this.url;
    const q = url.indexOf('?');
    return q < 0 ? url : url.slice(0, q);
  }
}

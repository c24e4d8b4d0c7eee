// WebSocket (and any HTTP/1.1 `Upgrade`) proxying: route like a normal request, open a fresh connection to
// the upstream, relay the 101 and then splice the two sockets. An open tunnel counts as in flight on its
// instance, so `drain()` waits for it (up to its timeout).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { HOP_BY_HOP, SANE_REQUEST_ID } from './headers.ts';
import { hostKey, matchRoute } from './route-table.ts';
import { absoluteTarget, duplicateHost, malformedPercent } from './target.ts';
import type { EdgeContext } from './request.ts';
import { CONNECT_ERROR_CODES, pickUpstream, type UpstreamState } from './upstream.ts';

/** Handle a server 'upgrade' event. */
export function proxyUpgrade(edge: EdgeContext, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const t0 = performance.now();
  socket.on('error', () => socket.destroy());
  const given = req.headers['x-request-id'];
  const requestId = typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : edge.nextRequestId();
  // The same target rules as plain requests (target.ts): one Host, absolute form's authority wins, clean %-escapes.
  if (duplicateHost(req.rawHeaders)) return refuse(socket, 400, 'Bad request: more than one Host header.', requestId);
  let url = req.url ?? '/';
  let rawHost = req.headers.host;
  if (url.charCodeAt(0) !== 47 /* / */) {
    const t = absoluteTarget(url);
    if (typeof t === 'string') return refuse(socket, 400, `Bad request: ${t}.`, requestId);
    url = t.url;
    rawHost = t.authority;
  }
  if (malformedPercent(url)) return refuse(socket, 400, 'Bad request: the path has a "%" not followed by two hex digits.', requestId);
  const host = hostKey(rawHost);
  const app = edge.hosts.get(host);
  const m = app ? matchRoute(app, url) : null;
  if (!app || !m) return refuse(socket, 404, `No route for host "${host}" path ${url}.`, requestId);
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  if (app.def.httpsRedirect === true && edge.httpsSuffix !== null && !encrypted) {
    return refuse(socket, 308, 'This app is served over https.', requestId, `location: https://${host}${edge.httpsSuffix}${url}\r\n`);
  }
  const route = m.route;
  const auth = req.headers.authorization;
  const key = req.headers['x-api-key'];
  if (route.policy && !route.policy.allows(auth, typeof key === 'string' ? key : undefined)) {
    return refuse(socket, 401, 'Credentials required.', requestId, `www-authenticate: ${route.policy.challenge}\r\n`);
  }
  const rh = req.headers[edge.regionHeader];
  const rawXff = req.headers['x-forwarded-for'];
  const xff = typeof rawXff === 'string' && rawXff !== '' ? rawXff : undefined;
  const region = edge.regionOf(req, typeof rh === 'string' ? rh : undefined, xff);
  const wall = performance.timeOrigin + t0;
  route.traffic.lastRequestAt = wall;
  app.traffic.lastRequestAt = wall;

  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || HOP_BY_HOP.has(k) || k.startsWith('x-forwarded-') || k === 'x-request-id') continue;
    headers[k] = v;
  }
  headers['x-forwarded-for'] = edge.forwardedFor(req, xff);
  if (rawHost !== undefined) headers.host = rawHost;
  headers['x-forwarded-host'] = rawHost ?? '';
  headers['x-forwarded-proto'] = encrypted ? 'https' : 'http';
  headers['x-request-id'] = requestId;
  headers.connection = 'Upgrade';
  headers.upgrade = req.headers.upgrade ?? 'websocket';

  const tried: UpstreamState[] = [];
  const attempt = (): void => {
    const st = pickUpstream(route.upstreams, route.byRegion, region, performance.now(), tried);
    if (!st) {
      const e = route.entry;
      return refuse(socket, 503, `Service ${e.serviceName} has no healthy instance (status ${e.serviceStatus}).`, requestId);
    }
    st.acquire();
    let released = false;
    const release = (status: number): void => {
      if (released) return;
      released = true;
      const ms = performance.now() - t0;
      route.traffic.observe(status, ms, 0);
      st.instance.observe(status, ms, 0);
      st.release();
    };
    const up = httpRequest({
      host: st.up.host, port: st.up.port, method: req.method, path: m.forwardPath, headers, agent: false,
    });
    up.on('upgrade', (res, upSocket, upHead) => {
      st.succeeded();
      let out = `HTTP/1.1 ${res.statusCode ?? 101} ${res.statusMessage ?? 'Switching Protocols'}\r\n`;
      for (let i = 0; i < res.rawHeaders.length; i += 2) out += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
      socket.write(out + '\r\n');
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      const close = (): void => {
        socket.destroy();
        upSocket.destroy();
        release(101);
      };
      upSocket.on('error', close);
      upSocket.on('close', close);
      socket.on('close', close);
      socket.pipe(upSocket).pipe(socket);
    });
    up.on('response', (res) => {
      // The upstream declined the upgrade: relay its answer as a plain response.
      st.succeeded();
      let out = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n`;
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        if (!HOP_BY_HOP.has(res.rawHeaders[i].toLowerCase())) out += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
      }
      socket.write(out + 'connection: close\r\n\r\n');
      res.pipe(socket);
      res.on('end', () => release(res.statusCode ?? 502));
      res.on('error', () => { socket.destroy(); release(502); });
    });
    up.on('error', (err: Error & { code?: string }) => {
      if (released) return;
      if (CONNECT_ERROR_CODES.has(err.code ?? '')) {
        st.connectFailed(performance.now());
        released = true;
        st.release();
        tried.push(st);
        if (tried.length < edge.maxTries) return attempt();
      } else {
        release(502);
      }
      refuse(socket, 502, `Service ${route.entry.serviceName} failed to accept the upgrade (${err.code ?? 'error'}).`, requestId);
    });
    socket.on('close', () => { if (!released) up.destroy(); });
    up.end();
  };
  attempt();
}

function refuse(socket: Duplex, status: number, message: string, requestId: string, extra = ''): void {
  if (socket.destroyed) return;
  const reason = { 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 502: 'Bad Gateway', 503: 'Service Unavailable' }[status] ?? 'Error';
  const body = message + '\n';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
    `x-request-id: ${requestId}\r\n${extra}connection: close\r\n\r\n${body}`);
}

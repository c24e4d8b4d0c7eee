// The small pages the edge answers itself (no route, no upstream, auth required, upstream failed). They
// name the host/path or service so a user can fix the cause, and come as JSON when the client asks for it.
import type { ServerResponse } from 'node:http';

/** Stable codes for edge-generated answers (the same vocabulary as the API's error catalogue). */
export type EdgePageCode = 'bad_request' | 'no_route' | 'unavailable' | 'authentication_error' | 'bad_gateway' | 'gateway_timeout' | 'overloaded';

const TITLES: Record<EdgePageCode, string> = {
  bad_request: 'Bad request',
  no_route: 'No route',
  unavailable: 'Service unavailable',
  authentication_error: 'Authentication required',
  bad_gateway: 'Bad gateway',
  gateway_timeout: 'Gateway timeout',
  overloaded: 'Too many waiting requests',
};

/** Write an edge page unless headers already went out (then the connection is cut instead). */
export function sendPage(
  res: ServerResponse, method: string, accept: string, status: number, code: EdgePageCode, message: string,
  requestId: string, extra: Record<string, string> = {},
): number {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return 0;
  }
  const json = accept.includes('application/json');
  const body = json
    ? JSON.stringify({ status, code, message, request_id: requestId }) + '\n'
    : `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${TITLES[code]}</title></head>` +
      `<body><h1>${status} ${TITLES[code]}</h1><p>${escapeHtml(message)}</p>` +
      `<p><small>request id ${escapeHtml(requestId)} · pier edge</small></p></body></html>\n`;
  const headers: Record<string, string | number> = {
    'content-type': json ? 'application/json' : 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'x-request-id': requestId,
    'x-pier-edge': code,
    ...extra,
  };
  res.writeHead(status, headers);
  if (method === 'HEAD') {
    res.end();
    return 0;
  }
  res.end(body);
  return Buffer.byteLength(body);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

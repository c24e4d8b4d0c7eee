// A tiny router: exact segments and `{param}` segments, one table that also feeds the OpenAPI document.
import type { ProxyPortRange } from '../store/proxy-ports.ts';
import type http from 'node:http';
import type { GitLocalAccess } from '../config.ts';
import { PierError } from '../domain/errors.ts';
import type { EdgeRouteFeed } from '../edge/route-feed.ts';
import type { Store } from '../store/store.ts';
import type { Query } from './http.ts';

/** What a handler gets for one authenticated request. */
export interface RequestContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  params: Record<string, string>;
  query: Query;
  /** The parsed JSON body (read lazily; `{}` when empty). */
  body(): Promise<unknown>;
  store: Store;
  /** The caller's organization (from the bearer token). */
  organizationId: string;
  /** The calling token as the actor of activities; absent on self-authenticated routes (webhooks, uploads). */
  actor?: { id: string; name: string; type: 'user' | 'operator' };
  /** Called after every successful write, so the reconcilers can act now instead of at the next resync. */
  onWrite: () => void;
  /** Base domain of app hosts. */
  domain: string;
  /** Facts about the running platform for /v1/pier/info (edge URL, runtime), filled in by the composition root. */
  info: () => Record<string, unknown>;
  /** The route table remote edges long-poll (published by the leader's route publisher). */
  routeFeed: EdgeRouteFeed;
  /** Who may build from a repository on the host's disk (PIER_GIT_ALLOW_LOCAL); absent = nobody. */
  gitAllowLocal?: GitLocalAccess;
  /** The public ports the TCP proxy gives out (PIER_TCP_PROXY_PORTS); absent = off. */
  tcpProxyPorts?: ProxyPortRange;
}

/** A route handler returns the reply body (sent as 200 JSON), or `undefined` when it wrote the reply itself. */
export type Handler = (ctx: RequestContext) => Promise<unknown>;

/** One served operation. */
export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  operationId: string;
  /** Tag in the OpenAPI document. */
  tag: string;
  handler: Handler;
  /** Pier extension, not part of Koyeb's API (marked x-pier in the OpenAPI document). */
  pier?: boolean;
  /** A POST that changes nothing (organization switch, autocomplete): read-only tokens may call it. */
  reads?: boolean;
}

interface Compiled { route: Route; segments: string[] }

/** A path parameter percent-decoded; a malformed escape (`%ZZ`, a lone `%E2`) is a 400 naming the parameter. */
function decodeParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new PierError('invalid_argument', `Path parameter ${name} is not valid percent-encoding`, [
      { field: name, description: 'is not valid percent-encoding (a "%" must start an escape such as %2F)' },
    ]);
  }
}

/** Matches a method + path against the route table. */
export class Router {
  private readonly compiled: Compiled[];
  constructor(readonly routes: Route[]) {
    this.compiled = routes.map((route) => ({ route, segments: route.path.split('/').filter(Boolean) }));
  }

  /** The route and its path params, or undefined; `methodMismatch` says the path exists with another method. */
  match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    const parts = path.split('/').filter(Boolean);
    for (const c of this.compiled) {
      if (c.route.method !== method || c.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length; i++) {
        const seg = c.segments[i]!;
        if (seg.startsWith('{') && seg.endsWith('}')) params[seg.slice(1, -1)] = decodeParam(seg.slice(1, -1), parts[i]!);
        else if (seg !== parts[i]) { ok = false; break; }
      }
      if (ok) return { route: c.route, params };
    }
    return undefined;
  }
}

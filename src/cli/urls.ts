// Where an app and its services answer: `http://<domain>[:<edge port>]<route>` for each of the app's domains, with
// the edge's port from GET /v1/pier/info (Pier's; without it the URL has no port, as behind a port-80 edge).
import type { App, DeploymentDefinition } from '../domain/types.ts';
import type { Ctx } from './command.ts';

/** The edge's public ports, as `:8000` suffixes ('' for the scheme's default or when unknown). */
export interface EdgePorts {
  http: string;
  https?: string;
}

/** The edge's ports from /v1/pier/info; unknown (no port) when the endpoint is missing or the call fails. */
export async function edgePorts(ctx: Ctx): Promise<EdgePorts> {
  try {
    const info = await ctx.client().get<{ edge_url?: string; edge_tls_url?: string }>('/v1/pier/info');
    const port = (url: string | undefined): string | undefined => {
      if (!url) return undefined;
      const u = new URL(url);
      return u.port ? `:${u.port}` : '';
    };
    return { http: port(info.edge_url) ?? '', https: port(info.edge_tls_url) };
  } catch {
    // A Koyeb-style API without Pier's info endpoint: URLs without a port are still the right hosts.
    return { http: '' };
  }
}

/** The domains an app answers on, active ones first (a custom domain still pending is left out). */
function domainsOf(app: Pick<App, 'domains'>): string[] {
  return (app.domains ?? []).filter((d) => !d.status || d.status === 'ACTIVE' || d.type === 'AUTOASSIGNED').map((d) => d.name);
}

/** The app's base URLs, one per domain. */
export function appUrls(app: Pick<App, 'domains'>, edge: EdgePorts): string[] {
  return domainsOf(app).map((d) => `http://${d}${edge.http}`);
}

/** The public URLs of a service: each route on the app's first domain (the others serve the same routes). */
export function serviceUrls(app: Pick<App, 'domains'>, definition: Pick<DeploymentDefinition, 'routes'> | undefined, edge: EdgePorts): string[] {
  const [base] = appUrls(app, edge);
  if (!base) return [];
  return (definition?.routes ?? []).map((r) => `${base}${r.path || '/'}`);
}

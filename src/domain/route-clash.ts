// Routes are path prefixes shared by every web service of one app: the edge sends a request to the longest
// matching prefix, so two services with the same prefix cannot both be reached, one would silently get nothing.
// The definition validator sees one service; this check needs the app's other services, so the API calls it.
import { quote } from './fields.ts';
import type { DeploymentDefinition, FieldError } from './types.ts';

/** A route path as the edge compares it: leading "/", no trailing "/" except the root itself. */
export function routePrefix(path: string): string {
  let s = path.startsWith('/') ? path : `/${path}`;
  while (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/** Another service of the same app, with the definition it runs or is about to run. */
export interface SiblingService { name: string; definition: Pick<DeploymentDefinition, 'routes'> }

/**
 * Field errors for each route of `candidate` whose prefix another service of the app already serves, naming that
 * service (empty when there is no clash). `others` must not include the candidate's own service.
 */
export function routeClashes(
  candidate: Pick<DeploymentDefinition, 'routes'>, others: readonly SiblingService[], path = 'definition',
): FieldError[] {
  const taken = new Map<string, string>();
  for (const s of others) for (const r of s.definition.routes ?? []) if (!taken.has(routePrefix(r.path))) taken.set(routePrefix(r.path), s.name);
  const out: FieldError[] = [];
  (candidate.routes ?? []).forEach((r, i) => {
    const owner = taken.get(routePrefix(r.path));
    if (owner === undefined) return;
    out.push({
      field: `${path}.routes[${i}].path`,
      description: `route ${quote(r.path)} is already served by service ${owner} of this app: a path prefix goes to one `
        + `service only, so pick another prefix or remove the route from ${owner} first`,
    });
  });
  return out;
}

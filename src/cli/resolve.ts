// Turns what the user typed into a resource id, as the koyeb CLI's idmapper does: a full UUID as is, else an
// 8-character short id prefix or a name, found by listing. Services also accept `<app>/<service>` or `--app`.
import type { App, Deployment, Instance, RegionalDeployment, Service } from '../domain/types.ts';
import type { ApiClient, Query } from './client.ts';
import { CliError } from './errors.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a string is a full UUID. */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}

function pick<T extends { id: string }>(kind: string, ref: string, items: T[], nameOf?: (item: T) => string): T {
  const byId = ref.length >= 8 ? items.filter((i) => i.id.startsWith(ref.toLowerCase())) : [];
  const byName = nameOf ? items.filter((i) => nameOf(i) === ref) : [];
  const found = byName.length ? byName : byId;
  if (found.length === 1) return found[0]!;
  if (found.length > 1) {
    throw new CliError(`"${ref}" matches ${found.length} ${kind}s (${found.map((i) => i.id.slice(0, 8)).join(', ')}); use a full id`);
  }
  throw new CliError(`${kind} not found: ${ref}`);
}

async function resolveByListing<T extends { id: string }>(
  client: ApiClient, kind: string, path: string, key: string, ref: string, query: Query = {}, nameOf?: (i: T) => string,
): Promise<string> {
  if (isUuid(ref)) return ref;
  return pick(kind, ref, await client.listAll<T>(path, key, query), nameOf).id;
}

/** An app id from a UUID, short id or name. */
export function resolveApp(client: ApiClient, ref: string): Promise<string> {
  return resolveByListing<App>(client, 'app', '/v1/apps', 'apps', ref, {}, (a) => a.name);
}

/** A service id from `<app>/<service>`, `<service>` with `--app`, a UUID or a short id (or a name unique across apps). */
export async function resolveService(client: ApiClient, ref: string, appRef?: string): Promise<string> {
  let app = appRef;
  let name = ref;
  const slash = ref.indexOf('/');
  if (slash !== -1) {
    app = ref.slice(0, slash);
    name = ref.slice(slash + 1);
  }
  if (!app && isUuid(name)) return name;
  if (app) {
    const appId = await resolveApp(client, app);
    if (isUuid(name)) return name;
    const services = await client.listAll<Service>('/v1/services', 'services', { app_id: appId });
    return pick('service', name, services, (s) => s.name).id;
  }
  const services = await client.listAll<Service>('/v1/services', 'services');
  try {
    return pick('service', name, services, (s) => s.name).id;
  } catch (err) {
    if (err instanceof CliError && err.message.includes('matches')) {
      throw new CliError(`"${name}" names services in several apps; use <app>/<service> or --app APP`);
    }
    throw err;
  }
}

/** A deployment id from a UUID or short id. */
export function resolveDeployment(client: ApiClient, ref: string): Promise<string> {
  return resolveByListing<Deployment>(client, 'deployment', '/v1/deployments', 'deployments', ref);
}

/** A regional deployment id from a UUID or short id. */
export function resolveRegionalDeployment(client: ApiClient, ref: string): Promise<string> {
  return resolveByListing<RegionalDeployment>(client, 'regional deployment', '/v1/regional_deployments', 'regional_deployments', ref);
}

/** An instance id from a UUID or short id. */
export function resolveInstance(client: ApiClient, ref: string): Promise<string> {
  return resolveByListing<Instance>(client, 'instance', '/v1/instances', 'instances', ref);
}

/** A secret id from a UUID, short id or name. */
export function resolveSecret(client: ApiClient, ref: string): Promise<string> {
  return resolveByListing<{ id: string; name: string }>(client, 'secret', '/v1/secrets', 'secrets', ref, {}, (s) => s.name);
}

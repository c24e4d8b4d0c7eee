// Catalog and Pier's info routes (events and activities: routes-events.ts).
import { readFileSync } from 'node:fs';
import { notFound } from '../domain/errors.ts';
import { INSTANCE_TYPES, REGIONS } from '../domain/catalog.ts';
import { parseImageReference } from '../domain/image-ref.ts';
import { listReply } from './http.ts';
import type { Route, RequestContext } from './router.ts';

const PIER_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function paged<T extends { id: string }>(c: RequestContext, key: string, all: T[]): Record<string, unknown> {
  const page = c.query.page();
  const id = c.query.str('id');
  const matching = id ? all.filter((x) => x.id === id) : all;
  return listReply(key, matching.slice(page.offset, page.offset + page.limit), page, matching.length);
}

/** Routes of the catalog and /v1/pier/info. */
export function miscRoutes(): Route[] {
  return [
    { method: 'GET', path: '/v1/catalog/regions', operationId: 'ListRegions', tag: 'CatalogRegions', handler: async (c) => paged(c, 'regions', REGIONS) },
    {
      method: 'GET', path: '/v1/catalog/regions/{id}', operationId: 'GetRegion', tag: 'CatalogRegions',
      handler: async (c) => {
        const region = REGIONS.find((r) => r.id === c.params.id);
        if (!region) throw notFound('region', c.params.id!);
        return { region };
      },
    },
    { method: 'GET', path: '/v1/catalog/instances', operationId: 'ListCatalogInstances', tag: 'CatalogInstances', handler: async (c) => paged(c, 'instances', INSTANCE_TYPES) },
    {
      method: 'GET', path: '/v1/catalog/instances/{id}', operationId: 'GetCatalogInstance', tag: 'CatalogInstances',
      handler: async (c) => {
        const instance = INSTANCE_TYPES.find((t) => t.id === c.params.id || t.aliases.includes(c.params.id!));
        if (!instance) throw notFound('instance type', c.params.id!);
        return { instance };
      },
    },
    {
      method: 'GET', path: '/v1/catalog/datacenters', operationId: 'ListDatacenters', tag: 'CatalogDatacenters',
      handler: async () => ({
        datacenters: REGIONS.flatMap((r) => r.datacenters.map((id) => ({
          id, region_id: r.id, domain: '', coordinates: r.coordinates, use_gpu: false, regions: [r.id],
        }))),
      }),
    },

    {
      // The koyeb CLI calls this before creating a docker service; Pier checks the syntax only (the runtime pulls).
      method: 'GET', path: '/v1/docker-helper/verify', operationId: 'VerifyDockerImage', tag: 'DockerHelper',
      handler: async (c) => {
        const parsed = parseImageReference(c.query.str('image') ?? '');
        return typeof parsed === 'string'
          ? { success: false, reason: `image ${parsed}`, code: 'MALFORMED' }
          : { success: true, reason: '', code: 'UNKNOWN' };
      },
    },
    {
      method: 'GET', path: '/v1/pier/info', operationId: 'PierInfo', tag: 'Pier', pier: true,
      handler: async (c) => ({ version: PIER_VERSION, organization_id: c.organizationId, domain: c.domain, ...c.info() }),
    },
  ];
}

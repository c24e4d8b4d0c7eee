// Quotas and usage: GET /v1/organizations/{organization_id}/quotas (Koyeb's GetQuotas: the caller's organization, or
// any for an operator), PUT /v1/pier/organizations/{id}/quotas (Pier: operators set them), GET /v1/usages and
// /v1/usages/details (instance-seconds by app, service, region and instance type; text/csv on request).
import { notFound } from '../domain/errors.ts';
import { quotasToWire } from '../domain/quotas.ts';
import { getOrganizationQuotas, setOrganizationQuotas } from '../actions/quotas.ts';
import { organizationUsage, organizationUsageDetails, usageWindow } from '../actions/usage.ts';
import { getOrganization } from '../store/organizations.ts';
import { assertOperator, isOperator } from './auth.ts';
import type { Route, RequestContext } from './router.ts';

/** The organization named in the path if the caller may see it: its own, or any for an operator; else 404. */
async function visibleOrganization(c: RequestContext, id: string): Promise<string> {
  if (id === c.organizationId) return id;
  if ((await isOperator(c)) && (await getOrganization(c.store.db, id))) return id;
  throw notFound('organization', id);
}

const CSV_COLUMNS = ['instance_id', 'app_id', 'app_name', 'service_id', 'service_name', 'region', 'instance_type', 'duration_seconds', 'started_at', 'terminated_at'];

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** Routes of quotas and usage. */
export function quotaRoutes(): Route[] {
  return [
    {
      method: 'GET', path: '/v1/organizations/{organization_id}/quotas', operationId: 'GetQuotas', tag: 'OrganizationQuotas',
      handler: async (c) => ({ quotas: quotasToWire(await getOrganizationQuotas(c.store.db, await visibleOrganization(c, c.params.organization_id!))) }),
    },
    {
      method: 'PUT', path: '/v1/pier/organizations/{id}/quotas', operationId: 'PierSetQuotas', tag: 'Pier', pier: true,
      handler: async (c) => {
        await assertOperator(c, 'set quotas');
        if (!(await getOrganization(c.store.db, c.params.id!))) throw notFound('organization', c.params.id!);
        return { quotas: quotasToWire(await setOrganizationQuotas(c.store.db, c.params.id!, await c.body())) };
      },
    },
    {
      method: 'GET', path: '/v1/usages', operationId: 'GetOrganizationUsage', tag: 'Usages',
      handler: async (c) => {
        const { from, to } = usageWindow(c.query.str('starting_time'), c.query.str('ending_time'));
        return { usage: await organizationUsage(c.store.db, c.organizationId, from, to) };
      },
    },
    {
      method: 'GET', path: '/v1/usages/details', operationId: 'GetOrganizationUsageDetails', tag: 'Usages',
      handler: async (c) => {
        const { from, to } = usageWindow(c.query.str('starting_time'), c.query.str('ending_time'));
        const csv = String(c.req.headers.accept ?? '').includes('text/csv');
        const page = csv ? { limit: 100_000, offset: 0 } : c.query.page();
        const order = c.query.order('asc');
        const { usage_details, count } = await organizationUsageDetails(c.store.db, c.organizationId, from, to, { ...page, order });
        if (csv) {
          const lines = [CSV_COLUMNS.join(','), ...usage_details.map((d) => CSV_COLUMNS.map((k) => csvCell(d[k])).join(','))];
          c.res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' });
          c.res.end(lines.join('\n') + '\n');
          return undefined;
        }
        return { usage_details, database_details: [], limit: page.limit, offset: page.offset, count, order };
      },
    },
  ];
}

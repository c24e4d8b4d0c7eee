// Usage reads (GET /v1/usages, /v1/usages/details): the instance lifetimes the usage sampler (src/control/usage.ts)
// recorded, per calendar month, app, service, region and instance type, as Koyeb's Usage and UsageDetails objects.
import { validationError } from '../domain/errors.ts';
import type { Db } from '../store/db.ts';
import { getApp } from '../store/apps.ts';
import { listUsage, type UsageRow } from '../store/quotas.ts';
import { getService } from '../store/services.ts';

/** A usage window: RFC 3339 bounds, ending_time after starting_time. Defaults: this month so far. */
export function usageWindow(start: string | undefined, end: string | undefined, nowMs = Date.now()): { from: string; to: string } {
  const now = new Date(nowMs);
  const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString();
  const check = (v: string | undefined, field: string, fallback: string) => {
    if (v === undefined) return fallback;
    const t = Date.parse(v);
    if (!Number.isFinite(t)) throw validationError([{ field, description: 'must be an RFC 3339 time such as 2026-12-01T00:00:00Z' }]);
    return new Date(t).toISOString();
  };
  const from = check(start, 'starting_time', monthStart);
  const to = check(end, 'ending_time', now.toISOString());
  if (to <= from) throw validationError([{ field: 'ending_time', description: 'must be after starting_time' }]);
  return { from, to };
}

/**
 * Seconds of `row` inside [from, to): its running time, at most the part of its lifetime that overlaps the window
 * (exact for an instance that ran without pauses; one that slept inside its lifetime is attributed no more than it ran).
 */
export function secondsIn(row: UsageRow, from: string, to: string): number {
  const start = Math.max(Date.parse(row.started_at), Date.parse(from));
  const end = Math.min(Date.parse(row.terminated_at ?? row.sampled_at), Date.parse(to));
  return Math.max(0, Math.min(row.duration_seconds, Math.floor((end - start) / 1000)));
}

/** Koyeb's Usage: per calendar month (UTC) of the window, per app, service, region and instance type, seconds run. */
export async function organizationUsage(db: Db, organizationId: string, from: string, to: string): Promise<Record<string, unknown>> {
  const { items } = await listUsage(db, organizationId, from, to);
  const names = await nameLookup(db);
  const periods: Record<string, { starting_time: string; ending_time: string; apps: Map<string, AppUsageAcc> }> = {};
  for (let m = new Date(Date.UTC(new Date(from).getUTCFullYear(), new Date(from).getUTCMonth(), 1)); m.toISOString() < to; m = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1))) {
    const next = new Date(Date.UTC(m.getUTCFullYear(), m.getUTCMonth() + 1, 1)).toISOString();
    const key = m.toISOString().slice(0, 7);
    const pFrom = m.toISOString() < from ? from : m.toISOString();
    const pTo = next > to ? to : next;
    const apps = new Map<string, AppUsageAcc>();
    for (const row of items) {
      const secs = secondsIn(row, pFrom, pTo);
      if (secs <= 0) continue;
      const app = apps.get(row.app_id) ?? { app_id: row.app_id, app_name: await names.app(row.app_id), services: new Map() };
      apps.set(row.app_id, app);
      const svc = app.services.get(row.service_id) ?? { service_id: row.service_id, service_name: await names.service(row.service_id), regions: {} };
      app.services.set(row.service_id, svc);
      const region = (svc.regions[row.region] ??= { instances: {} });
      const it = (region.instances[row.instance_type] ??= { duration_seconds: 0 });
      it.duration_seconds += secs;
    }
    periods[key] = { starting_time: pFrom, ending_time: pTo, apps };
  }
  return {
    organization_id: organizationId,
    periods: Object.fromEntries(Object.entries(periods).map(([k, p]) => [k, {
      starting_time: p.starting_time, ending_time: p.ending_time,
      apps: [...p.apps.values()].map((a) => ({ app_id: a.app_id, app_name: a.app_name, services: [...a.services.values()], databases: [] })),
    }])),
  };
}

interface AppUsageAcc {
  app_id: string; app_name: string;
  services: Map<string, { service_id: string; service_name: string; regions: Record<string, { instances: Record<string, { duration_seconds: number }> }> }>;
}

/** Koyeb's UsageDetails rows of the window (one per instance), with names, and the total count. */
export async function organizationUsageDetails(
  db: Db, organizationId: string, from: string, to: string, page: { limit: number; offset: number; order: 'asc' | 'desc' },
): Promise<{ usage_details: Record<string, unknown>[]; count: number }> {
  const { items, count } = await listUsage(db, organizationId, from, to, page);
  const names = await nameLookup(db);
  const usage_details: Record<string, unknown>[] = [];
  for (const r of items) {
    usage_details.push({
      organization_id: r.organization_id, instance_id: r.instance_id, app_id: r.app_id, app_name: await names.app(r.app_id),
      service_id: r.service_id, service_name: await names.service(r.service_id), regional_deployment_id: r.regional_deployment_id,
      region: r.region, deployment_id: r.deployment_id, instance_type: r.instance_type, duration_seconds: secondsIn(r, from, to),
      started_at: r.started_at, terminated_at: r.terminated_at,
    });
  }
  return { usage_details, count };
}

async function nameLookup(db: Db): Promise<{ app(id: string): Promise<string>; service(id: string): Promise<string> }> {
  const apps = new Map<string, string>();
  const services = new Map<string, string>();
  return {
    async app(id) {
      if (!apps.has(id)) apps.set(id, (await getApp(db, id))?.name ?? '');
      return apps.get(id)!;
    },
    async service(id) {
      if (!services.has(id)) services.set(id, (await getService(db, id))?.name ?? '');
      return services.get(id)!;
    },
  };
}

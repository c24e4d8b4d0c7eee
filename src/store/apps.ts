// Apps repository: one row per app, the wire object in `data`. Rows stay after deletion with status DELETED.
import type { App } from '../domain/types.ts';
import type { Db } from './db.ts';
import { attachedDomains } from './domains.ts';
import {
  getResource, insertResource, listResources, patchResource, Where, type ListResult, type Page, type ResourceTable,
} from './rows.ts';

const spec: ResourceTable<App> = {
  table: 'apps',
  bumpVersion: true,
  columns: (a) => ({
    id: a.id, organization_id: a.organization_id, name: a.name, status: a.status,
    created_at: a.created_at, updated_at: a.updated_at,
  }),
};

/** Filters of the app list. */
export interface AppFilter { organizationId?: string; name?: string; statuses?: string[]; excludeDeleted?: boolean; ids?: string[] }

/** Inserts a new app. */
export function insertApp(db: Db, app: App): Promise<void> {
  return insertResource(db, spec, app);
}

/**
 * Adds each app's attached custom domains (the domains table) after its auto-assigned one (the app row), so every
 * reader of an app sees all the hosts it answers on.
 */
async function withCustomDomains(db: Db, apps: App[]): Promise<App[]> {
  const custom = await attachedDomains(db, apps.map((a) => a.id));
  return apps.map((a) => ({
    ...a,
    domains: [...(a.domains ?? []).filter((d) => d.type !== 'CUSTOM'), ...custom.filter((d) => d.app_id === a.id)],
  }));
}

/** One app by id, whatever its organization (callers check ownership). */
export async function getApp(db: Db, id: string): Promise<App | undefined> {
  const app = await getResource(db, spec, id);
  return app && (await withCustomDomains(db, [app]))[0];
}

/** The live (not DELETED) app of an organization with this name. */
export async function findAppByName(db: Db, organizationId: string, name: string): Promise<App | undefined> {
  const { items } = await listApps(db, { organizationId, name, excludeDeleted: true }, { limit: 1, offset: 0 });
  return items[0];
}

/** Apps matching a filter, newest first. */
export async function listApps(db: Db, filter: AppFilter, page?: Page): Promise<ListResult<App>> {
  const where = new Where().eq('organization_id', filter.organizationId).eq('name', filter.name).in('status', filter.statuses)
    .in('id', filter.ids);
  if (filter.excludeDeleted) where.raw("status <> 'DELETED'");
  const result = await listResources(db, spec, where, page);
  return { ...result, items: await withCustomDomains(db, result.items) };
}

/** Merges a patch (status, messages, timestamps, name, life_cycle) and bumps the version; custom domains stay in their table. */
export async function updateApp(db: Db, id: string, patch: Partial<App>): Promise<App | undefined> {
  const own = patch.domains ? { ...patch, domains: patch.domains.filter((d) => d.type !== 'CUSTOM') } : patch;
  const app = await patchResource(db, spec, id, own);
  return app && (await withCustomDomains(db, [app]))[0];
}

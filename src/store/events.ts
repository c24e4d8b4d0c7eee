// Events repository: one table for every level (app, service, deployment, regional deployment, instance, persistent volume).
import type { ResourceEvent } from '../domain/types.ts';
import type { Db } from './db.ts';
import { newId, nowIso, Where, type ListResult, type Page } from './rows.ts';

/** The level an event belongs to; the wire object names its resource `<kind>_id`. */
export type EventKind = 'app' | 'service' | 'deployment' | 'regional_deployment' | 'instance' | 'persistent_volume';

/** An event as the API returns it: ResourceEvent plus `<kind>_id`. */
export type StoredEvent = ResourceEvent & Record<string, unknown>;

/** What callers append. `when` defaults to now. */
export interface NewEvent {
  kind: EventKind;
  resourceId: string;
  organizationId: string;
  type: string;
  message: string;
  metadata?: Record<string, unknown>;
  when?: string;
}

interface EventRow {
  id: string; organization_id: string; kind: EventKind; resource_id: string; type: string; message: string;
  metadata: string; when_at: string;
}

function toWire(r: EventRow): StoredEvent {
  return {
    id: r.id, when: r.when_at, organization_id: r.organization_id, [`${r.kind}_id`]: r.resource_id,
    type: r.type, message: r.message, metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  };
}

/** Appends one event and returns it in wire form. */
export async function appendEvent(db: Db, e: NewEvent): Promise<StoredEvent> {
  const row: EventRow = {
    id: newId(), organization_id: e.organizationId, kind: e.kind, resource_id: e.resourceId, type: e.type,
    message: e.message, metadata: JSON.stringify(e.metadata ?? {}), when_at: e.when ?? nowIso(),
  };
  await db.run(
    'INSERT INTO events (id, organization_id, kind, resource_id, type, message, metadata, when_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [row.id, row.organization_id, row.kind, row.resource_id, row.type, row.message, row.metadata, row.when_at],
  );
  return toWire(row);
}

/** Filters of an event list. */
export interface EventFilter {
  kind: EventKind;
  organizationId?: string;
  resourceIds?: string[];
  types?: string[];
  /** 'desc' (newest first, the default) or 'asc'. */
  order?: 'asc' | 'desc';
}

/** Events of one level matching a filter. */
export async function listEvents(db: Db, f: EventFilter, page: Page): Promise<ListResult<StoredEvent>> {
  const where = new Where().eq('kind', f.kind).eq('organization_id', f.organizationId)
    .in('resource_id', f.resourceIds).in('type', f.types);
  const dir = f.order === 'asc' ? 'ASC' : 'DESC';
  const rows = await db.all<EventRow>(
    `SELECT id, organization_id, kind, resource_id, type, message, metadata, when_at FROM events${where.sql()}
     ORDER BY seq ${dir} LIMIT ${Math.floor(page.limit)} OFFSET ${Math.floor(page.offset)}`,
    where.params,
  );
  const c = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM events${where.sql()}`, where.params);
  return { items: rows.map(toWire), count: Number(c?.n ?? 0) };
}

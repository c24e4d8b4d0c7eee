// Activities repository: who did what to which object through the API, one row per write (Koyeb's Activity:
// actor, object, verb, metadata, created_at). Their retention is in retention.ts.
import type { Db } from './db.ts';
import { newId, nowIso, Where, type ListResult, type Page } from './rows.ts';

/** Koyeb's `Object`: the actor or the object of an activity. */
export interface ActivityObject {
  id: string;
  name: string;
  /** `user` (an API token), `operator` (Pier itself or its admin), or the object's kind: app, service, secret... */
  type: string;
  metadata: Record<string, unknown>;
  deleted: boolean;
}

/** An activity as the API returns it. */
export interface Activity {
  id: string;
  actor: ActivityObject;
  object: ActivityObject;
  verb: string;
  metadata: Record<string, unknown>;
  created_at: string;
}

/** What callers append: the object's kind, id and name, the verb, and details. */
export interface NewActivity {
  organizationId: string;
  actor: { id: string; name: string; type: string };
  object: { id: string; name: string; type: string; deleted?: boolean; metadata?: Record<string, unknown> };
  verb: string;
  metadata?: Record<string, unknown>;
  createdAt?: string;
}

/** Appends one activity (inside the write's transaction) and returns it in wire form. */
export async function appendActivity(db: Db, a: NewActivity): Promise<Activity> {
  const activity: Activity = {
    id: newId(),
    actor: { ...a.actor, metadata: {}, deleted: false },
    object: { id: a.object.id, name: a.object.name, type: a.object.type, metadata: a.object.metadata ?? {}, deleted: a.object.deleted ?? false },
    verb: a.verb,
    metadata: a.metadata ?? {},
    created_at: a.createdAt ?? nowIso(),
  };
  await db.run(
    'INSERT INTO activities (id, organization_id, actor_id, object_type, object_id, verb, created_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    [activity.id, a.organizationId, activity.actor.id, activity.object.type, activity.object.id, activity.verb, activity.created_at, JSON.stringify(activity)],
  );
  return activity;
}

/** Filters of an activity list (newest first). */
export interface ActivityFilter {
  organizationId: string;
  /** Object kinds (`app`, `service`, `secret`...). */
  types?: string[];
  objectIds?: string[];
  actorId?: string;
}

/** Activities of an organization matching a filter, newest first. */
export async function listActivities(db: Db, f: ActivityFilter, page: Page): Promise<ListResult<Activity>> {
  const where = new Where().eq('organization_id', f.organizationId).in('object_type', f.types)
    .in('object_id', f.objectIds).eq('actor_id', f.actorId);
  const rows = await db.all<{ data: string }>(
    `SELECT data FROM activities${where.sql()} ORDER BY seq DESC LIMIT ${Math.floor(page.limit)} OFFSET ${Math.floor(page.offset)}`,
    where.params,
  );
  const c = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM activities${where.sql()}`, where.params);
  return { items: rows.map((r) => JSON.parse(r.data) as Activity), count: Number(c?.n ?? 0) };
}

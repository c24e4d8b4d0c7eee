// Shared plumbing for repositories whose rows hold a wire object as JSON in `data` plus a few indexed columns.
import { randomUUID } from 'node:crypto';
import type { Db, SqlValue } from './db.ts';

/** A new resource id (UUID v4, as Koyeb's ids). */
export function newId(): string {
  return randomUUID();
}

/** The current time as an RFC 3339 UTC string. */
export function nowIso(): string {
  return new Date().toISOString();
}

/** Page bounds of a list query. */
export interface Page { limit: number; offset: number }

/** One page of rows plus the total count matching the filter. */
export interface ListResult<T> { items: T[]; count: number }

/** Collects WHERE clauses and their parameters. */
export class Where {
  private readonly parts: string[] = [];
  readonly params: SqlValue[] = [];
  /** Adds `column = value` when value is defined. */
  eq(column: string, value: SqlValue): this {
    if (value !== undefined) { this.parts.push(`${column} = ?`); this.params.push(value); }
    return this;
  }
  /** Adds `column IN (...)` when the list is given and non-empty. */
  in(column: string, values: readonly SqlValue[] | undefined): this {
    if (values && values.length > 0) {
      this.parts.push(`${column} IN (${values.map(() => '?').join(', ')})`);
      this.params.push(...values);
    }
    return this;
  }
  /** Adds `column NOT IN (...)`. */
  notIn(column: string, values: readonly SqlValue[]): this {
    if (values.length > 0) {
      this.parts.push(`${column} NOT IN (${values.map(() => '?').join(', ')})`);
      this.params.push(...values);
    }
    return this;
  }
  /** Adds a raw clause with its parameters. */
  raw(clause: string, ...params: SqlValue[]): this {
    this.parts.push(clause);
    this.params.push(...params);
    return this;
  }
  /** ` WHERE a AND b`, or an empty string. */
  sql(): string {
    return this.parts.length ? ` WHERE ${this.parts.join(' AND ')}` : '';
  }
}

/** How one resource maps onto its table. */
export interface ResourceTable<T> {
  table: string;
  /** The indexed columns of a row, derived from the wire object (the `data` column is added by the helpers). */
  columns: (obj: T) => Record<string, SqlValue>;
  /** Whether patches bump the wire `version` (apps, services; deployments keep their sequence number). */
  bumpVersion: boolean;
}

/** Inserts a wire object as a row. */
export async function insertResource<T>(
  db: Db, spec: ResourceTable<T>, obj: T, extra: Record<string, SqlValue> = {},
): Promise<void> {
  const cols = { ...spec.columns(obj), ...extra, data: JSON.stringify(obj) };
  const names = Object.keys(cols);
  await db.run(
    `INSERT INTO ${spec.table} (${names.join(', ')}) VALUES (${names.map(() => '?').join(', ')})`,
    Object.values(cols),
  );
}

/** Reads one wire object by id. */
export async function getResource<T>(db: Db, spec: ResourceTable<T>, id: string): Promise<T | undefined> {
  const row = await db.get<{ data: string }>(`SELECT data FROM ${spec.table} WHERE id = ?`, [id]);
  return row ? (JSON.parse(row.data) as T) : undefined;
}

/** Merges a patch into a stored object (updated_at now, version bumped if the table does so); returns the result. */
export async function patchResource<T extends { updated_at: string }>(
  db: Db, spec: ResourceTable<T>, id: string, patch: Partial<T>, opts: { creating?: boolean } = {},
): Promise<T | undefined> {
  return db.transaction(async (tx) => {
    const current = await getResource(tx, spec, id);
    if (!current) return undefined;
    // A patch that is part of creating the row (`creating`) is no new version and no update.
    const next = { ...current, ...stripUndefined(patch), ...(opts.creating ? {} : { updated_at: nowIso() }) } as T;
    if (spec.bumpVersion && !opts.creating) {
      const v = (next as { version?: string }).version;
      (next as { version?: string }).version = String(Number(v ?? '0') + 1);
    }
    const cols: Record<string, SqlValue> = { ...spec.columns(next), data: JSON.stringify(next) };
    const names = Object.keys(cols).filter((n) => n !== 'id');
    await tx.run(
      `UPDATE ${spec.table} SET ${names.map((n) => `${n} = ?`).join(', ')} WHERE id = ?`,
      [...names.map((n) => cols[n]), id],
    );
    return next;
  });
}

/** Lists wire objects matching a filter, newest first unless told otherwise, with the total count. */
export async function listResources<T>(
  db: Db, spec: ResourceTable<T>, where: Where, page: Page | undefined, order = 'created_at DESC, id DESC',
): Promise<ListResult<T>> {
  const w = where.sql();
  const limit = page ? ` LIMIT ${Math.max(0, Math.floor(page.limit))} OFFSET ${Math.max(0, Math.floor(page.offset))}` : '';
  const rows = await db.all<{ data: string }>(`SELECT data FROM ${spec.table}${w} ORDER BY ${order}${limit}`, where.params);
  const items = rows.map((r) => JSON.parse(r.data) as T);
  let count = items.length;
  if (page && (page.offset > 0 || items.length >= page.limit)) {
    const c = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${spec.table}${w}`, where.params);
    count = Number(c?.n ?? 0);
  } else if (page) {
    count = page.offset + items.length;
  }
  return { items, count };
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

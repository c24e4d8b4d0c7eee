// Quotas and usage repository: the operator's limits per organization (organization_quotas) and one usage row per
// instance lifetime (instance_usage), written by the usage sampler from instance rows.
import type { Quotas } from '../domain/quotas.ts';
import type { Db } from './db.ts';
import { nowIso } from './rows.ts';

/** The organization's quotas, or undefined when none are set (no limits). */
export async function getQuotas(db: Db, organizationId: string): Promise<Quotas | undefined> {
  const row = await db.get<{ data: string }>('SELECT data FROM organization_quotas WHERE organization_id = ?', [organizationId]);
  return row ? (JSON.parse(row.data) as Quotas) : undefined;
}

/** Replaces the organization's quotas (an empty object lifts every limit). */
export async function putQuotas(db: Db, organizationId: string, quotas: Quotas): Promise<void> {
  await db.run(
    `INSERT INTO organization_quotas (organization_id, data, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (organization_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
    [organizationId, JSON.stringify(quotas), nowIso()],
  );
}

/** One instance's lifetime as usage records it (Koyeb's UsageDetails) plus when it was last sampled. */
export interface UsageRow {
  instance_id: string; organization_id: string; app_id: string; service_id: string; deployment_id: string;
  regional_deployment_id: string; region: string; instance_type: string;
  /** When the instance first ran. */
  started_at: string;
  /** When it last stopped running; null while it runs. */
  terminated_at: string | null;
  /** Seconds it ran (sleeping and restarts excluded), up to `sampled_at`. */
  duration_seconds: number;
  /** The sampler's last look (the integration mark). */
  sampled_at: string;
}

const COLUMNS = 'instance_id, organization_id, app_id, service_id, deployment_id, regional_deployment_id, region, instance_type, started_at, terminated_at, duration_seconds';

function fromRow(r: UsageRow & { updated_at?: string }): UsageRow {
  const { updated_at: sampled, ...rest } = r as UsageRow & { updated_at: string };
  return { ...rest, duration_seconds: Number(r.duration_seconds), sampled_at: sampled };
}

/** Writes one usage row as the sampler computed it. */
export async function putUsage(db: Db, u: UsageRow): Promise<void> {
  await db.run(
    `INSERT INTO instance_usage (${COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (instance_id) DO UPDATE SET terminated_at = excluded.terminated_at, duration_seconds = excluded.duration_seconds,
       updated_at = excluded.updated_at`,
    [u.instance_id, u.organization_id, u.app_id, u.service_id, u.deployment_id, u.regional_deployment_id, u.region,
      u.instance_type, u.started_at, u.terminated_at, Math.max(0, Math.floor(u.duration_seconds)), u.sampled_at],
  );
}

/** Usage rows of these instances, and every row still open (instances running at the last sample). */
export async function usageToSample(db: Db, instanceIds: string[]): Promise<UsageRow[]> {
  const rows = await db.all<UsageRow & { updated_at: string }>(`SELECT ${COLUMNS}, updated_at FROM instance_usage WHERE terminated_at IS NULL`);
  const seen = new Set(rows.map((r) => r.instance_id));
  const wanted = instanceIds.filter((id) => !seen.has(id));
  for (let i = 0; i < wanted.length; i += 500) {
    const chunk = wanted.slice(i, i + 500);
    rows.push(...await db.all<UsageRow & { updated_at: string }>(
      `SELECT ${COLUMNS}, updated_at FROM instance_usage WHERE instance_id IN (${chunk.map(() => '?').join(', ')})`, chunk,
    ));
  }
  return rows.map(fromRow);
}

/** Usage rows of an organization whose lifetime overlaps [from, to), oldest first (or newest with order desc). */
export async function listUsage(db: Db, organizationId: string, from: string, to: string, page?: { limit: number; offset: number; order: 'asc' | 'desc' }): Promise<{ items: UsageRow[]; count: number }> {
  const where = 'organization_id = ? AND started_at < ? AND (terminated_at IS NULL OR terminated_at > ?)';
  const params = [organizationId, to, from];
  const dir = page?.order === 'desc' ? 'DESC' : 'ASC';
  const limit = page ? ` LIMIT ${Math.floor(page.limit)} OFFSET ${Math.floor(page.offset)}` : '';
  const items = await db.all<UsageRow & { updated_at: string }>(`SELECT ${COLUMNS}, updated_at FROM instance_usage WHERE ${where} ORDER BY started_at ${dir}, instance_id${limit}`, params);
  const c = await db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM instance_usage WHERE ${where}`, params);
  return { items: items.map(fromRow), count: Number(c?.n ?? 0) };
}

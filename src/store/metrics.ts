// Metric samples repository: what the sampler (src/metrics) records every few seconds, read back by
// GET /v1/streams/metrics. Rows are plain numbers; bucketing by `step` happens in src/metrics/series.ts so the SQL
// stays portable between SQLite and PostgreSQL.
import type { Db } from './db.ts';
import { Where } from './rows.ts';

/** One recorded value. `instance_id` is '' for service-wide series; `ts` is epoch milliseconds. */
export interface MetricSample {
  organization_id: string;
  service_id: string;
  instance_id: string;
  region: string;
  name: string;
  ts: number;
  value: number;
}

/** Which samples a query reads; one of serviceId / instanceId is required by the API. */
export interface MetricFilter {
  organizationId: string;
  name: string;
  serviceId?: string;
  instanceId?: string;
  /** Inclusive start and exclusive end, epoch ms. */
  startMs: number;
  endMs: number;
}

/** Upper bound on rows one query reads (24 h at 10 s is 8,640 rows per series). */
export const METRIC_SCAN_LIMIT = 200_000;

/** Appends samples in one transaction. */
export async function appendMetricSamples(db: Db, samples: MetricSample[]): Promise<void> {
  if (samples.length === 0) return;
  await db.transaction(async (tx) => {
    for (const s of samples) {
      await tx.run(
        'INSERT INTO metric_samples (organization_id, service_id, instance_id, region, name, ts, value) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [s.organization_id, s.service_id, s.instance_id, s.region, s.name, Math.round(s.ts), s.value],
      );
    }
  });
}

/** Deletes samples older than `beforeMs`; returns how many went. */
export async function pruneMetricSamples(db: Db, beforeMs: number): Promise<number> {
  return (await db.run('DELETE FROM metric_samples WHERE ts < ?', [Math.round(beforeMs)])).changes;
}

/** Samples matching a filter, ordered by series then time, at most METRIC_SCAN_LIMIT of them. */
export function queryMetricSamples(db: Db, f: MetricFilter): Promise<MetricSample[]> {
  const where = new Where().eq('organization_id', f.organizationId).eq('name', f.name)
    .eq('service_id', f.serviceId).eq('instance_id', f.instanceId)
    .raw('ts >= ?', Math.round(f.startMs)).raw('ts < ?', Math.round(f.endMs));
  return db.all<MetricSample>(
    `SELECT organization_id, service_id, instance_id, region, name, ts, value FROM metric_samples${where.sql()}
      ORDER BY instance_id, region, ts LIMIT ${METRIC_SCAN_LIMIT}`,
    where.params,
  );
}

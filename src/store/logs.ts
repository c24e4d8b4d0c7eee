// Log lines repository: build and runtime lines of instances, queried by the filters of /v1/streams/logs/query.
import type { LogEntry } from '../domain/types.ts';
import type { Db } from './db.ts';
import type { LogBus, LogLine } from './log-bus.ts';
import { Where } from './rows.ts';

/** One stored log line (defined beside the bus that carries it). */
export type { LogLine } from './log-bus.ts';

/** The filters of a log query or tail (already parsed from the query string). */
export interface LogFilter {
  organizationId: string;
  type: 'build' | 'runtime';
  appId?: string;
  serviceId?: string;
  deploymentId?: string;
  regionalDeploymentId?: string;
  instanceIds?: string[];
  streams?: string[];
  regions?: string[];
  start?: string;
  end?: string;
  text?: string;
  regex?: RegExp;
}

/** A line in the API's LogEntry shape: msg, created_at and labels. */
export function toLogEntry(l: LogLine): LogEntry {
  return {
    msg: l.msg,
    created_at: l.created_at,
    labels: {
      type: l.type ?? 'runtime', stream: l.stream, organization_id: l.organization_id, app_id: l.app_id,
      service_id: l.service_id, deployment_id: l.deployment_id, regional_deployment_id: l.regional_deployment_id,
      instance_id: l.instance_id, region: l.region ?? '',
    },
  };
}

/** Whether a line passes a filter (used by the tail and for text/regex, which SQL does not do portably). */
export function matchesLogFilter(l: LogLine, f: LogFilter): boolean {
  if (l.organization_id !== f.organizationId || (l.type ?? 'runtime') !== f.type) return false;
  if (f.appId && l.app_id !== f.appId) return false;
  if (f.serviceId && l.service_id !== f.serviceId) return false;
  if (f.deploymentId && l.deployment_id !== f.deploymentId) return false;
  if (f.regionalDeploymentId && l.regional_deployment_id !== f.regionalDeploymentId) return false;
  if (f.instanceIds?.length && !f.instanceIds.includes(l.instance_id)) return false;
  if (f.streams?.length && !f.streams.includes(l.stream)) return false;
  if (f.regions?.length && !f.regions.includes(l.region ?? '')) return false;
  if (f.start && l.created_at < f.start) return false;
  if (f.end && l.created_at > f.end) return false;
  if (f.text && !l.msg.includes(f.text)) return false;
  if (f.regex && !f.regex.test(l.msg)) return false;
  return true;
}

/** Appends lines in one transaction, then publishes them on the bus (if given) for live tails. */
export async function appendLogLines(db: Db, lines: LogLine[], bus?: LogBus): Promise<void> {
  if (lines.length === 0) return;
  await db.transaction(async (tx) => {
    for (const l of lines) {
      await tx.run(
        `INSERT INTO log_lines (organization_id, app_id, service_id, deployment_id, regional_deployment_id, instance_id,
          region, type, stream, msg, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [l.organization_id, l.app_id, l.service_id, l.deployment_id, l.regional_deployment_id, l.instance_id,
          l.region ?? '', l.type ?? 'runtime', l.stream, l.msg, l.created_at],
      );
    }
  });
  if (bus) for (const l of lines) bus.publish(l);
}

/** Upper bound on rows scanned when a text or regex filter runs in memory. */
const SCAN_LIMIT = 20_000;

/** Lines matching a filter, up to `limit`, plus whether more exist. */
export async function queryLogLines(
  db: Db, f: LogFilter, order: 'asc' | 'desc', limit: number,
): Promise<{ lines: LogLine[]; hasMore: boolean }> {
  const where = new Where().eq('organization_id', f.organizationId).eq('type', f.type).eq('app_id', f.appId)
    .eq('service_id', f.serviceId).eq('deployment_id', f.deploymentId).eq('regional_deployment_id', f.regionalDeploymentId)
    .in('instance_id', f.instanceIds).in('stream', f.streams).in('region', f.regions);
  if (f.start) where.raw('created_at >= ?', f.start);
  if (f.end) where.raw('created_at <= ?', f.end);
  const dir = order === 'asc' ? 'ASC' : 'DESC';
  const inMemory = Boolean(f.text || f.regex);
  const rows = await db.all<LogLine>(
    `SELECT organization_id, app_id, service_id, deployment_id, regional_deployment_id, instance_id, region, type, stream,
       msg, created_at FROM log_lines${where.sql()} ORDER BY created_at ${dir}, seq ${dir} LIMIT ${inMemory ? SCAN_LIMIT : limit + 1}`,
    where.params,
  );
  const matched = inMemory ? rows.filter((l) => matchesLogFilter(l, f)) : rows;
  return { lines: matched.slice(0, limit), hasMore: matched.length > limit };
}

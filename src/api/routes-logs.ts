// GET /v1/streams/logs/query: a page of stored log lines with the filters of Koyeb's QueryLogs.
import { PierError } from '../domain/errors.ts';
import { queryLogLines, toLogEntry, type LogFilter } from '../store/logs.ts';
import type { Query } from './http.ts';
import type { Route } from './router.ts';

const MAX_QUERY_LIMIT = 1000;
const MAX_REGEX_LENGTH = 256;

function bad(field: string, description: string): PierError {
  return new PierError('invalid_argument', `Validation failed: ${field}: ${description}`, [{ field, description }]);
}

/** Parses the shared filters of the logs query and tail; `defaultWindowMs` bounds `start` when absent. */
export function parseLogFilter(q: Query, organizationId: string, defaultWindowMs: number, withEnd: boolean): LogFilter {
  const type = q.str('type') ?? 'runtime';
  if (type !== 'runtime' && type !== 'build') throw bad('type', 'must be build or runtime');
  const instanceIds = [...(q.list('instance_ids') ?? []), ...(q.list('instance_id') ?? [])];
  const f: LogFilter = {
    organizationId, type,
    appId: q.str('app_id'), serviceId: q.str('service_id'), deploymentId: q.str('deployment_id'),
    regionalDeploymentId: q.str('regional_deployment_id'), instanceIds: instanceIds.length ? instanceIds : undefined,
    streams: [...(q.list('streams') ?? []), ...(q.list('stream') ?? [])],
    regions: q.list('regions'),
  };
  if (!f.appId && !f.serviceId && !f.deploymentId && !f.regionalDeploymentId && !f.instanceIds) {
    throw bad('service_id', 'give at least one of app_id, service_id, deployment_id, regional_deployment_id, instance_ids');
  }
  for (const s of f.streams ?? []) if (!['stdout', 'stderr', 'koyeb'].includes(s)) throw bad('streams', 'must be stdout, stderr or koyeb');
  if (!f.streams?.length) f.streams = undefined;
  const end = withEnd ? q.time('end') : undefined;
  f.end = end;
  f.start = q.time('start') ?? new Date((end ? Date.parse(end) : Date.now()) - defaultWindowMs).toISOString();
  const text = q.str('text');
  const regex = q.str('regex');
  if (text && regex) throw bad('regex', 'give regex or text, not both');
  if (text) f.text = text;
  if (regex) {
    if (regex.length > MAX_REGEX_LENGTH) throw bad('regex', `must be at most ${MAX_REGEX_LENGTH} characters`);
    try {
      f.regex = new RegExp(regex);
    } catch (err) {
      throw bad('regex', `is not a valid regular expression: ${(err as Error).message}`);
    }
  }
  return f;
}

/** The logs query route. */
export function logRoutes(): Route[] {
  return [{
    method: 'GET', path: '/v1/streams/logs/query', operationId: 'QueryLogs', tag: 'Logs',
    handler: async (c) => {
      const filter = parseLogFilter(c.query, c.organizationId, 15 * 60_000, true);
      const order = c.query.order('desc');
      const limit = c.query.int('limit', 100)!;
      if (limit < 1 || limit > MAX_QUERY_LIMIT) throw bad('limit', `must be from 1 to ${MAX_QUERY_LIMIT}`);
      const { lines, hasMore } = await queryLogLines(c.store.db, filter, order, limit);
      const last = lines[lines.length - 1];
      return {
        data: lines.map(toLogEntry),
        pagination: {
          has_more: hasMore,
          // The next page continues after the last line returned, in the same order.
          next_start: order === 'asc' && last ? last.created_at : filter.start ?? '',
          next_end: order === 'desc' && last ? last.created_at : filter.end ?? new Date().toISOString(),
        },
      };
    },
  }];
}

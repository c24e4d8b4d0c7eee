// GET /v1/streams/metrics: the samples src/metrics records, bucketed by `step`, for one of the caller's services
// or instances (Koyeb's GetMetrics). Another organization's service or instance is 404, as everywhere.
import { notFound, PierError } from '../domain/errors.ts';
import { METRIC_NAMES } from '../metrics/names.ts';
import { MAX_BUCKETS, parseStep, toSeries } from '../metrics/series.ts';
import { getInstance } from '../store/instances.ts';
import { queryMetricSamples } from '../store/metrics.ts';
import { getService } from '../store/services.ts';
import type { Route } from './router.ts';

const DEFAULT_WINDOW_MS = 3_600_000;
const DEFAULT_STEP = '5m';

function bad(field: string, description: string): PierError {
  return new PierError('invalid_argument', `Validation failed: ${field}: ${description}`, [{ field, description }]);
}

/** The metrics route. */
export function metricRoutes(): Route[] {
  return [{
    method: 'GET', path: '/v1/streams/metrics', operationId: 'GetMetrics', tag: 'Metrics',
    handler: async (c) => {
      const name = c.query.str('name');
      if (!name || !METRIC_NAMES.includes(name)) throw bad('name', `must be one of ${METRIC_NAMES.join(', ')}`);
      const instanceId = c.query.str('instance_id');
      // As in Koyeb's API, service_id is ignored when instance_id is given.
      const serviceId = instanceId ? undefined : c.query.str('service_id');
      if (instanceId) {
        const i = await getInstance(c.store.db, instanceId);
        if (!i || i.organization_id !== c.organizationId) throw notFound('instance', instanceId);
      } else if (serviceId) {
        const s = await getService(c.store.db, serviceId);
        if (!s || s.organization_id !== c.organizationId) throw notFound('service', serviceId);
      } else {
        throw bad('service_id', 'give service_id or instance_id');
      }
      const stepMs = parseStep(c.query.str('step') ?? DEFAULT_STEP);
      if (stepMs === undefined) throw bad('step', 'must be a duration in hours, minutes or seconds, such as 1h, 5m or 30s');
      const endIso = c.query.time('end');
      const endMs = endIso ? Date.parse(endIso) : Date.now();
      const startIso = c.query.time('start');
      const startMs = startIso ? Date.parse(startIso) : endMs - DEFAULT_WINDOW_MS;
      if (startMs >= endMs) throw bad('start', 'must be before end');
      if ((endMs - startMs) / stepMs > MAX_BUCKETS) throw bad('step', `is too small for this window (at most ${MAX_BUCKETS} points)`);
      const samples = await queryMetricSamples(c.store.db, {
        organizationId: c.organizationId, name, serviceId, instanceId, startMs, endMs: endMs + 1,
      });
      return { metrics: toSeries(samples, startMs, stepMs) };
    },
  }];
}

// Traceability: the status events of each level (app, service, deployment, regional deployment, instance), written
// by the reconcilers' status funnel and the actions, and the activities (who changed what through the API).
import { listActivities } from '../store/activities.ts';
import { listEvents, type EventKind } from '../store/events.ts';
import type { Route, RequestContext } from './router.ts';

function eventsRoute(path: string, operationId: string, tag: string, kind: EventKind, idParam: string): Route {
  return {
    method: 'GET', path, operationId, tag,
    handler: async (c: RequestContext) => {
      const page = c.query.page();
      const order = c.query.order('desc');
      const { items, count } = await listEvents(c.store.db, {
        kind, organizationId: c.organizationId, resourceIds: c.query.list(idParam), types: c.query.list('types'), order,
      }, page);
      return { events: items, limit: page.limit, offset: page.offset, order, has_next: page.offset + items.length < count };
    },
  };
}

/** `types` filters on the object's kind (app, service, deployment, secret, domain, credential), as Koyeb's. */
async function activities(c: RequestContext, actorId?: string): Promise<Record<string, unknown>> {
  const page = c.query.page();
  const { items, count } = await listActivities(c.store.db, {
    organizationId: c.organizationId, types: c.query.list('types'), objectIds: c.query.list('object_ids'), actorId,
  }, page);
  return { activities: items, limit: page.limit, offset: page.offset, has_next: page.offset + items.length < count };
}

/** Routes of the event lists and the activity feeds. */
export function eventRoutes(): Route[] {
  return [
    eventsRoute('/v1/app_events', 'ListAppEvents', 'Apps', 'app', 'app_id'),
    eventsRoute('/v1/service_events', 'ListServiceEvents', 'Services', 'service', 'service_id'),
    eventsRoute('/v1/deployment_events', 'ListDeploymentEvents', 'Deployments', 'deployment', 'deployment_id'),
    eventsRoute('/v1/regional_deployment_events', 'ListRegionalDeploymentEvents', 'RegionalDeployments', 'regional_deployment', 'regional_deployment_id'),
    eventsRoute('/v1/instance_events', 'ListInstanceEvents', 'Instances', 'instance', 'instance_ids'),
    // Pier extension: `object_ids` narrows the feed to some objects (the CLI's --app/--service).
    { method: 'GET', path: '/v1/activities', operationId: 'ListActivities', tag: 'activity', handler: (c) => activities(c) },
    // The "account" is the calling token: what it did, in its organization.
    { method: 'GET', path: '/v1/account/activities', operationId: 'GetAccountActivities', tag: 'activity', handler: (c) => activities(c, c.actor?.id ?? '') },
  ];
}

// `pier events` (what happened to an app, service, deployment, regional deployment or instance: status changes
// with their messages) and `pier activities` (who changed what through the API), over /v1/*_events and
// /v1/activities.
import type { ResourceEvent } from '../../domain/types.ts';
import type { Activity } from '../../store/activities.ts';
import { UsageError, type FlagSpec } from '../args.ts';
import type { Command, Ctx } from '../command.ts';
import { age, printRaw, renderTable, shortId, truncate } from '../output.ts';
import {
  resolveApp, resolveDeployment, resolveInstance, resolveRegionalDeployment, resolveService,
} from '../resolve.ts';

const LIMIT_FLAG: FlagSpec = { name: 'limit', kind: 'string', placeholder: 'N', help: 'How many (default 20, at most 100)' };

function limitOf(ctx: Ctx): string {
  const text = ctx.args.str('limit') ?? '20';
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new UsageError(`--limit must be a whole number from 1 to 100, got "${text}"`);
  return String(n);
}

/** The level `pier events` lists, from the most specific flag given. */
async function eventTarget(ctx: Ctx): Promise<{ path: string; param: string; id: string; label: string }> {
  const client = ctx.client();
  const instance = ctx.args.str('instance');
  if (instance) return { path: '/v1/instance_events', param: 'instance_ids', id: await resolveInstance(client, instance), label: 'instance' };
  const regional = ctx.args.str('regional-deployment');
  if (regional) {
    return { path: '/v1/regional_deployment_events', param: 'regional_deployment_id', id: await resolveRegionalDeployment(client, regional), label: 'regional deployment' };
  }
  const deployment = ctx.args.str('deployment');
  if (deployment) return { path: '/v1/deployment_events', param: 'deployment_id', id: await resolveDeployment(client, deployment), label: 'deployment' };
  const service = ctx.args.str('service');
  if (service) return { path: '/v1/service_events', param: 'service_id', id: await resolveService(client, service, ctx.args.str('app')), label: 'service' };
  const app = ctx.args.str('app');
  if (app) return { path: '/v1/app_events', param: 'app_id', id: await resolveApp(client, app), label: 'app' };
  throw new UsageError('name what to show events of: --app, --service, --deployment, --regional-deployment or --instance');
}

async function listEvents(ctx: Ctx): Promise<number> {
  const target = await eventTarget(ctx);
  const query: Record<string, string> = { [target.param]: target.id, limit: limitOf(ctx), order: ctx.args.bool('reverse') ? 'asc' : 'desc' };
  const type = ctx.args.str('type');
  if (type) query.types = type;
  const reply = await ctx.client().get<{ events: ResourceEvent[] }>(target.path, query);
  if (printRaw(ctx, reply)) return 0;
  const now = ctx.io.now();
  if (reply.events.length === 0) {
    ctx.out(`No events for this ${target.label}${type ? ` of type ${type}` : ''}.`);
    return 0;
  }
  ctx.out(renderTable(['WHEN', 'AGE', 'TYPE', 'MESSAGE'], reply.events.map((e) => [
    e.when, age(e.when, now), e.type, truncate(e.message, 100, ctx.full),
  ])));
  return 0;
}

async function listActivities(ctx: Ctx): Promise<number> {
  const query: Record<string, string> = { limit: limitOf(ctx) };
  const type = ctx.args.str('type');
  if (type) query.types = type;
  const reply = await ctx.client().get<{ activities: Activity[] }>(ctx.args.bool('mine') ? '/v1/account/activities' : '/v1/activities', query);
  if (printRaw(ctx, reply)) return 0;
  const now = ctx.io.now();
  if (reply.activities.length === 0) {
    ctx.out('No activities.');
    return 0;
  }
  ctx.out(renderTable(['WHEN', 'AGE', 'ACTOR', 'VERB', 'OBJECT', 'NAME', 'ID'], reply.activities.map((a) => [
    a.created_at, age(a.created_at, now), a.actor.name, a.verb, a.object.type, a.object.name + (a.object.deleted ? ' (deleted)' : ''),
    shortId(a.object.id, ctx.full),
  ])));
  return 0;
}

/** `pier events --service web/api`: events of one object, newest first. */
export const eventsCommand: Command = {
  name: 'events', summary: 'Show what happened to an app, service, deployment, regional deployment or instance, newest first',
  args: [0, 0],
  flags: [
    { name: 'app', short: 'a', kind: 'string', placeholder: 'APP', help: "The app's events (name or id); with --service, the service's app" },
    { name: 'service', short: 's', kind: 'string', placeholder: 'SERVICE', help: 'The service\'s events (<app>/<service>, name or id)' },
    { name: 'deployment', kind: 'string', placeholder: 'ID', help: "A deployment's events (id or short id)" },
    { name: 'regional-deployment', kind: 'string', placeholder: 'ID', help: "A regional deployment's events" },
    { name: 'instance', short: 'i', kind: 'string', placeholder: 'ID', help: "An instance's events" },
    { name: 'type', short: 't', kind: 'string', placeholder: 'TYPE', help: 'Only events of this type, e.g. instance_healthy' },
    { name: 'reverse', kind: 'bool', help: 'Oldest first' },
    LIMIT_FLAG,
  ],
  examples: ['pier events --service shop/web', 'pier events --deployment 1a2b3c4d --reverse', 'pier events --instance 5e6f7a8b -o json'],
  run: listEvents,
};

/** `pier activities`: who changed what through the API, newest first. */
export const activitiesCommand: Command = {
  name: 'activities', aliases: ['activity'], summary: 'Show who changed what through the API (every write), newest first',
  args: [0, 0],
  flags: [
    { name: 'type', short: 't', kind: 'string', placeholder: 'KIND', help: 'Only objects of this kind: app, service, deployment, secret, domain, credential' },
    { name: 'mine', kind: 'bool', help: "Only what this command's token did" },
    LIMIT_FLAG,
  ],
  examples: ['pier activities', 'pier activities --type secret', 'pier activities --mine -o json'],
  run: listActivities,
};

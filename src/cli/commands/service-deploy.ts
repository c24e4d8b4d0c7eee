// The commands that start a deployment: services create / update / redeploy and apps init, with --wait.
import { resolveVolumeFlags } from './volumes.ts';
import type { App, Deployment, DeploymentDefinition, Service } from '../../domain/types.ts';
import type { Ctx } from '../command.ts';
import { applyDefinitionFlags } from '../definition-flags.ts';
import { parseDurationMs } from '../duration.ts';
import { CliError } from '../errors.ts';
import { UsageError } from '../args.ts';
import { printRaw, renderTable } from '../output.ts';
import { resolveDeployment, resolveService } from '../resolve.ts';
import { DEPLOYMENT_HEADERS, deploymentRow, SERVICE_HEADERS, serviceRow } from '../views.ts';
import { edgePorts, serviceUrls } from '../urls.ts';
import { DEFAULT_WAIT_TIMEOUT_MS, waitForDeployment, type WaitTarget } from '../wait.ts';
import { readDefinitionFlags } from './definition-specs.ts';

/** The --wait-timeout in ms, checked before anything is sent so a typo fails fast. */
export function waitTimeoutMs(ctx: Ctx): number {
  const text = ctx.args.str('wait-timeout');
  if (text === undefined) return DEFAULT_WAIT_TIMEOUT_MS;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0) throw new UsageError(`--wait-timeout "${text}" is not a duration (e.g. 5m, 90s)`);
  return ms;
}

/** Prints one service as a table row (with its app's name), or raw for -o json|yaml. */
export async function printService(ctx: Ctx, reply: { service: Service }): Promise<void> {
  if (printRaw(ctx, reply)) return;
  const s = reply.service;
  let names = new Map<string, string>();
  try {
    const { app } = await ctx.client().get<{ app: App }>(`/v1/apps/${s.app_id}`);
    names = new Map([[app.id, app.name]]);
  } catch {
    // The app name is decoration; the short app id is shown instead.
  }
  ctx.out(renderTable(SERVICE_HEADERS, [serviceRow(ctx, s, names)]));
}

/**
 * Waits for a deployment, then prints the service as it is now (the status the wait reached, not the one from
 * before) and, once healthy, its public URLs. With --wait the command prints the service only here.
 */
export async function waitAndReport(ctx: Ctx, target: WaitTarget): Promise<number> {
  let code: number | undefined;
  let failure: unknown;
  let reached: Deployment | undefined;
  try {
    code = await waitForDeployment(ctx, { ...target, reached: (d) => (reached = d) });
  } catch (err) {
    failure = err;
  }
  if (code !== 130) {
    const reply = await ctx.client().get<{ service: Service }>(`/v1/services/${target.serviceId}`);
    await printService(ctx, reply);
    if (reached && ctx.output === 'table') await printServiceUrls(ctx, reply.service.app_id, reached.definition);
  }
  if (failure !== undefined) throw failure;
  return code!;
}

/** Prints `URL: ...` lines for a definition's public routes in its app (none for a private or worker service). */
export async function printServiceUrls(ctx: Ctx, appId: string, definition: DeploymentDefinition, label = 'URL'): Promise<void> {
  if (!definition?.routes?.length) return;
  try {
    const [{ app }, edge] = await Promise.all([ctx.client().get<{ app: App }>(`/v1/apps/${appId}`), edgePorts(ctx)]);
    for (const url of serviceUrls(app, definition, edge)) ctx.out(`${label}: ${url}`);
  } catch (err) {
    // The deployment itself succeeded; a URL we cannot work out is a warning, not a failed command.
    ctx.err(`warning: could not work out the service's URL: ${(err as Error).message}`);
  }
}

/** Prints where a definition's routes will answer once its deployment is healthy (commands without --wait). */
export async function printFutureUrls(ctx: Ctx, app: App, definition: DeploymentDefinition): Promise<void> {
  if (ctx.output === 'table') await printServiceUrls(ctx, app.id, definition, 'URL (when healthy)');
}

async function buildDefinition(ctx: Ctx, base: DeploymentDefinition): Promise<DeploymentDefinition> {
  const flags = readDefinitionFlags(ctx.args);
  // --volumes takes names (as koyeb's): the API takes ids.
  if (flags.volumes) flags.volumes = await resolveVolumeFlags(ctx.client(), flags.volumes);
  const { definition, warnings } = applyDefinitionFlags(base, flags, ctx.io.readFile);
  for (const w of warnings) ctx.err(`warning: ${w}`);
  return definition;
}

/**
 * Creates service `name` from the definition flags in the app `appId()` returns; waits with --wait. The flags are
 * checked before `appId()` runs, so a bad command line sends nothing (and `apps init` leaves no empty app).
 */
export async function createService(ctx: Ctx, appId: () => Promise<string>, name: string): Promise<number> {
  const timeoutMs = waitTimeoutMs(ctx);
  const definition = await buildDefinition(ctx, {});
  definition.name = name;
  const reply = await ctx.client().post<{ service: Service }>('/v1/services', { app_id: await appId(), name, definition });
  if (!ctx.args.bool('wait')) {
    await printService(ctx, reply);
    return 0;
  }
  return waitAndReport(ctx, { serviceId: reply.service.id, timeoutMs });
}

/** `services update`: reads the latest deployment's definition, applies the flags, PUTs the whole definition. */
export async function updateService(ctx: Ctx): Promise<number> {
  const timeoutMs = waitTimeoutMs(ctx);
  const client = ctx.client();
  const serviceId = await resolveService(client, ctx.args.positionals[0]!, ctx.args.str('app'));
  const { deployments } = await client.get<{ deployments: Deployment[] }>('/v1/deployments', { service_id: serviceId, limit: 1 });
  const latest = deployments?.[0];
  if (!latest && !ctx.args.bool('override')) {
    throw new CliError('the service has no deployment yet, so there is no definition to update', [
      'a new service gets its first deployment within a few seconds: try again, or use --override to start from scratch',
    ]);
  }
  const base = ctx.args.bool('override') ? { name: latest?.definition?.name } : (latest!.definition ?? {});
  const definition = await buildDefinition(ctx, base);
  const saveOnly = ctx.args.bool('save-only');
  const body: Record<string, unknown> = { definition };
  if (saveOnly) body.save_only = true;
  if (ctx.args.bool('skip-build')) body.skip_build = true;
  const reply = await client.request<{ service: Service }>('PUT', `/v1/services/${serviceId}`, { body });
  const wait = ctx.args.bool('wait') && !saveOnly;
  if (!wait) await printService(ctx, reply);
  if (saveOnly) {
    ctx.err('saved without deploying; see it with `pier services unapplied-changes`, apply it with `pier services redeploy`');
    return 0;
  }
  if (!wait) return 0;
  const fresh = reply.service.latest_deployment_id;
  return waitAndReport(ctx, {
    serviceId,
    deploymentId: fresh && fresh !== latest?.id ? fresh : undefined,
    previousDeploymentId: latest?.id,
    timeoutMs,
  });
}

/** `services redeploy`: a new deployment from the current definition, or (Pier) from `--deployment ID`'s. */
export async function redeployService(ctx: Ctx): Promise<number> {
  const timeoutMs = waitTimeoutMs(ctx);
  const client = ctx.client();
  const serviceId = await resolveService(client, ctx.args.positionals[0]!, ctx.args.str('app'));
  const body: Record<string, unknown> = { skip_build: ctx.args.bool('skip-build'), use_cache: ctx.args.bool('use-cache') };
  const target = ctx.args.str('deployment');
  if (target !== undefined) body.deployment_id = await resolveDeployment(client, target);
  const reply = await client.post<{ deployment: Deployment }>(`/v1/services/${serviceId}/redeploy`, body);
  if (!ctx.args.bool('wait')) {
    if (!printRaw(ctx, reply)) ctx.out(renderTable(DEPLOYMENT_HEADERS, [deploymentRow(ctx, reply.deployment)]));
    return 0;
  }
  ctx.err(`deployment ${reply.deployment.id.slice(0, 8)} (version ${reply.deployment.version ?? '?'}) started`);
  return waitAndReport(ctx, { serviceId, deploymentId: reply.deployment.id, timeoutMs });
}

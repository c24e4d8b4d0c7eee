// The deployment reconciler: level-triggered and idempotent. For each service it reads the deployments that are
// not finished, compares them with what should be, and takes the NEXT step of each, persisting it:
//   PENDING → PROVISIONING → SCHEDULED → ALLOCATING (instance rows) → STARTING → HEALTHY|DEGRADED|UNHEALTHY
// then promotes a healthy latest deployment to ACTIVE and retires the previous one (STOPPING → STOPPED).
// Pausing and deleting services tear everything down; apps roll up their services.
import { desiredInstances } from '../domain/regional.ts';
import { rollupApp, rollupDeployment, rollupRegionalDeployment, rollupService } from '../domain/rollup.ts';
import type { Deployment, Instance, RegionalDeployment, Service } from '../domain/types.ts';
import type { ControlContext } from './context.ts';
import { imageResolverOf, resolveDeploymentImage } from './image-resolve.ts';
import { markApp, markDeployment, markRegional, markService } from './marks.ts';
import { createInstanceRow, requestStop } from './instance-rows.ts';
import { scaledCount } from './reconcile-scaling.ts';
import { appNetworkName } from './spec.ts';
import { hasVolumes } from './reconcile-volumes.ts';
import { volumeReplicasIn } from '../domain/volumes.ts';

const PRE_ALLOCATION = ['PENDING', 'PROVISIONING', 'SCHEDULED'];
const RUNNING = ['ALLOCATING', 'STARTING', 'HEALTHY', 'DEGRADED', 'UNHEALTHY'];
const LIVE_INSTANCE = ['ALLOCATING', 'STARTING', 'HEALTHY', 'UNHEALTHY', 'SLEEPING'];

/** One pass over every service, then every app's roll-up. */
export async function reconcileDeployments(ctx: ControlContext): Promise<void> {
  for (const svc of await ctx.state.listServices()) {
    try {
      await reconcileService(ctx, svc);
    } catch (err) {
      ctx.onError(err, `reconciling service ${svc.id}`);
    }
  }
  await rollupApps(ctx);
}

async function reconcileService(ctx: ControlContext, svc: Service): Promise<void> {
  if (svc.status === 'PAUSED') return; // reached only once nothing runs; resume moves it on
  if (svc.status === 'PAUSING' || svc.status === 'DELETING') return teardown(ctx, svc);
  for (const open of await ctx.state.listOpenDeployments(svc.id)) {
    let d = open;
    const current = d.id === svc.latest_deployment_id || d.id === svc.active_deployment_id;
    if (!current) d = await retire(ctx, d, `superseded by deployment ${svc.latest_deployment_id}`);
    await advance(ctx, svc, d);
  }
  const fresh = (await ctx.state.getService(svc.id)) ?? svc;
  await promote(ctx, fresh);
  await rollupOneService(ctx, (await ctx.state.getService(svc.id)) ?? fresh);
}

/** Takes the next step of one deployment. */
async function advance(ctx: ControlContext, svc: Service, dep: Deployment): Promise<void> {
  let d = dep;
  const regionals = await ctx.state.listRegionalDeployments(d.id);
  const now = () => ctx.clock.now().toISOString();
  switch (d.status) {
    case 'PENDING':
      d = await markDeployment(ctx, d, 'PROVISIONING', 'deployment_provisioning', 'Provisioning the deployment.');
      for (const r of regionals) await markRegional(ctx, r, 'PROVISIONING', 'deployment_provisioning', 'Provisioning the deployment.');
      return advance(ctx, svc, d);
    case 'PROVISIONING': {
      const image = await provisionedImage(ctx, d);
      if (image === undefined) return; // a build is running
      if (image instanceof Error) return fail(ctx, d, regionals, image.message);
      const commit = ctx.builds.get(d.id)?.commit;
      ctx.builds.delete(d.id);
      const info = { ...(d.provisioning_info ?? { sha: '', stages: [] }), image, ...(commit ? { sha: commit.sha } : {}) };
      // The commit a build used is recorded as Koyeb does: provisioning_info.sha and metadata.git.git_env.
      const metadata = commit ? { ...d.metadata, git: { ...d.metadata?.git, git_env: { sha: commit.sha, commit_author: commit.author, commit_message: commit.message } } } : undefined;
      d = await markDeployment(ctx, d, 'SCHEDULED', 'deployment_scheduled', `Image ${image} is ready; waiting to be scheduled.`, { provisioning_info: info, ...(metadata ? { metadata } : {}) });
      for (const r of regionals) await markRegional(ctx, r, 'SCHEDULED', 'deployment_scheduled', 'Waiting to be scheduled.', { scheduled_at: now() });
      await ctx.state.updateService(svc.id, { last_provisioned_deployment_id: d.id });
      return advance(ctx, svc, d);
    }
    case 'SCHEDULED': {
      if (strategyOf(d) === 'DEPLOYMENT_STRATEGY_TYPE_IMMEDIATE' && svc.active_deployment_id && svc.active_deployment_id !== d.id) {
        // IMMEDIATE: the old deployment stops first; allocation waits until it has stopped.
        const old = await ctx.state.getDeployment(svc.active_deployment_id);
        if (old && !['STOPPED', 'ERROR', 'CANCELED'].includes(old.status)) {
          await advance(ctx, svc, await retire(ctx, old, `replaced immediately by deployment ${d.id}`));
          return;
        }
      }
      d = await markDeployment(ctx, d, 'ALLOCATING', 'deployment_allocating', 'Allocating instances.', { allocated_at: now() });
      if (d.role !== 'ACTIVE') await ctx.state.updateDeployment(d.id, { role: 'UPCOMING' });
      for (const r of regionals) await markRegional(ctx, r, 'ALLOCATING', 'deployment_allocating', 'Allocating instances.', { allocated_at: now(), role: d.role === 'ACTIVE' ? 'ACTIVE' : 'UPCOMING' });
      return advance(ctx, svc, d);
    }
    case 'ALLOCATING': case 'STARTING': case 'HEALTHY': case 'DEGRADED': case 'UNHEALTHY':
      return runDeployment(ctx, svc, d, regionals);
    case 'CANCELING': case 'STOPPING': case 'ERRORING':
      return finishRetirement(ctx, d, regionals);
    default:
      return;
  }
}

/** A running deployment: keep its instance count, roll up health, fail a rollout that cannot become healthy. */
async function runDeployment(ctx: ControlContext, svc: Service, d: Deployment, regionals: RegionalDeployment[]): Promise<void> {
  const manual = await ctx.state.getManualScaling(svc.id);
  const rolled: { region: string; status: RegionalDeployment['status']; messages: string[] }[] = [];
  let failedInstance: Instance | undefined;
  const rolling = await rollingStep(ctx, svc, d);
  for (let r of regionals) {
    const want = desiredInstances(d.definition, r.region, manual);
    const wanted = want.manual ?? scaledCount(ctx, svc, d, r, want);
    // With volumes each instance mounts its replica's: never more instances than replica indexes (a manual scale too).
    const replicas = volumeReplicasIn(d.definition, r.region);
    const count = replicas > 0 ? Math.min(wanted, replicas) : wanted;
    const step = rolling?.get(r.region);
    const rows = await ensureInstances(ctx, svc, d, r, step ? step(count) : count);
    // The active deployment giving way to a rolling update keeps its status until the switch retires it.
    if (rolling && d.id === svc.active_deployment_id) continue;
    // A rollout with volumes: nothing of the new deployment runs until the old instances have stopped.
    if (rolling?.waiting) continue;
    failedInstance ??= rows.find((i) => i.status === 'ERROR');
    const up = rollupRegionalDeployment(rows.map((i) => ({ status: i.status, messages: i.messages })), count, r.status);
    r = await markRegional(ctx, r, up.status, `regional_deployment_${up.status.toLowerCase()}`, up.messages[0] ?? '', stamps(ctx, r, up.status));
    rolled.push({ region: r.region, status: r.status, messages: r.messages });
  }
  const isActive = d.id === svc.active_deployment_id;
  if (rolling && isActive) return;
  if (rolling?.waiting) {
    if (d.allocated_at && ctx.clock.now().getTime() - Date.parse(d.allocated_at) >= ctx.intervals.rolloutTimeoutMs) {
      return fail(ctx, d, regionals, `the previous deployment's instances did not stop within ${Math.round(ctx.intervals.rolloutTimeoutMs / 1000)} s, so its volumes never became free`);
    }
    await markDeployment(ctx, d, d.status, 'deployment_waiting_volumes', rolling.waiting);
    return;
  }
  if (!isActive && failedInstance) {
    return fail(ctx, d, regionals, `instance ${failedInstance.id} failed: ${failedInstance.messages[0] ?? 'error'}`);
  }
  const up = rollupDeployment(rolled, d.status);
  if (!isActive && up.status !== 'HEALTHY' && d.allocated_at) {
    const elapsed = ctx.clock.now().getTime() - Date.parse(d.allocated_at);
    if (elapsed >= ctx.intervals.rolloutTimeoutMs) {
      const why = up.messages[0] ? `: ${up.messages[0]}` : '';
      return fail(ctx, d, regionals, `not healthy within ${Math.round(ctx.intervals.rolloutTimeoutMs / 1000)} s${why}`);
    }
  }
  await markDeployment(ctx, d, up.status, `deployment_${up.status.toLowerCase()}`, up.messages[0] ?? '', stamps(ctx, d, up.status));
}

/** Per region, how to adjust a deployment's count during a rollout; `waiting` says why the new one does not start yet. */
type RollingStep = Map<string, (count: number) => number> & { waiting?: string };

/**
 * A rollout of a service with volumes (#20), whatever its strategy but IMMEDIATE (which stops the old deployment
 * itself): a volume is mounted by one instance at a time, so the old deployment runs no instance while the new one
 * starts, and the new one starts none until every old instance has stopped. The old deployment stays ACTIVE meanwhile:
 * if the new one fails, the old one gets its count back and starts again on the same volumes.
 */
async function volumeRolloutStep(ctx: ControlContext, isActive: boolean, active: Deployment, latest: Deployment): Promise<RollingStep> {
  const out: RollingStep = new Map();
  if (isActive) {
    for (const r of await ctx.state.listRegionalDeployments(active.id)) out.set(r.region, () => 0);
    return out;
  }
  let running = 0;
  for (const r of await ctx.state.listRegionalDeployments(active.id)) {
    running += (await ctx.state.listInstancesOfRegional(r.id)).filter((i) => i.status !== 'STOPPED' && i.status !== 'ERROR').length;
  }
  if (running > 0) {
    out.waiting = `Stopping the previous deployment ${active.id} first (${running} instance${running === 1 ? '' : 's'} left): ` +
      'its volumes are mounted by one instance at a time, so the new instance mounts them once the old one has stopped; if this deployment fails, the previous one starts again.';
    for (const r of await ctx.state.listRegionalDeployments(latest.id)) out.set(r.region, () => 0);
  }
  return out;
}

/**
 * ROLLING (the default) replaces instances one at a time while an active deployment serves: the new deployment runs
 * at most one more instance than it has healthy ones, and the active one yields one instance per healthy new one.
 * Returns, per region, how to adjust this deployment's count; undefined when no rolling update involves it.
 */
async function rollingStep(ctx: ControlContext, svc: Service, d: Deployment): Promise<RollingStep | undefined> {
  if (!svc.active_deployment_id || !svc.latest_deployment_id || svc.active_deployment_id === svc.latest_deployment_id) return undefined;
  const isActive = d.id === svc.active_deployment_id;
  const other = isActive ? await ctx.state.getDeployment(svc.latest_deployment_id) : d.id === svc.latest_deployment_id ? await ctx.state.getDeployment(svc.active_deployment_id) : undefined;
  if (!other || !RUNNING.includes(other.status)) return undefined;
  const latest = isActive ? other : d;
  const active = isActive ? d : other;
  if ((hasVolumes(latest) || hasVolumes(active)) && strategyOf(latest) !== 'DEPLOYMENT_STRATEGY_TYPE_IMMEDIATE') {
    return volumeRolloutStep(ctx, isActive, active, latest);
  }
  if (strategyOf(latest) !== 'DEPLOYMENT_STRATEGY_TYPE_ROLLING') return undefined;
  const out: RollingStep = new Map();
  for (const r of await ctx.state.listRegionalDeployments(latest.id)) {
    const healthy = (await ctx.state.listInstancesOfRegional(r.id)).filter((i) => i.status === 'HEALTHY').length;
    out.set(r.region, isActive ? (count) => Math.max(0, count - healthy) : (count) => Math.min(count, healthy + 1));
  }
  return out;
}

/** Creates missing instance rows (lowest free replica index first) and stops extra ones; returns the counted rows. */
async function ensureInstances(ctx: ControlContext, svc: Service, d: Deployment, r: RegionalDeployment, count: number): Promise<Instance[]> {
  // A SLEEPING replica is the autoscaler's to wake or replace (reconcile-scaling.ts), a standby its to thaw or stop
  // (standby.ts): neither counts nor is extra, but their replica indexes are taken.
  const all = (await ctx.state.listInstancesOfRegional(r.id)).filter((i) => i.status !== 'STOPPED' && i.status !== 'STOPPING');
  const rows = all.filter((i) => i.status !== 'SLEEPING' && !ctx.autoscale.standby.has(i.id));
  const live = rows.filter((i) => LIVE_INSTANCE.includes(i.status));
  const taken = new Set(all.map((i) => i.replica_index));
  const created: Instance[] = [];
  for (let index = 0; rows.length + created.length < count; index++) {
    if (taken.has(index)) continue;
    created.push(await createInstanceRow(ctx, svc, d, r, index));
  }
  const extra = live.sort((a, b) => b.replica_index - a.replica_index).slice(0, Math.max(0, live.length - count));
  for (const i of extra) await requestStop(ctx, i, 'scaled down');
  return [...rows.filter((i) => !extra.includes(i)), ...created];
}

/** The image of a deployment once provisioned; undefined while building; an Error when it cannot be built. */
async function provisionedImage(ctx: ControlContext, d: Deployment): Promise<string | Error | undefined> {
  // A docker source is not built but pinned: its tag resolved to the digest the registry serves (image-resolve.ts).
  const docker = d.definition.docker?.image;
  if (docker && !d.definition.docker?.image_registry_secret && !imageResolverOf(ctx.runtime)) return docker;
  if (!docker && !ctx.builder) return new Error('git sources are not built yet: deploy a docker image instead (builder not configured)');
  let build = ctx.builds.get(d.id);
  if (!build) {
    // Builds are not persisted steps: after a restart a PROVISIONING deployment simply builds again.
    const entry: { image?: string; commit?: { sha: string; author: string; message: string }; error?: string; abort: AbortController } = { abort: new AbortController() };
    ctx.builds.set(d.id, entry);
    const work = docker ? resolveDeploymentImage(ctx, d, entry.abort.signal).then((image) => ({ image, commit: undefined })) : ctx.builder!.build(d, entry.abort.signal);
    const settled = work.then(
      (r) => { entry.image = r.image; entry.commit = r.commit; },
      (err) => { entry.error = err instanceof Error ? err.message : String(err); },
    );
    // A quick resolution (a local image, a near registry) completes within this pass; a long pull is polled.
    if (docker) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([settled, new Promise((r) => { timer = setTimeout(r, 2000); })]);
      clearTimeout(timer);
    }
    build = entry;
  }
  if (build.image) return build.image; // the entry (and its commit) is consumed by the PROVISIONING step
  if (build.error) { ctx.builds.delete(d.id); return new Error(docker ? build.error : `build failed: ${build.error}`); }
  if (docker) ctx.nextPassMs = Math.min(ctx.nextPassMs ?? Infinity, 250);
  return undefined;
}

/** Starts retiring a deployment: pre-allocation ones are canceled, running ones stopped. */
async function retire(ctx: ControlContext, d: Deployment, why: string): Promise<Deployment> {
  if (PRE_ALLOCATION.includes(d.status)) {
    const build = ctx.builds.get(d.id);
    if (build) { build.abort.abort(); ctx.builds.delete(d.id); }
    return markDeployment(ctx, d, 'CANCELING', 'deployment_canceling', `Canceling: ${why}.`);
  }
  if (RUNNING.includes(d.status) || d.status === 'SLEEPING') {
    return markDeployment(ctx, d, 'STOPPING', 'deployment_stopping', `Stopping: ${why}.`);
  }
  return d;
}

/** Stops every instance of a retiring deployment; once none is left, the deployment reaches its final status. */
async function finishRetirement(ctx: ControlContext, d: Deployment, regionals: RegionalDeployment[]): Promise<void> {
  const final = d.status === 'CANCELING' ? 'CANCELED' : d.status === 'STOPPING' ? 'STOPPED' : 'ERROR';
  const build = ctx.builds.get(d.id); // a build still running for a canceled deployment is stopped, not awaited
  if (build) { build.abort.abort(new Error('deployment canceled')); ctx.builds.delete(d.id); }
  let remaining = 0;
  for (const r of regionals) {
    const live = (await ctx.state.listInstancesOfRegional(r.id)).filter((i) => i.status !== 'STOPPED' && i.status !== 'ERROR');
    for (const i of live) await requestStop(ctx, i, d.messages[0] ?? 'deployment stopping');
    remaining += live.length;
  }
  if (remaining > 0) {
    for (const r of regionals) await markRegional(ctx, r, d.status as RegionalDeployment['status'], `regional_deployment_${d.status.toLowerCase()}`, d.messages[0] ?? '');
    return;
  }
  const message = final === 'ERROR' ? d.messages[0] ?? 'Deployment failed.' : final === 'CANCELED' ? 'Deployment canceled.' : 'Deployment stopped.';
  for (const r of regionals) {
    if (r.status === final) continue;
    const via = r.status === d.status ? r : await markRegional(ctx, r, d.status as RegionalDeployment['status'], `regional_deployment_${d.status.toLowerCase()}`, d.messages[0] ?? '');
    await markRegional(ctx, via, final, `regional_deployment_${final.toLowerCase()}`, message, { terminated_at: ctx.clock.now().toISOString() });
  }
  await markDeployment(ctx, d, final, `deployment_${final.toLowerCase()}`, message, { terminated_at: ctx.clock.now().toISOString() });
}

/** Fails a deployment that cannot run: ERRORING while its instances stop, then ERROR; the active one keeps serving. */
async function fail(ctx: ControlContext, d: Deployment, regionals: RegionalDeployment[], reason: string): Promise<void> {
  const failed = await markDeployment(ctx, d, 'ERRORING', 'deployment_failed', `Deployment failed: ${reason}`);
  if (failed.status === 'ERRORING' && d.status !== 'ERRORING') await announceVolumeFallback(ctx, d);
  await finishRetirement(ctx, failed, regionals);
}

/**
 * A failed rollout of a service with volumes stopped the previous deployment's instances for nothing: they start again
 * on the same volumes (volumeRolloutStep gives the count back). Said once, as an event of that deployment.
 */
async function announceVolumeFallback(ctx: ControlContext, d: Deployment): Promise<void> {
  const svc = await ctx.state.getService(d.service_id);
  if (!svc?.active_deployment_id || svc.active_deployment_id === d.id || strategyOf(d) === 'DEPLOYMENT_STRATEGY_TYPE_IMMEDIATE') return;
  const active = await ctx.state.getDeployment(svc.active_deployment_id);
  if (!active || !(hasVolumes(d) || hasVolumes(active))) return;
  await ctx.state.appendEvent({
    kind: 'deployment', resourceId: active.id, organizationId: active.organization_id, type: 'deployment_restarting_after_failed_rollout',
    message: `Deployment ${d.id} failed, so this deployment starts again on its volumes.`,
    metadata: { failed_deployment_id: d.id }, when: ctx.clock.now().toISOString(),
  });
}

/** Promotes the latest deployment once it is observed HEALTHY, and retires the one it replaces. */
async function promote(ctx: ControlContext, svc: Service): Promise<void> {
  if (!svc.latest_deployment_id || svc.latest_deployment_id === svc.active_deployment_id) return;
  const latest = await ctx.state.getDeployment(svc.latest_deployment_id);
  if (!latest || latest.status !== 'HEALTHY') return;
  const old = svc.active_deployment_id ? await ctx.state.getDeployment(svc.active_deployment_id) : undefined;
  await ctx.state.updateDeployment(latest.id, { role: 'ACTIVE' });
  for (const r of await ctx.state.listRegionalDeployments(latest.id)) await ctx.state.updateRegionalDeployment(r.id, { role: 'ACTIVE' });
  await ctx.state.updateService(svc.id, { active_deployment_id: latest.id });
  await ctx.state.appendEvent({
    kind: 'service', resourceId: svc.id, organizationId: svc.organization_id, type: 'deployment_promoted',
    message: `Deployment ${latest.id} is healthy and now serves traffic.`,
    metadata: { deployment_id: latest.id, previous_deployment_id: old?.id ?? null }, when: ctx.clock.now().toISOString(),
  });
  ctx.routesDirty = true;
  if (old) await advance(ctx, { ...svc, active_deployment_id: latest.id }, await retire(ctx, old, `replaced by deployment ${latest.id}`));
}

/** Pausing and deleting: retire every deployment, stop every instance, then PAUSED or DELETED. */
async function teardown(ctx: ControlContext, svc: Service): Promise<void> {
  const why = svc.status === 'DELETING' ? 'service deleted' : 'service paused';
  for (const d of await ctx.state.listOpenDeployments(svc.id)) {
    if (d.status === 'STASHED') continue;
    await advance(ctx, svc, await retire(ctx, d, why));
  }
  const live = (await ctx.state.listLiveInstances()).filter((i) => i.service_id === svc.id);
  for (const i of live) await requestStop(ctx, i, why);
  const open = (await ctx.state.listOpenDeployments(svc.id)).filter((d) => d.status !== 'STASHED');
  if (live.length > 0 || open.length > 0) return;
  const now = ctx.clock.now().toISOString();
  if (svc.status === 'PAUSING') {
    await markService(ctx, svc, 'PAUSED', 'service_paused', 'Service paused: all deployments are stopped.', { paused_at: now });
  } else if (svc.status === 'DELETING') {
    await markService(ctx, svc, 'DELETED', 'service_deleted', 'Service deleted.', { terminated_at: now });
    const others = (await ctx.state.listServices()).filter((s) => s.app_id === svc.app_id && s.id !== svc.id);
    if (others.length === 0) await ctx.runtime.removeNetwork?.(appNetworkName(svc.app_id));
  }
  ctx.routesDirty = true;
}

async function rollupOneService(ctx: ControlContext, svc: Service): Promise<void> {
  const active = svc.active_deployment_id ? await ctx.state.getDeployment(svc.active_deployment_id) : undefined;
  const latest = svc.latest_deployment_id && svc.latest_deployment_id !== svc.active_deployment_id
    ? await ctx.state.getDeployment(svc.latest_deployment_id) : undefined;
  const up = rollupService({
    current: svc.status,
    active: active && { status: active.status, messages: active.messages },
    latest: latest && { id: latest.id, status: latest.status, messages: latest.messages },
  });
  const extra = up.status === 'HEALTHY' && !svc.succeeded_at ? { succeeded_at: ctx.clock.now().toISOString() } : {};
  const before = svc.status;
  await markService(ctx, svc, up.status, `service_${up.status.toLowerCase()}`, up.messages[0] ?? '', before === 'RESUMING' && up.status === 'HEALTHY' ? { ...extra, resumed_at: ctx.clock.now().toISOString() } : extra);
  if (before !== up.status) ctx.routesDirty = true;
}

async function rollupApps(ctx: ControlContext): Promise<void> {
  const services = await ctx.state.listServices();
  for (const app of await ctx.state.listApps()) {
    const mine = services.filter((s) => s.app_id === app.id);
    try {
      if (app.status === 'DELETING') {
        if (mine.length === 0) await markApp(ctx, app, 'DELETED', 'app_deleted', 'App deleted.', { terminated_at: ctx.clock.now().toISOString() });
        continue;
      }
      if (mine.length === 0) continue;
      const up = rollupApp(mine.map((s) => ({ status: s.status })));
      await markApp(ctx, app, up.status, `app_${up.status.toLowerCase()}`, up.messages?.[0] ?? '');
    } catch (err) {
      ctx.onError(err, `rolling up app ${app.id}`);
    }
  }
}

function strategyOf(d: Deployment): string {
  const t = d.definition.strategy?.type;
  return !t || t === 'DEPLOYMENT_STRATEGY_TYPE_DEFAULT' || t === 'DEPLOYMENT_STRATEGY_TYPE_INVALID' ? 'DEPLOYMENT_STRATEGY_TYPE_ROLLING' : t;
}

function stamps(ctx: ControlContext, row: { started_at: string | null; succeeded_at: string | null }, status: string): Record<string, string> {
  const now = ctx.clock.now().toISOString();
  const out: Record<string, string> = {};
  if (status !== 'ALLOCATING' && !row.started_at) out.started_at = now;
  if (status === 'HEALTHY' && !row.succeeded_at) out.succeeded_at = now;
  return out;
}

// Deployment actions: the one place a new deployment (and its regional deployments) is written, cancel, and diff.
// A deployment's definition is immutable; its `version` is its sequence number within the service.
import { findRegion } from '../domain/catalog.ts';
import { diffDefinitions, formatDiff } from '../domain/diff.ts';
import { regionalDefinition } from '../domain/regional.ts';
import type {
  Deployment, DeploymentDefinition, DeploymentMetadata, RegionalDeployment, Service,
} from '../domain/types.ts';
import type { Db } from '../store/db.ts';
import {
  getDeployment, insertDeployment, maxDeploymentVersion, updateDeployment, getDeploymentDiff,
} from '../store/deployments.ts';
import {
  insertRegionalDeployment, listRegionalDeploymentsOf, updateRegionalDeployment,
} from '../store/regional-deployments.ts';
import { newId, nowIso } from '../store/rows.ts';
import { invalidState, notFound, PierError } from '../domain/errors.ts';
import { getApp } from '../store/apps.ts';
import { getOrganization } from '../store/organizations.ts';
import { releaseProxyPorts, reserveProxyPorts, type ProxyPortRange } from '../store/proxy-ports.ts';
import { ownDeployment, recordActivity, recordEvent, requireTransition, type ActionContext } from './common.ts';
import { secretNamesOf, secretVersions } from '../store/secrets.ts';

/** Why a deployment was made (stored as metadata.pier.action; Koyeb's trigger enum has no such detail). */
export type DeployAction = 'create' | 'update' | 'save_only' | 'redeploy' | 'rollback' | 'resume';

/** What a new deployment is made of. */
export interface NewDeployment {
  service: Service;
  definition: DeploymentDefinition;
  /** The deployment this one follows (parent_id); undefined for the first. */
  parent?: Deployment;
  action: DeployAction;
  skipBuild?: boolean;
  /** Source deployment of a rollback. */
  sourceDeploymentId?: string;
  /** Extra metadata from the request (e.g. UpdateService.metadata). */
  metadata?: DeploymentMetadata;
  /** What triggered it, when the caller knows more than the action (a push: provider, branch, sha, sender). */
  trigger?: DeploymentMetadata['trigger'];
  /** The TCP proxy's public ports (ActionContext.tcpProxyPorts) and the base domain of app hosts. */
  tcpProxy?: { ports?: ProxyPortRange; domain: string };
}

function triggerOf(n: NewDeployment): DeploymentMetadata['trigger'] {
  if (n.trigger) return n.trigger;
  if (n.action === 'resume') return { type: 'RESUME', actor: 'USER' };
  return { type: n.definition.git ? 'GIT' : 'UNKNOWN_TYPE', actor: 'USER' };
}

/**
 * Inserts a deployment (PENDING, or STASHED for save_only) with its diff against the parent, links the parent's
 * child_id (not for a stash, which is not part of the deployed chain), and one PENDING regional deployment per
 * region (none for a stash, which never runs). Call inside a transaction.
 */
export async function insertNewDeployment(db: Db, n: NewDeployment): Promise<Deployment> {
  const now = nowIso();
  const stashed = n.action === 'save_only';
  const version = String((await maxDeploymentVersion(db, n.service.id)) + 1);
  const diff = n.parent ? diffDefinitions(n.parent.definition, n.definition) : [];
  const deployment: Deployment = {
    id: newId(), created_at: now, updated_at: now, allocated_at: null, started_at: null, succeeded_at: null,
    terminated_at: null, organization_id: n.service.organization_id, app_id: n.service.app_id, service_id: n.service.id,
    parent_id: n.parent?.id ?? '', child_id: '', status: stashed ? 'STASHED' : 'PENDING',
    metadata: {
      ...(n.metadata ?? {}),
      trigger: triggerOf(n),
      // Which secret versions this deployment resolves (names and version numbers, never values), so a changed
      // secret can be traced to the deployments that still run its old value.
      ...({ pier: { action: n.action, ...(n.sourceDeploymentId ? { source_deployment_id: n.sourceDeploymentId } : {}),
        secret_versions: await secretVersions(db, n.service.organization_id, secretNamesOf(n.definition)) } }),
    } as DeploymentMetadata,
    definition: n.definition, messages: stashed ? ['Deployment stashed: the service was saved without executing a new deployment'] : [],
    provisioning_info: { sha: '', image: '', stages: [] }, skip_build: Boolean(n.skipBuild),
    role: stashed ? 'INVALID' : 'UPCOMING', version, deployment_group: '',
  };
  // A stash runs nothing and holds no public port; every other deployment holds exactly its declared ones.
  // Never what a request's metadata claims.
  delete deployment.metadata.proxy_ports;
  if (!stashed) {
    const proxyPorts = await publicProxyPorts(db, n);
    if (proxyPorts.length) deployment.metadata.proxy_ports = proxyPorts;
  }
  await insertDeployment(db, deployment, diff);
  await recordEvent(db, deployment.organization_id, 'deployment', deployment.id, stashed ? 'stashed' : 'created',
    stashed ? `Deployment v${version} stashed (save only)` : `Deployment v${version} created (${n.action})`,
    { action: n.action, parent_id: deployment.parent_id, version });
  if (stashed) return deployment;

  const parentRegionals = n.parent && !stashed ? await listRegionalDeploymentsOf(db, n.parent.id) : [];
  if (n.parent) await updateDeployment(db, n.parent.id, { child_id: deployment.id });
  for (const region of n.definition.regions ?? []) {
    const parentRd = parentRegionals.find((r) => r.region === region);
    const rd: RegionalDeployment = {
      id: newId(), created_at: now, updated_at: now, scheduled_at: null, allocated_at: null, started_at: null,
      succeeded_at: null, terminated_at: null, organization_id: deployment.organization_id, app_id: deployment.app_id,
      service_id: deployment.service_id, region, parent_id: parentRd?.id ?? '', child_id: '', status: 'PENDING',
      messages: [], definition: regionalDefinition(n.definition, region, n.service.name),
      datacenters: findRegion(region)?.datacenters ?? [], metadata: {},
      provisioning_info: { sha: '', image: '', stages: [] }, role: 'UPCOMING', version, deployment_group: '',
      deployment_id: deployment.id,
    };
    await insertRegionalDeployment(db, rd);
    if (parentRd) await updateRegionalDeployment(db, parentRd.id, { child_id: rd.id });
  }
  return deployment;
}

/**
 * The public ports of the definition's `proxy_ports` (Koyeb's metadata.proxy_ports: the app's host and the public
 * port the TCP proxy reaches each declared port at): the service keeps the ones it holds, gets the lowest free ones
 * of the range for new ports, and gives back those its definition no longer declares. Refused, with nothing written,
 * when the TCP proxy is off or the range has no free port left.
 */
async function publicProxyPorts(db: Db, n: NewDeployment): Promise<NonNullable<DeploymentMetadata['proxy_ports']>> {
  const declared = [...new Set((n.definition.proxy_ports ?? []).map((p) => p.port))];
  await releaseProxyPorts(db, n.service.id, declared);
  if (declared.length === 0) return [];
  const field = 'definition.proxy_ports';
  const range = n.tcpProxy?.ports;
  if (!range) {
    throw new PierError('invalid_argument', 'The TCP proxy is off on this Pier (PIER_TCP_PROXY_PORTS=off): remove proxy_ports, or ask its operator to set a port range', [
      { field, description: 'the TCP proxy is off on this Pier: remove proxy_ports' },
    ]);
  }
  const got = await reserveProxyPorts(db, { organizationId: n.service.organization_id, serviceId: n.service.id, ports: declared, range });
  const missing = declared.filter((p) => got.get(p) === undefined);
  if (missing.length) {
    const what = `every public port of the TCP proxy (${range.first}-${range.last}) is taken`;
    throw new PierError('invalid_state', `${what}: port ${missing.join(', ')} cannot be exposed; remove it from proxy_ports, or ask the operator for a larger PIER_TCP_PROXY_PORTS range`, [
      { field, description: `${what}: remove port ${missing.join(', ')}` },
    ]);
  }
  const app = await getApp(db, n.service.app_id);
  const org = await getOrganization(db, n.service.organization_id);
  const host = `${app?.name ?? n.service.app_id}-${org?.name ?? 'pier'}.${n.tcpProxy?.domain ?? 'localhost'}`.toLowerCase();
  return declared.sort((a, b) => a - b).map((port) => ({ host, public_port: got.get(port)!, port, protocol: 'tcp' as const }));
}

/** Statuses from which a deployment can be canceled (before anything runs). */
const CANCELABLE = ['PENDING', 'PROVISIONING', 'SCHEDULED'];

/** POST /v1/deployments/{id}/cancel: PENDING/PROVISIONING/SCHEDULED → CANCELING; reconcilers finish it. */
export async function cancelDeployment(ctx: ActionContext, id: string): Promise<Record<string, never>> {
  await ctx.store.db.transaction(async (tx) => {
    const d = await ownDeployment(tx, ctx.organizationId, id);
    // Koyeb cancels only before instances run (CancelDeployment's description); later, redeploy or pause instead.
    if (!CANCELABLE.includes(d.status)) throw invalidState(`Cannot cancel deployment ${id}: its status is ${d.status}`);
    requireTransition('deployment', `deployment ${id}`, d.status, 'CANCELING', 'cancel');
    await updateDeployment(tx, id, { status: 'CANCELING', messages: ['Deployment cancellation requested'] });
    await recordEvent(tx, ctx.organizationId, 'deployment', id, 'canceling', `Deployment v${d.version} cancellation requested`);
    await recordActivity(tx, ctx, 'canceled', { type: 'deployment', id, name: `v${d.version}` }, { service_id: d.service_id, app_id: d.app_id });
  });
  ctx.onWrite?.();
  return {};
}

/** GET /v1/deployments/{id}/diff (Pier extension): changes from `against` (default: the parent) to this one. */
export async function deploymentDiff(
  ctx: ActionContext, id: string, against?: string,
): Promise<{ changes: unknown[]; lines: string[]; against: string }> {
  const db = ctx.store.db;
  const d = await ownDeployment(db, ctx.organizationId, id);
  const otherId = against ?? d.parent_id;
  if (!otherId) return { changes: [], lines: [], against: '' };
  if (otherId === d.parent_id && !against) {
    const stored = await getDeploymentDiff(db, id);
    if (stored) return { changes: stored, lines: formatDiff(stored as never), against: otherId };
  }
  const other = await getDeployment(db, otherId);
  if (!other || other.organization_id !== ctx.organizationId) throw notFound('deployment', otherId);
  const changes = diffDefinitions(other.definition, d.definition);
  return { changes, lines: formatDiff(changes), against: otherId };
}

// Quota enforcement: inside a write's transaction and before it writes anything, counts what the organization has
// (live apps and services, and the instances and memory its running services may use at maximum scale), applies the
// write, and refuses it with 403 quota_exceeded naming the quota, the would-be value, the limit and the fix.
// Organizations without quotas pay one indexed read.
import { PierError, validationError } from '../domain/errors.ts';
import {
  addFootprints, footprintOf, normalizeQuotas, quotaViolations, type Footprint, type Quotas, type Usage,
} from '../domain/quotas.ts';
import type { DeploymentDefinition, ManualServiceScaling, Service } from '../domain/types.ts';
import type { Db } from '../store/db.ts';
import { listApps } from '../store/apps.ts';
import { getDeployment } from '../store/deployments.ts';
import { getQuotas, putQuotas } from '../store/quotas.ts';
import { countProxyPorts, heldBy } from '../store/proxy-ports.ts';
import { getManualScaling } from '../store/scalings.ts';
import { listServices } from '../store/services.ts';
import type { ActionContext } from './common.ts';

/** What a write changes, as quotas see it. */
export type QuotaChange =
  | { kind: 'app' }
  /** A new service (`service` undefined) or a new deployment of one; `definition` is what it will run. */
  | { kind: 'service'; appId: string; service?: Service; definition: DeploymentDefinition }
  /** A manual scaling override of an existing service. */
  | { kind: 'scaling'; service: Service; manual: ManualServiceScaling[] };

const GONE = new Set(['DELETING', 'DELETED']);
const IDLE = new Set(['PAUSED', 'PAUSING']);

/** The definition a service runs (its latest deployed one), or undefined before its first deployment. */
async function runningDefinition(db: Db, s: Service): Promise<DeploymentDefinition | undefined> {
  const id = s.latest_deployment_id || s.active_deployment_id;
  return id ? (await getDeployment(db, id))?.definition : undefined;
}

/** Throws 403 quota_exceeded when `change` would take the organization past one of its quotas. */
export async function enforceQuotas(tx: Db, ctx: ActionContext, change: QuotaChange): Promise<void> {
  const quotas = await getQuotas(tx, ctx.organizationId);
  if (!quotas || Object.keys(quotas).length === 0) return;
  const apps = (await listApps(tx, { organizationId: ctx.organizationId, excludeDeleted: true })).items.filter((a) => !GONE.has(a.status)).length;
  const services = (await listServices(tx, { organizationId: ctx.organizationId, excludeDeleted: true })).items.filter((s) => !GONE.has(s.status));
  const footprints = new Map<string, Footprint>();
  for (const s of services) {
    if (IDLE.has(s.status)) continue;
    const def = await runningDefinition(tx, s);
    if (def) footprints.set(s.id, footprintOf(def, await getManualScaling(tx, s.id)));
  }
  const proxyPorts = quotas.proxy_ports !== undefined ? await countProxyPorts(tx, ctx.organizationId) : 0;
  const before: Usage = { apps, services: services.length, footprint: addFootprints([...footprints.values()]), proxyPorts };
  const after: Usage = { ...before };
  let definition: DeploymentDefinition | undefined;
  if (change.kind === 'app') after.apps += 1;
  if (change.kind === 'service') {
    definition = change.definition;
    const inApp = services.filter((s) => s.app_id === change.appId).length;
    before.servicesInApp = inApp;
    after.servicesInApp = change.service ? inApp : inApp + 1;
    if (!change.service) after.services += 1;
    const manual = change.service ? await getManualScaling(tx, change.service.id) : undefined;
    const next = new Map(footprints);
    next.set(change.service?.id ?? '(new)', footprintOf(change.definition, manual));
    after.footprint = addFootprints([...next.values()]);
    // The service keeps the public ports it holds for ports still declared, frees the others, takes one per new port.
    if (quotas.proxy_ports !== undefined) {
      const held = change.service ? (await heldBy(tx, change.service.id)).length : 0;
      after.proxyPorts = before.proxyPorts - held + new Set((change.definition.proxy_ports ?? []).map((p) => p.port)).size;
    }
  }
  if (change.kind === 'scaling') {
    const def = await runningDefinition(tx, change.service);
    if (def && !IDLE.has(change.service.status)) {
      const next = new Map(footprints);
      next.set(change.service.id, footprintOf(def, change.manual));
      after.footprint = addFootprints([...next.values()]);
    }
  }
  const violations = quotaViolations(quotas, before, after, definition);
  if (violations.length === 0) return;
  throw new PierError('quota_exceeded', violations.map((v) => v.message).join('; '),
    violations.map((v) => ({ field: `quotas.${v.quota}`, description: `would be ${v.current}, limit ${v.limit}` })));
}

/** The organization's quotas as set (an empty object: no limits). */
export async function getOrganizationQuotas(db: Db, organizationId: string): Promise<Quotas> {
  return (await getQuotas(db, organizationId)) ?? {};
}

/** Replaces an organization's quotas (the API checks the caller is an operator); returns them as stored. */
export async function setOrganizationQuotas(db: Db, organizationId: string, body: unknown): Promise<Quotas> {
  const raw = body && typeof body === 'object' && !Array.isArray(body) && 'quotas' in body ? (body as { quotas: unknown }).quotas : body;
  const { quotas, errors } = normalizeQuotas(raw);
  if (errors.length) throw validationError(errors);
  await putQuotas(db, organizationId, quotas);
  return quotas;
}

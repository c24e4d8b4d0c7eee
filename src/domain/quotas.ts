// Organization quotas (Koyeb's Quotas object, the part Pier enforces): how many apps and services, services per app,
// instances per instance type and memory across the organization's services at their maximum scale, and which
// regions and instance types definitions may use. Pure: the actions count what exists and ask `quotaViolations`
// before writing anything. An unset field means no limit.
import { findInstanceType, instanceResources, REGION_IDS } from './catalog.ts';
import { FieldErrors } from './fields.ts';
import { desiredInstances, instanceTypeFor } from './regional.ts';
import type { DeploymentDefinition, FieldError, ManualServiceScaling } from './types.ts';

/** The quotas Pier enforces (Koyeb's field names; counts as numbers here, int64 strings on the wire). */
export interface Quotas {
  apps?: number;
  services?: number;
  services_by_app?: number;
  /** Memory of every live service's instances at their maximum scale, in MB. */
  memory_mb?: number;
  /** Instance types definitions may use. */
  instance_types?: string[];
  /** Regions definitions may use. */
  regions?: string[];
  /** Instances per instance type across the organization, at maximum scale. */
  max_instances_by_type?: Record<string, number>;
  /** Public ports of the TCP proxy the organization's services hold (Koyeb's `proxy_ports`, an integer on the wire). */
  proxy_ports?: number;
}

const COUNTS = ['apps', 'services', 'services_by_app', 'memory_mb'] as const;
const KNOWN = new Set<string>([...COUNTS, 'proxy_ports', 'instance_types', 'regions', 'max_instances_by_type']);

function count(errors: FieldErrors, raw: unknown, path: string): number | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    errors.add(path, 'must be a whole number of 0 or more (an int64 string such as "10" is accepted), or absent for no limit');
    return undefined;
  }
  return n;
}

/** Validates an operator's quotas body (Koyeb's Quotas; unknown fields refused, each error naming its field). */
export function normalizeQuotas(raw: unknown): { quotas: Quotas; errors: FieldError[] } {
  const errors = new FieldErrors();
  const quotas: Quotas = {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    errors.add('quotas', 'must be an object such as {"apps": "10", "regions": ["fra"]}');
    return { quotas, errors: errors.list };
  }
  const r = raw as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (!KNOWN.has(key)) errors.add(`quotas.${key}`, `is not a quota Pier enforces (known: ${[...KNOWN].join(', ')})`);
  }
  for (const key of COUNTS) {
    const n = count(errors, r[key], `quotas.${key}`);
    if (n !== undefined) quotas[key] = n;
  }
  const proxyPorts = count(errors, r.proxy_ports, 'quotas.proxy_ports');
  if (proxyPorts !== undefined) quotas.proxy_ports = proxyPorts;
  if (r.instance_types !== undefined && r.instance_types !== null) {
    if (!Array.isArray(r.instance_types)) errors.add('quotas.instance_types', 'must be a list of instance types such as ["nano", "small"]');
    else {
      r.instance_types.forEach((t, i) => {
        if (typeof t !== 'string' || !findInstanceType(t)) errors.add(`quotas.instance_types[${i}]`, 'must be an instance type of the catalog (GET /v1/catalog/instances)');
      });
      quotas.instance_types = r.instance_types.map(String);
    }
  }
  if (r.regions !== undefined && r.regions !== null) {
    if (!Array.isArray(r.regions)) errors.add('quotas.regions', 'must be a list of regions such as ["fra"]');
    else {
      r.regions.forEach((g, i) => {
        if (typeof g !== 'string' || !REGION_IDS.includes(g)) errors.add(`quotas.regions[${i}]`, `must be one of ${REGION_IDS.join(', ')}`);
      });
      quotas.regions = r.regions.map(String);
    }
  }
  if (r.max_instances_by_type !== undefined && r.max_instances_by_type !== null) {
    const m = r.max_instances_by_type;
    if (!m || typeof m !== 'object' || Array.isArray(m)) errors.add('quotas.max_instances_by_type', 'must be an object such as {"nano": "4"}');
    else {
      const out: Record<string, number> = {};
      for (const [type, v] of Object.entries(m as Record<string, unknown>)) {
        if (!findInstanceType(type)) errors.add(`quotas.max_instances_by_type.${type}`, 'is not an instance type of the catalog');
        const n = count(errors, v, `quotas.max_instances_by_type.${type}`);
        if (n !== undefined) out[type] = n;
      }
      quotas.max_instances_by_type = out;
    }
  }
  return { quotas, errors: errors.list };
}

/** Quotas as Koyeb's wire object: int64 counts as strings, except `proxy_ports` (an integer in Koyeb's spec). */
export function quotasToWire(q: Quotas): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of COUNTS) if (q[key] !== undefined) out[key] = String(q[key]);
  if (q.proxy_ports !== undefined) out.proxy_ports = q.proxy_ports;
  if (q.instance_types) out.instance_types = q.instance_types;
  if (q.regions) out.regions = q.regions;
  if (q.max_instances_by_type) out.max_instances_by_type = Object.fromEntries(Object.entries(q.max_instances_by_type).map(([k, v]) => [k, String(v)]));
  return out;
}

/** What one service may run at most: instances per type and memory (MB), over its regions. */
export interface Footprint { instancesByType: Record<string, number>; memoryMb: number }

/** A service's footprint at its maximum scale (a manual scaling counts as its max where it applies). */
export function footprintOf(def: DeploymentDefinition, manual?: readonly ManualServiceScaling[]): Footprint {
  const out: Footprint = { instancesByType: {}, memoryMb: 0 };
  for (const region of def.regions ?? []) {
    const want = desiredInstances(def, region, manual);
    const n = Math.max(want.max, want.manual ?? 0);
    const type = instanceTypeFor(def, region);
    out.instancesByType[type] = (out.instancesByType[type] ?? 0) + n;
    out.memoryMb += n * Math.round((instanceResources(type)?.memoryBytes ?? 0) / 1048576);
  }
  return out;
}

/** Sums footprints. */
export function addFootprints(list: readonly Footprint[]): Footprint {
  const out: Footprint = { instancesByType: {}, memoryMb: 0 };
  for (const f of list) {
    out.memoryMb += f.memoryMb;
    for (const [t, n] of Object.entries(f.instancesByType)) out.instancesByType[t] = (out.instancesByType[t] ?? 0) + n;
  }
  return out;
}

/** The organization as a write would leave it: counts, and the footprint of every live service. */
export interface Usage {
  apps: number;
  services: number;
  /** Live services of the app the write touches (when it touches one). */
  servicesInApp?: number;
  footprint: Footprint;
  /** Public TCP proxy ports the organization's services hold. */
  proxyPorts: number;
}

/** One quota a write would exceed: which, what the organization would have, the limit, and what to do. */
export interface QuotaViolation { quota: string; current: string; limit: string; message: string }

/**
 * The quotas `after` (the organization once the write is done) exceeds, given the definition the write deploys (if
 * any). A count only fails when the write raises it past the limit and above `before`, so an organization already
 * over a lowered quota may still shrink or change other things.
 */
export function quotaViolations(q: Quotas, before: Usage, after: Usage, def?: DeploymentDefinition): QuotaViolation[] {
  const out: QuotaViolation[] = [];
  const fix = 'ask the operator to raise it (PUT /v1/pier/organizations/{id}/quotas), or free some first';
  const over = (quota: string, was: number, now: number, limit: number | undefined, what: string) => {
    if (limit !== undefined && now > limit && now > was) {
      out.push({ quota, current: String(now), limit: String(limit), message: `quota ${quota} exceeded: this would make ${now} ${what}, the limit is ${limit}; ${fix}` });
    }
  };
  over('apps', before.apps, after.apps, q.apps, 'apps');
  over('services', before.services, after.services, q.services, 'services');
  if (after.servicesInApp !== undefined) over('services_by_app', before.servicesInApp ?? 0, after.servicesInApp, q.services_by_app, 'services in this app');
  over('proxy_ports', before.proxyPorts, after.proxyPorts, q.proxy_ports, 'public TCP proxy ports');
  over('memory_mb', before.footprint.memoryMb, after.footprint.memoryMb, q.memory_mb, 'MB of memory at maximum scale');
  for (const [type, limit] of Object.entries(q.max_instances_by_type ?? {})) {
    over(`max_instances_by_type.${type}`, before.footprint.instancesByType[type] ?? 0, after.footprint.instancesByType[type] ?? 0, limit, `${type} instances at maximum scale`);
  }
  if (def) {
    for (const region of def.regions ?? []) {
      if (q.regions && !q.regions.includes(region)) {
        out.push({ quota: 'regions', current: region, limit: q.regions.join(', '), message: `quota regions: region ${region} is not allowed for this organization (allowed: ${q.regions.join(', ') || 'none'}); use one of them or ask the operator` });
      }
      const type = instanceTypeFor(def, region);
      if (q.instance_types && !q.instance_types.includes(type)) {
        out.push({ quota: 'instance_types', current: type, limit: q.instance_types.join(', '), message: `quota instance_types: instance type ${type} is not allowed for this organization (allowed: ${q.instance_types.join(', ') || 'none'}); use one of them or ask the operator` });
      }
    }
  }
  return out;
}

// Regions, instance types and scaling rules of a definition, with their `region:<id>` scopes: each region must end up
// with exactly one instance type and one scaling rule (a scoped item wins over an unscoped one there).
import { DEFAULT_INSTANCE_TYPE, DEFAULT_REGION, INSTANCE_TYPES, findInstanceType } from './catalog.ts';
import { FieldErrors, absent, compact, isObject, readArray, readInt, readObject, readStringList, rejectUnknown, quote } from './fields.ts';
import { pickForRegion, regionScope, scopeRegion } from './scopes.ts';
import type { DeploymentInstanceType, DeploymentScaling, DeploymentScalingTarget } from './types.ts';

/** The most instances a region may run for one service (the Koyeb dashboard's bound). */
export const MAX_SCALE = 20;
/** Idle seconds before a scale-to-zero service sleeps when the definition does not say (Koyeb's default). */
export const DEFAULT_DEEP_SLEEP_SECONDS = 300;
/** Requests per second per instance a web service autoscales on when min < max names no target (Koyeb's default). */
export const DEFAULT_WEB_REQUESTS_PER_SECOND = 50;
/** Average CPU % a worker autoscales on when min < max names no target (Koyeb's default for workers). */
export const DEFAULT_WORKER_CPU_PERCENT = 80;
/** Seconds from light sleep to deep sleep when only the light sleep delay is given (the dashboard's default). */
export const LIGHT_TO_DEEP_SLEEP_SECONDS = 3600;
/** Longest idle delay accepted, 12 h (the largest Koyeb plan's bound). */
export const MAX_SLEEP_SECONDS = 43_200;
/** The response-time percentile used when a target does not say (what the dashboard sends). */
export const DEFAULT_RESPONSE_TIME_QUANTILE = 95;

/** The region used when a definition names none: the CLI's default if allowed, else the first allowed. */
export function defaultRegion(allowed: readonly string[]): string {
  return allowed.includes(DEFAULT_REGION) ? DEFAULT_REGION : allowed[0] ?? DEFAULT_REGION;
}

/** Validates the region list: non-empty, unique, each allowed. */
export function normalizeRegions(errors: FieldErrors, raw: unknown, path: string, allowed: readonly string[]): string[] {
  if (absent(raw)) return [defaultRegion(allowed)];
  const list = readArray(errors, raw, path);
  if (!Array.isArray(raw)) return [defaultRegion(allowed)];
  if (list.length === 0) {
    errors.add(path, `must list at least one region, e.g. [${quote(defaultRegion(allowed))}] (available: ${allowed.join(', ')})`);
    return [];
  }
  const out: string[] = [];
  list.forEach((r, i) => {
    if (typeof r !== 'string' || !allowed.includes(r)) {
      errors.add(`${path}[${i}]`, `unknown region ${quote(r)}: use one of ${allowed.join(', ')}`);
    } else if (out.includes(r)) {
      errors.add(`${path}[${i}]`, `region ${r} is listed twice: remove one`);
    } else out.push(r);
  });
  return out;
}

/** Validates item scopes: each must be `region:<id>` for one of the service's regions. Empty means unscoped. */
export function normalizeScopes(errors: FieldErrors, raw: unknown, path: string, regions: readonly string[]): string[] | undefined {
  const list = readStringList(errors, raw, path);
  if (!list?.length) return undefined;
  const out: string[] = [];
  list.forEach((s, j) => {
    const region = scopeRegion(s);
    if (region === undefined) {
      errors.add(`${path}[${j}]`, `scope ${quote(s)} must be "region:<id>" for one of the service's regions (${regions.join(', ')})`);
    } else if (!regions.includes(region)) {
      errors.add(`${path}[${j}]`, `scope ${quote(s)} names a region the service does not run in: add ${region} to regions or remove the scope`);
    } else if (out.includes(s)) {
      errors.add(`${path}[${j}]`, `scope ${quote(s)} is listed twice: remove one`);
    } else out.push(s);
  });
  return out;
}

/**
 * Reports items that apply to the same region at the same level (two unscoped, or two scoped to one region), and
 * regions that no item covers. `what` names the items in messages ("instance type", "scaling").
 */
export function checkOnePerRegion(
  errors: FieldErrors, items: { scopes?: string[]; index: number }[], path: string, regions: readonly string[], what: string,
): void {
  const owner = new Map<string, number>();
  for (const item of items) {
    for (const token of item.scopes?.length ? item.scopes : ['*']) {
      const first = owner.get(token);
      if (first !== undefined) {
        const where = token === '*' ? 'without scopes' : `to ${token}`;
        errors.add(`${path}[${item.index}]`, `another ${what} already applies ${where} (${path}[${first}]): keep one per region`);
      } else owner.set(token, item.index);
    }
  }
  if (owner.has('*') || items.length === 0) return;
  for (const r of regions) {
    if (!owner.has(regionScope(r))) {
      errors.add(path, `no ${what} applies to region ${r}: add one without scopes or one scoped to ${regionScope(r)}`);
    }
  }
}

/** Validates instance types against the catalog; defaults to one unscoped `nano`. */
export function normalizeInstanceTypes(
  errors: FieldErrors, raw: unknown, path: string, regions: readonly string[], isWorker: boolean,
): DeploymentInstanceType[] {
  const out: DeploymentInstanceType[] = [];
  const coverage: { scopes?: string[]; index: number }[] = [];
  readArray(errors, raw, path).forEach((item, i) => {
    const p = `${path}[${i}]`;
    const obj = readObject(errors, item, p);
    if (!obj) return;
    rejectUnknown(errors, obj, ['scopes', 'type'], p);
    const scopes = normalizeScopes(errors, obj.scopes, `${p}.scopes`, regions);
    coverage.push({ scopes, index: i });
    const t = typeof obj.type === 'string' ? findInstanceType(obj.type) : undefined;
    if (!t) {
      const ids = INSTANCE_TYPES.map((x) => x.id).join(', ');
      errors.add(`${p}.type`, absent(obj.type) ? `is required: one of ${ids}` : `unknown instance type ${quote(obj.type)}: use one of ${ids}`);
      return;
    }
    if (isWorker && !t.service_types.includes('worker')) {
      errors.add(`${p}.type`, `instance type ${t.id} only runs web services: pick another type, e.g. ${DEFAULT_INSTANCE_TYPE}`);
    }
    const missing = regions.filter((r) => (!scopes || scopes.includes(regionScope(r))) && !t.regions.includes(r));
    if (missing.length) {
      errors.add(`${p}.type`, `instance type ${t.id} is not available in ${missing.join(', ')}; it is offered in ${t.regions.join(', ')}`);
    }
    out.push(compact({ scopes, type: t.id }));
  });
  checkOnePerRegion(errors, coverage, path, regions, 'instance type');
  return coverage.length ? out : [{ type: DEFAULT_INSTANCE_TYPE }];
}

type TargetKey = keyof DeploymentScalingTarget;
const TARGET_KEYS: TargetKey[] = [
  'average_cpu', 'average_mem', 'requests_per_second', 'concurrent_requests', 'requests_response_time', 'sleep_idle_delay',
];
const TARGET_BOUNDS: Partial<Record<TargetKey, [number, number, string]>> = {
  average_cpu: [1, 100, '%'],
  average_mem: [1, 100, '%'],
  requests_per_second: [1, 1e9, 'requests per second per instance'],
  concurrent_requests: [1, 1e9, 'concurrent requests per instance'],
  requests_response_time: [1, 1e9, 'ms'],
};

/** Validates scaling rules; defaults to one unscoped `{min: 1, max: 1}`. */
export function normalizeScalings(
  errors: FieldErrors, raw: unknown, path: string, regions: readonly string[], isWorker: boolean,
  instanceTypes: readonly DeploymentInstanceType[],
): DeploymentScaling[] {
  const out: DeploymentScaling[] = [];
  const coverage: { scopes?: string[]; index: number }[] = [];
  readArray(errors, raw, path).forEach((item, i) => {
    const p = `${path}[${i}]`;
    const obj = readObject(errors, item, p);
    if (!obj) return;
    const scopes = normalizeScopes(errors, obj.scopes, `${p}.scopes`, regions);
    coverage.push({ scopes, index: i });
    const s = normalizeScaling(errors, obj, p, scopes, isWorker);
    if (s) out.push(s);
  });
  checkOnePerRegion(errors, coverage, path, regions, 'scaling');
  const scalings = coverage.length ? out : [{ min: 1, max: 1 }];
  // Eco instances share their host and do not autoscale (Koyeb forces min = max for them).
  for (const r of regions) {
    const type = pickForRegion(instanceTypes, r)?.type;
    const scaling = pickForRegion(scalings, r);
    if (type && scaling && findInstanceType(type)?.type === 'eco' && scaling.min !== scaling.max) {
      errors.add(path, `eco instances (${type} in ${r}) do not autoscale or scale to zero: set min equal to max, or use a standard instance type`);
    }
  }
  return scalings;
}

function normalizeScaling(
  errors: FieldErrors, obj: Record<string, unknown>, p: string, scopes: string[] | undefined, isWorker: boolean,
): DeploymentScaling | undefined {
  rejectUnknown(errors, obj, ['scopes', 'min', 'max', 'targets'], p);
  const before = errors.count;
  if (absent(obj.min)) errors.add(`${p}.min`, `is required: the fewest instances per region, 0 to ${MAX_SCALE} (0 scales to zero when idle)`);
  if (absent(obj.max)) errors.add(`${p}.max`, `is required: the most instances per region, 1 to ${MAX_SCALE}`);
  const min = readInt(errors, obj.min, `${p}.min`, 0, MAX_SCALE);
  const max = readInt(errors, obj.max, `${p}.max`, 1, MAX_SCALE);
  const targets = normalizeTargets(errors, obj.targets, `${p}.targets`);
  if (min === undefined || max === undefined || errors.count !== before) return undefined;
  if (min > max) {
    errors.add(`${p}.min`, `min ${min} is greater than max ${max}: lower min or raise max`);
    return undefined;
  }
  const sleepIndex = targets.findIndex((t) => t.sleep_idle_delay);
  const drivers = targets.filter((t) => !t.sleep_idle_delay);
  // Between 1 and max > 1 instances something must say when to add one; min 0 / max 1 only needs traffic to wake.
  // Without a target Koyeb starts from its defaults (`koyeb ... --min-scale 1 --max-scale 2` sends none): requests per
  // second (50) for a web service, CPU (80 %) for a worker, as its dashboard fills in. Stored, so the deployment shows it.
  if (min < max && max > 1 && drivers.length === 0) {
    targets.unshift(isWorker ? { average_cpu: { value: DEFAULT_WORKER_CPU_PERCENT } } : { requests_per_second: { value: DEFAULT_WEB_REQUESTS_PER_SECOND } });
  }
  if (min > 0 && sleepIndex !== -1) {
    errors.add(`${p}.targets[${sleepIndex}].sleep_idle_delay`, `only applies when min is 0 (scale to zero): set min to 0 or remove sleep_idle_delay`);
  }
  if (min === 0 && isWorker) {
    errors.add(`${p}.min`, 'workers cannot scale to zero: no request ever wakes them; set min to at least 1');
  }
  if (min === 0 && sleepIndex === -1) targets.push({ sleep_idle_delay: { deep_sleep_value: DEFAULT_DEEP_SLEEP_SECONDS } });
  return compact({ scopes, min, max, targets: targets.length ? targets : undefined });
}

function normalizeTargets(errors: FieldErrors, raw: unknown, path: string): DeploymentScalingTarget[] {
  const out: DeploymentScalingTarget[] = [];
  const seen = new Map<TargetKey, number>();
  readArray(errors, raw, path).forEach((item, i) => {
    const p = `${path}[${i}]`;
    const obj = readObject(errors, item, p);
    if (!obj) return;
    rejectUnknown(errors, obj, TARGET_KEYS, p);
    const target: DeploymentScalingTarget = {};
    for (const key of TARGET_KEYS) {
      if (absent(obj[key])) continue;
      if (seen.has(key)) {
        errors.add(`${p}.${key}`, `${key} is already set in ${path}[${seen.get(key)}]: keep one`);
        continue;
      }
      seen.set(key, i);
      const value = key === 'sleep_idle_delay' ? normalizeSleep(errors, obj[key], `${p}.${key}`) : normalizeBounded(errors, key, obj[key], `${p}.${key}`);
      if (value) (target as Record<string, unknown>)[key] = value;
    }
    if (Object.keys(obj).length === 0) errors.add(p, `must set a target, one of ${TARGET_KEYS.join(', ')}`);
    if (Object.keys(target).length) out.push(target);
  });
  return out;
}

function normalizeBounded(errors: FieldErrors, key: TargetKey, raw: unknown, p: string): { value: number; quantile?: number } | undefined {
  const [min, max, unit] = TARGET_BOUNDS[key]!;
  const obj = readObject(errors, raw, p);
  if (!obj) return undefined;
  rejectUnknown(errors, obj, key === 'requests_response_time' ? ['value', 'quantile'] : ['value'], p);
  if (absent(obj.value)) {
    errors.add(`${p}.value`, `is required: between ${min} and ${max} ${unit}`);
    return undefined;
  }
  const value = readInt(errors, obj.value, `${p}.value`, min, max, unit);
  if (value === undefined) return undefined;
  if (key !== 'requests_response_time') return { value };
  const quantile = readInt(errors, obj.quantile, `${p}.quantile`, 1, 100) ?? DEFAULT_RESPONSE_TIME_QUANTILE;
  return { value, quantile };
}

function normalizeSleep(errors: FieldErrors, raw: unknown, p: string): DeploymentScalingTarget['sleep_idle_delay'] {
  if (!isObject(raw)) {
    errors.add(p, 'must be an object such as {deep_sleep_value: 300}');
    return undefined;
  }
  rejectUnknown(errors, raw, ['value', 'deep_sleep_value', 'light_sleep_value'], p);
  const legacy = readInt(errors, raw.value, `${p}.value`, 1, MAX_SLEEP_SECONDS, 'seconds');
  let deep = readInt(errors, raw.deep_sleep_value, `${p}.deep_sleep_value`, 1, MAX_SLEEP_SECONDS, 'seconds');
  const light = readInt(errors, raw.light_sleep_value, `${p}.light_sleep_value`, 1, MAX_SLEEP_SECONDS, 'seconds');
  // `value` is the deprecated name of deep_sleep_value; both may be sent by older clients, but must agree.
  if (legacy !== undefined && deep !== undefined && legacy !== deep) {
    errors.add(`${p}.value`, `conflicts with deep_sleep_value (${deep}): value is its deprecated name; remove value`);
  }
  deep ??= legacy;
  if (deep === undefined) deep = light === undefined ? DEFAULT_DEEP_SLEEP_SECONDS : Math.min(light + LIGHT_TO_DEEP_SLEEP_SECONDS, MAX_SLEEP_SECONDS);
  if (light !== undefined && light >= deep) {
    errors.add(`${p}.light_sleep_value`, `light sleep (${light} s) must come before deep sleep (${deep} s): lower light_sleep_value or raise deep_sleep_value`);
  }
  return compact({ deep_sleep_value: deep, light_sleep_value: light });
}

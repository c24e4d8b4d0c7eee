// The one place a DeploymentDefinition is validated and defaulted. API input, CLI-built definitions and stored
// definitions all go through normalizeDefinition, so every deployment carries a complete, canonical definition
// (same input, byte-identical JSON) and every problem is reported at once with a Koyeb-style field path.
import { REGION_IDS } from './catalog.ts';
import { normalizeConfigFiles, normalizeEnv, normalizeNetworkPolicy } from './definition-env.ts';
import { normalizeNetwork } from './definition-network.ts';
import { normalizeInstanceTypes, normalizeRegions, normalizeScalings } from './definition-scaling.ts';
import { normalizeSource } from './definition-source.ts';
import { FieldErrors, absent, isObject, readArray, readBool, readString, rejectUnknown, quote } from './fields.ts';
import { normalizeVolumes } from './volumes.ts';
import { MESH_TYPES, STRATEGY_TYPES } from './types.ts';
import type { DeploymentDefinition, DeploymentMesh, FieldError, ServiceType, StrategyType } from './types.ts';

/** What normalisation needs to know beyond the input. */
export interface NormalizeContext {
  /** Region ids the service may use; all of the catalog's by default. */
  regions?: string[];
  /** Path prefix of field errors; `definition` by default (the field's name in Koyeb's request bodies). */
  path?: string;
}

/** Every top-level field of a definition, in the canonical order of normalised output. */
export const DEFINITION_FIELDS = [
  'name', 'type', 'strategy', 'routes', 'ports', 'proxy_ports', 'env', 'regions', 'scalings', 'instance_types',
  'health_checks', 'volumes', 'config_files', 'skip_cache', 'mesh', 'network_policy', 'docker', 'git', 'archive',
  'database',
] as const;

/** A definition after normalisation: every list, the type, strategy, mesh and skip_cache are present. */
export type NormalizedDefinition = DeploymentDefinition & Required<Pick<DeploymentDefinition,
  'type' | 'strategy' | 'routes' | 'ports' | 'proxy_ports' | 'env' | 'regions' | 'scalings' | 'instance_types'
  | 'health_checks' | 'volumes' | 'config_files' | 'skip_cache' | 'mesh'>>;

/** The strategy Pier applies when the definition says DEFAULT, INVALID or nothing (Koyeb's platform default). */
export const DEFAULT_STRATEGY: StrategyType = 'DEPLOYMENT_STRATEGY_TYPE_ROLLING';

/** Validates and defaults a definition; never throws. When `errors` is empty the definition is complete. */
export function normalizeDefinition(
  input: unknown, ctx: NormalizeContext = {},
): { definition: NormalizedDefinition; errors: FieldError[] } {
  const errors = new FieldErrors();
  const path = ctx.path ?? 'definition';
  const allowed = ctx.regions?.length ? ctx.regions : REGION_IDS;
  if (!isObject(input)) errors.add(path, 'must be an object with the service configuration, e.g. {docker: {image: "nginx"}, ports: [...]}');
  const raw = isObject(input) ? input : {};
  rejectUnknown(errors, raw, DEFINITION_FIELDS, path);

  const type = normalizeType(errors, raw.type, `${path}.type`);
  const isWorker = type === 'WORKER';
  const source = normalizeSource(errors, raw, path);
  const name = readString(errors, raw.name, `${path}.name`) || undefined;
  const strategy = normalizeStrategy(errors, raw.strategy, `${path}.strategy`);
  const network = normalizeNetwork({ errors, path, isWorker }, raw);
  const regions = normalizeRegions(errors, raw.regions, `${path}.regions`, allowed);
  const env = normalizeEnv(errors, raw.env, `${path}.env`, regions);
  const instanceTypes = normalizeInstanceTypes(errors, raw.instance_types, `${path}.instance_types`, regions, isWorker);
  const scalings = normalizeScalings(errors, raw.scalings, `${path}.scalings`, regions, isWorker, instanceTypes);
  const volumes = normalizeVolumes(errors, readArray(errors, raw.volumes, `${path}.volumes`), `${path}.volumes`, regions);
  const configFiles = normalizeConfigFiles(errors, raw.config_files, `${path}.config_files`);
  const skipCache = readBool(errors, raw.skip_cache, `${path}.skip_cache`) ?? false;
  const mesh = normalizeMesh(errors, raw.mesh, `${path}.mesh`);
  const networkPolicy = normalizeNetworkPolicy(errors, raw.network_policy, `${path}.network_policy`);

  const definition: NormalizedDefinition = {
    ...(name !== undefined ? { name } : {}),
    type,
    strategy: { type: strategy },
    routes: network.routes,
    ports: network.ports,
    proxy_ports: network.proxy_ports,
    env,
    regions,
    scalings,
    instance_types: instanceTypes,
    health_checks: network.health_checks,
    volumes,
    config_files: configFiles,
    skip_cache: skipCache,
    mesh,
  };
  if (networkPolicy) definition.network_policy = networkPolicy;
  if (source.docker) definition.docker = source.docker;
  if (source.git) definition.git = source.git;
  if (source.archive) definition.archive = source.archive;
  return { definition, errors: errors.list };
}

function normalizeType(errors: FieldErrors, raw: unknown, path: string): 'WEB' | 'WORKER' {
  if (absent(raw) || raw === 'INVALID' || raw === 'WEB') return 'WEB';
  if (raw === 'WORKER') return 'WORKER';
  if (raw === 'SANDBOX' || raw === 'DATABASE') {
    errors.add(path, `${raw} services are not supported by Pier: use WEB (serves requests) or WORKER (runs in the background)`);
  } else {
    errors.add(path, `must be WEB or WORKER, got ${quote(raw)}`);
  }
  return 'WEB';
}

function normalizeStrategy(errors: FieldErrors, raw: unknown, path: string): StrategyType {
  if (absent(raw)) return DEFAULT_STRATEGY;
  if (!isObject(raw)) {
    errors.add(path, 'must be an object such as {type: "DEPLOYMENT_STRATEGY_TYPE_ROLLING"}');
    return DEFAULT_STRATEGY;
  }
  rejectUnknown(errors, raw, ['type'], path);
  const t = raw.type;
  if (absent(t) || t === 'DEPLOYMENT_STRATEGY_TYPE_DEFAULT' || t === 'DEPLOYMENT_STRATEGY_TYPE_INVALID') return DEFAULT_STRATEGY;
  const supported = STRATEGY_TYPES.filter((s) => s.endsWith('ROLLING') || s.endsWith('BLUE_GREEN') || s.endsWith('IMMEDIATE'));
  if (t === 'DEPLOYMENT_STRATEGY_TYPE_CANARY') {
    errors.add(`${path}.type`, `canary deployments are not supported by Pier: use ${supported.join(', ')}`);
  } else if (!supported.includes(t as StrategyType)) {
    errors.add(`${path}.type`, `must be one of ${supported.join(', ')}, got ${quote(t)}`);
  } else return t as StrategyType;
  return DEFAULT_STRATEGY;
}

function normalizeMesh(errors: FieldErrors, raw: unknown, path: string): DeploymentMesh {
  if (absent(raw)) return 'DEPLOYMENT_MESH_AUTO';
  if (!MESH_TYPES.includes(raw as DeploymentMesh)) {
    errors.add(path, `must be one of ${MESH_TYPES.join(', ')}, got ${quote(raw)}`);
    return 'DEPLOYMENT_MESH_AUTO';
  }
  return raw as DeploymentMesh;
}

/** The service type a definition describes: WORKER when it says so, WEB otherwise. */
export function serviceTypeOf(def: DeploymentDefinition): ServiceType {
  return def.type === 'WORKER' ? 'WORKER' : 'WEB';
}

/** True for a web service that no route exposes: reachable only over the app's private mesh. */
export function isPrivateService(def: DeploymentDefinition): boolean {
  return serviceTypeOf(def) === 'WEB' && (def.routes ?? []).length === 0;
}

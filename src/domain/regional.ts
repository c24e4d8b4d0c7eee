// A definition seen from one region: scopes flattened away, so a regional deployment carries exactly the scaling,
// instance type and env that apply there.
import { DEFAULT_INSTANCE_TYPE } from './catalog.ts';
import { appliesIn, pickForRegion } from './scopes.ts';
import type {
  DeploymentDefinition, DeploymentScalingTarget, ManualServiceScaling, RegionalDeploymentDefinition,
} from './types.ts';

/** The scaling rule that applies in `region`: scoped beats unscoped; `{min: 1, max: 1}` if none does. */
export function scalingFor(def: DeploymentDefinition, region: string): { min: number; max: number; targets?: DeploymentScalingTarget[] } {
  const s = pickForRegion(def.scalings ?? [], region);
  if (!s) return { min: 1, max: 1 };
  return s.targets?.length ? { min: s.min, max: s.max, targets: s.targets } : { min: s.min, max: s.max };
}

/** The instance type that applies in `region`: scoped beats unscoped; the default type if none does. */
export function instanceTypeFor(def: DeploymentDefinition, region: string): string {
  return pickForRegion(def.instance_types ?? [], region)?.type ?? DEFAULT_INSTANCE_TYPE;
}

/** Env entries that apply in `region`, without scopes: a scoped entry overrides an unscoped one of the same key. */
export function envFor(def: DeploymentDefinition, region: string): { key: string; value?: string; secret?: string }[] {
  const byKey = new Map<string, { key: string; value?: string; secret?: string }>();
  const entries = (def.env ?? []).filter((e) => appliesIn(e.scopes, region));
  // Unscoped first, then scoped, so the more specific entry wins; among equals the later one wins.
  for (const e of [...entries.filter((x) => !x.scopes?.length), ...entries.filter((x) => x.scopes?.length)]) {
    byKey.set(e.key, e.secret !== undefined ? { key: e.key, secret: e.secret } : { key: e.key, value: e.value ?? '' });
  }
  return [...byKey.values()];
}

/** The flattened definition a regional deployment of `serviceName` in `region` runs. */
export function regionalDefinition(def: DeploymentDefinition, region: string, serviceName: string): RegionalDeploymentDefinition {
  const out: RegionalDeploymentDefinition = {
    name: serviceName,
    type: def.type === 'WORKER' ? 'WORKER' : 'WEB',
    strategy: { type: def.strategy?.type ?? 'DEPLOYMENT_STRATEGY_TYPE_ROLLING' },
    routes: (def.routes ?? []).map((r) => structuredClone(r)),
    ports: (def.ports ?? []).map((p) => ({ ...p })),
    env: envFor(def, region),
    region,
    scaling: structuredClone(scalingFor(def, region)),
    instance_type: instanceTypeFor(def, region),
    health_checks: (def.health_checks ?? []).map((h) => structuredClone(h)),
    volumes: (def.volumes ?? []).filter((v) => appliesIn(v.scopes, region)).map(({ scopes: _s, ...v }) => v),
    config_files: (def.config_files ?? []).map((f) => ({ ...f })),
    skip_cache: def.skip_cache ?? false,
    mesh: (def.mesh ?? 'DEPLOYMENT_MESH_AUTO').replace(/^DEPLOYMENT_MESH_/, 'REGIONAL_DEPLOYMENT_MESH_'),
  };
  if (def.network_policy) out.network_policy = structuredClone(def.network_policy);
  if (def.docker) out.docker = structuredClone(def.docker);
  if (def.git) out.git = structuredClone(def.git);
  if (def.archive) out.archive = structuredClone(def.archive);
  return out;
}

/**
 * How many instances `region` should run: the definition's min and max, and the manual override
 * (PUT /v1/services/{id}/scale) that applies there, if any: scoped beats unscoped.
 */
export function desiredInstances(
  def: DeploymentDefinition, region: string, manual?: readonly ManualServiceScaling[],
): { min: number; max: number; manual?: number } {
  const { min, max } = scalingFor(def, region);
  const override = manual ? pickForRegion(manual, region) : undefined;
  return override ? { min, max, manual: Math.max(0, Math.trunc(override.instances)) } : { min, max };
}

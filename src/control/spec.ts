// Turns an instance row and its regional definition into the runtime's InstanceSpec: image and argv overrides,
// env with secrets resolved (values only ever travel in env), ports, limits from the instance type, labels,
// and the app's private network with the mesh aliases `<service>` and `<service>.<app>.internal`.
import { instanceResources } from '../domain/catalog.ts';
import { resolveEnv } from '../domain/interpolate.ts';
import type { App, Deployment, Instance, RegionalDeploymentDefinition, Service } from '../domain/types.ts';
import type { InstanceSpec } from '../runtime/contract.ts';

/** Name of the private network of an app. */
export function appNetworkName(appId: string): string { return `pier-app-${appId}`; }

/** Everything a spec is built from. */
export interface SpecInput {
  instance: Instance;
  def: RegionalDeploymentDefinition;
  deployment: Deployment;
  service: Service;
  app: App;
  secrets: Record<string, string>;
  publicDomain: string;
  allowPrivileged: boolean;
  /** Credentials of the definition's registry secret (image-resolve.ts registryAuthFor), for pulls only. */
  registryAuth?: InstanceSpec['registryAuth'];
  /** The volumes this instance mounts, already mounted on the host (reconcile-volumes.ts mountsFor). */
  volumes?: InstanceSpec['volumes'];
  /** vCPUs an instance may use while it starts when its type has fewer (PIER_STARTUP_CPU_BOOST; 0 or absent: none). */
  startupCpuBoost?: number;
}

/** The spec, plus the secret values it carries (for log redaction); throws with a readable reason when it cannot be built. */
export function buildInstanceSpec(i: SpecInput): { spec: InstanceSpec; secretValues: string[] } {
  const { def, instance, service, app } = i;
  const built = i.deployment.provisioning_info?.image || def.docker?.image;
  if (!built) throw new Error('no image to run: git and archive sources are not built yet');
  // A buildpack build for the process runtime yields `dir:<path>`: a prepared directory started by its launcher.
  const appDir = built.startsWith('dir:') ? built.slice('dir:'.length) : undefined;
  const image = appDir ? undefined : built;
  const resources = instanceResources(def.instance_type);
  if (!resources) throw new Error(`unknown instance type "${def.instance_type}"`);
  const system: Record<string, string> = {
    KOYEB_APP_NAME: app.name, KOYEB_APP_ID: app.id, KOYEB_SERVICE_NAME: service.name, KOYEB_SERVICE_ID: service.id,
    KOYEB_DEPLOYMENT_ID: i.deployment.id, KOYEB_INSTANCE_ID: instance.id, KOYEB_INSTANCE_REGION: instance.region,
    KOYEB_REGION: instance.region, KOYEB_PUBLIC_DOMAIN: i.publicDomain, KOYEB_INSTANCE_TYPE: def.instance_type,
  };
  const resolved = resolveEnv(def.env ?? [], { secrets: i.secrets, env: {}, system });
  if (resolved.errors.length) throw new Error(resolved.errors.map((e) => `${e.field}: ${e.description}`).join('; '));
  const env: Record<string, string> = { ...system };
  if (def.ports?.length) env.PORT = String(def.ports[0].port);
  Object.assign(env, resolved.env);
  const secretNames = new Set((def.env ?? []).filter((e) => e.secret).map((e) => e.key));
  const secretValues = [...Object.values(i.secrets), ...[...secretNames].map((k) => env[k]).filter(Boolean)];

  // Entrypoint/command/args overrides come from the image source, or from the Dockerfile builder of a git/archive source.
  const d = def.docker ?? def.git?.docker ?? def.archive?.docker;
  const command = d?.command ? [d.command, ...(d.args ?? [])] : d?.args?.length ? [...d.args] : undefined;
  const spec: InstanceSpec = {
    instanceId: instance.id,
    labels: {
      instance_id: instance.id, organization_id: instance.organization_id, app_id: app.id, service_id: service.id,
      deployment_id: i.deployment.id, regional_deployment_id: instance.regional_deployment_id,
      region: instance.region, replica_index: String(instance.replica_index),
    },
    image,
    appDir,
    entrypoint: d?.entrypoint?.length ? [...d.entrypoint] : appDir ? ['/bin/sh', '/app/.pier/run'] : undefined,
    command,
    env,
    ports: (def.ports ?? []).map((p) => p.port),
    cpu: resources.cpu,
    memoryBytes: resources.memoryBytes,
    diskBytes: resources.diskBytes,
    privileged: i.allowPrivileged && d?.privileged === true ? true : undefined,
  };
  if (i.volumes?.length) spec.volumes = i.volumes.map((v) => ({ ...v }));
  // Deep sleep keeps the stopped workload of a service that scales to zero (reconcile-scaling.ts), unless it mounts
  // volumes: the runtime may prepare for that stop-and-resume.
  else if (def.scaling?.min === 0) spec.resumable = true;
  // A startup boost: a small instance starts on more CPU, its own limit from its first passing health check on.
  if (i.startupCpuBoost && resources.cpu > 0 && i.startupCpuBoost > resources.cpu) spec.startupCpu = i.startupCpuBoost;
  // More instances may come (a scale-up): the runtime may keep a part of the next one ready.
  if (def.scaling && def.scaling.max > def.scaling.min) {
    spec.scalesOut = true;
    spec.scaleMax = def.scaling.max;
  }
  // Registry credentials reach the runtime's pull only: never labels, env or logs (the password is redacted too).
  if (i.registryAuth && image) {
    spec.registryAuth = { ...i.registryAuth };
    if (i.registryAuth.password) secretValues.push(i.registryAuth.password);
  }
  if (def.mesh !== 'DEPLOYMENT_MESH_DISABLED' && def.mesh !== 'REGIONAL_DEPLOYMENT_MESH_DISABLED') {
    spec.network = appNetworkName(app.id);
    spec.networkAliases = [service.name, `${service.name}.${app.name}.internal`];
  }
  return { spec, secretValues: [...new Set(secretValues)] };
}

/** What a build of a deployment sees: its env at build time (secrets resolved), and what may become image build args. */
export interface BuildEnvironment {
  /** The deployment's env with secrets and interpolations resolved, system variables and PORT: for build commands. */
  env: Record<string, string>;
  /** The subset carrying no secret (Docker records build args in the image's history, so secrets never go there). */
  buildArgs: Record<string, string>;
  /** Every secret value of the organization: redacted from build logs. */
  secretValues: string[];
}

/**
 * Env vars are exposed at build and at run time (reference §8.10). Build commands (buildpack steps on the host) get
 * the whole env; Dockerfile builds get only what carries no secret, as build args. Throws with a readable reason when
 * an env var cannot be resolved (the build fails with it).
 */
export function buildEnvironment(i: { deployment: Deployment; app: App; service: Service; secrets: Record<string, string>; publicDomain: string }): BuildEnvironment {
  const def = i.deployment.definition;
  const system: Record<string, string> = {
    KOYEB_APP_NAME: i.app.name, KOYEB_APP_ID: i.app.id, KOYEB_SERVICE_NAME: i.service.name, KOYEB_SERVICE_ID: i.service.id,
    KOYEB_DEPLOYMENT_ID: i.deployment.id, KOYEB_PUBLIC_DOMAIN: i.publicDomain,
  };
  const resolved = resolveEnv(def.env ?? [], { secrets: i.secrets, env: {}, system });
  if (resolved.errors.length) throw new Error(resolved.errors.map((e) => `${e.field}: ${e.description}`).join('; '));
  const env: Record<string, string> = { ...system };
  if (def.ports?.length) env.PORT = String(def.ports[0].port);
  Object.assign(env, resolved.env);
  const secretValues = [...new Set(Object.values(i.secrets).filter((v) => v.length > 0))];
  const buildArgs: Record<string, string> = {};
  for (const e of def.env ?? []) {
    const v = resolved.env[e.key];
    if (e.secret || v === undefined || secretValues.some((s) => s.length >= 4 && v.includes(s))) continue;
    buildArgs[e.key] = v;
  }
  return { env, buildArgs, secretValues };
}

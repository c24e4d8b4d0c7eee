// Images of docker sources at deploy time: the registry secret a definition names becomes engine credentials, and
// the tag is resolved to the digest the registry serves now, recorded on the deployment (provisioning_info.image) so
// the deployment (and a rollback to it) runs exactly that image. Failures become sentences a person can act on.
import type { Deployment } from '../domain/types.ts';
import type { InstanceSpec, Runtime } from '../runtime/contract.ts';
import type { ControlState, RegistrySecret } from './ports.ts';

/** Credentials as the engine takes them (X-Registry-Auth); they travel only in spec.registryAuth, never logs. */
export type RegistryAuth = NonNullable<InstanceSpec['registryAuth']>;

/** A runtime that can pin an image reference to a digest (the docker driver does; others run what they are given). */
export interface ImageResolver {
  resolveImage(image: string, auth?: RegistryAuth, signal?: AbortSignal): Promise<string>;
}

/** The runtime's image resolver, when it has one. */
export function imageResolverOf(runtime: Runtime): ImageResolver | undefined {
  const resolve = runtime.resolveImage;
  return resolve ? { resolveImage: resolve.bind(runtime) } : undefined;
}

/** The host of the registry holding an image (`docker.io` when the reference names none). */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  const first = slash < 0 ? '' : image.slice(0, slash);
  return first && (first.includes('.') || first.includes(':') || first === 'localhost') ? first : 'docker.io';
}

/** Well-known servers of the registry secret types whose configuration has no url. */
const SERVERS: Record<string, string> = {
  docker_hub_registry: 'https://index.docker.io/v1/',
  github_registry: 'ghcr.io',
  gitlab_registry: 'registry.gitlab.com',
  digital_ocean_registry: 'registry.digitalocean.com',
};

/** Engine credentials from a registry secret's configuration (GCP keyfiles log in as `_json_key`). */
export function registryAuthOf(secret: RegistrySecret, image: string): RegistryAuth {
  const c = secret.config;
  if (secret.key === 'gcp_container_registry') {
    return { username: '_json_key', password: c.keyfile_content ?? '', serveraddress: c.url || registryOf(image) };
  }
  const server = c.url || (secret.key === 'azure_container_registry' && c.registry_name ? `${c.registry_name}.azurecr.io` : SERVERS[secret.key]) || registryOf(image);
  return { username: c.username ?? '', password: c.password ?? '', serveraddress: server };
}

/** The credentials of a definition's `docker.image_registry_secret`; throws naming the secret when it does not exist. */
export async function registryAuthFor(state: ControlState, organizationId: string, docker: { image: string; image_registry_secret?: string } | undefined): Promise<RegistryAuth | undefined> {
  const name = docker?.image_registry_secret;
  if (!docker || !name) return undefined;
  const secret = await state.registrySecret?.(organizationId, name);
  if (!secret) throw new Error(`registry secret "${name}" not found: create it (type REGISTRY) or fix docker.image_registry_secret`);
  return registryAuthOf(secret, docker.image);
}

/** A pull failure as the docker driver reports it (structural: the control plane does not import drivers). */
interface PullFailure { kind?: string; registry?: string; detail?: string; message: string }

/** The sentence a person reads when the image of a deployment cannot be pulled. */
export function pullFailureMessage(err: unknown, image: string, secretName: string | undefined): string {
  const e = (err ?? {}) as PullFailure;
  const registry = e.registry ?? registryOf(image);
  // The engine's own words, so an unexpected classification can be told from the message alone.
  const said = e.detail ? ` (the engine said: ${e.detail})` : '';
  switch (e.kind) {
    case 'image_not_found':
      return `image ${image} not found in registry ${registry}${said}`;
    case 'registry_unauthorized':
      return secretName
        ? `registry ${registry} refused the credentials of secret "${secretName}" for image ${image}${said}`
        : `registry ${registry} requires credentials for image ${image}: set docker.image_registry_secret to a registry secret${said}`;
    case 'registry_unreachable':
      return `registry ${registry} is unreachable while pulling image ${image}: ${e.detail ?? e.message}`;
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/**
 * The image a docker-source deployment will run: a rollback reuses the digest its source deployment recorded, any
 * other deployment resolves its tag now. Throws an Error whose message is meant for the deployment's messages.
 */
export async function resolveDeploymentImage(ctx: { state: ControlState; runtime: Runtime }, d: Deployment, signal?: AbortSignal): Promise<string> {
  const docker = d.definition.docker;
  if (!docker?.image) throw new Error('the deployment has no docker image');
  const auth = await registryAuthFor(ctx.state, d.organization_id, docker);
  const resolver = imageResolverOf(ctx.runtime);
  if (!resolver) return docker.image;
  let image = docker.image;
  const source = (d.metadata as { pier?: { action?: string; source_deployment_id?: string } } | undefined)?.pier;
  if (source?.action === 'rollback' && source.source_deployment_id) {
    const from = await ctx.state.getDeployment(source.source_deployment_id);
    const recorded = from?.provisioning_info?.image ?? '';
    if (recorded.includes('@sha256:') && from?.definition.docker?.image === docker.image) image = recorded;
  }
  try {
    return await resolver.resolveImage(image, auth, signal);
  } catch (err) {
    throw new Error(pullFailureMessage(err, image, docker.image_registry_secret));
  }
}

// What a definition points at outside itself, checked when a service is created or updated, so a deployment never
// fails at start for something the API could have refused: secrets that do not exist, another organization's (or an
// unuploaded) archive, a repository on this host's disk, a route prefix another service of the app already serves,
// a volume that is missing, in another region or another service's (actions/volumes.ts).
// The checks read the store, so they live here rather than in the pure definition validator (src/domain).
import { join } from 'node:path';
import { PierError, notFound, validationError } from '../domain/errors.ts';
import { gitRepositoryAllowed } from '../domain/git-source.ts';
import { referencedNames } from '../domain/interpolate.ts';
import { routeClashes, type SiblingService } from '../domain/route-clash.ts';
import type { DeploymentDefinition, FieldError } from '../domain/types.ts';
import { getArchive } from '../store/archives.ts';
import type { Db } from '../store/db.ts';
import { getDeployment } from '../store/deployments.ts';
import { secretTypes } from '../store/secrets.ts';
import { listServices, liveServiceIds } from '../store/services.ts';
import type { ActionContext } from './common.ts';
import { volumeReferenceErrors } from './volumes.ts';

/**
 * Where the definition is going: its app, the service it updates (absent at create), and whether the caller may name
 * a repository on the host's disk (`await ctx.allowLocalGit?.()`, resolved before the transaction: it reads the store).
 */
export interface DefinitionTarget { appId: string; serviceId?: string; allowLocalGit: boolean }

/**
 * Field errors for every secret the definition names that the organization does not hold (or holds with the wrong
 * type): env `secret` refs and `{{ secret.NAME }}` in env values need a SIMPLE secret, `docker.image_registry_secret`
 * a REGISTRY one. Exported for tests.
 */
export function secretReferenceErrors(def: DeploymentDefinition, secrets: ReadonlyMap<string, string>, path = 'definition'): FieldError[] {
  const out: FieldError[] = [];
  const fix = (name: string, type: string) => `create a ${type} secret named "${name}" first (POST /v1/secrets) or fix the name`;
  const simple = (name: string, field: string, shown: string) => {
    const type = secrets.get(name);
    if (type === undefined) out.push({ field, description: `${shown} does not exist: ${fix(name, 'SIMPLE')}` });
    else if (type !== 'SIMPLE') out.push({ field, description: `${shown} is a ${type} secret: an environment variable needs a SIMPLE secret` });
  };
  (def.env ?? []).forEach((e, i) => {
    if (e.secret !== undefined) simple(e.secret, `${path}.env[${i}].secret`, `secret "${e.secret}"`);
    for (const ref of referencedNames(e.value ?? '')) {
      if (ref.startsWith('secret.')) simple(ref.slice('secret.'.length), `${path}.env[${i}].value`, `{{ ${ref} }} refers to a secret that`);
    }
  });
  const registry = def.docker?.image_registry_secret;
  if (registry !== undefined) {
    const type = secrets.get(registry);
    const field = `${path}.docker.image_registry_secret`;
    if (type === undefined) out.push({ field, description: `secret "${registry}" does not exist: ${fix(registry, 'REGISTRY')}` });
    else if (type !== 'REGISTRY') out.push({ field, description: `secret "${registry}" is a ${type} secret: image pulls need a REGISTRY secret` });
  }
  return out;
}

/** The bare repositories of the organization's own Pier git remote (`<data-dir>/git/<service id>.git`). */
async function ownRepositories(ctx: ActionContext, db: Db): Promise<string[]> {
  return (await liveServiceIds(db, ctx.organizationId)).map((id) => join(ctx.store.dataDir, 'git', `${id}.git`));
}

/** A 400 naming `definition.git.repository` when the caller may not build from that repository. */
async function gitErrors(ctx: ActionContext, db: Db, def: DeploymentDefinition, allowLocal: boolean, path: string): Promise<FieldError[]> {
  const repository = def.git?.repository;
  if (repository === undefined) return [];
  const verdict = gitRepositoryAllowed(repository, { allowLocal, ownRepositories: allowLocal ? [] : await ownRepositories(ctx, db) });
  if (verdict.allowed) return [];
  return [{ field: `${path}.git.repository`, description: verdict.reason }];
}

/** The archive must be one this organization uploaded: another organization's id is a 404, as for any object. */
async function archiveErrors(ctx: ActionContext, db: Db, def: DeploymentDefinition, path: string): Promise<FieldError[]> {
  const id = def.archive?.id;
  if (id === undefined) return [];
  const row = await getArchive(db, id);
  if (!row || row.organization_id !== ctx.organizationId) throw notFound('archive', id);
  if (!row.uploaded_at) {
    return [{ field: `${path}.archive.id`, description: `archive ${id} has not been uploaded yet: PUT the tar.gz to its upload_url first` }];
  }
  return [];
}

/** The app's other live services with the definition each runs or is about to run (its latest deployment). */
async function siblings(db: Db, target: DefinitionTarget): Promise<SiblingService[]> {
  // No app yet (a dry run before `apps init` creates it): no siblings, and never a list across every app.
  if (!target.appId) return [];
  const { items } = await listServices(db, { appId: target.appId, excludeDeleted: true });
  const out: SiblingService[] = [];
  for (const s of items) {
    if (s.id === target.serviceId || s.status === 'DELETING' || !s.latest_deployment_id) continue;
    const d = await getDeployment(db, s.latest_deployment_id);
    if (d) out.push({ name: s.name, definition: d.definition });
  }
  return out;
}

/**
 * Checks everything a definition refers to. Throws 404 for another organization's archive, 400 listing every bad
 * reference (secrets, git repository, archive not uploaded), then 409 `already_exists` when a route prefix is taken
 * by another service of the app. Run it in the transaction that writes the deployment, so no concurrent write slips
 * between the check and the write.
 */
export async function checkReferences(
  ctx: ActionContext, db: Db, def: DeploymentDefinition, target: DefinitionTarget, path = 'definition',
): Promise<void> {
  const errors = [
    ...secretReferenceErrors(def, await secretTypes(db, ctx.organizationId), path),
    ...await gitErrors(ctx, db, def, target.allowLocalGit, path),
    ...await archiveErrors(ctx, db, def, path),
    ...await volumeReferenceErrors(ctx, db, def, target.serviceId, path),
  ];
  if (errors.length) throw validationError(errors);
  const clashes = routeClashes(def, await siblings(db, target), path);
  if (clashes.length) {
    throw new PierError('already_exists', `Route already taken: ${clashes.map((c) => `${c.field}: ${c.description}`).join('; ')}`, clashes);
  }
}

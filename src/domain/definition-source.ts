// The source of a definition: a Docker image, a git repository or an uploaded archive (exactly one), and for git
// and archive sources the builder that turns them into an image (buildpack by default, or a Dockerfile).
import {
  FieldErrors, absent, compact, readBool, readObject, readString, readStringList, rejectNul, rejectUnknown, quote,
} from './fields.ts';
import { gitRefProblem, parseRepository } from './git-source.ts';
import { parseImageReference } from './image-ref.ts';
import { validateSecretName } from './names.ts';
import type { ArchiveSource, BuildpackBuilder, DockerBuilder, DockerSource, GitSource } from './types.ts';

/** The normalised source part of a definition: exactly one field is set when there are no errors. */
export interface SourcePart { docker?: DockerSource; git?: GitSource; archive?: ArchiveSource }

const SOURCES = ['docker', 'git', 'archive', 'database'] as const;

/** Validates the source fields of a definition and defaults the builder. */
export function normalizeSource(errors: FieldErrors, raw: Record<string, unknown>, path: string): SourcePart {
  const given = SOURCES.filter((k) => !absent(raw[k]));
  if (given.includes('database')) {
    errors.add(`${path}.database`, 'database services are not supported by Pier: run a database image with the docker source instead');
  }
  if (given.length === 0) {
    errors.add(path, 'needs a source: set exactly one of docker (an image), git (a repository) or archive (an uploaded archive)');
    return {};
  }
  if (given.length > 1) {
    errors.add(path, `has ${given.length} sources (${given.join(', ')}): keep exactly one of docker, git or archive`);
  }
  const out: SourcePart = {};
  if (!absent(raw.docker)) out.docker = normalizeDocker(errors, raw.docker, `${path}.docker`);
  if (!absent(raw.git)) out.git = normalizeGit(errors, raw.git, `${path}.git`);
  if (!absent(raw.archive)) out.archive = normalizeArchive(errors, raw.archive, `${path}.archive`);
  return compact(out);
}

function normalizeDocker(errors: FieldErrors, raw: unknown, path: string): DockerSource | undefined {
  const obj = readObject(errors, raw, path);
  if (!obj) return undefined;
  rejectUnknown(errors, obj, ['image', 'command', 'args', 'entrypoint', 'image_registry_secret', 'privileged'], path);
  const image = readString(errors, obj.image, `${path}.image`);
  if (image === undefined) {
    if (absent(obj.image)) errors.add(`${path}.image`, 'is required: the image to run, e.g. "nginx:1.27" or "ghcr.io/org/app:v1"');
  } else {
    const parsed = parseImageReference(image);
    if (typeof parsed === 'string') errors.add(`${path}.image`, parsed);
  }
  const secret = readString(errors, obj.image_registry_secret, `${path}.image_registry_secret`);
  if (secret !== undefined) {
    const why = validateSecretName(secret);
    if (why) errors.add(`${path}.image_registry_secret`, why);
  }
  const command = readString(errors, obj.command, `${path}.command`) || undefined;
  const args = nonEmpty(readStringList(errors, obj.args, `${path}.args`));
  const entrypoint = nonEmpty(readStringList(errors, obj.entrypoint, `${path}.entrypoint`));
  rejectArgvNul(errors, path, { command, args, entrypoint });
  return compact({
    image: image ?? '',
    command,
    args,
    entrypoint,
    image_registry_secret: secret || undefined,
    privileged: readBool(errors, obj.privileged, `${path}.privileged`) || undefined,
  });
}

/** Commands become argv entries of the instance's process: a NUL there fails at start, so it is refused now. */
function rejectArgvNul(errors: FieldErrors, path: string, parts: Record<string, string | string[] | undefined>): void {
  for (const [key, v] of Object.entries(parts)) rejectNul(errors, v, `${path}.${key}`, 'a process argument');
}

function nonEmpty(list: string[] | undefined): string[] | undefined {
  return list && list.length ? list : undefined;
}

/** True for a relative path that stays inside the build context (no leading "/", no ".." segment). */
function isContextPath(p: string): boolean {
  return p !== '' && !p.startsWith('/') && !p.split('/').includes('..') && !/[\0\n]/.test(p);
}

function normalizeGit(errors: FieldErrors, raw: unknown, path: string): GitSource | undefined {
  const obj = readObject(errors, raw, path);
  if (!obj) return undefined;
  rejectUnknown(errors, obj, [
    'repository', 'branch', 'tag', 'sha', 'build_command', 'run_command', 'no_deploy_on_push', 'workdir', 'buildpack', 'docker',
  ], path);
  const repository = readString(errors, obj.repository, `${path}.repository`);
  if (repository !== undefined || absent(obj.repository)) {
    // Syntax only: whether this tenant may use a local repository is gitRepositoryAllowed's call (it needs settings).
    const parsed = parseRepository(repository ?? '');
    if (typeof parsed === 'string') errors.add(`${path}.repository`, parsed);
  }
  let branch = readString(errors, obj.branch, `${path}.branch`) || undefined;
  const tag = readString(errors, obj.tag, `${path}.tag`) || undefined;
  let sha = readString(errors, obj.sha, `${path}.sha`) || undefined;
  for (const [key, value] of [['branch', branch], ['tag', tag]] as const) {
    const why = value === undefined ? null : gitRefProblem(value);
    if (why) errors.add(`${path}.${key}`, why);
  }
  // A sha may pin a commit of the tracked branch (what a git-triggered deployment records); a tag is its own pin.
  if (branch && tag) errors.add(path, 'sets both branch and tag: keep one (branch to track new commits, tag to build a release)');
  if (tag && sha) errors.add(path, 'sets both tag and sha: keep one of them to pin the commit');
  if (sha !== undefined) {
    if (!/^[0-9a-fA-F]{7,40}$/.test(sha)) errors.add(`${path}.sha`, `must be a commit hash of 7 to 40 hex digits, got ${quote(sha)}`);
    sha = sha.toLowerCase();
  }
  if (!branch && !tag && !sha) branch = 'main';
  const workdir = readString(errors, obj.workdir, `${path}.workdir`) || undefined;
  if (workdir !== undefined && !isContextPath(workdir)) {
    errors.add(`${path}.workdir`, `must be a relative path inside the repository (no leading "/" or ".."), got ${quote(workdir)}`);
  }
  const builders = normalizeBuilders(errors, obj, path, {
    build_command: readString(errors, obj.build_command, `${path}.build_command`) || undefined,
    run_command: readString(errors, obj.run_command, `${path}.run_command`) || undefined,
  });
  return compact({
    repository: repository ?? '',
    branch,
    tag,
    sha,
    no_deploy_on_push: readBool(errors, obj.no_deploy_on_push, `${path}.no_deploy_on_push`) || undefined,
    workdir: workdir?.replace(/\/+$/, '') || undefined,
    ...builders,
  });
}

function normalizeArchive(errors: FieldErrors, raw: unknown, path: string): ArchiveSource | undefined {
  const obj = readObject(errors, raw, path);
  if (!obj) return undefined;
  rejectUnknown(errors, obj, ['id', 'buildpack', 'docker'], path);
  const id = readString(errors, obj.id, `${path}.id`);
  if (!id) errors.add(`${path}.id`, 'is required: the id of an uploaded archive (POST /v1/archives)');
  return compact({ id: id ?? '', ...normalizeBuilders(errors, obj, path, {}) });
}

/** At most one builder; buildpack by default. Legacy git.build_command/run_command fold into buildpack. */
function normalizeBuilders(
  errors: FieldErrors, obj: Record<string, unknown>, path: string,
  legacy: { build_command?: string; run_command?: string },
): { buildpack?: BuildpackBuilder; docker?: DockerBuilder } {
  const hasLegacy = legacy.build_command !== undefined || legacy.run_command !== undefined;
  if (!absent(obj.buildpack) && !absent(obj.docker)) {
    errors.add(path, 'sets both buildpack and docker builders: keep one (buildpack, the default, or docker for a Dockerfile)');
    return {};
  }
  if (!absent(obj.docker)) {
    if (hasLegacy) {
      errors.add(path, 'build_command and run_command belong to the buildpack builder: with the docker builder use docker.command and docker.args');
    }
    return { docker: normalizeDockerBuilder(errors, obj.docker, `${path}.docker`) };
  }
  const bp = readObject(errors, obj.buildpack, `${path}.buildpack`) ?? {};
  rejectUnknown(errors, bp, ['build_command', 'run_command', 'privileged'], `${path}.buildpack`);
  const out: BuildpackBuilder = {};
  for (const key of ['build_command', 'run_command'] as const) {
    const v = readString(errors, bp[key], `${path}.buildpack.${key}`) || undefined;
    if (v !== undefined && legacy[key] !== undefined && v !== legacy[key]) {
      errors.add(`${path}.${key}`, `conflicts with buildpack.${key}: remove the deprecated ${key} and keep buildpack.${key}`);
    }
    out[key] = v ?? legacy[key];
    rejectNul(errors, out[key], v !== undefined ? `${path}.buildpack.${key}` : `${path}.${key}`, 'a shell command');
  }
  out.privileged = readBool(errors, bp.privileged, `${path}.buildpack.privileged`) || undefined;
  return { buildpack: compact(out) };
}

function normalizeDockerBuilder(errors: FieldErrors, raw: unknown, path: string): DockerBuilder | undefined {
  const obj = readObject(errors, raw, path);
  if (!obj) return undefined;
  rejectUnknown(errors, obj, ['dockerfile', 'entrypoint', 'command', 'args', 'target', 'privileged'], path);
  const dockerfile = readString(errors, obj.dockerfile, `${path}.dockerfile`) || undefined;
  if (dockerfile !== undefined && !isContextPath(dockerfile)) {
    errors.add(`${path}.dockerfile`, `must be a relative path inside the build context (no leading "/" or ".."), got ${quote(dockerfile)}`);
  }
  const entrypoint = nonEmpty(readStringList(errors, obj.entrypoint, `${path}.entrypoint`));
  const command = readString(errors, obj.command, `${path}.command`) || undefined;
  const args = nonEmpty(readStringList(errors, obj.args, `${path}.args`));
  rejectArgvNul(errors, path, { entrypoint, command, args });
  return compact({
    dockerfile,
    entrypoint,
    command,
    args,
    target: readString(errors, obj.target, `${path}.target`) || undefined,
    privileged: readBool(errors, obj.privileged, `${path}.privileged`) || undefined,
  });
}

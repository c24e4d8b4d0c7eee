// Pure helpers of image pulls: which registry an image reference names, which RepoDigest pins it, and what kind of
// failure an engine pull message describes (so the control plane can say "not found" / "refused" / "unreachable").
import { RuntimeError } from '../errors.ts';

/** Why a pull failed, as a person needs to know it. */
export type PullFailureKind = 'image_not_found' | 'registry_unauthorized' | 'registry_unreachable' | 'pull_failed';

/** A pull that failed, with its kind and the registry asked; the message is the engine's (it never holds credentials). */
export class ImagePullError extends RuntimeError {
  readonly kind: PullFailureKind;
  readonly registry: string;
  readonly image: string;
  /** The engine's own words, without the "pulling image X failed" prefix. */
  readonly detail: string;
  constructor(kind: PullFailureKind, image: string, registry: string, detail: string) {
    super('unavailable', `pulling image ${image} failed: ${detail}`);
    this.detail = detail;
    this.name = 'ImagePullError';
    this.kind = kind;
    this.image = image;
    this.registry = registry;
  }
}

/** The registry host of an image reference (`docker.io` when the first component is not a host). */
export function registryHost(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = image.slice(0, slash);
  // Docker's rule: the first component is a registry when it has a dot or a port, or is `localhost`.
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : 'docker.io';
}

/** The repository of a reference without tag or digest, in Docker's normalised form (`docker.io/library/x`). */
export function normalisedRepo(image: string): string {
  let repo = image;
  const at = repo.indexOf('@');
  if (at >= 0) repo = repo.slice(0, at);
  const colon = repo.lastIndexOf(':');
  if (colon > repo.lastIndexOf('/')) repo = repo.slice(0, colon);
  const host = registryHost(repo);
  let path = host === 'docker.io' && !repo.startsWith('docker.io/') ? repo : repo.slice(host.length + 1);
  if (host === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  return `${host}/${path}`;
}

/** True when the reference is already pinned to a digest. */
export function isDigestRef(image: string): boolean {
  return /@sha256:[0-9a-f]{64}$/.test(image);
}

/** The RepoDigest (`<repo>@sha256:…`) of `image`'s own repository among an inspected image's RepoDigests. */
export function repoDigestFor(image: string, repoDigests: readonly string[] | null | undefined): string | undefined {
  const want = normalisedRepo(image);
  return (repoDigests ?? []).find((d) => d.includes('@') && normalisedRepo(d) === want);
}

/** Sorts an engine pull failure message into a kind. */
export function classifyPullMessage(message: string): PullFailureKind {
  const m = message.toLowerCase();
  if (/no basic auth credentials|unauthorized|authentication required|incorrect username or password|denied: access forbidden|\b401 unauthorized|status(?: code)?:? 401\b/.test(m)) {
    return 'registry_unauthorized';
  }
  if (/manifest unknown|not found|repository does not exist|name unknown|pull access denied/.test(m)) return 'image_not_found';
  if (/connection refused|no such host|i\/o timeout|dial tcp|tls handshake|network is unreachable|no route to host|timeout exceeded|server gave http response|eof/.test(m)) {
    return 'registry_unreachable';
  }
  return 'pull_failed';
}

// Docker image reference syntax (the grammar of distribution/reference): [registry[:port]/]path[:tag][@digest].
// Only syntax is checked here; whether the image exists is for the builder/runtime to find out.

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|-+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(
  `^(?:(${DOMAIN})/)?(${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);

/** The parts of an image reference. */
export interface ImageReference { domain?: string; path: string; tag?: string; digest?: string }

/** Parses an image reference, or returns why it is not one (a description with an example of the right form). */
export function parseImageReference(ref: string): ImageReference | string {
  const example = 'use the form [registry/]name[:tag][@sha256:digest], e.g. "nginx:1.27" or "ghcr.io/org/app:v1"';
  if (ref.trim() === '') return `is required: ${example}`;
  if (/\s/.test(ref)) return `must not contain spaces: ${example}`;
  if (ref.length > 512) return 'must be at most 512 characters';
  const m = REFERENCE.exec(ref);
  if (!m) {
    const hint = /[A-Z]/.test(ref.split('/').slice(-1)[0]!.split(':')[0]!) ? ' (repository names are lower-case)' : '';
    return `"${ref}" is not a valid image reference${hint}: ${example}`;
  }
  let [, domain, path] = m as unknown as [string, string | undefined, string];
  // A first component without a dot, colon or "localhost" is a path component (docker.io/library is implied).
  if (domain && !/[.:[]/.test(domain) && domain !== 'localhost' && domain === domain.toLowerCase()) {
    path = `${domain}/${path}`;
    domain = undefined;
  } else if (domain && !/[.:[]/.test(domain) && domain !== 'localhost') {
    return `"${ref}" is not a valid image reference (repository names are lower-case): ${example}`;
  }
  if (path.length > 255) return 'repository name must be at most 255 characters';
  const out: ImageReference = { path };
  if (domain) out.domain = domain;
  if (m[3]) out.tag = m[3];
  if (m[4]) out.digest = m[4];
  return out;
}

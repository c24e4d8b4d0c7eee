// Git repositories and ref names as a definition may name them. The API checks them when a service is created or
// updated (the first line); the builder checks again before it runs git (defence in depth). Local repositories
// (paths, file://) reach the host's own disk, so they are for the operator only, except the tenant's own
// Pier git remote (a bare repository Pier keeps for one of the organization's services).
import { quote } from './fields.ts';

/** How a repository is reached: over the network, or from this host's disk. */
export type RepositoryKind = 'remote' | 'local';

/** A repository string understood: its kind, and the URL or path git is given. */
export interface ParsedRepository { kind: RepositoryKind; url: string; /** Remote only: the host git connects to. */ host?: string }

/** Transports a tenant may name. `ext::`, `fd::` and other `<transport>::` forms are never accepted. */
const REMOTE_SCHEMES = ['https', 'http', 'ssh', 'git', 'git+ssh', 'ssh+git'];
/** Hosts whose `host/owner/repo` shorthand means https (as the builder reads it). */
const SHORTHAND_HOSTS = /^(github\.com|gitlab\.com|bitbucket\.org)\//i;
/** A host as git passes it to ssh or a socket: letters, digits, dots, dashes, an IPv6 literal; never a leading dash. */
const HOST = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?)$/;
/** Longest repository string accepted. */
export const MAX_REPOSITORY_LENGTH = 2048;

/**
 * Parses a repository as the builder will fetch it, or says why it cannot be one. Accepted: https/http/ssh/git
 * URLs, `user@host:path` (scp-like ssh), `github.com/owner/repo` shorthand, `file://` URLs and paths (local).
 */
export function parseRepository(repository: string): ParsedRepository | string {
  const r = repository.trim();
  if (r === '') return 'is required: the repository to build, e.g. "github.com/org/repo"';
  if (r.length > MAX_REPOSITORY_LENGTH) return `must be at most ${MAX_REPOSITORY_LENGTH} characters`;
  if (/[\s\x00-\x1f\x7f]/.test(r) || /[\x00-\x1f\x7f]/.test(repository)) return `must not contain spaces or control characters, got ${quote(r)}`;
  if (r.startsWith('-')) return `must not start with "-" (git would read it as an option), got ${quote(r)}`;
  if (/^[A-Za-z][A-Za-z0-9+.-]*::/.test(r)) {
    return `${quote(r)} uses git's "<transport>::" form, which runs helper programs: use an https or ssh URL`;
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(r)?.[1]?.toLowerCase();
  if (scheme === 'file') {
    const path = r.slice('file://'.length);
    return path.startsWith('/') ? { kind: 'local', url: r } : `file URL ${quote(r)} must name an absolute path (file:///srv/repo.git)`;
  }
  if (scheme !== undefined) {
    if (!REMOTE_SCHEMES.includes(scheme)) {
      return `scheme ${scheme}:// is not supported: use https://, ssh://, git:// or user@host:path`;
    }
    return remoteUrl(r, scheme);
  }
  const scp = /^([^@/:]+)@([^/:]+):(.*)$/.exec(r);
  if (scp) {
    if (!HOST.test(scp[2]!)) return `host ${quote(scp[2])} of ${quote(r)} is not a host name`;
    if (scp[3] === '' || scp[3]!.startsWith('-')) return `${quote(r)} needs a repository path after "${scp[2]}:", e.g. git@host:org/repo.git`;
    return { kind: 'remote', url: r, host: scp[2]! };
  }
  if (SHORTHAND_HOSTS.test(r)) return { kind: 'remote', url: `https://${r}`, host: r.slice(0, r.indexOf('/')).toLowerCase() };
  return { kind: 'local', url: r };
}

function remoteUrl(r: string, scheme: string): ParsedRepository | string {
  const rest = r.slice(scheme.length + 3);
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash + 1);
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
  const host = hostPort.startsWith('[') ? hostPort.slice(0, hostPort.indexOf(']') + 1) : hostPort.split(':')[0]!;
  const port = hostPort.slice(host.length);
  if (!host || !HOST.test(host)) return `${quote(r)} needs a host name after ${scheme}://, e.g. ${scheme}://github.com/org/repo.git`;
  if (port !== '' && !/^:\d{1,5}$/.test(port)) return `port of ${quote(r)} must be a number`;
  if (path.replace(/\/+$/, '') === '') return `${quote(r)} needs a repository path after the host, e.g. ${scheme}://${host}/org/repo.git`;
  return { kind: 'remote', url: r, host };
}

/** What decides whether a local repository may be used. */
export interface GitAccess {
  /** The operator's setting (or an operator token): local paths and file:// allowed. */
  allowLocal: boolean;
  /** Bare repositories of the organization's own Pier git remote (`<data-dir>/git/<service id>.git`). */
  ownRepositories?: readonly string[];
}

/** Whether a tenant may build from `repository`, with the reason when not. The syntax is checked first. */
export function gitRepositoryAllowed(repository: string, access: GitAccess): { allowed: true } | { allowed: false; reason: string } {
  const parsed = parseRepository(repository);
  if (typeof parsed === 'string') return { allowed: false, reason: parsed };
  if (access.allowLocal) return { allowed: true };
  if (parsed.kind === 'remote') {
    if (!isHostItself(parsed.host ?? '')) return { allowed: true };
    return {
      allowed: false,
      reason: `${quote(repository)} names this host itself (${parsed.host}): builds fetch from other machines only; `
        + 'push to your service\'s Pier git remote (/git/<app>/<service>.git) instead',
    };
  }
  const path = canonicalPath(parsed.url.replace(/^file:\/\//i, ''));
  if (path !== null && (access.ownRepositories ?? []).some((own) => canonicalPath(own) === path)) return { allowed: true };
  return {
    allowed: false,
    reason: `${quote(repository)} is on this host's disk: use a remote URL (https, ssh, user@host:path) or push to your `
      + 'service\'s Pier git remote (/git/<app>/<service>.git); local paths and file:// are for the operator',
  };
}

/**
 * True for host names and literals that reach the Pier host itself or its cloud metadata service: localhost,
 * loopback, unspecified and link-local addresses. (A DNS name resolving there is the builder's network rules' job.)
 */
function isHostItself(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const parts = h.split('.');
  if (parts.every((p) => /^(0x[0-9a-f]+|\d+)$/.test(p))) {
    // Only canonical dotted decimal is read as written: inet_aton reads 2130706433, 127.1 or 0x7f.1 as 127.0.0.1.
    if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p))) return true;
    return /^(127|0)$/.test(parts[0]!) || (parts[0] === '169' && parts[1] === '254');
  }
  return h === '::' || h === '::1' || /^fe[89ab][0-9a-f]?:/.test(h) || /^::ffff:(127\.|0\.|169\.254\.)/.test(h);
}

/** An absolute path with "." segments and repeated or trailing slashes removed; null when relative or it has "..". */
function canonicalPath(p: string): string | null {
  if (!p.startsWith('/')) return null;
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (parts.includes('..')) return null;
  return '/' + parts.join('/');
}

/** Longest branch or tag name accepted (git itself has none; file systems and refs do). */
export const MAX_REF_LENGTH = 255;

/**
 * Why a branch or tag name is not one git accepts (`git check-ref-format --branch` rules), or null: no control
 * characters, space, `~ ^ : ? * [ \`, no "..", "@{", "//", no component starting with "." or ending in ".lock",
 * no leading "-" or "/", no trailing "/" or ".", not "@".
 */
export function gitRefProblem(name: string): string | null {
  const bad = (why: string) => `${quote(name)} is not a valid git ref name: ${why}`;
  if (name === '') return bad('it is empty');
  if (name.length > MAX_REF_LENGTH) return bad(`it is longer than ${MAX_REF_LENGTH} characters`);
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return bad('no spaces, control characters or any of ~ ^ : ? * [ \\');
  if (name.startsWith('-')) return bad('it must not start with "-"');
  if (name === '@' || name.includes('@{')) return bad('it must not be "@" or contain "@{"');
  if (name.includes('..')) return bad('it must not contain ".."');
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return bad('no leading, trailing or double "/"');
  if (name.endsWith('.')) return bad('it must not end with "."');
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return bad('no part may start with "."');
    if (part.endsWith('.lock')) return bad('no part may end with ".lock"');
  }
  return null;
}

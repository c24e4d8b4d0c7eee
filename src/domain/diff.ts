// What changed between two definitions, as a list a person can read ("unapplied changes", deployment history).
// Keyed lists (env by key, ports by number, routes by path ...) are compared by key, so reordering is no change.
// Secret values never appear: env secrets show the secret's name, passwords and API keys are masked.
import type { DeploymentDefinition } from './types.ts';

/** One change at a path such as `docker.image`, `env[DEBUG]` or `ports[8000].protocol`. */
export interface DefinitionChange {
  path: string;
  kind: 'added' | 'removed' | 'changed';
  before?: unknown;
  after?: unknown;
}

/** Shown instead of a password or API key. */
export const MASK = '********';

const scopeKey = (scopes?: string[]) => (scopes?.length ? [...scopes].sort().join(',') : '*');

// How each top-level list is keyed, and how an item is shown in the diff.
const KEYED: Record<string, { key: (item: any) => string; view?: (item: any) => unknown }> = {
  env: {
    key: (e) => (e.scopes?.length ? `${e.key}@${scopeKey(e.scopes)}` : e.key),
    view: (e) => (e.secret !== undefined ? { secret: e.secret } : e.value ?? ''),
  },
  ports: { key: (p) => String(p.port), view: (p) => p.protocol ?? 'http' },
  routes: { key: (r) => r.path, view: (r) => maskRoute(r) },
  proxy_ports: { key: (p) => String(p.port), view: (p) => p.protocol ?? 'tcp' },
  regions: { key: (r) => String(r), view: () => true },
  scalings: { key: (s) => scopeKey(s.scopes), view: ({ scopes: _s, ...rest }) => rest },
  instance_types: { key: (t) => scopeKey(t.scopes), view: (t) => t.type },
  health_checks: { key: (h) => String(h.http?.port ?? h.tcp?.port ?? '?') },
  volumes: { key: (v) => `${v.id}@${scopeKey(v.scopes)}` },
  config_files: { key: (f) => f.path, view: (f) => ({ permissions: f.permissions, content: contentView(f.content) }) },
};

function maskRoute(r: any): unknown {
  const out: Record<string, unknown> = { port: r.port };
  const sp = r.security_policies;
  if (sp) {
    out.security_policies = {
      ...(sp.basic_auths ? { basic_auths: sp.basic_auths.map((a: any) => ({ username: a.username, password: maskSecret(a.password) })) } : {}),
      ...(sp.api_keys ? { api_keys: sp.api_keys.map(maskSecret) } : {}),
    };
  }
  return out;
}

/** Keeps `{{ secret.NAME }}` references (they name, not reveal, a secret) and masks literal credentials. */
function maskSecret(v: unknown): unknown {
  return typeof v === 'string' && /^\s*\{\{\s*secret\.[^}]+\}\}\s*$/.test(v) ? v : MASK;
}

/** File content is shown by size and a short fingerprint, never in full (it may hold credentials). */
function contentView(content: unknown): string {
  const text = typeof content === 'string' ? content : '';
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return `<${new TextEncoder().encode(text).length} bytes, fnv1a ${h.toString(16).padStart(8, '0')}>`;
}

/** The changes that turn `before` into `after`; with no `before`, everything in `after` is added. */
export function diffDefinitions(before: DeploymentDefinition | undefined, after: DeploymentDefinition): DefinitionChange[] {
  const out: DefinitionChange[] = [];
  const a = (before ?? {}) as Record<string, unknown>;
  const b = after as unknown as Record<string, unknown>;
  for (const key of unionKeys(a, b)) {
    const spec = KEYED[key];
    if (spec && (Array.isArray(a[key]) || Array.isArray(b[key]))) diffKeyed(key, spec, a[key], b[key], out);
    else diffValue(key, a[key], b[key], out);
  }
  return out;
}

function unionKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])];
}

function diffKeyed(
  name: string, spec: (typeof KEYED)[string], before: unknown, after: unknown, out: DefinitionChange[],
): void {
  const index = (list: unknown) => {
    const m = new Map<string, { raw: unknown; view: unknown }>();
    for (const item of Array.isArray(list) ? list : []) m.set(spec.key(item), { raw: item, view: spec.view ? spec.view(item) : item });
    return m;
  };
  const a = index(before);
  const b = index(after);
  for (const [k, { raw, view }] of b) {
    const path = `${name}[${k}]`;
    const old = a.get(k);
    if (!old) {
      out.push({ path, kind: 'added', after: view });
      continue;
    }
    const count = out.length;
    diffValue(path, old.view, view, out);
    // A masked credential changed: say that the item changed without showing either value.
    if (out.length === count && stableJson(old.raw) !== stableJson(raw)) out.push({ path, kind: 'changed', before: old.view, after: view });
  }
  for (const [k, { view }] of a) if (!b.has(k)) out.push({ path: `${name}[${k}]`, kind: 'removed', before: view });
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects are walked field by field; anything else (scalars, lists) is compared whole. */
function diffValue(path: string, before: unknown, after: unknown, out: DefinitionChange[]): void {
  if (before === undefined && after === undefined) return;
  // A whole object added or removed is listed leaf by leaf (`+ docker.image: ...`), unless it is empty.
  const walkable = (v: unknown) => v === undefined || (isPlain(v) && !isSecretRef(v) && Object.keys(v).length > 0);
  if (walkable(before) && walkable(after) && (before !== undefined || after !== undefined)) {
    const x = (before ?? {}) as Record<string, unknown>;
    const y = (after ?? {}) as Record<string, unknown>;
    for (const k of unionKeys(x, y)) diffValue(`${path}.${k}`, x[k], y[k], out);
    return;
  }
  if (before === undefined) {
    out.push({ path, kind: 'added', after });
    return;
  }
  if (after === undefined) {
    out.push({ path, kind: 'removed', before });
    return;
  }
  if (isPlain(before) && isPlain(after) && !isSecretRef(before) && !isSecretRef(after)) {
    for (const k of unionKeys(before, after)) diffValue(`${path}.${k}`, before[k], after[k], out);
    return;
  }
  if (stableJson(before) !== stableJson(after)) out.push({ path, kind: 'changed', before, after });
}

const isSecretRef = (v: Record<string, unknown>) => Object.keys(v).length === 1 && typeof v.secret === 'string';

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (isPlain(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}

/** How a value is printed: secret references as `@name` (the CLI's KEY=@SECRET form), the rest as JSON. */
function show(v: unknown): string {
  if (isPlain(v) && isSecretRef(v)) return `@${v.secret as string}`;
  return JSON.stringify(v) ?? String(v);
}

/** One line per change: `~ docker.image: "a:1" -> "a:2"`, `+ env[DEBUG]: "1"`, `- ports[9000]`. */
export function formatDiff(changes: readonly DefinitionChange[]): string[] {
  return changes.map((c) => {
    if (c.kind === 'added') return `+ ${c.path}: ${show(c.after)}`;
    if (c.kind === 'removed') return `- ${c.path}`;
    return `~ ${c.path}: ${show(c.before)} -> ${show(c.after)}`;
  });
}

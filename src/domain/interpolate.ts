// `{{ NAME }}` and `{{ secret.NAME }}` interpolation in env values and config files (Koyeb's syntax). Names resolve
// to the service's own env vars first, then system variables (KOYEB_PUBLIC_DOMAIN ...); secrets by their name.
import type { FieldError } from './types.ts';

/** What names can resolve to. */
export interface InterpolationVars {
  secrets: Record<string, string>;
  env: Record<string, string>;
  system: Record<string, string>;
}

// Koyeb's dashboard matches `{{(((?!}}).)*)}}`: anything up to the first closing braces.
const PLACEHOLDER = /\{\{((?:(?!\}\}).)*)\}\}/g;
const SECRET_REF = /^secret\s*\.\s*(.+)$/;

const has = (o: Record<string, string>, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Replaces placeholders using `lookup`; names it cannot resolve stay as written and are listed in `unknown`. */
function substitute(template: string, lookup: (name: string) => string | undefined): { value: string; unknown: string[] } {
  const unknown: string[] = [];
  const value = template.replace(PLACEHOLDER, (whole, inner: string) => {
    const name = inner.trim().replace(SECRET_REF, (_m, n: string) => `secret.${n.trim()}`);
    const v = name === '' ? undefined : lookup(name);
    if (v === undefined) {
      if (!unknown.includes(name)) unknown.push(name);
      return whole;
    }
    return v;
  });
  return { value, unknown };
}

/** Expands `{{ secret.NAME }}` and `{{ NAME }}` (user env, then system vars), tolerating spaces inside braces. */
export function interpolate(template: string, vars: InterpolationVars): { value: string; unknown: string[] } {
  return substitute(template, (name) => {
    const secret = /^secret\.(.+)$/.exec(name);
    if (secret) return has(vars.secrets, secret[1]!) ? vars.secrets[secret[1]!] : undefined;
    if (has(vars.env, name)) return vars.env[name];
    return has(vars.system, name) ? vars.system[name] : undefined;
  });
}

/** The names a template refers to, e.g. ["secret.DB_PASSWORD", "KOYEB_PUBLIC_DOMAIN"] (for autocomplete checks). */
export function referencedNames(template: string): string[] {
  return substitute(template, () => undefined).unknown;
}

/**
 * Resolves env entries into the variables an instance gets: secret refs (`secret` field) become the secret's value,
 * values are interpolated (other entries may be referenced, in any order, and are resolved first). Unknown secrets
 * or names and reference cycles are errors at the entry's path (`definition.env[2].value`).
 */
export function resolveEnv(
  entries: readonly { key: string; value?: string; secret?: string }[],
  vars: InterpolationVars,
  path = 'definition.env',
): { env: Record<string, string>; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const index = new Map<string, number>();
  entries.forEach((e, i) => index.set(e.key, i)); // the later entry of a key wins
  const resolved = new Map<string, string>();
  const stack: string[] = [];

  const resolve = (key: string): string | undefined => {
    if (resolved.has(key)) return resolved.get(key);
    const i = index.get(key)!;
    const e = entries[i]!;
    if (stack.includes(key)) {
      const cycle = [...stack.slice(stack.indexOf(key)), key].join(' -> ');
      errors.push({ field: `${path}[${i}].value`, description: `${key} refers to itself (${cycle}): remove one of the references` });
      return '';
    }
    let value: string;
    if (e.secret !== undefined) {
      if (!has(vars.secrets, e.secret)) {
        errors.push({ field: `${path}[${i}].secret`, description: `secret "${e.secret}" does not exist: create it first or fix the name` });
        value = '';
      } else value = vars.secrets[e.secret]!;
    } else {
      stack.push(key);
      const out = substitute(e.value ?? '', (name) => {
        const secret = /^secret\.(.+)$/.exec(name);
        if (secret) return has(vars.secrets, secret[1]!) ? vars.secrets[secret[1]!] : undefined;
        if (index.has(name)) return resolve(name);
        if (has(vars.env, name)) return vars.env[name];
        return has(vars.system, name) ? vars.system[name] : undefined;
      });
      stack.pop();
      for (const name of out.unknown) {
        const description = name.startsWith('secret.')
          ? `unknown secret {{ ${name} }}: create a secret named "${name.slice('secret.'.length)}" or fix the name`
          : `unknown variable {{ ${name} }}: define ${name || 'it'} in env or use a system variable such as KOYEB_PUBLIC_DOMAIN`;
        errors.push({ field: `${path}[${i}].value`, description });
      }
      value = out.value;
    }
    resolved.set(key, value);
    return value;
  };

  const env: Record<string, string> = {};
  for (const key of index.keys()) env[key] = resolve(key) ?? '';
  return { env, errors };
}

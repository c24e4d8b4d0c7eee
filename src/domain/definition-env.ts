// Environment variables, config files and the egress network policy of a definition: what an instance is given
// besides its image.
import { FieldErrors, absent, compact, readArray, readObject, readString, rejectNul, rejectUnknown, quote } from './fields.ts';
import { validateSecretName } from './names.ts';
import { normalizeScopes } from './definition-scaling.ts';
import type { ConfigFile, DeploymentEnv, NetworkPolicy } from './types.ts';

/** Env var names Pier accepts (POSIX shell names). */
export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Largest `KEY=value` string, in bytes, without its terminating NUL: Linux refuses longer ones (MAX_ARG_STRLEN) at exec. */
export const MAX_ENV_ENTRY_BYTES = 128 * 1024 - 1;
/** Largest config file content, in bytes. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** Validates env entries: names, exactly one of value/secret, region scopes, one entry per key and scope. */
export function normalizeEnv(errors: FieldErrors, raw: unknown, path: string, regions: readonly string[]): DeploymentEnv[] {
  const out: DeploymentEnv[] = [];
  const owner = new Map<string, number>();
  readArray(errors, raw, path).forEach((item, i) => {
    const p = `${path}[${i}]`;
    const obj = readObject(errors, item, p);
    if (!obj) return;
    rejectUnknown(errors, obj, ['scopes', 'key', 'value', 'secret'], p);
    const scopes = normalizeScopes(errors, obj.scopes, `${p}.scopes`, regions);
    const key = readString(errors, obj.key, `${p}.key`);
    if (key === undefined || !ENV_KEY.test(key)) {
      if (key !== undefined || absent(obj.key)) {
        errors.add(`${p}.key`, `must be a variable name of letters, digits and _, not starting with a digit, got ${quote(key ?? null)}`);
      }
      return;
    }
    const value = readString(errors, obj.value, `${p}.value`);
    const secret = readString(errors, obj.secret, `${p}.secret`);
    if (!absent(obj.value) && !absent(obj.secret)) {
      errors.add(p, `${key} sets both value and secret: keep one (value for plain text, secret for a secret's name)`);
      return;
    }
    if (absent(obj.value) && absent(obj.secret)) {
      errors.add(p, `${key} needs a value or a secret: add value: "..." or secret: "<secret name>"`);
      return;
    }
    if (value !== undefined && rejectNul(errors, value, `${p}.value`, 'an environment variable')) return;
    if (value !== undefined && new TextEncoder().encode(value).length + key.length + 1 > MAX_ENV_ENTRY_BYTES) {
      errors.add(`${p}.value`, `${key}=<value> must be under 128 KiB (the kernel's limit for one variable): ship larger data as a config file`);
      return;
    }
    if (secret !== undefined) {
      const why = validateSecretName(secret);
      if (why) errors.add(`${p}.secret`, why);
    }
    for (const token of scopes ?? ['*']) {
      const first = owner.get(`${key} ${token}`);
      if (first !== undefined) {
        const where = token === '*' ? 'without scopes' : `in ${token}`;
        errors.add(`${p}.key`, `${key} is already set ${where} by ${path}[${first}]: keep one`);
      } else owner.set(`${key} ${token}`, i);
    }
    if (value === undefined && secret === undefined) return;
    out.push(compact({ scopes, key, value, secret }));
  });
  return out;
}

/** Validates config files: absolute unique paths, octal permissions (default "0644"), string content. */
export function normalizeConfigFiles(errors: FieldErrors, raw: unknown, path: string): ConfigFile[] {
  const out: ConfigFile[] = [];
  readArray(errors, raw, path).forEach((item, i) => {
    const p = `${path}[${i}]`;
    const obj = readObject(errors, item, p);
    if (!obj) return;
    rejectUnknown(errors, obj, ['path', 'permissions', 'content'], p);
    const before = errors.count;
    const filePath = readString(errors, obj.path, `${p}.path`);
    if (filePath === undefined) {
      if (absent(obj.path)) errors.add(`${p}.path`, 'is required: the absolute path of the file in the instance, e.g. "/etc/app/config.yaml"');
    } else if (!filePath.startsWith('/') || filePath.endsWith('/') || filePath.split('/').includes('..') || /[\0\n]/.test(filePath)) {
      errors.add(`${p}.path`, `must be an absolute file path without ".." segments, e.g. "/etc/app/config.yaml", got ${quote(filePath)}`);
    } else if (out.some((f) => f.path === filePath)) {
      errors.add(`${p}.path`, `${filePath} is declared twice: remove one of the entries`);
    }
    const perms = readString(errors, obj.permissions, `${p}.permissions`) ?? (absent(obj.permissions) ? '0644' : undefined);
    if (perms !== undefined && !/^0?[0-7]{3}$/.test(perms)) {
      errors.add(`${p}.permissions`, `must be octal file permissions such as "0644" or "0600", got ${quote(perms)}`);
    }
    const content = readString(errors, obj.content, `${p}.content`);
    if (content === undefined && absent(obj.content)) errors.add(`${p}.content`, 'is required: the file content (may be empty)');
    if (content !== undefined && new TextEncoder().encode(content).length > MAX_CONFIG_FILE_BYTES) {
      errors.add(`${p}.content`, 'must be at most 1 MiB: ship larger files in the image');
    }
    if (errors.count !== before) return;
    out.push({ path: filePath!, permissions: perms!.padStart(4, '0'), content: content! });
  });
  return out;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** A CIDR with its prefix made explicit (bare IPs become /32 or /128), or undefined when it is not one. */
export function normalizeCidr(text: string): string | undefined {
  const [ip, prefix, extra] = text.trim().split('/');
  if (extra !== undefined || !ip) return undefined;
  const v4 = IPV4.test(ip);
  const v6 = !v4 && /^[0-9a-fA-F:.]+$/.test(ip) && ip.includes(':') && (ip.match(/::/g)?.length ?? 0) <= 1;
  if (!v4 && !v6) return undefined;
  const maxPrefix = v4 ? 32 : 128;
  if (prefix === undefined) return `${ip}/${maxPrefix}`;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > maxPrefix) return undefined;
  return `${ip}/${Number(prefix)}`;
}

/** Validates the egress policy; allow-list entries are normalised to explicit CIDRs. */
export function normalizeNetworkPolicy(errors: FieldErrors, raw: unknown, path: string): NetworkPolicy | undefined {
  const obj = readObject(errors, raw, path);
  if (!obj) return undefined;
  rejectUnknown(errors, obj, ['egress'], path);
  const egress = readObject(errors, obj.egress, `${path}.egress`);
  if (!egress) return {};
  rejectUnknown(errors, egress, ['mode', 'allow_list'], `${path}.egress`);
  const modes = ['EGRESS_POLICY_MODE_DEFAULT', 'EGRESS_POLICY_MODE_DENY_ALL'] as const;
  const mode = absent(egress.mode) ? 'EGRESS_POLICY_MODE_DEFAULT' : egress.mode;
  if (!modes.includes(mode as (typeof modes)[number])) {
    errors.add(`${path}.egress.mode`, `must be ${modes.join(' or ')}, got ${quote(mode)}`);
  }
  const allow: { cidr: string }[] = [];
  readArray(errors, egress.allow_list, `${path}.egress.allow_list`).forEach((d, i) => {
    const p = `${path}.egress.allow_list[${i}].cidr`;
    const cidr = typeof d === 'object' && d !== null ? (d as { cidr?: unknown }).cidr : undefined;
    const normal = typeof cidr === 'string' ? normalizeCidr(cidr) : undefined;
    if (!normal) errors.add(p, `must be an IPv4 or IPv6 CIDR such as "10.0.0.0/8" or "2001:db8::/32", got ${quote(cidr ?? null)}`);
    else allow.push({ cidr: normal });
  });
  return { egress: compact({ mode: mode as (typeof modes)[number], allow_list: allow.length ? allow : undefined }) };
}

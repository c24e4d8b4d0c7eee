// The list-flag mechanic of the koyeb CLI (flags_list.ParseListFlags): each value upserts one item by its key, and a
// leading `!` deletes the item with that key. One parser per flag turns a value into an item; all are pure.
import type { ConfigFile, DeploymentEnv, DeploymentHealthCheck, DeploymentPort, DeploymentProxyPort, DeploymentRoute, PortProtocol } from '../domain/types.ts';
import { CliError } from './errors.ts';

/** One parsed list-flag value: upsert `item` under `key`, or delete `key`. */
export type ListOp<T> = { key: string; delete: true } | { key: string; delete: false; item: T };

/** Applies list-flag operations in order to the current items: replace in place, append new, drop deleted. */
export function applyListOps<T>(current: T[], ops: ListOp<T>[], keyOf: (item: T) => string): T[] {
  let items = [...current];
  for (const op of ops) {
    const idx = items.findIndex((i) => keyOf(i) === op.key);
    if (op.delete) {
      if (idx !== -1) items = items.filter((_, i) => i !== idx);
    } else if (idx === -1) {
      items.push(op.item);
    } else {
      items[idx] = op.item;
    }
  }
  return items;
}

/** The default port of a route given as PATH without :PORT (the koyeb CLI help says 8000). */
export const DEFAULT_ROUTE_PORT = 8000;

const PROTOCOLS: PortProtocol[] = ['http', 'http2', 'tcp'];

function parsePortNumber(text: string, flag: string, value: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new CliError(`${flag} "${value}": port must be a number between 1 and 65535`);
  return n;
}

/** `--env KEY=VALUE`, `KEY=@SECRET` (secret reference), `KEY=` (empty value) or `!KEY` (delete). */
export function parseEnvFlag(value: string): ListOp<DeploymentEnv> {
  if (value.startsWith('!')) return { key: value.slice(1), delete: true };
  const eq = value.indexOf('=');
  if (eq <= 0) throw new CliError(`--env "${value}": expected KEY=VALUE, KEY=@SECRET_NAME or '!KEY'`);
  const key = value.slice(0, eq);
  const rest = value.slice(eq + 1);
  if (rest.startsWith('@')) {
    if (rest.length === 1) throw new CliError(`--env "${value}": the secret name after @ is empty`);
    return { key, delete: false, item: { key, secret: rest.slice(1) } };
  }
  return { key, delete: false, item: { key, value: rest } };
}

/** `--ports PORT[:PROTOCOL]` (protocol http, http2 or tcp; default http) or `!PORT`. */
export function parsePortFlag(value: string): ListOp<DeploymentPort> {
  if (value.startsWith('!')) return { key: String(parsePortNumber(value.slice(1), '--ports', value)), delete: true };
  const [portText = '', protocol = 'http', ...extra] = value.split(':');
  if (extra.length) throw new CliError(`--ports "${value}": expected PORT[:PROTOCOL]`);
  const port = parsePortNumber(portText, '--ports', value);
  if (!PROTOCOLS.includes(protocol as PortProtocol)) {
    throw new CliError(`--ports "${value}": protocol must be one of ${PROTOCOLS.join(', ')}`);
  }
  return { key: String(port), delete: false, item: { port, protocol: protocol as PortProtocol } };
}

/** `--proxy-ports PORT[:tcp]` (the TCP proxy carries tcp ports only, so tcp is the default) or `!PORT`. */
export function parseProxyPortFlag(value: string): ListOp<DeploymentProxyPort> {
  if (value.startsWith('!')) return { key: String(parsePortNumber(value.slice(1), '--proxy-ports', value)), delete: true };
  const [portText = '', protocol = 'tcp', ...extra] = value.split(':');
  if (extra.length) throw new CliError(`--proxy-ports "${value}": expected PORT[:tcp]`);
  const port = parsePortNumber(portText, '--proxy-ports', value);
  if (protocol.toLowerCase() !== 'tcp') {
    throw new CliError(`--proxy-ports "${value}": the TCP proxy carries tcp ports only; use ${port} or ${port}:tcp (an http port is public through --routes)`);
  }
  return { key: String(port), delete: false, item: { port, protocol: 'tcp' } };
}

/** `--routes PATH[:PORT]` (port defaults to 8000) or `!PATH`. */
export function parseRouteFlag(value: string): ListOp<DeploymentRoute> {
  if (value.startsWith('!')) return { key: value.slice(1), delete: true };
  const colon = value.lastIndexOf(':');
  const path = colon === -1 ? value : value.slice(0, colon);
  const port = colon === -1 ? DEFAULT_ROUTE_PORT : parsePortNumber(value.slice(colon + 1), '--routes', value);
  if (!path.startsWith('/') || /\s/.test(path)) {
    throw new CliError(`--routes "${value}": the path must start with / and contain no spaces (format PATH[:PORT])`);
  }
  return { key: path, delete: false, item: { path, port } };
}

/** `--checks PORT[:TYPE[:PATH]]` (type http or tcp, default http; path default /) or `!PORT`. */
export function parseCheckFlag(value: string): ListOp<DeploymentHealthCheck> {
  if (value.startsWith('!')) return { key: String(parsePortNumber(value.slice(1), '--checks', value)), delete: true };
  const [portText = '', type = 'http', ...pathParts] = value.split(':');
  const port = parsePortNumber(portText, '--checks', value);
  if (type === 'tcp') {
    if (pathParts.length) throw new CliError(`--checks "${value}": a tcp check takes no path (format PORT:tcp)`);
    return { key: String(port), delete: false, item: { tcp: { port } } };
  }
  if (type !== 'http') throw new CliError(`--checks "${value}": type must be http or tcp`);
  const path = pathParts.length ? pathParts.join(':') : '/';
  if (!path.startsWith('/')) throw new CliError(`--checks "${value}": the path must start with /`);
  return { key: String(port), delete: false, item: { http: { port, path } } };
}

/** The port a health check probes: the key checks are upserted by. */
export function checkPort(check: DeploymentHealthCheck): string {
  return String(check.http?.port ?? check.tcp?.port ?? '');
}

/** `--regions REGION` or `!REGION`. */
export function parseRegionFlag(value: string): ListOp<string> {
  if (value.startsWith('!')) return { key: value.slice(1), delete: true };
  if (!/^[a-z0-9-]+$/.test(value)) throw new CliError(`--regions "${value}": not a region id (e.g. was, fra)`);
  return { key: value, delete: false, item: value };
}

/** `--config-file LOCAL_FILE:PATH[:PERMISSIONS]` or `!PATH`; the local file is read through `readFile`. */
export function parseConfigFileFlag(value: string, readFile: (path: string) => string): ListOp<ConfigFile> {
  if (value.startsWith('!')) return { key: value.slice(1), delete: true };
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) {
    throw new CliError(`--config-file "${value}": expected LOCAL_FILE:PATH[:PERMISSIONS]`);
  }
  const [local, path, perm = '0644'] = parts as [string, string, string?];
  if (!path.startsWith('/')) throw new CliError(`--config-file "${value}": the destination path must be absolute`);
  if (!/^0?[0-7]{3}$/.test(perm)) throw new CliError(`--config-file "${value}": permissions must be octal like 0644`);
  let content: string;
  try {
    content = readFile(local);
  } catch (err) {
    throw new CliError(`--config-file "${value}": cannot read ${local}: ${(err as Error).message}`);
  }
  return { key: path, delete: false, item: { path, permissions: perm.padStart(4, '0'), content } };
}

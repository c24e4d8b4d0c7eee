// Pier's configuration: flags first, then PIER_* environment variables, then defaults. Bad values fail with one
// message naming the flag/variable and the fix.
import type { ProxyPortRange } from './store/proxy-ports.ts';
import { availableParallelism, homedir } from 'node:os';
import { isIP } from 'node:net';
import { isAbsolute, join, resolve } from 'node:path';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import type { BuildPackageSettings } from './build/build-env.ts';
import { autoscaleConfigFromEnv, type AutoscaleConfig } from './autoscale/config.ts';
import { parseShortDuration } from './domain/durations.ts';
import { swarmOptionsFromEnv } from './runtime/swarm/config.ts';
import type { SwarmRuntimeOptions } from './runtime/swarm/driver.ts';

/** Which instance runtime to use; `auto` picks docker when the engine answers, else the process driver. */
export type RuntimeChoice = 'docker' | 'gvisor' | 'microvm' | 'process' | 'swarm' | 'auto';

/** A host and port to listen on. */
export interface ListenAddr { host: string; port: number }

/** Everything startPier needs. */
export interface PierConfig {
  dataDir: string;
  apiAddr: ListenAddr;
  edgeAddr: ListenAddr;
  /** Base domain of app hosts: `<app>-<org>.<domain>`. */
  domain: string;
  /** A bootstrap admin token accepted in addition to the generated one (hashed, never stored in clear). */
  token?: string;
  runtime: RuntimeChoice;
  orgName: string;
  masterKeyFile?: string;
  /** The edge's HTTPS listener; undefined = no TLS (`--tls-addr off`). */
  tlsAddr?: ListenAddr;
  /** ACME directory for custom domains' certificates; without it they get local-CA certificates. */
  acme?: { directoryUrl: string; email?: string; caFile?: string };
  /** DNS server (`host[:port]`) the custom-domain check asks; undefined = the system's resolvers. */
  dnsResolver?: string;
  /** Skip the custom-domain DNS check (single-machine setups whose names never resolve publicly). */
  skipDnsCheck: boolean;
  /** Server log format (PIER_LOG_FORMAT): `text`, one `pier: ...` line (default), or `json`, pino's records. */
  logFormat?: 'text' | 'json';
  /** `postgres://...`: the store lives in PostgreSQL, shared by several control planes (one leader); else SQLite. */
  databaseUrl?: string;
  /** What buildpack builds are given for package downloads: CA bundle, proxies, registry mirrors (PIER_BUILD_*). */
  buildPackages?: BuildPackageSettings;
  /** Where the Go standard library compiled once per toolchain is kept (PIER_BUILD_GO_STD_DIR; default <data-dir>/builds/go-std). */
  buildGoStdDir?: string;
  /** Edge worker processes (PIER_EDGE_WORKERS); absent = one per core up to two (defaultEdgeWorkers()). */
  edgeWorkers?: number;
  /**
   * The edge's data plane (PIER_EDGE_DATAPLANE): `haproxy` in front of the Node edge (#22) or `node` alone. Unset or
   * `auto` is resolved here: haproxy when an executable `haproxy` is on PATH, else node (edgeDataplaneAuto is then set).
   */
  edgeDataplane?: 'node' | 'haproxy';
  /** The data plane was chosen by default or `auto`, not named: a HAProxy that cannot start leaves the Node edge serving. */
  edgeDataplaneAuto?: boolean;
  /** Autoscaler tuning (PIER_AUTOSCALE_*); absent = the KPA defaults. */
  autoscale?: AutoscaleConfig;
  /** Per-token API request budget (PIER_API_RATE_LIMIT); absent = the API's default. */
  rateLimit?: RateLimitSettings;
  /** Bounds of `instances exec` sessions (PIER_EXEC_IDLE_TIMEOUT, PIER_EXEC_MAX_FRAME_BYTES, PIER_EXEC_MAX_SESSIONS). */
  exec?: ExecSettings;
  /** Metrics sampling (PIER_METRICS_INTERVAL, PIER_METRICS_RETENTION); an absent field keeps the sampler's default. */
  metrics?: { intervalMs?: number; retentionMs?: number };
  /** The Swarm runtime's settings (PIER_SWARM_*), read when the runtime is swarm. */
  swarm?: SwarmRuntimeOptions;
  /** The process runtime's networking (PIER_PROCESS_NETWORK, PIER_PROCESS_SUBNET, PIER_PROCESS_EGRESS). */
  processNetwork?: ProcessNetworkSettings;
  /**
   * PIER_DOCKER_NETNS_HOLDERS=0: no network holder for instances of services that scale to zero (each costs ~13 MB, its containerd shim;
   * without one a Docker deep-sleep wake pays the engine's network setup again). Absent = the driver's default (on).
   */
  dockerNetnsHolders?: boolean;
  /**
   * PIER_DOCKER_HOLDER_POOL: network holders the Docker runtime keeps started ahead for any instance (0-16; absent =
   * DEFAULT_DOCKER_HOLDER_POOL). An instance that takes one starts without the engine's network setup (issue #23);
   * every such instance keeps its holder (one more containerd shim, ~13 MB RSS). Off with PIER_DOCKER_NETNS_HOLDERS=0.
   */
  dockerHolderPool?: number;
  /**
   * PIER_STARTUP_CPU_BOOST: vCPUs an instance of a smaller type may use while it starts, until its first passing health
   * check (at most 10 s); 0 = none. Absent = DEFAULT_STARTUP_CPU_BOOST. The process runtime applies it.
   */
  startupCpuBoost?: number;
  /**
   * Who may build from a repository on this host's disk (a path or file://): absent = nobody (the tenant's own Pier
   * git remote excepted), `operator` = full-access tokens of the installation organization, `all` = every tenant.
   */
  gitAllowLocal?: GitLocalAccess;
  /** Largest size an uploaded archive may extract to (bytes); absent = the largest instance type's disk. */
  archiveMaxExtractedBytes?: number;
  /** How long an unverified custom-domain claim lives (ms, PIER_DOMAINS_CLAIM_TTL); absent = 7 days. */
  domainClaimTtlMs?: number;
  /** Deployments per service whose build outputs are kept for rollback (PIER_GC_KEEP_DEPLOYMENTS); absent = 10. */
  gcKeepDeployments?: number;
  /** How often build outputs are collected (ms, PIER_GC_INTERVAL); 0 = only at start and after API writes; absent = 1 h. */
  gcIntervalMs?: number;
  /** Days events and activities are kept (PIER_EVENTS_KEEP_DAYS, 1-36500); absent = 90. */
  eventsKeepDays?: number;
  /**
   * The public ports the TCP proxy gives to services' `proxy_ports` (PIER_TCP_PROXY_PORTS, `first-last`; default
   * 20000-20999, on the edge's host); absent = off (`off`): a definition with proxy_ports is refused.
   */
  tcpProxyPorts?: ProxyPortRange;
  /**
   * TCP proxy limits when set (PIER_TCP_PROXY_IDLE_TIMEOUT, a duration or 0/off; PIER_TCP_PROXY_MAX_CONNECTIONS, per
   * public port); absent = the proxy's defaults (1 h, 1,000; src/edge/tcp-proxy.ts).
   */
  tcpProxyLimits?: { idleTimeoutMs?: number; maxConnectionsPerPort?: number };
  /**
   * The API URL this control plane advertises to regional edges in its lease (PIER_ADVERTISE_URL, --advertise-url):
   * absent = the URL the API listens on, which is wrong when it binds 0.0.0.0 or sits behind NAT.
   */
  advertiseUrl?: string;
  /** Scheduled backups (PIER_BACKUP_SCHEDULE, PIER_BACKUP_KEEP, PIER_BACKUP_DIR); absent = none. */
  backup?: BackupSchedule;
}

/** Scheduled backups: every `intervalMs`, into `dir`, keeping the newest `keep` files (src/backup/schedule.ts). */
export interface BackupSchedule { intervalMs: number; keep: number; dir: string }

/** Who may name a local git repository (PIER_GIT_ALLOW_LOCAL): the installation's operator, or every organization. */
export type GitLocalAccess = 'operator' | 'all';

/** Token bucket of the API: refill rate and size; `ratePerSecond <= 0` disables limiting. */
export interface RateLimitSettings { ratePerSecond: number; burst: number }

/** How process-runtime instances are networked: `auto` (private when possible), `isolated` (or fail), `host`. */
export interface ProcessNetworkSettings { mode?: 'auto' | 'isolated' | 'host'; pool?: string; egress?: boolean }

/** A configuration error: the message names the flag or variable and says how to fix it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Flags = Record<string, string | boolean | undefined>;

function pick(flags: Flags, env: NodeJS.ProcessEnv, flag: string, variable: string): { value?: string; source: string } {
  const f = flags[flag];
  if (f !== undefined && f !== false) {
    if (f === true) throw new ConfigError(`--${flag} needs a value (or set ${variable})`);
    return { value: f, source: `--${flag}` };
  }
  const e = env[variable];
  if (e !== undefined && e !== '') return { value: e, source: variable };
  return { source: `--${flag}/${variable}` };
}

/** Parses `host:port` ("127.0.0.1:7700", "[::1]:0", ":7700"); port 0 means any free port. */
export function parseListenAddr(text: string, source: string): ListenAddr {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new ConfigError(`${source} must be host:port (e.g. 127.0.0.1:7700), got ${JSON.stringify(text)}`);
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

/** Builds the configuration from CLI flags (`data-dir`, `api-addr`, `edge-addr`, `domain`, `token`, `runtime`,
 * `org-name`, `master-key-file`, `tls-addr`, `acme-directory`, `acme-email`, `acme-ca-file`, `dns-resolver`,
 * `database-url`) and the matching PIER_* variables (DATABASE_URL for the last; plus PIER_DOMAINS_SKIP_DNS_CHECK=1). */
export function loadConfig(flags: Flags = {}, env: NodeJS.ProcessEnv = process.env): PierConfig {
  const dataDir = pick(flags, env, 'data-dir', 'PIER_DATA_DIR').value ?? join(env.HOME || homedir(), '.pier');
  const api = pick(flags, env, 'api-addr', 'PIER_API_ADDR');
  const edge = pick(flags, env, 'edge-addr', 'PIER_EDGE_ADDR');
  const domain = pick(flags, env, 'domain', 'PIER_DOMAIN');
  const runtime = pick(flags, env, 'runtime', 'PIER_RUNTIME');
  const org = pick(flags, env, 'org-name', 'PIER_ORG_NAME');
  const token = pick(flags, env, 'token', 'PIER_TOKEN');
  const keyFile = pick(flags, env, 'master-key-file', 'PIER_MASTER_KEY_FILE');
  const tls = pick(flags, env, 'tls-addr', 'PIER_TLS_ADDR');
  const acmeDirectory = pick(flags, env, 'acme-directory', 'PIER_ACME_DIRECTORY');
  const acmeEmail = pick(flags, env, 'acme-email', 'PIER_ACME_EMAIL');
  const acmeCa = pick(flags, env, 'acme-ca-file', 'PIER_ACME_CA_FILE');
  const dnsResolver = pick(flags, env, 'dns-resolver', 'PIER_DNS_RESOLVER');
  const databaseUrl = pick(flags, env, 'database-url', 'DATABASE_URL');
  const advertise = pick(flags, env, 'advertise-url', 'PIER_ADVERTISE_URL');

  const runtimeValue = (runtime.value ?? 'auto').toLowerCase();
  if (!['docker', 'gvisor', 'microvm', 'process', 'swarm', 'auto'].includes(runtimeValue)) {
    throw new ConfigError(`${runtime.source} must be docker, gvisor, microvm, process, swarm or auto, got ${JSON.stringify(runtime.value)}`);
  }
  const domainValue = (domain.value ?? 'localhost').toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(domainValue)) {
    throw new ConfigError(`${domain.source} must be a DNS name such as localhost or pier.example.com, got ${JSON.stringify(domain.value)}`);
  }
  const orgName = org.value ?? 'pier';
  if (!/^[a-z0-9]([a-z0-9-]{0,37}[a-z0-9])?$/.test(orgName)) {
    throw new ConfigError(`${org.source} must be lowercase letters, digits and dashes (1-39 chars), got ${JSON.stringify(org.value)}`);
  }
  if (token.value !== undefined && token.value.length < 16) {
    throw new ConfigError(`${token.source} must be at least 16 characters (generate one with: openssl rand -hex 24)`);
  }
  const edgeAddr = parseListenAddr(edge.value ?? '127.0.0.1:8000', edge.source);
  if (acmeDirectory.value !== undefined && !/^https?:\/\/\S+$/.test(acmeDirectory.value)) {
    throw new ConfigError(`${acmeDirectory.source} must be an ACME directory URL such as https://acme-v02.api.letsencrypt.org/directory, got ${JSON.stringify(acmeDirectory.value)}`);
  }
  if (acmeEmail.value !== undefined && !/^[^\s@]+@[^\s@]+$/.test(acmeEmail.value)) {
    throw new ConfigError(`${acmeEmail.source} must be an email address, got ${JSON.stringify(acmeEmail.value)}`);
  }
  if (dnsResolver.value !== undefined && !/^(\[[0-9a-f:.]+\]|[0-9a-z.-]+)(:\d{1,5})?$/i.test(dnsResolver.value) && !isIP(dnsResolver.value)) {
    throw new ConfigError(`${dnsResolver.source} must be a DNS server address such as 127.0.0.1:53, got ${JSON.stringify(dnsResolver.value)}`);
  }
  if (databaseUrl.value !== undefined && !/^postgres(ql)?:\/\/\S+$/.test(databaseUrl.value)) {
    // Never echo the value: it may carry a password.
    throw new ConfigError(`${databaseUrl.source} must be a PostgreSQL URL such as postgres://pier:PASSWORD@127.0.0.1:5432/pier`);
  }
  if (advertise.value !== undefined && !/^https?:\/\/[^\s/]+\/?$/.test(advertise.value)) {
    throw new ConfigError(`${advertise.source} must be the URL regional edges reach this control plane's API at, such as http://10.0.0.5:7700, got ${JSON.stringify(advertise.value)}`);
  }
  const buildPackages = loadBuildPackages(env);
  const absDataDir = isAbsolute(dataDir) ? dataDir : resolve(dataDir);
  const backup = loadBackupSchedule(env, absDataDir);
  return {
    ...loadTuning(env, runtimeValue),
    buildPackages,
    ...(env.PIER_BUILD_GO_STD_DIR?.trim() ? { buildGoStdDir: resolve(env.PIER_BUILD_GO_STD_DIR.trim()) } : {}),
    dataDir: absDataDir,
    apiAddr: parseListenAddr(api.value ?? '127.0.0.1:7700', api.source),
    edgeAddr,
    domain: domainValue,
    token: token.value,
    runtime: runtimeValue as RuntimeChoice,
    orgName,
    masterKeyFile: keyFile.value ? resolve(keyFile.value) : undefined,
    // HTTPS beside plain HTTP on the edge's host: 8443 by default, any free port when the edge itself asked for one.
    tlsAddr: tls.value?.toLowerCase() === 'off' ? undefined
      : parseListenAddr(tls.value ?? `${edgeAddr.host.includes(':') ? `[${edgeAddr.host}]` : edgeAddr.host}:${edgeAddr.port === 0 ? 0 : 8443}`, tls.source),
    acme: acmeDirectory.value
      ? { directoryUrl: acmeDirectory.value, email: acmeEmail.value, caFile: acmeCa.value ? resolve(acmeCa.value) : undefined }
      : undefined,
    dnsResolver: dnsResolver.value,
    skipDnsCheck: ['1', 'true', 'yes'].includes((env.PIER_DOMAINS_SKIP_DNS_CHECK ?? '').toLowerCase()),
    // Only when asked, so the default configuration reads as before.
    ...(loadLogFormat(env) === 'json' ? { logFormat: 'json' as const } : {}),
    ...(databaseUrl.value ? { databaseUrl: databaseUrl.value } : {}),
    ...loadTenantInputs(env),
    ...loadHousekeeping(env),
    ...loadTcpProxyPorts(env),
    ...loadTcpProxyLimits(env),
    ...(advertise.value ? { advertiseUrl: advertise.value.replace(/\/$/, '') } : {}),
    ...(backup ? { backup } : {}),
  };
}

/**
 * Scheduled backups: PIER_BACKUP_SCHEDULE (a duration of a minute or more such as 6h, or off: the default),
 * PIER_BACKUP_KEEP (how many backups to keep, 1-1000, default 7) and PIER_BACKUP_DIR (default <data dir>/backups).
 */
export function loadBackupSchedule(env: NodeJS.ProcessEnv, dataDir: string): BackupSchedule | undefined {
  const schedule = (env.PIER_BACKUP_SCHEDULE ?? '').trim().toLowerCase();
  const keepText = (env.PIER_BACKUP_KEEP ?? '').trim();
  const keep = keepText === '' ? 7 : Number(keepText);
  if (!Number.isInteger(keep) || keep < 1 || keep > 1000) {
    throw new ConfigError(`PIER_BACKUP_KEEP must be a whole number from 1 to 1000, got ${JSON.stringify(keepText)}`);
  }
  if (schedule === '' || schedule === 'off' || schedule === '0') return undefined;
  const intervalMs = parseDuration(schedule);
  if (!(intervalMs >= 60_000)) {
    throw new ConfigError(`PIER_BACKUP_SCHEDULE must be a duration of a minute or more such as 6h or 1d, or off, got ${JSON.stringify(schedule)}`);
  }
  const dir = (env.PIER_BACKUP_DIR ?? '').trim();
  return { intervalMs, keep, dir: dir ? resolve(dir) : join(dataDir, 'backups') };
}

/** Parses a duration such as `90s`, `30m`, `12h` or `7d` (a bare number is seconds); NaN when malformed. */
export function parseDuration(text: string): number {
  const m = /^(\d+)\s*(s|m|h|d)?$/i.exec(text.trim());
  if (!m) return NaN;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[(m[2] ?? 's').toLowerCase() as 's']!;
}

/** PIER_TCP_PROXY_PORTS: `first-last` (1024-65535), or `off`; default 20000-20999. */
export function loadTcpProxyPorts(env: NodeJS.ProcessEnv = process.env): Pick<PierConfig, 'tcpProxyPorts'> {
  const text = (env.PIER_TCP_PROXY_PORTS ?? '').trim().toLowerCase();
  if (['off', '0', 'no', 'false'].includes(text)) return {};
  if (text === '') return { tcpProxyPorts: { first: 20000, last: 20999 } };
  const m = /^(\d+)\s*-\s*(\d+)$/.exec(text);
  const first = Number(m?.[1]), last = Number(m?.[2]);
  if (!m || first < 1024 || last > 65535 || first > last) {
    throw new ConfigError(`PIER_TCP_PROXY_PORTS must be a port range such as 20000-20999 (ports 1024-65535, first <= last), or off, got ${JSON.stringify(text)}`);
  }
  return { tcpProxyPorts: { first, last } };
}

/** PIER_TCP_PROXY_IDLE_TIMEOUT (a duration such as 30m, or 0/off: never) and PIER_TCP_PROXY_MAX_CONNECTIONS (1-1000000). */
export function loadTcpProxyLimits(env: NodeJS.ProcessEnv = process.env): Pick<PierConfig, 'tcpProxyLimits'> {
  const out: NonNullable<PierConfig['tcpProxyLimits']> = {};
  const idle = (env.PIER_TCP_PROXY_IDLE_TIMEOUT ?? '').trim().toLowerCase();
  if (idle !== '') {
    const ms = ['0', 'off'].includes(idle) ? 0 : parseDuration(idle);
    if (!Number.isFinite(ms) || (ms > 0 && ms < 1000)) {
      throw new ConfigError(`PIER_TCP_PROXY_IDLE_TIMEOUT must be a duration such as 30m or 1h (at least 1s), or 0/off for no idle timeout, got ${JSON.stringify(idle)}`);
    }
    out.idleTimeoutMs = ms;
  }
  const max = (env.PIER_TCP_PROXY_MAX_CONNECTIONS ?? '').trim();
  if (max !== '') {
    const n = Number(max);
    if (!/^\d+$/.test(max) || n < 1 || n > 1_000_000) {
      throw new ConfigError(`PIER_TCP_PROXY_MAX_CONNECTIONS must be a whole number of connections per public port from 1 to 1000000, got ${JSON.stringify(max)}`);
    }
    out.maxConnectionsPerPort = n;
  }
  return Object.keys(out).length ? { tcpProxyLimits: out } : {};
}

/**
 * Claims and leftovers: PIER_DOMAINS_CLAIM_TTL (a duration, at least a minute), PIER_GC_KEEP_DEPLOYMENTS (1-1000)
 * PIER_GC_INTERVAL (a duration, or 0/off: collection only at start and after API writes) and PIER_EVENTS_KEEP_DAYS
 * (1-36500 days of events and activities). Only what is set is returned.
 */
export function loadHousekeeping(env: NodeJS.ProcessEnv = process.env): Pick<PierConfig, 'domainClaimTtlMs' | 'gcKeepDeployments' | 'gcIntervalMs' | 'eventsKeepDays'> {
  const out: Pick<PierConfig, 'domainClaimTtlMs' | 'gcKeepDeployments' | 'gcIntervalMs' | 'eventsKeepDays'> = {};
  const ttl = (env.PIER_DOMAINS_CLAIM_TTL ?? '').trim();
  if (ttl !== '') {
    const ms = parseDuration(ttl);
    if (!(ms >= 60_000)) throw new ConfigError(`PIER_DOMAINS_CLAIM_TTL must be a duration of a minute or more such as 7d or 12h, got ${JSON.stringify(ttl)}`);
    out.domainClaimTtlMs = ms;
  }
  const keep = (env.PIER_GC_KEEP_DEPLOYMENTS ?? '').trim();
  if (keep !== '') {
    const n = Number(keep);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ConfigError(`PIER_GC_KEEP_DEPLOYMENTS must be a whole number from 1 to 1000, got ${JSON.stringify(keep)}`);
    out.gcKeepDeployments = n;
  }
  const interval = (env.PIER_GC_INTERVAL ?? '').trim().toLowerCase();
  if (interval !== '') {
    const ms = ['0', 'off'].includes(interval) ? 0 : parseDuration(interval);
    if (!(ms === 0 || ms >= 10_000)) throw new ConfigError(`PIER_GC_INTERVAL must be a duration of 10s or more such as 1h, or off, got ${JSON.stringify(interval)}`);
    out.gcIntervalMs = ms;
  }
  const days = (env.PIER_EVENTS_KEEP_DAYS ?? '').trim();
  if (days !== '') {
    const n = Number(days);
    if (!Number.isInteger(n) || n < 1 || n > 36500) throw new ConfigError(`PIER_EVENTS_KEEP_DAYS must be a whole number of days from 1 to 36500, got ${JSON.stringify(days)}`);
    out.eventsKeepDays = n;
  }
  return out;
}

/**
 * What tenants' definitions may reach on this host: PIER_GIT_ALLOW_LOCAL (`operator` by default: the installation's
 * own full-access tokens only; `0`/`off`: nobody; or
 * `1`/`all`) and PIER_ARCHIVE_MAX_EXTRACTED_BYTES (a byte count, or with a K/M/G/T suffix, powers of 1024).
 */
export function loadTenantInputs(env: NodeJS.ProcessEnv = process.env): Pick<PierConfig, 'gitAllowLocal' | 'archiveMaxExtractedBytes'> {
  const out: Pick<PierConfig, 'gitAllowLocal' | 'archiveMaxExtractedBytes'> = {};
  const local = (env.PIER_GIT_ALLOW_LOCAL ?? '').trim().toLowerCase();
  if (['1', 'true', 'yes', 'all'].includes(local)) out.gitAllowLocal = 'all';
  else if (local === 'operator' || local === '') out.gitAllowLocal = 'operator';
  else if (!['0', 'false', 'no', 'off'].includes(local)) {
    throw new ConfigError(`PIER_GIT_ALLOW_LOCAL must be off, operator or all (1), got ${JSON.stringify(env.PIER_GIT_ALLOW_LOCAL)}`);
  }
  const max = (env.PIER_ARCHIVE_MAX_EXTRACTED_BYTES ?? '').trim();
  if (max !== '') {
    const m = /^(\d+)\s*([KMGT]i?B?)?$/i.exec(max);
    const bytes = m ? Number(m[1]) * 1024 ** ('KMGT'.indexOf((m[2] ?? ' ')[0]!.toUpperCase()) + 1) : NaN;
    if (!Number.isSafeInteger(bytes) || bytes <= 0) {
      throw new ConfigError(`PIER_ARCHIVE_MAX_EXTRACTED_BYTES must be a positive size such as 2G or 536870912, got ${JSON.stringify(max)}`);
    }
    out.archiveMaxExtractedBytes = bytes;
  }
  return out;
}

/**
 * The operator's package settings for builds: PIER_BUILD_CA_FILE (a PEM bundle, e.g. the host's
 * /etc/ssl/certs/ca-certificates.crt behind a TLS-intercepting proxy), PIER_BUILD_HTTP_PROXY, PIER_BUILD_HTTPS_PROXY,
 * PIER_BUILD_NO_PROXY, PIER_BUILD_NPM_REGISTRY, PIER_BUILD_PIP_INDEX_URL and PIER_BUILD_GOPROXY.
 */
export function loadBuildPackages(env: NodeJS.ProcessEnv = process.env): BuildPackageSettings {
  const value = (k: string) => (env[k] ?? '').trim() || undefined;
  const url = (k: string) => {
    const v = value(k);
    if (v !== undefined && !/^https?:\/\/\S+$/.test(v)) throw new ConfigError(`${k} must be an http(s) URL, got ${JSON.stringify(v)}`);
    return v;
  };
  const caFile = value('PIER_BUILD_CA_FILE');
  if (caFile !== undefined && !existsSync(caFile)) {
    throw new ConfigError(`PIER_BUILD_CA_FILE names ${caFile}, which does not exist: point it at a PEM bundle such as /etc/ssl/certs/ca-certificates.crt`);
  }
  const goProxy = value('PIER_BUILD_GOPROXY');
  const s: BuildPackageSettings = {
    caFile: caFile ? resolve(caFile) : undefined, httpProxy: url('PIER_BUILD_HTTP_PROXY'), httpsProxy: url('PIER_BUILD_HTTPS_PROXY'),
    noProxy: value('PIER_BUILD_NO_PROXY'), npmRegistry: url('PIER_BUILD_NPM_REGISTRY'), pipIndexUrl: url('PIER_BUILD_PIP_INDEX_URL'), goProxy,
  };
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as BuildPackageSettings;
}

/** vCPUs an instance of a smaller type may use while it starts, when PIER_STARTUP_CPU_BOOST is unset. */
export const DEFAULT_STARTUP_CPU_BOOST = 1;
/** Network holders the Docker runtime keeps ready for any instance (PIER_DOCKER_HOLDER_POOL; issue #23). */
export const DEFAULT_DOCKER_HOLDER_POOL = 2;

/** The startup boost this host gives (PIER_STARTUP_CPU_BOOST or the default), never more than its cores. */
export function startupCpuBoost(configured: number | undefined): number {
  return Math.min(configured ?? DEFAULT_STARTUP_CPU_BOOST, availableParallelism());
}

/** Edge worker processes when PIER_EDGE_WORKERS is unset: one per core, up to two. */
export function defaultEdgeWorkers(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

/** Bounds of `instances exec` sessions; an absent field keeps the API's default (15 min idle, 1 MiB frames, 8 per org). */
export interface ExecSettings {
  /** PIER_EXEC_IDLE_TIMEOUT: a session with no frame either way for this long is closed and its command killed. */
  idleTimeoutMs?: number;
  /** PIER_EXEC_MAX_FRAME_BYTES: largest websocket frame a client may send. */
  maxFrameBytes?: number;
  /** PIER_EXEC_MAX_SESSIONS: concurrent sessions per organization (0 disables exec). */
  maxSessionsPerOrg?: number;
}

/** Reads PIER_API_RATE_LIMIT (`<per second>/<burst>`, or `0` to disable); undefined when unset or malformed. */
export function rateLimitFromEnv(env: NodeJS.ProcessEnv): RateLimitSettings | undefined {
  const v = env.PIER_API_RATE_LIMIT?.trim();
  if (!v) return undefined;
  if (v === '0') return { ratePerSecond: 0, burst: 0 };
  const m = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(v);
  // A malformed value keeps the default budget (as it always has) rather than refusing to start.
  return m ? { ratePerSecond: Number(m[1]), burst: Number(m[2]) } : undefined;
}

/**
 * The edge's data plane from PIER_EDGE_DATAPLANE's value (`node`, `haproxy` or `auto`; unset is `auto`): the native
 * data plane is the default where it is installed (`pier setup` installs it); `node` opts out. `name` is what an error
 * calls the setting. Used by `pier up` and `pier edge`.
 */
export function edgeDataplaneChoice(value: string | undefined, path: string | undefined, name: string): { dataplane: 'node' | 'haproxy'; auto: boolean } {
  const v = value || 'auto';
  if (v !== 'node' && v !== 'haproxy' && v !== 'auto') throw new ConfigError(`${name} must be node, haproxy or auto, got ${JSON.stringify(v)}`);
  if (v === 'auto') return { dataplane: onPath('haproxy', path) ? 'haproxy' : 'node', auto: true };
  return { dataplane: v, auto: false };
}

/** Whether an executable named `bin` is in one of PATH's directories. */
export function onPath(bin: string, path: string | undefined): boolean {
  return (path ?? '').split(':').some((d) => {
    if (d === '') return false;
    try { accessSync(join(d, bin), constants.X_OK); return statSync(join(d, bin)).isFile(); } catch { return false; }
  });
}

/**
 * The tuning settings of the parts Pier wires (edge workers, autoscaler, API rate limit, metrics sampling, Swarm and
 * process-runtime networking), each present only when its variables are set, so the parts keep their own defaults.
 */
export function loadTuning(env: NodeJS.ProcessEnv, runtime: string): Pick<PierConfig,
  'edgeWorkers' | 'edgeDataplane' | 'edgeDataplaneAuto' | 'autoscale' | 'rateLimit' | 'metrics' | 'swarm' | 'processNetwork' | 'exec' | 'dockerNetnsHolders' | 'dockerHolderPool' | 'startupCpuBoost'> {
  const out: ReturnType<typeof loadTuning> = {};
  const boost = env.PIER_STARTUP_CPU_BOOST?.trim();
  if (boost) {
    const n = Number(boost);
    if (!Number.isFinite(n) || n < 0 || n > 64) throw new ConfigError(`PIER_STARTUP_CPU_BOOST must be a number of vCPUs from 0 (no boost) to 64, got ${JSON.stringify(boost)}`);
    out.startupCpuBoost = n;
  }
  const holders = env.PIER_DOCKER_NETNS_HOLDERS?.trim().toLowerCase();
  if (holders) {
    if (!['0', '1', 'on', 'off'].includes(holders)) throw new ConfigError(`PIER_DOCKER_NETNS_HOLDERS must be 1 or 0 (on or off), got ${JSON.stringify(holders)}`);
    out.dockerNetnsHolders = holders === '1' || holders === 'on';
  }
  const pool = env.PIER_DOCKER_HOLDER_POOL?.trim();
  if (pool) {
    const n = Number(pool);
    if (!Number.isInteger(n) || n < 0 || n > 16) throw new ConfigError(`PIER_DOCKER_HOLDER_POOL must be a whole number of network holders from 0 (none) to 16, got ${JSON.stringify(pool)}`);
    out.dockerHolderPool = n;
  }
  const workers = env.PIER_EDGE_WORKERS;
  if (workers !== undefined && workers !== '') {
    const n = Number(workers);
    if (!Number.isInteger(n) || n < 1 || n > 64) {
      throw new ConfigError(`PIER_EDGE_WORKERS must be a whole number from 1 to 64, got ${JSON.stringify(workers)}`);
    }
    out.edgeWorkers = n;
  }
  const dataplane = edgeDataplaneChoice(env.PIER_EDGE_DATAPLANE, env.PATH, 'PIER_EDGE_DATAPLANE');
  out.edgeDataplane = dataplane.dataplane;
  if (dataplane.auto) out.edgeDataplaneAuto = true;
  if (Object.keys(env).some((k) => k.startsWith('PIER_AUTOSCALE_'))) out.autoscale = autoscaleConfigFromEnv(env);
  const rateLimit = rateLimitFromEnv(env);
  if (rateLimit) out.rateLimit = rateLimit;
  const duration = (name: string, min: number): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const ms = parseShortDuration(raw);
    if (ms === undefined || ms < min) {
      throw new ConfigError(`${name} must be a duration such as 10s, 5m or 24h (at least ${min / 1000}s), got ${JSON.stringify(raw)}`);
    }
    return ms;
  };
  const intervalMs = duration('PIER_METRICS_INTERVAL', 1000);
  const retentionMs = duration('PIER_METRICS_RETENTION', 60_000);
  if (intervalMs !== undefined || retentionMs !== undefined) {
    out.metrics = { ...(intervalMs !== undefined ? { intervalMs } : {}), ...(retentionMs !== undefined ? { retentionMs } : {}) };
  }
  if (runtime === 'swarm') out.swarm = swarmOptionsFromEnv(env);
  const net: ProcessNetworkSettings = {};
  const mode = env.PIER_PROCESS_NETWORK?.trim().toLowerCase();
  if (mode) {
    if (mode !== 'auto' && mode !== 'isolated' && mode !== 'host') {
      throw new ConfigError(`PIER_PROCESS_NETWORK must be auto, isolated or host, not "${mode}"`);
    }
    net.mode = mode;
  }
  if (env.PIER_PROCESS_SUBNET) net.pool = env.PIER_PROCESS_SUBNET;
  if (env.PIER_PROCESS_EGRESS !== undefined) net.egress = env.PIER_PROCESS_EGRESS === '1';
  if (Object.keys(net).length) out.processNetwork = net;
  const execIdle = duration('PIER_EXEC_IDLE_TIMEOUT', 1000);
  const whole = (name: string, min: number, max: number): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return n;
  };
  const execFrame = whole('PIER_EXEC_MAX_FRAME_BYTES', 1024, 64 << 20);
  const execSessions = whole('PIER_EXEC_MAX_SESSIONS', 0, 10_000);
  if (execIdle !== undefined || execFrame !== undefined || execSessions !== undefined) {
    out.exec = {
      ...(execIdle !== undefined ? { idleTimeoutMs: execIdle } : {}),
      ...(execFrame !== undefined ? { maxFrameBytes: execFrame } : {}),
      ...(execSessions !== undefined ? { maxSessionsPerOrg: execSessions } : {}),
    };
  }
  return out;
}

/** PIER_LOG_FORMAT: text (default) or json. */
export function loadLogFormat(env: NodeJS.ProcessEnv = process.env): 'text' | 'json' {
  const v = (env.PIER_LOG_FORMAT ?? '').trim().toLowerCase();
  if (v === '' || v === 'text') return 'text';
  if (v === 'json') return 'json';
  throw new ConfigError(`PIER_LOG_FORMAT must be text or json, got ${JSON.stringify(env.PIER_LOG_FORMAT)}`);
}

// The HAProxy data plane's configuration as pure functions of the route table (no I/O): which routes HAProxy may
// serve itself, the backends and server slots they need, the host+path map, and the haproxy.cfg text. Everything
// HAProxy cannot do yet (sleeping apps, auth, HTTPS redirects, h2c upstreams, ACME) is left out of the map, so those
// requests fall through to the default backend: Pier's Node edge, which holds the whole table. A route whose
// instances span regions is served by HAProxy with the edge's own region preferred (RegionPreference): those
// instances are its active servers, the others backups; clients of another region (header or address map) go to Node.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { LATENCY_BUCKETS_MS } from '../metrics.ts';
import { parseCidr, type RegionRange } from '../regions.ts';
import { hostKey, normalizePrefix } from '../route-table.ts';
import type { AppRoutes, EdgeCertificate, LoadWatch, RouteEntry } from '../types.ts';

/** One upstream server as HAProxy sees it. */
export interface PlannedServer { instanceId: string; host: string; port: number; region: string }

/**
 * Region preference inside HAProxy: the edge's own region (its instances are a multi-region backend's active
 * servers, the others `backup`), the request header naming a client's region (a request naming another region
 * goes to the Node edge, which prefers that region's instances) and, without the header, the client address ranges
 * of EdgeOptions.regionMap that name another region (`away`, same rule). Absent: multi-region routes stay on Node.
 */
export interface RegionPreference { region: string; header: string; away?: AddressGroup[] }

/** Address ranges in the edge's first-match order, merged where neighbours agree: `away` when they name another region. */
export interface AddressGroup { cidrs: string[]; away: boolean }

/**
 * A region and a header HAProxy's config can hold as plain tokens, and the address map as HAProxy ranges (anything
 * else: no preference in HAProxy, multi-region routes stay on the Node edge).
 */
export function regionPreference(region: string, header: string, regionMap: RegionRange[] = []): RegionPreference | undefined {
  const h = header.toLowerCase();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(region) || !/^[a-z0-9-]{1,64}$/.test(h)) return undefined;
  if (regionMap.length === 0) return { region, header: h };
  const away = addressGroups(regionMap, region);
  return away === null ? undefined : { region, header: h, away };
}

/**
 * The address map as ordered groups for HAProxy's `src` rules, or null when a range is not plain `address[/bits]`.
 * First match wins, as in RegionMap: neighbours with the same answer are merged, and ranges naming the edge's own
 * region after the last one naming another are dropped (no match means the edge's region too).
 */
export function addressGroups(regionMap: RegionRange[], own: string): AddressGroup[] | null {
  const groups: AddressGroup[] = [];
  for (const { cidr, region } of regionMap) {
    const parsed = parseCidr(cidr);
    if (typeof parsed === 'string') return null;
    const range = `${parsed.address}/${parsed.prefix}`;
    const away = region !== own;
    const last = groups.at(-1);
    if (last?.away === away) last.cidrs.push(range);
    else groups.push({ cidrs: [range], away });
  }
  while (groups.length > 0 && !groups.at(-1)!.away) groups.pop();
  return groups;
}

/** The map value of a backend whose instances span regions: the frontend strips it, or sends the request to Node. */
export const REGIONAL_MARK = 'r:';

/** One backend: the instances of one service port behind one route prefix (the prefix is stripped in the backend). */
export interface PlannedBackend {
  name: string;
  /** Normalised route prefix stripped before forwarding ('/' = nothing stripped). */
  prefix: string;
  servers: PlannedServer[];
  /** Metrics keys (`appId serviceId path`) of the routes it serves, and their apps. */
  routeKeys: string[];
  appIds: string[];
  /** The service of its first route, and that route's loadWatch (issue #23: HAProxy's counters are watched for it). */
  serviceId: string;
  loadWatch?: LoadWatch;
  /** Its instances span regions (served with RegionPreference): the preferred region's are its active servers. */
  regional: boolean;
  /** The edge's own region when the plan has a RegionPreference: which servers are active in a backend with backups. */
  preferred?: string;
}

/** What HAProxy should hold for a route table: backends by name and map lines (key → backend), longest key first. */
export interface HaproxyPlan {
  backends: Map<string, PlannedBackend>;
  map: [key: string, backend: string][];
}

/** Path prefixes HAProxy routes itself: plain characters only, so no quoting or regex escaping can go wrong. */
const PLAIN_PATH = /^\/[A-Za-z0-9._~/-]*$/;
/** Host names in the map: the map file splits on white space and `field(1,:)` drops the port. */
const PLAIN_HOST = /^[a-z0-9.-]+$/;

/** Why a route stays on the Node edge, or null when HAProxy may serve it directly. */
export function nodeOnlyReason(app: AppRoutes, route: RouteEntry, regions?: RegionPreference): string | null {
  if (app.sleeping) return 'app sleeping (the Node edge holds requests and wakes it)';
  if (app.httpsRedirect) return 'HTTPS redirect';
  if ((route.basicAuths?.length ?? 0) > 0 || (route.apiKeys?.length ?? 0) > 0) return 'basic auth or API keys';
  if (route.upstreams.length === 0) return 'no healthy instance (the Node edge names the service status)';
  if (route.upstreams.some((u) => u.protocol !== 'http')) return 'h2c upstream';
  if (route.upstreams.some((u) => isIP(u.host) === 0)) return 'upstream named by host name (the runtime API takes addresses)';
  if (!regions && new Set(route.upstreams.map((u) => u.region)).size > 1) return 'several regions (client-region preference)';
  if (!PLAIN_PATH.test(normalizePrefix(route.path))) return 'path prefix with special characters';
  return null;
}

/** Backend name for a service port behind a prefix: stable across tables, valid as an HAProxy identifier. */
export function backendName(serviceId: string, port: number, prefix: string): string {
  const id = serviceId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return prefix === '/' ? `s_${id}_${port}` : `s_${id}_${port}_${createHash('sha256').update(prefix).digest('hex').slice(0, 8)}`;
}

/** The backend that sends a request to the Node edge (the default backend, also named in the map). */
export const NODE_BACKEND = 'pier_node_edge';

/**
 * The plan for a table. Hosts resolve to apps as in the Node edge (`<app>-<org>.<domain>` plus the app's hosts,
 * the last app holding a name wins); each host of an app with at least one direct route gets one map line per route
 * prefix: its backend, or NODE_BACKEND for a route HAProxy must not serve (so `/` never swallows an `/admin` guarded
 * by basic auth). Map keys are `host` + prefix + `/` and the frontend looks up `host` + path + `/` with map_beg, so
 * `/api` matches `/api`, `/api/x` and never `/apix` (segment-aware, as the Node edge); keys are sorted longest
 * first because map_beg returns the first match. With `regions`, a backend whose instances span regions is `regional`:
 * its map lines carry REGIONAL_MARK, and its servers are grouped by the preferred region (slotsForConfig).
 */
export function planHaproxy(apps: AppRoutes[], domain: string, regions?: RegionPreference): HaproxyPlan {
  const backends = new Map<string, PlannedBackend>();
  const hostApp = new Map<string, AppRoutes>();
  // Per app: prefix → backend name (or NODE_BACKEND), first route of a prefix wins (the Node edge's stable sort).
  const prefixes = new Map<AppRoutes, Map<string, string>>();
  for (const app of apps) {
    for (const h of app.hosts) hostApp.set(hostKey(h), app);
    hostApp.set(hostKey(`${app.appName}-${app.organizationName ?? app.organizationId}.${domain}`), app);
    const own = new Map<string, string>();
    for (const route of app.routes) {
      const prefix = normalizePrefix(route.path);
      if (own.has(prefix)) continue;
      if (nodeOnlyReason(app, route, regions) !== null) { own.set(prefix, NODE_BACKEND); continue; }
      const name = backendName(route.serviceId, route.port, prefix);
      own.set(prefix, name);
      let b = backends.get(name);
      if (b === undefined) {
        const servers = route.upstreams
          .map((u) => ({ instanceId: u.instanceId, host: u.host, port: u.port, region: u.region }))
          .sort((x, y) => x.instanceId.localeCompare(y.instanceId));
        const regional = regions !== undefined && new Set(servers.map((x) => x.region)).size > 1;
        backends.set(name, (b = {
          name, prefix, servers, routeKeys: [], appIds: [], serviceId: route.serviceId, regional,
          ...(regions ? { preferred: regions.region } : {}), ...(route.loadWatch ? { loadWatch: route.loadWatch } : {}),
        }));
      }
      b.routeKeys.push(`${app.appId} ${route.serviceId} ${prefix}`);
      if (!b.appIds.includes(app.appId)) b.appIds.push(app.appId);
    }
    prefixes.set(app, own);
  }
  const map: [string, string][] = [];
  for (const [h, app] of hostApp) {
    const own = prefixes.get(app)!;
    if (!PLAIN_HOST.test(h) || ![...own.values()].some((v) => v !== NODE_BACKEND)) continue; // a miss goes to Node
    for (const [prefix, be] of own) map.push([`${h}${prefix === '/' ? '' : prefix}/`, backends.get(be)?.regional ? `${REGIONAL_MARK}${be}` : be]);
  }
  map.sort((a, b) => b[0].length - a[0].length || (a[0] < b[0] ? -1 : 1));
  return { backends, map };
}

/** Server slots a backend gets: room to double before a reload is needed, in steps of 4. */
export function slotCount(servers: number): number {
  return Math.max(4, Math.ceil((servers * 2) / 4) * 4);
}

/** One server slot as written in the config: an instance, or an unused slot in maintenance. */
export interface SlotState { instanceId: string | null; host: string; port: number }

/**
 * A backend with its slots, as the config file and the runtime API hold it. A backend that has served instances of
 * several regions has two groups: slots before `backupFrom` are active servers (the preferred region's instances,
 * health-checked so a dead one is taken out at its first failed connection), the rest `backup` servers (the other
 * regions', all used at once while no active one is up: `option allbackups`). HAProxy 2.6 cannot make a server
 * backup at run time, hence fixed groups; a backend keeps them once it has them.
 */
export interface BackendSlots {
  name: string;
  prefix: string;
  slots: SlotState[];
  backupFrom?: number;
}

/** A slot that never held an instance: a placeholder address, written `disabled` (maintenance). */
const FREE_SLOT: SlotState = { instanceId: null, host: '127.0.0.1', port: 1 };

/** One slot change: an instance takes (or moves within) slot `index`, or leaves it. */
export interface SlotChange { kind: 'enable' | 'disable'; index: number; host: string; port: number }

/** Fit `servers` into `slots`: instances keep their slot, new ones take free slots, gone ones are freed. */
export function fitServers(slots: SlotState[], servers: PlannedServer[]): { slots: SlotState[]; changes: SlotChange[]; overflow: number } {
  const out = slots.map((s) => ({ ...s }));
  const changes: SlotChange[] = [];
  const want = new Map(servers.map((s) => [s.instanceId, s]));
  // Slots left in this very change are not given to a newcomer in it: their `maint` is sent after the map changes
  // (planRuntime), which would put the newcomer in maintenance, and an idle keep-alive connection of the leaving
  // instance must never serve the newcomer's requests. A later change may reuse them.
  const leftNow = new Set<number>();
  out.forEach((s, i) => {
    if (s.instanceId === null) return;
    const w = want.get(s.instanceId);
    if (w === undefined) { changes.push({ kind: 'disable', index: i, host: s.host, port: s.port }); s.instanceId = null; leftNow.add(i); return; }
    if (w.host !== s.host || w.port !== s.port) { s.host = w.host; s.port = w.port; changes.push({ kind: 'enable', index: i, host: w.host, port: w.port }); }
    want.delete(s.instanceId);
  });
  let overflow = 0;
  for (const w of want.values()) {
    const i = out.findIndex((s, j) => s.instanceId === null && !leftNow.has(j));
    if (i < 0) { overflow++; continue; }
    out[i] = { instanceId: w.instanceId, host: w.host, port: w.port };
    changes.push({ kind: 'enable', index: i, host: w.host, port: w.port });
  }
  return { slots: out, changes, overflow };
}

/** A grouped backend's servers: the preferred region's (active) and the others (backup). */
function groups(b: PlannedBackend): { active: PlannedServer[]; backup: PlannedServer[] } {
  return { active: b.servers.filter((x) => x.region === b.preferred), backup: b.servers.filter((x) => x.region !== b.preferred) };
}

/**
 * Fits a planned backend into the slots HAProxy holds (fitServers, per group in a grouped backend); null when the
 * layout cannot hold it: the backend's instances now span regions and it has no backup group yet (a reload).
 */
export function fitBackend(cur: BackendSlots, b: PlannedBackend): ReturnType<typeof fitServers> | null {
  if (cur.backupFrom === undefined) return b.regional ? null : fitServers(cur.slots, b.servers);
  const g = groups(b);
  const split = cur.backupFrom;
  const a = fitServers(cur.slots.slice(0, split), g.active);
  const k = fitServers(cur.slots.slice(split), g.backup);
  return { slots: [...a.slots, ...k.slots], changes: [...a.changes, ...k.changes.map((c) => ({ ...c, index: c.index + split }))], overflow: a.overflow + k.overflow };
}

/**
 * The backends a config file (a reload or a restart) is written with: every planned backend, sized by slotCount
 * (never shrunk below what it has, so a reload moves no instance), instances kept in the slots they hold; a backend
 * whose instances span regions (or that has had a backup group) gets both groups, each sized so.
 * Backends no longer planned are left out: a reload is the one moment they can go.
 */
export function slotsForConfig(plan: HaproxyPlan, have: ReadonlyMap<string, BackendSlots>): Map<string, BackendSlots> {
  const next = new Map<string, BackendSlots>();
  const sized = (old: SlotState[], servers: PlannedServer[]): SlotState[] => {
    const size = Math.max(slotCount(servers.length), old.length);
    return fitServers(Array.from({ length: size }, (_, i) => old[i] ?? { ...FREE_SLOT }), servers).slots;
  };
  for (const b of plan.backends.values()) {
    const old = have.get(b.name);
    if (!b.regional && old?.backupFrom === undefined) {
      next.set(b.name, { name: b.name, prefix: b.prefix, slots: sized(old?.slots ?? [], b.servers) });
      continue;
    }
    const g = groups(b);
    const split = old?.backupFrom;
    const active = sized(split === undefined ? old?.slots ?? [] : old!.slots.slice(0, split), g.active);
    const backup = sized(split === undefined ? [] : old!.slots.slice(split), g.backup);
    next.set(b.name, { name: b.name, prefix: b.prefix, slots: [...active, ...backup], backupFrom: active.length });
  }
  return next;
}

/** How to bring HAProxy from what it holds to a plan. */
export type RuntimeStep =
  /** Rewrite haproxy.cfg with `backends` and reload (`why` says what the runtime API cannot do). */
  | { reload: string; backends: Map<string, BackendSlots> }
  /**
   * No reload: send `before` (servers joining or moving: address, then ready), replace the map if it changed, then
   * send `after` (servers leaving, and every server of a backend no route uses any more: maint, so no new request
   * goes there while requests in flight finish). `backends` is what HAProxy holds afterwards.
   */
  | { reload: null; backends: Map<string, BackendSlots>; before: string[]; after: string[] };

/**
 * The runtime API commands (or the reload) that take HAProxy from `have` to `plan`. A reload only when a backend is
 * new (HAProxy 2.6 cannot add a backend at run time), when instances outgrow a backend's slots, or when `force` (a
 * change failed halfway, so what HAProxy holds is unknown). Adding, moving and removing instances of existing
 * backends, and any host or prefix change between existing backends (the map), never reload.
 */
export function planRuntime(have: ReadonlyMap<string, BackendSlots>, plan: HaproxyPlan, force = false): RuntimeStep {
  const reloadWith = (why: string): RuntimeStep => ({ reload: why, backends: slotsForConfig(plan, have) });
  if (force) return reloadWith('an earlier change failed halfway');
  const next = new Map<string, BackendSlots>();
  const before: string[] = [];
  const after: string[] = [];
  for (const b of plan.backends.values()) {
    const cur = have.get(b.name);
    if (cur === undefined) return reloadWith(`new backend ${b.name}`);
    const fit = fitBackend(cur, b);
    if (fit === null) return reloadWith(`backend ${b.name} now has instances in several regions (a backup group)`);
    if (fit.overflow > 0) return reloadWith(`backend ${b.name} needs ${b.servers.length} slots, has ${cur.slots.length}`);
    for (const c of fit.changes) {
      const ref = `${b.name}/s${c.index + 1}`;
      if (c.kind === 'disable') { after.push(`set server ${ref} state maint`); continue; }
      before.push(`set server ${ref} addr ${c.host} port ${c.port}`, `set server ${ref} state ready`);
      // A checked (active, grouped) slot may have been marked down for the instance it held before: up now, as the
      // control plane routes only instances that pass their checks.
      if (cur.backupFrom !== undefined && c.index < cur.backupFrom) before.push(`set server ${ref} health up`);
    }
    next.set(b.name, { ...cur, slots: fit.slots });
  }
  for (const [name, cur] of have) {
    if (next.has(name)) continue;
    const slots = cur.slots.map((s, i) => {
      if (s.instanceId !== null) after.push(`set server ${name}/s${i + 1} state maint`);
      return { ...s, instanceId: null };
    });
    next.set(name, { ...cur, slots });
  }
  return { reload: null, backends: next, before, after };
}

/** Supervision: the first restart after a death waits 100 ms, each further one twice as long, at most 5 s. */
export const RESTART_MIN_MS = 100;
export const RESTART_MAX_MS = 5000;
/** A HAProxy that served this long before dying starts the backoff over. */
export const RESTART_RESET_AFTER_MS = 30_000;

/** How long to wait before restarting HAProxy: `lastDelayMs` is the previous wait (null: none yet). */
export function restartDelay(lastDelayMs: number | null, upForMs: number): number {
  if (lastDelayMs === null || upForMs >= RESTART_RESET_AFTER_MS) return RESTART_MIN_MS;
  return Math.min(lastDelayMs * 2, RESTART_MAX_MS);
}

/** Everything haproxy.cfg is made of. */
export interface ConfigInput {
  /** Public listen address `host:port` (IPv6 in brackets). */
  bind: string;
  /** The Node edge HAProxy falls back to: `host:port`. */
  nodeEdge: string;
  /** Admin socket (runtime API) path. */
  adminSocket: string;
  /** Map file path (host+prefix → backend). */
  mapFile: string;
  backends: BackendSlots[];
  /** HTTPS: HAProxy terminates TLS on `bind` with the certificates of `crtList`; its misses go to the Node edge's TLS listener. */
  tls?: TlsInput;
  /** Upstream connect timeout (ms). */
  connectTimeoutMs?: number;
  /** Time allowed for an upstream's response (ms). */
  responseTimeoutMs?: number;
  /** HAProxy's threads (haproxyThreads): all of them, and how many of those accept plain HTTP. Absent: HAProxy's own default. */
  threads?: { total: number; http: number };
  /** The latency bucket map file (renderLatencyMap); absent: backends count no latency. */
  latencyMap?: string;
  /** Region preference (regional backends' map values carry REGIONAL_MARK); absent: no region rules. */
  regions?: RegionPreference;
}

/** Latency buckets per server slot in a backend's stick table: key = server id × LATENCY_KEYS + bucket index. */
export const LATENCY_KEYS = 16;

/**
 * The map from a request's duration in microseconds to its latency bucket (the index in LATENCY_BUCKETS_MS, whose
 * bounds are inclusive upper bounds as in the Node edge's histograms); longer than the last finite bound falls to the
 * map's default, the +Inf bucket.
 */
export function renderLatencyMap(): string {
  const lines: string[] = [];
  let lo = 0;
  LATENCY_BUCKETS_MS.forEach((ms, i) => {
    if (!Number.isFinite(ms)) return;
    const hi = Math.round(ms * 1000);
    lines.push(`${lo}:${hi} ${i}`);
    lo = hi + 1;
  });
  return lines.join('\n') + '\n';
}

/**
 * The runtime API calls that list every backend's latency table: `show table <name>` joined by `;`, each call under
 * `maxChars` (HAProxy reads one command line into one buffer, tune.bufsize, 16 KiB by default).
 */
export function latencyTableCommands(backends: string[], maxChars = 8000): string[] {
  const calls: string[] = [];
  let cur = '';
  for (const name of backends) {
    const cmd = `show table ${name}`;
    if (cur && cur.length + 1 + cmd.length > maxChars) { calls.push(cur); cur = ''; }
    cur = cur ? `${cur};${cmd}` : cmd;
  }
  if (cur) calls.push(cur);
  return calls;
}

/**
 * One latency key of a backend's stick table (see LATENCY_KEYS): the server slot (0-based) and the bucket, or null
 * for a key no rule makes.
 */
export function latencyKey(key: number): { slot: number; bucket: number } | null {
  const id = Math.floor(key / LATENCY_KEYS);
  const bucket = key % LATENCY_KEYS;
  if (!Number.isInteger(key) || id < 1 || bucket >= LATENCY_BUCKETS_MS.length) return null;
  return { slot: id - 1, bucket };
}

/**
 * Threads for a host with `cpus` CPUs: one per CPU, plain HTTP accepted on all but one of them (at least one), TLS on
 * all. Plain proxying costs little per request, and on a small host the cores are shared with the instances and Pier
 * itself: on the 2-core bench box two HAProxy threads carrying plain HTTP gave fewer requests/s and a longer p99 than
 * one (docs/edge.md, "Performance"); TLS is crypto-bound and gains from every thread.
 */
export function haproxyThreads(cpus: number): { total: number; http: number } {
  const total = Math.max(1, Math.min(64, Math.floor(cpus)));
  return { total, http: Math.max(1, total - 1) };
}

/** The HTTPS frontend's inputs. */
export interface TlsInput {
  /** Public HTTPS address `host:port` (IPv6 in brackets). */
  bind: string;
  /** crt-list file path (see planCertificates). */
  crtList: string;
  /** The Node edge's loopback TLS listener `host:port`, which gets every request HAProxy does not serve itself. */
  nodeEdgeTls: string;
}

/** The backend that sends an HTTPS request HAProxy does not serve itself to the Node edge's TLS listener. */
export const NODE_TLS_BACKEND = 'pier_node_edge_tls';

/** One PEM bundle to write: `file` (a name in the certificate directory) holds the chain and the key. */
export interface CertFile { file: string; pem: string }

/** One crt-list line: a bundle in the certificate directory and the SNI names it serves. */
export interface CrtEntry { file: string; names: string[] }

/** A crt-list line as written in the file and sent to `add ssl crt-list`. */
export function crtLine(dir: string, e: CrtEntry): string {
  return `${dir}/${e.file} ${e.names.join(' ')}`;
}

/**
 * The runtime API commands that take HAProxy's certificates from `have` to `want` without a reload (HAProxy 2.6:
 * new/set/commit ssl cert, add/del ssl crt-list, del ssl cert): new bundles are loaded and their lines added before
 * old lines and bundles go, so a renewed name is never without a certificate. Null when the change needs a reload:
 * a bundle named on two lines (`del ssl crt-list` could not tell them apart), or one whose names change.
 * `payload` (the PEM, blank lines dropped: an empty line ends a payload) is sent after the command, never logged.
 */
export function planCertRuntime(dir: string, crtList: string, have: CrtEntry[], want: CrtEntry[], files: CertFile[]):
  { cmd: string; payload?: string; expect?: string }[] | null {
  const line = (e: CrtEntry) => crtLine(dir, e);
  const oldLines = new Set(have.map(line));
  const newLines = new Set(want.map(line));
  const oldFiles = new Set(have.map((e) => e.file));
  const newFiles = new Set(want.map((e) => e.file));
  if (oldFiles.size !== have.length || newFiles.size !== want.length) return null;
  const added = want.filter((e) => !oldLines.has(line(e)));
  const removed = have.filter((e) => !newLines.has(line(e)));
  if (added.some((e) => oldFiles.has(e.file)) || removed.some((e) => newFiles.has(e.file))) return null;
  const steps: { cmd: string; payload?: string; expect?: string }[] = [];
  for (const f of files) {
    if (oldFiles.has(f.file) || !newFiles.has(f.file)) continue;
    const path = `${dir}/${f.file}`;
    steps.push({ cmd: `new ssl cert ${path}` });
    steps.push({ cmd: `set ssl cert ${path}`, payload: f.pem.split('\n').filter((l) => l.trim() !== '').join('\n') });
    steps.push({ cmd: `commit ssl cert ${path}`, expect: 'Success!' });
  }
  for (const e of added) steps.push({ cmd: `add ssl crt-list ${crtList}`, payload: line(e), expect: 'Success!' });
  for (const e of removed) {
    steps.push({ cmd: `del ssl crt-list ${crtList} ${dir}/${e.file}` });
    steps.push({ cmd: `del ssl cert ${dir}/${e.file}` });
  }
  return steps;
}

/**
 * The PEM bundles and crt-list for a certificate set (already checked to load). Names are lower-cased without a
 * trailing dot and the first certificate holding a name keeps it, as the Node edge's CertificateTable; each crt-list
 * line names its SNI filters explicitly, so HAProxy picks an exact name first, then a wildcard covering the first
 * label, and (with strict-sni) fails the handshake for any other name. Files are named by a hash of their content,
 * so an unchanged certificate keeps its file.
 */
export function planCertificates(certs: EdgeCertificate[], dir: string): { files: CertFile[]; entries: CrtEntry[]; crtList: string } {
  const taken = new Set<string>();
  const files: CertFile[] = [];
  const entries: CrtEntry[] = [];
  for (const c of certs) {
    const names = c.names.map((n) => n.toLowerCase().replace(/\.$/, ''))
      .filter((n) => /^(\*\.)?[a-z0-9.-]+$/.test(n) && !taken.has(n) && (taken.add(n), true));
    if (names.length === 0) continue;
    const pem = `${c.certPem.trim()}\n${c.keyPem.trim()}\n`;
    const file = `c-${createHash('sha256').update(pem).digest('hex').slice(0, 24)}.pem`;
    if (!files.some((f) => f.file === file)) files.push({ file, pem });
    entries.push({ file, names });
  }
  return { files, entries, crtList: entries.map((e) => `${crtLine(dir, e)}\n`).join('') };
}

/** HAProxy's address form for a host (IPv6 in brackets). */
function addr(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The regex that strips a plain prefix (see PLAIN_PATH): `/api` → `^/api/?`, replaced by `/`. Unescaped on purpose:
 * the map already guaranteed the path starts with the exact prefix, so a `.` matching any character changes nothing.
 */
function stripRegex(prefix: string): string {
  return `^${prefix}/?`;
}

/** Ranges per `src` rule: HAProxy reads a config line into 2 KiB; 24 of the longest IPv6 ranges fit with room. */
const RANGES_PER_RULE = 24;

/**
 * Without the region header, the client's address decides (RegionMap's rule, first match wins): the first group
 * holding it says whether the client is in another region, and such a request goes to the Node edge, which answers
 * from that region. No match: the edge's own region.
 */
function addressRules(groups: AddressGroup[]): string[] {
  if (groups.length === 0) return [];
  const out: string[] = [];
  for (const g of groups) {
    for (let i = 0; i < g.cidrs.length; i += RANGES_PER_RULE) {
      const ranges = g.cidrs.slice(i, i + RANGES_PER_RULE).join(' ');
      out.push(`  http-request set-var(txn.away) int(${g.away ? 1 : 0}) if regional !named !{ var(txn.away) -m found } { src ${ranges} }`);
    }
  }
  out.push('  http-request unset-var(txn.be) if regional { var(txn.away) -m int 1 }');
  return out;
}

/**
 * One frontend (HTTP or HTTPS): the same routing, the client's scheme in x-forwarded-proto, misses to `fallback`.
 * Only origin-form requests with one Host, a path without '%', and none of the Node edge's own paths are looked
 * up; everything else (and every miss) goes to the Node edge, which answers it exactly as without HAProxy.
 */
function frontend(name: string, bind: string, proto: 'http' | 'https', fallback: string, mapFile: string, regions?: RegionPreference): string[] {
  const direct = '{ var(txn.be) -m found }';
  // A regional backend (its instances span regions) prefers the edge's own region, which is the client's region
  // unless the region header names one (the Node edge's rule: the header, else the edge's region): a request naming
  // another region goes to the Node edge (the last header counts, as there). An empty or oversized header, which the
  // Node edge ignores, goes there too and gets the same answer.
  const regional = regions === undefined ? [] : [
    `  acl regional var(txn.be) -m beg ${REGIONAL_MARK}`,
    `  acl named req.fhdr(${regions.header}) -m found`,
    `  http-request unset-var(txn.be) if regional named !{ req.fhdr(${regions.header},-1) -m str ${regions.region} }`,
    ...addressRules(regions.away ?? []),
    '  http-request set-var(txn.be) var(txn.be),field(2,:) if regional',
  ];
  return [
    `frontend ${name}`,
    `  ${bind}`,
    '  acl plain url_beg /',
    // HTTP/2 requests carry :authority, which HAProxy keeps as an absolute URI: those count as origin-form.
    ...(proto === 'https' ? ['  acl h2 req.ver 2.0'] : []),
    '  acl one_host req.hdr_cnt(host) eq 1',
    '  acl pct path_sub %',
    '  acl node_path path_beg /.well-known/acme-challenge/ /_pier/',
    `  http-request set-var(txn.p) path if plain one_host !pct !node_path${proto === 'https' ? ' || h2 one_host !pct !node_path' : ''}`,
    `  http-request set-var(txn.be) req.hdr(host),field(1,:),lower,concat(,txn.p,/),map_beg(${mapFile}) if { var(txn.p) -m found }`,
    `  http-request unset-var(txn.be) if { var(txn.be) -m str ${NODE_BACKEND} }`,
    ...regional,
    `  http-request set-header x-forwarded-host %[req.hdr(host)] if ${direct}`,
    `  http-request set-header x-forwarded-proto ${proto} if ${direct}`,
    `  http-request set-header x-request-id %[uuid] if ${direct} !{ req.hdr(x-request-id) -m reg ^[A-Za-z0-9._:@+=-]{1,128}$ }`,
    `  http-request set-var(txn.rid) req.hdr(x-request-id) if ${direct}`,
    // The answer carries the request id, as the Node edge's do (the instance's own x-request-id is dropped).
    '  http-response set-header x-request-id %[var(txn.rid)] if { var(txn.rid) -m found }',
    `  use_backend %[var(txn.be)] if ${direct}`,
    `  default_backend ${fallback}`,
  ];
}

/** haproxy.cfg for the input; servers' current addresses are written in, so a reload keeps the runtime state. */
export function renderConfig(c: ConfigInput): string {
  const lines = [
    '# Generated by Pier (src/edge/haproxy/config.ts); rewritten on every backend change. Do not edit.',
    'global',
    `  stats socket ${c.adminSocket} mode 600 level admin expose-fd listeners`,
    '  stats timeout 30s',
    '  hard-stop-after 60s',
    // Under a saturated CPU, favour short I/O tasks over long-running ones (HAProxy 2.4+).
    '  tune.sched.low-latency on',
    ...(c.threads ? [`  nbthread ${c.threads.total}`] : []),
    '',
    'defaults',
    '  mode http',
    `  timeout connect ${c.connectTimeoutMs ?? 2000}ms`,
    '  timeout client 300s',
    `  timeout server ${c.responseTimeoutMs ?? 300_000}ms`,
    '  timeout http-request 30s',
    '  timeout http-keep-alive 60s',
    '  timeout tunnel 1h',
    '  timeout queue 5s',
    '  option forwardfor',
    '  option redispatch 1',
    '  retries 2',
    '  retry-on conn-failure empty-response',
    '  http-reuse safe',
    '  option http-keep-alive',
    // A reload's old worker keeps its idle keep-alive connections until their next request, answers it and closes
    // (HAProxy 2.6.12+): closing them at once raced a request already on the wire (a client's "socket hang up").
    '  option idle-close-on-response',
    '',
    ...frontend('edge', `bind ${c.bind}${c.threads ? ` thread ${c.threads.http === 1 ? '1' : `1-${c.threads.http}`}` : ''}`, 'http', NODE_BACKEND, c.mapFile, c.regions),
    ...(c.tls ? ['', ...frontend('edge_tls', `bind ${c.tls.bind} ssl crt-list ${c.tls.crtList} strict-sni alpn h2,http/1.1`, 'https', NODE_TLS_BACKEND, c.mapFile, c.regions)] : []),
    '',
    `backend ${NODE_BACKEND}`,
    `  server node ${c.nodeEdge}`,
  ];
  // The Node edge's TLS listener, re-encrypted on loopback with the client's SNI (a certificate the Node edge holds
  // too), so it sees an HTTPS request exactly as without HAProxy (no HTTPS redirect loop, its own x-forwarded-proto).
  if (c.tls) lines.push('', `backend ${NODE_TLS_BACKEND}`, `  server node_tls ${c.tls.nodeEdgeTls} ssl verify none sni ssl_fc_sni alpn http/1.1`);
  // An instance's own x-request-id never reaches the client: the frontend's http-response set-header replaces it.
  const backend = (name: string, prefix: string, slots: SlotState[], backupFrom: number | undefined): void => {
    lines.push('', `backend ${name}`, '  balance leastconn');
    // Grouped (several regions): while no active server is up, every backup server takes requests, not the first.
    if (backupFrom !== undefined) lines.push('  option allbackups');
    if (c.latencyMap !== undefined) {
      // Latency histograms (the charts and the autoscaler's response-time target read them): the time from the
      // request entering the backend to the response's headers, counted per server slot and bucket in the backend's
      // own stick table (integer keys; one table per backend, so threads serving different services never share a
      // lock). Servers get ids 1..N in the order below, HAProxy's default. Pier reads the table once a second.
      lines.push(
        `  stick-table type integer size ${(slots.length + 1) * LATENCY_KEYS} store gpc0`,
        '  http-request set-var(txn.pier_t0) date(0,us)',
        `  http-response set-var(txn.pier_b) date(0,us),sub(txn.pier_t0),map_int(${c.latencyMap},${LATENCY_BUCKETS_MS.length - 1})`,
        `  http-response track-sc0 srv_id,mul(${LATENCY_KEYS}),add(txn.pier_b)`,
        '  http-response sc-inc-gpc0(0)',
      );
    }
    if (prefix !== '/') lines.push(`  http-request set-path %[path,regsub(${stripRegex(prefix)},/)]`);
    slots.forEach((s, i) => {
      // An active server of a grouped backend is marked down at its first failed connection (the request goes to
      // another server: `option redispatch`, the backups once no active one is up, as the Node edge fails over to
      // another region) and up again at its next passing TCP check (every 2 s; none run while it is in maint).
      const group = backupFrom === undefined ? '' : i >= backupFrom ? ' backup' : ' check inter 2s fall 1 rise 1 observe layer4 error-limit 1 on-error mark-down';
      lines.push(`  server s${i + 1} ${addr(s.host, s.port)}${s.instanceId === null ? ' disabled' : ''}${group}`);
    });
  };
  for (const b of c.backends) backend(b.name, b.prefix, b.slots, b.backupFrom);
  return lines.join('\n') + '\n';
}

/** The map file's text: `key backend` per line. */
export function renderMap(map: [string, string][]): string {
  return map.map(([k, v]) => `${k} ${v}\n`).join('');
}

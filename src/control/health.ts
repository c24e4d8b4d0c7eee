// Pier runs health checks itself, from the control plane against each instance's published endpoint (never
// inside the image): TCP connect, or HTTP where 2xx/3xx passes. Failures inside the grace period do not count;
// `restart_limit` consecutive failures ask for a restart.
import net from 'node:net';
import http from 'node:http';
import type { DeploymentHealthCheck, RegionalDeploymentDefinition } from '../domain/types.ts';
import type { Endpoint } from '../runtime/contract.ts';

/** One check with its defaults applied, times in milliseconds. */
export interface ResolvedCheck {
  kind: 'tcp' | 'http';
  port: number;
  path: string;
  method: string;
  headers: { key: string; value: string }[];
  graceMs: number;
  intervalMs: number;
  timeoutMs: number;
  restartLimit: number;
}

/** What a probe saw: pass or fail with a detail a person understands. */
export interface ProbeResult { ok: boolean; detail: string }

/** Runs one check against one endpoint; injectable so table tests script health without sockets. */
export type Prober = (check: ResolvedCheck, target: { host: string; port: number }) => Promise<ProbeResult>;

/** Test-only overrides: the reference's minimum intervals (30 s) are far too long for tests. */
export interface HealthTiming { intervalMs?: number; graceMs?: number; timeoutMs?: number }

/** The checks of a definition: the declared ones, else (as Koyeb) a TCP check on every declared port. */
export function resolveChecks(def: Pick<RegionalDeploymentDefinition, 'health_checks' | 'ports'>, timing: HealthTiming = {}): ResolvedCheck[] {
  const declared: DeploymentHealthCheck[] = def.health_checks?.length
    ? def.health_checks
    : (def.ports ?? []).map((p) => ({ tcp: { port: p.port } }));
  return declared.flatMap((hc): ResolvedCheck[] => {
    const port = hc.http?.port ?? hc.tcp?.port;
    if (port === undefined) return [];
    return [{
      kind: hc.http ? 'http' : 'tcp',
      port,
      path: hc.http?.path ?? '/',
      method: (hc.http?.method ?? 'GET').toUpperCase(),
      headers: hc.http?.headers ?? [],
      graceMs: timing.graceMs ?? (hc.grace_period ?? 5) * 1000,
      intervalMs: timing.intervalMs ?? (hc.interval ?? 30) * 1000,
      timeoutMs: timing.timeoutMs ?? (hc.timeout ?? 5) * 1000,
      restartLimit: Math.max(1, hc.restart_limit ?? 3),
    }];
  });
}

/** The real prober: a TCP connect, or one HTTP request on loopback. */
export const networkProber: Prober = (check, target) =>
  check.kind === 'tcp' ? probeTcp(target, check.timeoutMs) : probeHttp(check, target);

/** How long a TCP check keeps an accepted connection open to see whether the peer drops it at once. */
export const TCP_SETTLE_MS = 100;

function probeTcp(target: { host: string; port: number }, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.host, port: target.port });
    let settled = false;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, detail: `no connection within ${timeoutMs} ms` }), timeoutMs);
    // A connect alone is not enough: Docker's port proxy accepts on the host port before the app listens, then
    // closes the connection when it cannot reach the app. A listening app keeps it open, so wait a moment.
    socket.once('connect', () => {
      const dropped = () => done({ ok: false, detail: 'connection closed at once (the port is not listening yet)' });
      socket.once('end', dropped);
      socket.once('close', dropped);
      setTimeout(() => done({ ok: true, detail: 'connected' }), Math.min(TCP_SETTLE_MS, Math.max(0, timeoutMs - 1))).unref();
    });
    socket.on('data', () => { /* a banner (e.g. SSH, SMTP) proves a listener */ done({ ok: true, detail: 'connected' }); });
    socket.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, detail: e.code ?? e.message }));
  });
}

function probeHttp(check: ResolvedCheck, target: { host: string; port: number }): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = {};
    for (const h of check.headers) headers[h.key] = h.value;
    const req = http.request({ host: target.host, port: target.port, path: check.path, method: check.method, headers, agent: false });
    const done = (r: ProbeResult) => { clearTimeout(timer); req.destroy(); resolve(r); };
    const timer = setTimeout(() => done({ ok: false, detail: `${check.method} ${check.path} timed out after ${check.timeoutMs} ms` }), check.timeoutMs);
    req.once('response', (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      done({ ok: code >= 200 && code < 400, detail: `${check.method} ${check.path} returned ${code}` });
    });
    req.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, detail: `${check.method} ${check.path}: ${e.code ?? e.message}` }));
    req.end();
  });
}

/** The outcome of one round of checks on one instance. */
export type HealthVerdict =
  | { kind: 'pass' }
  | { kind: 'waiting'; check: ResolvedCheck; detail: string } // failing, but inside the grace period
  | { kind: 'fail'; check: ResolvedCheck; detail: string; restart: boolean };

interface Tracked {
  startedAtMs: number; nextDueMs: number; failures: Map<number, number>; last?: HealthVerdict;
  /** Whether every check has passed once since the workload started; until then probes run on the startup ramp. */
  passed: boolean; startupProbes: number;
  /** When the last probe ran (undefined before the first); how many probes output brought forward since the start. */
  lastProbeMs?: number; outputProbes?: number;
  /** Whether a port that refused is being watched for a listener now, until when (performance.now(); watchListen). */
  watching?: boolean; watchUntil?: number;
  /** A failure outside the grace period counts (towards UNHEALTHY and restart_limit) only from this time on. */
  nextCountMs: number;
}

/** The startup ramp's longest step: a slow starter is seen serving at most this late. */
export const STARTUP_RAMP_CAP_MS = 250;
/** How long after its start an instance that never passed stays on the ramp (at least its grace period). */
export const STARTUP_RAMP_WINDOW_MS = 60_000;

/**
 * Delay before the next probe of an instance that has not passed yet: 10, 20, 40, 80, 160, then 250 ms. The first
 * probe runs right at start. The configured interval (30 s by default) is for instances already serving: a new
 * instance that missed a probe by a millisecond must not wait that long (or a fixed second) to take traffic.
 * Ramp probes are extra: a failure counts only on the interval's rhythm, so failures and restarts come no sooner
 * than the interval says.
 */
export function startupProbeDelayMs(probesSoFar: number): number {
  return Math.min(STARTUP_RAMP_CAP_MS, 10 * 2 ** Math.min(probesSoFar, 5));
}

/** The least time between two probes an instance's output brings forward (a chatty starter is not probed per line). */
export const OUTPUT_PROBE_GAP_MS = 10;
/**
 * How many probes output may bring forward per start: a function's wrapper prints one line once it serves, while an
 * app that logs all through a long start would otherwise ask for a pass every 10 ms until it passes (then the ramp).
 */
export const OUTPUT_PROBES_PER_START = 8;

/** One TCP connect towards a port that refused a probe: did something listen there now? */
export type ConnectTry = (target: { host: string; port: number }) => Promise<'listening' | 'refused' | 'other'>;

/** Between two ramp probes, a port that refused is tried again this often (a connect, no pass: see watchListen). */
export const LISTEN_WATCH_STEP_MS = 4;
/** Only this long after a start (then the ramp's steps alone). */
export const LISTEN_WATCH_WINDOW_MS = 2_000;
/**
 * Starts watched at the same time at most; others wait for the ramp's next probe as before. A refused connect costs
 * the control plane ~130 µs of CPU here, so one watch is ~3 % of a core while it lasts (usually 20-100 ms of a start)
 * and four at most ~13 %: a mass start (a scale to 100) does not spend a core on watching.
 */
export const LISTEN_WATCH_MAX = 4;
/** A connect that neither succeeds nor is refused within this is not a refusal: the watch ends. */
const CONNECT_TRY_TIMEOUT_MS = 100;

/** The real connect try: accepted, refused (nothing listens yet), or anything else. */
export const tcpConnectTry: ConnectTry = (target) => new Promise((resolve) => {
  const socket = net.connect({ host: target.host, port: target.port });
  const done = (r: 'listening' | 'refused' | 'other') => { clearTimeout(timer); socket.destroy(); resolve(r); };
  const timer = setTimeout(() => done('other'), CONNECT_TRY_TIMEOUT_MS);
  socket.once('connect', () => done('listening'));
  socket.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'refused' : 'other'));
});

/** Whether a probe's detail says the port refused the connection (TCP and HTTP probes word it so). */
function refused(detail: string): boolean { return /(^|: )ECONNREFUSED$/.test(detail); }

/** Remembers per-instance check timing and consecutive failures; the controller asks it each pass. */
export class HealthTracker {
  private readonly tracked = new Map<string, Tracked>();
  /** Watches running now (watchListen), at most LISTEN_WATCH_MAX. */
  private watches = 0;
  /**
   * Called when a watched port of a starting instance accepts a connection: its next probe is due now (the
   * controller runs a pass). Set by the controller.
   */
  onListening?: (instanceId: string) => void;
  /**
   * `connectTry`: how a port that refused is watched between ramp probes (issue #23: the ramp's steps, 10 to 250 ms,
   * were most of the time from a start to its first passing probe). The real prober watches with real connects;
   * a scripted prober (tests) does not watch unless given one.
   */
  constructor(private readonly prober: Prober = networkProber, private readonly connectTry: ConnectTry | undefined = prober === networkProber ? tcpConnectTry : undefined) {}

  /** Starts (or restarts) tracking an instance whose workload started at `startedAtMs`. */
  reset(instanceId: string, startedAtMs: number): void {
    this.tracked.set(instanceId, { startedAtMs, nextDueMs: startedAtMs, failures: new Map(), passed: false, startupProbes: 0, nextCountMs: startedAtMs });
  }

  /**
   * Tracks an instance known to pass right now (thawed from light sleep: the very process that passed before it was
   * frozen): off the startup ramp, next probe after `nextInMs`.
   */
  passing(instanceId: string, nowMs: number, nextInMs: number): void {
    this.tracked.set(instanceId, { startedAtMs: nowMs, nextDueMs: nowMs + nextInMs, failures: new Map(), passed: true, startupProbes: 0, nextCountMs: nowMs, last: { kind: 'pass' } });
  }

  /**
   * The instance printed something while on the startup ramp: often that it listens now (a function's wrapper says so
   * once it serves). Brings its next probe forward to now (at least OUTPUT_PROBE_GAP_MS after the last one) instead of
   * the ramp's next step, up to 250 ms away, OUTPUT_PROBES_PER_START times per start; true when that moved it (the
   * caller asks for a pass). A hint only: the probe decides, and a failure on it counts no more than a ramp probe's.
   */
  probeSoon(instanceId: string, nowMs: number): boolean {
    const t = this.tracked.get(instanceId);
    if (!t || t.passed || (t.outputProbes ?? 0) >= OUTPUT_PROBES_PER_START) return false;
    const at = Math.max(nowMs, (t.lastProbeMs ?? -Infinity) + OUTPUT_PROBE_GAP_MS);
    if (at >= t.nextDueMs) return false;
    t.nextDueMs = at;
    t.outputProbes = (t.outputProbes ?? 0) + 1;
    return true;
  }

  /** Stops tracking an instance. */
  forget(instanceId: string): void { this.tracked.delete(instanceId); }

  /** Runs the checks if they are due; returns the last verdict otherwise (undefined before the first round). */
  async evaluate(instanceId: string, checks: ResolvedCheck[], endpoints: Endpoint[], nowMs: number): Promise<HealthVerdict | undefined> {
    let t = this.tracked.get(instanceId);
    if (!t) { this.reset(instanceId, nowMs); t = this.tracked.get(instanceId)!; }
    if (nowMs < t.nextDueMs) return t.last;
    t.lastProbeMs = nowMs;
    const results = await Promise.all(checks.map(async (check) => {
      const ep = endpoints.find((e) => e.containerPort === check.port);
      const result = ep ? await this.prober(check, { host: ep.host, port: ep.hostPort }) : { ok: false, detail: `port ${check.port} is not published` };
      return { check, result };
    }));
    const inGrace = (c: ResolvedCheck) => nowMs < t.startedAtMs + c.graceMs;
    // Before the first pass, a ramp probe between two counted rounds only looks: it may pass, never count a failure.
    const counts = t.passed || nowMs >= t.nextCountMs;
    let verdict: HealthVerdict = { kind: 'pass' };
    for (const { check, result } of results) {
      if (result.ok) { t.failures.set(check.port, 0); continue; }
      if (inGrace(check) || !counts) {
        if (inGrace(check)) t.failures.set(check.port, 0);
        if (verdict.kind === 'pass') verdict = { kind: 'waiting', check, detail: result.detail };
        continue;
      }
      const n = (t.failures.get(check.port) ?? 0) + 1;
      t.failures.set(check.port, n);
      const restart = n >= check.restartLimit;
      if (verdict.kind !== 'fail' || (restart && !verdict.restart)) verdict = { kind: 'fail', check, detail: result.detail, restart };
    }
    if (verdict.kind === 'fail' && verdict.restart) t.failures.clear();
    if (verdict.kind === 'pass') t.passed = true;
    const interval = Math.min(...checks.map((c) => c.intervalMs), Number.MAX_SAFE_INTEGER);
    if (verdict.kind === 'fail') t.nextCountMs = nowMs + interval;
    const rampEnd = t.startedAtMs + Math.max(STARTUP_RAMP_WINDOW_MS, ...checks.map((c) => c.graceMs));
    const ramping = !t.passed && nowMs < rampEnd;
    t.nextDueMs = nowMs + (ramping ? Math.min(interval, startupProbeDelayMs(t.startupProbes++)) : interval);
    t.last = verdict;
    if (ramping && nowMs < t.startedAtMs + LISTEN_WATCH_WINDOW_MS) {
      for (const { check, result } of results) {
        const ep = !result.ok && refused(result.detail) ? endpoints.find((e) => e.containerPort === check.port) : undefined;
        if (ep) { this.watchListen(instanceId, t, { host: ep.host, port: ep.hostPort }, t.nextDueMs - nowMs); break; }
      }
    }
    return verdict;
  }

  /**
   * Until the ramp's next probe (`forMs`), tries the port that refused every LISTEN_WATCH_STEP_MS with a bare
   * connect: the moment something accepts, the probe is due now and the controller is told (a pass runs it). Not a
   * probe: it never passes nor fails a check, and a port that listens before it answers well (an HTTP check still
   * failing) goes back to the ramp. No pass runs for a refused connect (~130 µs of CPU here, see LISTEN_WATCH_MAX).
   */
  private watchListen(instanceId: string, t: Tracked, target: { host: string; port: number }, forMs: number): void {
    if (!this.connectTry || forMs <= LISTEN_WATCH_STEP_MS) return;
    // A probe that ran while a watch was on (output brought it forward) moves the watch's end to its next one.
    t.watchUntil = performance.now() + forMs - 1;
    if (t.watching || this.watches >= LISTEN_WATCH_MAX) return;
    const connectTry = this.connectTry;
    t.watching = true;
    this.watches++;
    const current = () => this.tracked.get(instanceId) === t && !t.passed;
    void (async () => {
      try {
        while (current() && performance.now() + LISTEN_WATCH_STEP_MS < (t.watchUntil ?? 0)) {
          await new Promise((r) => setTimeout(r, LISTEN_WATCH_STEP_MS).unref());
          if (!current()) return;
          const seen = await connectTry(target);
          if (seen === 'refused') continue;
          if (seen === 'listening' && current()) {
            t.nextDueMs = 0;
            this.onListening?.(instanceId);
          }
          return;
        }
      } finally {
        t.watching = false;
        this.watches--;
      }
    })();
  }

  /** Milliseconds until an instance that has not passed its checks yet is due again (undefined otherwise). */
  startupDueInMs(instanceId: string, nowMs: number): number | undefined {
    const t = this.tracked.get(instanceId);
    return t && !t.passed ? Math.max(0, t.nextDueMs - nowMs) : undefined;
  }
}

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { HealthTracker, OUTPUT_PROBES_PER_START, networkProber, startupProbeDelayMs, resolveChecks, type Prober, type ResolvedCheck } from '../../src/control/health.ts';

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}
function close(server: net.Server): Promise<void> { return new Promise((resolve) => server.close(() => resolve())); }
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await close(s);
  return port;
}

const http8000 = (over: Partial<ResolvedCheck> = {}): ResolvedCheck => ({
  kind: 'http', port: 8000, path: '/health', method: 'GET', headers: [], graceMs: 0, intervalMs: 0, timeoutMs: 2000, restartLimit: 3, ...over,
});

test('resolveChecks: declared checks get defaults; no checks means a TCP check per port; test overrides win', () => {
  const declared = resolveChecks({ ports: [{ port: 8000 }], health_checks: [{ http: { port: 8000, path: '/h', method: 'post' } }] });
  assert.deepEqual(declared, [{ kind: 'http', port: 8000, path: '/h', method: 'POST', headers: [], graceMs: 5000, intervalMs: 30000, timeoutMs: 5000, restartLimit: 3 }]);
  const implicit = resolveChecks({ ports: [{ port: 80 }, { port: 9000 }], health_checks: [] }, { intervalMs: 10, graceMs: 0 });
  assert.deepEqual(implicit.map((c) => [c.kind, c.port, c.intervalMs, c.graceMs]), [['tcp', 80, 10, 0], ['tcp', 9000, 10, 0]]);
  assert.deepEqual(resolveChecks({ ports: [], health_checks: [] }), []);
});

test('networkProber: HTTP 2xx/3xx pass, 5xx fails, method, path and headers are sent', async () => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers['x-probe'] ?? ''}`);
    const code = req.url === '/ok' ? 200 : req.url === '/moved' ? 302 : 500;
    res.writeHead(code, code === 302 ? { location: '/ok' } : {}).end();
  });
  const port = await listen(server);
  try {
    const target = { host: '127.0.0.1', port };
    const ok = await networkProber(http8000({ path: '/ok', method: 'HEAD', headers: [{ key: 'x-probe', value: 'pier' }] }), target);
    const moved = await networkProber(http8000({ path: '/moved' }), target);
    const bad = await networkProber(http8000({ path: '/broken' }), target);
    assert.deepEqual([ok.ok, moved.ok, bad.ok], [true, true, false]);
    assert.equal(bad.detail, 'GET /broken returned 500');
    assert.deepEqual(seen, ['HEAD /ok pier', 'GET /moved ', 'GET /broken ']);
  } finally {
    await close(server);
  }
});

test('networkProber: TCP passes on a listener, fails on a closed port and on a proxy that drops the connection at once', async () => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  // What Docker's port proxy does before the app listens: accept, then close at once.
  const dropping = net.createServer((s) => s.end());
  const port = await listen(server);
  const droppingPort = await listen(dropping);
  try {
    const tcp = { ...http8000(), kind: 'tcp' as const };
    assert.deepEqual(await networkProber(tcp, { host: '127.0.0.1', port }), { ok: true, detail: 'connected' });
    const refused = await networkProber(tcp, { host: '127.0.0.1', port: await closedPort() });
    assert.deepEqual(refused, { ok: false, detail: 'ECONNREFUSED' });
    const dropped = await networkProber(tcp, { host: '127.0.0.1', port: droppingPort });
    assert.equal(dropped.ok, false);
    assert.match(dropped.detail, /closed at once/);
  } finally {
    for (const s of sockets) s.destroy();
    await close(server);
    await close(dropping);
  }
});

test('HealthTracker: grace, interval, consecutive failures up to restart_limit', async () => {
  let healthy = false;
  const probes: number[] = [];
  const prober: Prober = async () => { probes.push(1); return { ok: healthy, detail: 'GET /health returned 503' }; };
  const tracker = new HealthTracker(prober);
  const check = http8000({ graceMs: 5000, intervalMs: 1000, restartLimit: 2 });
  const eps = [{ containerPort: 8000, host: '127.0.0.1', hostPort: 1 }];
  tracker.reset('i1', 0);
  const table: [number, string | undefined, boolean?][] = [
    [0, 'waiting'],          // failing inside the grace period does not count
    [5, 'waiting'],          // not due (startup ramp: 10 ms): the last verdict is returned, no probe
    [500, 'waiting'],        // due again on the startup ramp, still in grace
    [6000, 'fail', false],   // first counted failure
    [6500, 'waiting'],       // a ramp probe between two counted rounds: looks, never counts a failure
    [7000, 'fail', true],    // second consecutive on the interval's rhythm: restart
    [8000, 'fail', false],   // the count starts over after a restart request
  ];
  for (const [at, kind, restart] of table) {
    const v = await tracker.evaluate('i1', [check], eps, at);
    assert.equal(v?.kind, kind, `at ${at}`);
    if (restart !== undefined) assert.equal(v?.kind === 'fail' && v.restart, restart, `restart at ${at}`);
  }
  assert.equal(probes.length, 6);
  healthy = true;
  assert.equal((await tracker.evaluate('i1', [check], eps, 9000))?.kind, 'pass');
  const unpublished = await tracker.evaluate('i2', [check], [], 0);
  assert.equal(unpublished?.kind, 'waiting');
  assert.equal(unpublished?.kind === 'waiting' && unpublished.detail, 'port 8000 is not published');
});

test('HealthTracker: a starting instance is probed at once, then at 10, 20, 40 ms... up to 250 ms until it passes; then at the interval', async () => {
  let healthy = false;
  const at: number[] = [];
  const prober: Prober = async () => ({ ok: healthy, detail: 'connection refused' });
  const tracker = new HealthTracker(prober);
  const check = http8000({ graceMs: 10_000, intervalMs: 30_000, restartLimit: 3 });
  const eps = [{ containerPort: 8000, host: '127.0.0.1', hostPort: 1 }];
  tracker.reset('s1', 0);
  let now = 0;
  for (let i = 0; i < 9; i++) {
    await tracker.evaluate('s1', [check], eps, now);
    at.push(now);
    now += tracker.startupDueInMs('s1', now)!;
  }
  assert.deepEqual(at, [0, 10, 30, 70, 150, 310, 560, 810, 1060]);
  assert.deepEqual([0, 1, 2, 5, 9].map(startupProbeDelayMs), [10, 20, 40, 250, 250]);
  healthy = true;
  assert.equal((await tracker.evaluate('s1', [check], eps, now))?.kind, 'pass');
  assert.equal(tracker.startupDueInMs('s1', now), undefined, 'a passed instance is off the startup ramp');
  healthy = false;
  assert.equal((await tracker.evaluate('s1', [check], eps, now + 1000))?.kind, 'pass', 'not due before the interval');
});

test('HealthTracker: output of a starting instance brings its next probe forward (at most one per 10 ms), never after it passed', async () => {
  let healthy = false;
  let probes = 0;
  const prober: Prober = async () => { probes++; return { ok: healthy, detail: 'connection refused' }; };
  const tracker = new HealthTracker(prober);
  const check = http8000({ graceMs: 10_000, intervalMs: 30_000 });
  const eps = [{ containerPort: 8000, host: '127.0.0.1', hostPort: 1 }];
  assert.equal(tracker.probeSoon('unknown', 0), false, 'an untracked instance is not probed');
  tracker.reset('o1', 0);
  for (const t of [0, 10, 30, 70, 150]) await tracker.evaluate('o1', [check], eps, t);
  assert.equal(tracker.startupDueInMs('o1', 150), 160, 'the ramp would wait 160 ms');
  assert.equal(tracker.probeSoon('o1', 155), true, 'a line at 155 ms: probe at 160, 10 ms after the last one');
  assert.equal(tracker.startupDueInMs('o1', 155), 5);
  assert.equal(tracker.probeSoon('o1', 156), false, 'already due as soon as the gap allows');
  assert.equal(tracker.probeSoon('o1', 200), false, 'due since 160 already');
  assert.equal(tracker.startupDueInMs('o1', 200), 0);
  assert.equal((await tracker.evaluate('o1', [check], eps, 200))?.kind, 'waiting', 'a failure on it only waits (inside grace)');
  healthy = true;
  assert.equal(tracker.probeSoon('o1', 205), true);
  assert.equal(tracker.startupDueInMs('o1', 205), 5, 'no sooner than 10 ms after the last probe');
  assert.equal((await tracker.evaluate('o1', [check], eps, 210))?.kind, 'pass');
  assert.equal(probes, 7);
  assert.equal(tracker.probeSoon('o1', 300), false, 'a passing instance stays on its interval');
  assert.equal((await tracker.evaluate('o1', [check], eps, 300))?.kind, 'pass');
  assert.equal(probes, 7, 'no probe before the interval');
  // An app that logs all through a long start: OUTPUT_PROBES_PER_START early probes, then the ramp alone.
  healthy = false;
  tracker.reset('chatty', 0);
  let now = 0;
  await tracker.evaluate('chatty', [check], eps, now);
  const early: number[] = [];
  for (let line = 0; line < 100; line++) {
    now += 10;
    if (tracker.probeSoon('chatty', now)) early.push(now);
    if (tracker.startupDueInMs('chatty', now) === 0) await tracker.evaluate('chatty', [check], eps, now);
  }
  assert.equal(early.length, OUTPUT_PROBES_PER_START);
  assert.deepEqual(early, [20, 30, 40, 50, 60, 70, 80, 90], 'one per line at the 10 ms gap (at 10 the ramp was due anyway) until the budget is spent');
  assert.ok(tracker.startupDueInMs('chatty', now)! > 10, 'then the ramp alone');
});

test('HealthTracker: without a grace period the ramp still finds the first pass at once, and failures count only at the interval', async () => {
  let healthy = false;
  let probes = 0;
  const prober: Prober = async () => { probes++; return { ok: healthy, detail: 'connection refused' }; };
  const tracker = new HealthTracker(prober);
  const check = http8000({ graceMs: 0, intervalMs: 1000, restartLimit: 2 });
  const eps = [{ containerPort: 8000, host: '127.0.0.1', hostPort: 1 }];
  tracker.reset('g0', 0);
  assert.equal((await tracker.evaluate('g0', [check], eps, 0))?.kind, 'fail', 'the first round counts (no grace)');
  // Ramp probes before the next counted round: a failure only waits, so a slow start is no restart.
  for (const t of [10, 30, 70, 150]) assert.equal((await tracker.evaluate('g0', [check], eps, t))?.kind, 'waiting', `at ${t}`);
  healthy = true;
  assert.equal((await tracker.evaluate('g0', [check], eps, 310))?.kind, 'pass', 'passes 310 ms after start, not at the 1 s interval');
  assert.equal(probes, 6);
  // Past the ramp window a never-passing instance is probed at its interval.
  healthy = false;
  tracker.reset('s2', 0);
  await tracker.evaluate('s2', [check], eps, 60_500);
  assert.equal(tracker.startupDueInMs('s2', 60_500), 1000);
});

test('HealthTracker: a port that refused is watched until the next ramp probe; when it listens the probe is due at once', async () => {
  const port = await closedPort();
  const tracker = new HealthTracker(); // the network prober: watches with real connects
  const told: string[] = [];
  tracker.onListening = (id) => told.push(id);
  const check = http8000({ graceMs: 10_000, intervalMs: 30_000, port: 8000 });
  const eps = [{ containerPort: 8000, host: '127.0.0.1', hostPort: port }];
  let now = Date.now(); // the tracker's clock (the controller's); the watch itself runs on real time
  tracker.reset('s1', now);
  // Ramp to a long step (150 ms) while nothing listens: refused each time.
  for (let i = 0; i < 4; i++) {
    assert.equal((await tracker.evaluate('s1', [check], eps, now))?.kind, 'waiting');
    now += tracker.startupDueInMs('s1', now)!;
  }
  assert.equal((await tracker.evaluate('s1', [check], eps, now))?.kind, 'waiting');
  assert.equal(tracker.startupDueInMs('s1', now), 160, 'the ramp alone would probe 160 ms later');
  await new Promise((r) => setTimeout(r, 40)); // refused a few times more meanwhile
  assert.deepEqual(told, []);
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  try {
    const deadline = Date.now() + 100;
    while (told.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    assert.deepEqual(told, ['s1'], 'told before the ramp\'s next probe');
    assert.equal(tracker.startupDueInMs('s1', now), 0, 'its probe is due now');
    assert.equal((await tracker.evaluate('s1', [check], eps, now))?.kind, 'pass');
  } finally {
    await close(server);
  }
});

test('HealthTracker: no watch for a scripted prober, after a pass, or for a failure that is not a refusal', async () => {
  const port = await closedPort();
  const told: string[] = [];
  const scripted = new HealthTracker(async () => ({ ok: false, detail: 'GET /health: ECONNREFUSED' }));
  scripted.onListening = (id) => told.push(`scripted ${id}`);
  // A port that answers 503: listening, so nothing to watch for; the ramp decides.
  const server = http.createServer((_req, res) => res.writeHead(503).end());
  const busy = await listen(server);
  const real = new HealthTracker();
  real.onListening = (id) => told.push(`real ${id}`);
  const check = http8000({ graceMs: 10_000, intervalMs: 30_000 });
  try {
    scripted.reset('a', Date.now());
    await scripted.evaluate('a', [check], [{ containerPort: 8000, host: '127.0.0.1', hostPort: port }], Date.now());
    real.reset('b', Date.now());
    assert.equal((await real.evaluate('b', [check], [{ containerPort: 8000, host: '127.0.0.1', hostPort: busy }], Date.now()))?.kind, 'waiting');
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(told, []);
  } finally {
    await close(server);
  }
});

// Issue #25's failover scenario, shared by the suite (failover.docker.test.ts asserts on it) and the bench
// (bench/failover.ts reports its recovery times): two `pier up` control planes on one PostgreSQL database and one
// Docker engine, two regional edges in front (an in-process createRemoteEdge started against the follower, and a
// `pier edge` child process) behind a small balancer that, like any load balancer, sends traffic only to edges whose
// /_pier/ready answers 200 and retries an idempotent GET on the other edge when a connection is refused or cut.
// Under that bounded load: (1) kill -9 the leader, then roll out v2 through the other control plane; (2) stop
// PostgreSQL for 10 s, then roll out v3; (3) kill -9 the `pier edge` process and start it again on the same address.
// Every request answered with an error status is a failure; refused or cut connections (retried) are counted apart.
import http from 'node:http';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteEdge, type RemoteEdge } from '../../src/edge/remote.ts';
import { ensureTestImage } from '../../src/runtime/testing/images.ts';
import { edgeGet } from '../support/edge-get.ts';
import { until } from '../support/until.ts';
import { webDef } from '../autoscale/harness.ts';
import { startPgCluster } from './cluster.ts';
import { cleanUpPlanes, exited, planeInfo, PLANE_TOKEN, startPlane, type Plane } from './planes.ts';
import { freePort } from '../support/ports.ts';

const root = new URL('../../', import.meta.url).pathname;

/** What one run measured. */
export interface FailoverResult {
  /** Phase 1: kill -9 of the leader until the follower leads, until the regional edge follows it. */
  leader_takeover_ms: number;
  edge_follow_ms: number;
  /** Phase 2: PostgreSQL started again after `pg_stop_ms` until the API answers, until the control plane leads again. */
  pg_stop_ms: number;
  api_back_ms: number;
  lead_again_ms: number;
  /** The API's answer while PostgreSQL was down (status, code, Retry-After). */
  during_outage: { status: number; code: string; retry_after: string | null };
  outage_log_lines: number;
  served_during_outage: number;
  /** Phase 3: kill -9 of the `pier edge` process until the restarted one answers /_pier/ready 200, until it proxied a 200. */
  edge_ready_ms: number;
  edge_serving_ms: number;
  /** Of edge_ready_ms: the new process's start until it listens (Node and Pier's modules loading). */
  edge_process_start_ms: number;
  /** Requests the restarted edge answered 200 before the load stopped. */
  restarted_edge_ok: number;
  /** Load totals: 200s, error statuses, refused or cut connections (retried on the other edge). */
  ok: number;
  failed: number;
  refused: number;
  failures: string[];
  edge_lines: string[];
}


/** A `pier edge` child process on `port`; resolves once it listens (it answers 503 until its first table). */
async function startEdgeProcess(apis: string[], port: number, lines: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(root, 'bin/pier.mjs'), 'edge', '--api', apis.join(','), '--token', PLANE_TOKEN,
    '--addr', `127.0.0.1:${port}`, '--region', 'fra'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PIER_EDGE_WORKERS: '1' } });
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pier edge did not start: ${text}`)), 30_000);
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(`${new Date().toISOString()} [edge process] ${l}`);
      if (/listening on http:\/\//.test(text)) { clearTimeout(timer); resolve(); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`pier edge exited (${code}): ${text}`)); });
  });
  return child;
}

/** Connection-level errors a balancer retries on another backend (the request never reached an app). */
function retryable(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code ?? '';
  return ['ECONNREFUSED', 'ECONNRESET', 'EPIPE'].includes(code) || /socket hang up/.test((err as Error)?.message ?? '');
}

/**
 * A bounded load through a balancer over `edges`: `workers` loops, `gapMs` apart, at most `maxMs`. Readiness is
 * polled every 100 ms; a refused or cut connection takes the edge out of rotation and the GET goes to the next edge.
 */
export function startBalancedLoad(edges: string[], host: string, workers: number, gapMs: number, maxMs: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const ready = new Map(edges.map((e) => [e, false]));
  const stats = { ok: 0, failed: 0, refused: 0, failures: [] as string[], perEdge: new Map<string, number>(edges.map((e) => [e, 0])), noEdgeReady: 0 };
  let running = true;
  const deadline = Date.now() + maxMs;
  const health = (async () => {
    while (running && Date.now() < deadline) {
      await Promise.all(edges.map(async (e) => {
        try {
          const r = await edgeGet(e, 'localhost', '/_pier/ready', { timeoutMs: 1000 });
          ready.set(e, r.status === 200);
        } catch {
          ready.set(e, false);
        }
      }));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  let next = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running && Date.now() < deadline) {
      const inRotation = edges.filter((e) => ready.get(e));
      if (!inRotation.length) {
        stats.noEdgeReady++;
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const first = next++ % inRotation.length;
      for (let attempt = 0; attempt < inRotation.length; attempt++) {
        const e = inRotation[(first + attempt) % inRotation.length]!;
        try {
          const r = await edgeGet(e, host, '/', { agent, timeoutMs: 20_000 });
          if (r.status === 200) { stats.ok++; stats.perEdge.set(e, stats.perEdge.get(e)! + 1); } else {
            stats.failed++;
            if (stats.failures.length < 5) stats.failures.push(`${new Date().toISOString()} ${r.status} via ${e}: ${/<p>(.*?)<\/p>/s.exec(r.body)?.[1] ?? r.body.slice(0, 160)}`);
          }
          break;
        } catch (err) {
          if (retryable(err)) {
            stats.refused++;
            ready.set(e, false);
            continue;
          }
          stats.failed++;
          if (stats.failures.length < 5) stats.failures.push(`${new Date().toISOString()} ${(err as Error).message} via ${e}`);
          break;
        }
      }
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
    }
  });
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all([...loops, health]);
      agent.destroy();
    },
  };
}

async function waitHealthy(p: Plane, id: string, what: string): Promise<void> {
  await until(what, async () => {
    const d = (await p.api('GET', `/v1/deployments/${id}`)).body.deployment;
    if (d.status === 'ERROR') throw new Error(`deployment failed: ${d.messages.join(' | ')}`);
    return d.status === 'HEALTHY';
  }, 90_000, 300);
}

/** Runs the three phases once; throws if a step does not happen in its (generous) wait. Cleans up after itself. */
export async function runFailoverScenario(opts: { pgStopMs?: number } = {}): Promise<FailoverResult> {
  const pgStopMs = opts.pgStopMs ?? 10_000;
  await ensureTestImage();
  const cluster = await startPgCluster();
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-failover-'));
  const planes: Plane[] = [];
  let scope = '';
  let remote: RemoteEdge | undefined;
  let edgeChild: ChildProcess | undefined;
  const edgeLines: string[] = [];
  try {
    const databaseUrl = await cluster.createDatabase('failover');
    const a = await startPlane('a', dataDir, databaseUrl);
    planes.push(a);
    const b = await startPlane('b', dataDir, databaseUrl);
    planes.push(b);
    scope = readFileSync(join(dataDir, 'installation-id'), 'utf8').trim();
    if ((await planeInfo(a)).leader !== true || (await planeInfo(b)).leader !== false) throw new Error('a should lead and b follow');

    // Started against the follower only: it binds at once, is sent to the leader and says so once.
    remote = await createRemoteEdge({ api: b.apiUrl, token: PLANE_TOKEN, addr: '127.0.0.1:0', region: 'fra', log: (l) => edgeLines.push(`${new Date().toISOString()} ${l}`) });
    await remote.firstTable;
    if (remote.apiUrl() !== a.apiUrl) throw new Error(`the edge did not follow the leader:\n${edgeLines.join('\n')}`);
    if (edgeLines.filter((l) => l.includes(`following the leader at ${a.apiUrl}`)).length !== 1) throw new Error(`one 'following' line expected:\n${edgeLines.join('\n')}`);
    // The second regional edge, a real `pier edge` process given both control planes.
    const edgePort = await freePort();
    const edgeUrl = `http://127.0.0.1:${edgePort}`;
    edgeChild = await startEdgeProcess([a.apiUrl, b.apiUrl], edgePort, edgeLines);

    const appId = (await b.api('POST', '/v1/apps', { name: 'failover' })).body.app.id as string;
    const def = webDef('docker', { min: 1, max: 1 });
    const created = await b.api('POST', '/v1/services', { app_id: appId, name: 'web', definition: def });
    if (created.status !== 200) throw new Error(`create service: ${created.status} ${JSON.stringify(created.body)}`);
    const serviceId = created.body.service.id as string;
    await waitHealthy(b, created.body.service.latest_deployment_id, 'first deployment HEALTHY');
    const host = 'failover-pier.localhost';
    for (const e of [remote.url, edgeUrl]) await until(`${e} to serve the app`, async () => (await edgeGet(e, host)).status === 200, 30_000, 200);

    // Bounded load: 4 loops, 20 ms apart, at most 180 s, through both edges.
    const load = startBalancedLoad([remote.url, edgeUrl], host, 4, 20, 180_000);
    await until('both edges in rotation', async () => [...load.stats.perEdge.values()].every((n) => n > 0), 10_000, 50);

    // Phase 1: kill -9 the leader, then roll out v2 through the other control plane.
    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await exited(a.child);
    await until('b to lead', async () => (await planeInfo(b)).leader === true, 30_000, 100);
    const leaderTakeoverMs = Date.now() - killedAt;
    await until('the regional edge to follow b', async () => remote!.apiUrl() === b.apiUrl && !remote!.apiUnreachable(), 30_000, 100);
    const edgeFollowMs = Date.now() - killedAt;
    edgeLines.push(`${new Date(killedAt).toISOString()} (leader killed)`);
    const patched = await b.api('PATCH', `/v1/services/${serviceId}`, { definition: { ...def, env: [{ key: 'GREETING', value: 'v2-{{ KOYEB_INSTANCE_ID }}' }] } });
    if (patched.status !== 200) throw new Error(`rollout v2: ${patched.status} ${JSON.stringify(patched.body)}`);
    await waitHealthy(b, patched.body.service.latest_deployment_id, 'second deployment HEALTHY');
    for (const e of [remote.url, edgeUrl]) await until(`${e} to serve v2`, async () => (await edgeGet(e, host)).body.includes('v2-'), 30_000, 200);
    await new Promise((r) => setTimeout(r, 2000)); // load after the old instance stopped

    // Phase 2: PostgreSQL stopped: the API answers 503 with Retry-After, traffic keeps flowing, the outage is logged
    // once; afterwards b leads again and a rollout goes through.
    const okBefore = load.stats.ok;
    await cluster.pause();
    const pausedAt = Date.now();
    const during = await b.api('GET', '/v1/apps');
    const duringRetryAfter = await fetch(`${b.apiUrl}/v1/apps`, { headers: { authorization: `Bearer ${PLANE_TOKEN}` } }).then((r) => r.headers.get('retry-after'), () => null);
    await new Promise((r) => setTimeout(r, Math.max(0, pgStopMs - (Date.now() - pausedAt))));
    const servedDuringOutage = load.stats.ok - okBefore;
    await cluster.resume();
    const resumedAt = Date.now();
    await until('the API answers again', async () => (await b.api('GET', '/v1/apps')).status === 200, 30_000, 100);
    const apiBackMs = Date.now() - resumedAt;
    await until('b to lead again', async () => (await planeInfo(b)).leader === true, 30_000, 100);
    const leadAgainMs = Date.now() - resumedAt;
    const outageLines = b.output.join('').split('\n').filter((l) => /store unreachable since/.test(l)).length;
    const v3 = await b.api('PATCH', `/v1/services/${serviceId}`, { definition: { ...def, env: [{ key: 'GREETING', value: 'v3-{{ KOYEB_INSTANCE_ID }}' }] } });
    if (v3.status !== 200) throw new Error(`rollout v3: ${v3.status} ${JSON.stringify(v3.body)}`);
    await waitHealthy(b, v3.body.service.latest_deployment_id, 'third deployment HEALTHY');
    for (const e of [remote.url, edgeUrl]) await until(`${e} to serve v3`, async () => (await edgeGet(e, host)).body.includes('v3-'), 30_000, 200);
    await new Promise((r) => setTimeout(r, 2000));

    // Phase 3: kill -9 the `pier edge` process and start it again on the same address. The balancer takes it out of
    // rotation at the first refused connection; the restarted edge answers 503 (and /_pier/ready 503) until its
    // first table, so it is back in rotation only once it can serve.
    const edgeKilledAt = Date.now();
    edgeChild.kill('SIGKILL');
    await exited(edgeChild);
    const respawnAt = Date.now();
    edgeChild = await startEdgeProcess([a.apiUrl, b.apiUrl], edgePort, edgeLines);
    const edgeProcessStartMs = Date.now() - respawnAt;
    await until('the restarted edge ready', async () => (await edgeGet(edgeUrl, 'localhost', '/_pier/ready', { timeoutMs: 1000 }).catch(() => ({ status: 0 }))).status === 200, 30_000, 20);
    const edgeReadyMs = Date.now() - edgeKilledAt;
    const servedBefore = load.stats.perEdge.get(edgeUrl)!;
    await until('the restarted edge to serve through the balancer', async () => load.stats.perEdge.get(edgeUrl)! > servedBefore, 30_000, 10);
    const edgeServingMs = Date.now() - edgeKilledAt;
    await new Promise((r) => setTimeout(r, 2000));
    await load.stop();
    await b.api('DELETE', `/v1/apps/${appId}`);
    return {
      leader_takeover_ms: leaderTakeoverMs, edge_follow_ms: edgeFollowMs,
      pg_stop_ms: pgStopMs, api_back_ms: apiBackMs, lead_again_ms: leadAgainMs,
      during_outage: { status: during.status, code: during.body?.code ?? '', retry_after: duringRetryAfter },
      outage_log_lines: outageLines, served_during_outage: servedDuringOutage,
      edge_ready_ms: edgeReadyMs, edge_serving_ms: edgeServingMs, edge_process_start_ms: edgeProcessStartMs,
      restarted_edge_ok: load.stats.perEdge.get(edgeUrl)! - servedBefore,
      ok: load.stats.ok, failed: load.stats.failed, refused: load.stats.refused, failures: load.stats.failures, edge_lines: edgeLines,
    };
  } finally {
    if (edgeChild && edgeChild.exitCode === null && edgeChild.signalCode === null) {
      edgeChild.kill('SIGKILL');
      await exited(edgeChild);
    }
    await remote?.close();
    await cleanUpPlanes(planes, scope);
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

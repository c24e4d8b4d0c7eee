// Failover recovery times (issue #25): the failover suite's scenario (test/postgres/failover-scenario.ts) run once
// outside the test runner: two control planes on PostgreSQL, two regional edges behind a readiness-checking balancer,
// a bounded load; kill -9 the leader and roll out, stop PostgreSQL for 10 s and roll out, kill -9 a `pier edge`
// process and restart it. Needs a Docker engine and PostgreSQL's server binaries (as the suite).
// Standalone: `node bin/run-ts.mjs bench/failover.ts` prints JSON.
import { DockerEngine } from '../src/runtime/docker/engine.ts';
import { postgresUnavailable } from '../test/postgres/cluster.ts';
import { runFailoverScenario, type FailoverResult } from '../test/postgres/failover-scenario.ts';
import type { Row } from './run.ts';

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The bench table's rows for one run. */
export function failoverRows(r: FailoverResult): Row[] {
  const load = `${r.ok.toLocaleString('en-US')} requests: ${r.failed} failed`;
  return [
    { bench: 'Failover: leader kill -9 to the follower leading (PostgreSQL lease)', measured: s(r.leader_takeover_ms), baseline: 'lease TTL 5 s', target: '< 15 s (suite bound)', met: r.leader_takeover_ms < 15_000 },
    { bench: 'Failover: leader kill -9 to the regional edge following the new leader', measured: s(r.edge_follow_ms), baseline: `${load} through 2 regional edges`, target: '< 20 s, 0 failed', met: r.edge_follow_ms < 20_000 && r.failed === 0 },
    { bench: `Failover: PostgreSQL stopped ${s(r.pg_stop_ms)}, restarted to the API answering / the control plane leading again`, measured: `${s(r.api_back_ms)} / ${s(r.lead_again_ms)}`, baseline: `API ${r.during_outage.status} (Retry-After ${r.during_outage.retry_after ?? '-'}) meanwhile; ${r.served_during_outage} requests served`, target: '< 10 s / < 15 s', met: r.api_back_ms < 10_000 && r.lead_again_ms < 15_000 },
    { bench: 'Failover: `pier edge` process kill -9 and restart to ready (/_pier/ready 200) / serving through the balancer', measured: `${s(r.edge_ready_ms)} / ${s(r.edge_serving_ms)}`, baseline: `process start ${s(r.edge_process_start_ms)}; ${r.refused} refused or cut connections, retried on the other edge; ${r.failed} error statuses`, target: '< 30 s (ready < 5 s after listening), 0 failed', met: r.edge_serving_ms < 30_000 && r.edge_ready_ms - r.edge_process_start_ms < 5000 && r.failed === 0 },
  ];
}

/** Runs the scenario once; `skipped` says why it could not run here. */
export async function failoverBench(): Promise<{ result?: FailoverResult; skipped?: string; rows: Row[] }> {
  const engineUp = await new DockerEngine().ping(3000).then(() => true, () => false);
  const skipped = postgresUnavailable() ?? (engineUp ? undefined : 'no Docker engine');
  if (skipped) return { skipped, rows: [{ bench: 'Failover (PostgreSQL, two control planes, regional edges)', measured: `skipped: ${skipped}`, baseline: '-', target: '-' }] };
  const result = await runFailoverScenario({ pgStopMs: 10_000 });
  return { result: { ...result, edge_lines: result.edge_lines.slice(-20) }, rows: failoverRows(result) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await failoverBench(), null, 2));
}

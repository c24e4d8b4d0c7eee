// A real Pier on the swarm runtime (lab: was-n1 manager, fra-n2, was-n3), one service with an instance in fra and
// one in was. (1) Redeployed twice under keep-alive load through Pier's edge: no request fails and every deployment
// serves in turn. (2) A regional edge for fra (`pier edge`, a child process in its own network namespace on the lab
// network, fed by the API over that network) serves fra's instance; when fra's node dies it fails over to was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { installationId } from '../../src/platform.ts';
import { removeInstallationWorkloads } from '../../src/runtime/testing/cleanup.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { SwarmRuntime } from '../../src/runtime/swarm/driver.ts';
import { apiClient } from '../support/api-client.ts';
import { until } from '../support/until.ts';
import { edgeGet, underLoad, webDef, type LoadStats } from '../edge/harness.ts';
import { startSwarmLab } from './lab.ts';

const skip = process.getuid?.() === 0 && existsSync('/usr/bin/docker-registry') && await new DockerEngine().ping(3000).then(() => true, () => false)
  ? false : 'needs root, docker-registry and a Docker engine for the test image (scripts/setup-host.sh --tests)';

const PIER_BIN = fileURLToPath(new URL('../../bin/pier.mjs', import.meta.url));


/** Spawns `pier edge` inside a network namespace; resolves with the child and its URL once it listens. */
async function spawnEdge(netns: string, args: string[], output: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn('nsenter', [`--net=/run/netns/${netns}`, process.execPath, PIER_BIN, 'edge', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pier edge did not listen within 30 s: ${output.join('')}`)), 30_000);
    const onData = (c: Buffer) => {
      output.push(c.toString());
      const m = /serving on (http:\/\/\S+)/.exec(output.join(''));
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`pier edge exited with ${code}: ${output.join('')}`)); });
  });
  return { child, url };
}

test('pier on swarm: zero failed requests across two rollouts; a regional edge fails over when its region dies', { skip, timeout: 300_000 }, async (t) => {
  const lab = await startSwarmLab({ regions: ['was', 'fra', 'was'] });
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-swarm-'));
  const saved = { ...process.env };
  let edgeChild: ChildProcess | undefined;
  const edgeOutput: string[] = [];
  try {
    Object.assign(process.env, {
      PIER_SWARM_HOST: `unix://${lab.managerSocket}`, PIER_SWARM_REGISTRY: lab.registry, PIER_SWARM_STOP_GRACE_MS: '2000',
      PIER_SWARM_NODE_SOCKETS: lab.nodes.map((n) => `${n.addr}=${n.socket}`).join(','),
    });
    const token = `tok-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    // The API listens on the host's lab address so a regional edge on the lab network reaches it.
    const config = loadConfig({ 'data-dir': dataDir, 'api-addr': `${lab.hostAddr}:0`, 'edge-addr': '127.0.0.1:0', runtime: 'swarm' }, { ...process.env, PIER_TOKEN: token });
    const pierLog: string[] = [];
    const pier = await startPier(config, { log: (l) => { pierLog.push(l); } });
    t.after(() => { if (process.env.PIER_TEST_VERBOSE) console.log(pierLog.join('\n')); });
    try {
      const api = apiClient(pier.apiUrl, token);
      const info = (await api<{ edge_url: string }>('GET', '/v1/pier/info')).body;
      const app = await api<{ app: { id: string } }>('POST', '/v1/apps', { name: 'geo' });
      assert.equal(app.status, 200, JSON.stringify(app.body));
      const def = webDef('pier-test/busybox:1', '/', { regions: ['fra', 'was'], env: [{ key: 'GREETING', value: '{{ KOYEB_REGION }}.{{ KOYEB_DEPLOYMENT_ID }}' }] });
      const svc = await api<{ service: { id: string } }>('POST', '/v1/services', { app_id: app.body.app.id, name: 'web', definition: { name: 'web', ...def } });
      assert.equal(svc.status, 200, JSON.stringify(svc.body));
      const serviceId = svc.body.service.id;
      const host = `geo-${config.orgName}.${config.domain}`;
      type Inst = { id: string; allocation_id: string; status: string; region: string; deployment_id: string; messages?: string[] };
      const instances = async () => (await api<{ instances: Inst[] }>('GET', `/v1/instances?service_id=${serviceId}&limit=50`)).body.instances ?? [];
      const service = async () => (await api<{ service: { active_deployment_id: string; status: string } }>('GET', `/v1/services/${serviceId}`)).body.service;
      await until('an instance HEALTHY in fra and in was', async () => {
        const all = await instances();
        const healthy = all.filter((i) => i.status === 'HEALTHY');
        if (healthy.some((i) => i.region === 'fra') && healthy.some((i) => i.region === 'was')) return true;
        throw new Error(all.map((i) => `${i.region} ${i.status} ${i.messages?.[0] ?? ''}`).join(' | '));
      }, 120_000, 300);
      const first = (await service()).active_deployment_id;
      await until('the edge serves the first deployment', async () => (await edgeGet(info.edge_url, host)).body.includes(first), 30_000, 200);

      // The regional edge for fra: its own machine on the lab network, fed by the API over that network.
      const edgeHost = lab.addHost('edge-fra');
      const spawned = await spawnEdge(edgeHost.netns, ['--api', pier.apiUrl, '--token', token, '--addr', `${edgeHost.addr}:0`, '--region', 'fra'], edgeOutput);
      edgeChild = spawned.child;

      await t.test('two rollouts under load through both edges: zero failed requests', async () => {
        const ids: string[] = [];
        const started = Date.now();
        let remoteStats: LoadStats | undefined;
        const stats = await underLoad(info.edge_url, host, 6, async (seen) => { remoteStats = await underLoad(spawned.url, host, 3, async () => {
          for (let round = 0; round < 2; round++) {
            const r = await api<{ deployment: { id: string } }>('POST', `/v1/services/${serviceId}/redeploy`, {});
            assert.equal(r.status, 200, JSON.stringify(r.body));
            const id = r.body.deployment.id;
            ids.push(id);
            await until(`deployment ${id} active and serving in both regions`, async () =>
              (await service()).active_deployment_id === id && seen.has(`fra.${id}`) && seen.has(`was.${id}`), 120_000, 200);
            await until('the old instances stopped', async () => (await instances()).filter((i) => i.status !== 'STOPPED').length === 2, 60_000, 200);
          }
        }); });
        const remote = remoteStats!;
        t.diagnostic(`fra edge load: ${remote.ok} requests, ${remote.failures.length} failed; answered by ${[...remote.bodies].join(', ')}`);
        t.diagnostic(`load: ${stats.ok} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, ${stats.failures.length} failed; answered by ${[...stats.bodies].join(', ')}`);
        assert.ok(stats.ok > 100, `enough requests went through (${stats.ok})`);
        if (stats.failures.length > 0) {
          const story = (await instances()).map((i) => `${i.deployment_id.slice(0, 8)} ${i.region} ${i.status} ${i.messages?.[0] ?? ''}`).join(' | ');
          assert.fail(`${stats.failures.length} failed requests out of ${stats.ok + stats.failures.length}: ${stats.failures.slice(0, 5).join('; ')}; instances: ${story}`);
        }
        for (const id of [first, ...ids]) for (const r of ['fra', 'was']) assert.ok(stats.bodies.has(`${r}.${id}`), `${r}.${id} answered (${[...stats.bodies].join(', ')})`);
        // The fra edge sends its clients to fra's instance of each deployment in turn, and loses none either.
        assert.ok(remote.ok > 50, `enough requests went through the fra edge (${remote.ok})`);
        assert.deepEqual(remote.failures.slice(0, 5), []);
        for (const id of [first, ...ids]) assert.ok(remote.bodies.has(`fra.${id}`), `fra.${id} answered through the fra edge (${[...remote.bodies].join(', ')})`);
        assert.ok([...remote.bodies].every((b) => b.startsWith('fra.')), 'the fra edge prefers fra');
      });

      await t.test('a regional edge for fra serves fra, then was once fra\'s node is lost', async () => {
        const last = (await service()).active_deployment_id;
        const viaFraEdge = async () => (await edgeGet(spawned.url, host)).body;
        await until('the fra edge serves the fra instance', async () => (await viaFraEdge()).includes(`fra.${last}`), 30_000, 200);
        for (let i = 0; i < 10; i++) assert.match(await viaFraEdge(), new RegExp(`hello from pier fra\\.${last}`), 'its own region first');

        const fraInstance = (await instances()).find((i) => i.region === 'fra' && i.status === 'HEALTHY')!;
        const rt = new SwarmRuntime({ socketPath: lab.managerSocket });
        const where = (await rt.recover()).find((h) => h.runtimeId === fraInstance.allocation_id)?.endpoints[0]?.host;
        const fraNode = lab.nodes.find((n) => n.region === 'fra')!;
        assert.equal(where, fraNode.addr, 'the fra instance runs on the fra node');

        // Clients keep coming through the fra edge the whole time (4 keep-alive loops); failover = was answers.
        let killedAt = 0;
        let failoverMs = 0;
        const during = await underLoad(spawned.url, host, 4, async (seen) => {
          killedAt = Date.now();
          await lab.killNode(fraNode.name);
          await until('the fra edge answers from was', async () => seen.has(`was.${last}`), 60_000, 50);
          failoverMs = Date.now() - killedAt;
        });
        // And once Pier has declared the fra instance lost, the fra edge's table no longer holds it.
        await until('the fra instance reported lost', async () => (await instances()).some((i) => i.id === fraInstance.id && /Instance lost/.test((i.messages ?? []).join(' '))), 60_000, 200);
        const tableAt = Date.now() - killedAt;
        for (let i = 0; i < 10; i++) assert.match(await viaFraEdge(), new RegExp(`hello from pier was\\.${last}`));
        t.diagnostic(`fra edge: failover to was ${(failoverMs / 1000).toFixed(1)} s after the node kill (${during.failures.length} of ${during.ok + during.failures.length} requests failed meanwhile${during.failures.length ? `: ${during.failures.slice(0, 3).join('; ')}` : ''}); instance reported lost by ${(tableAt / 1000).toFixed(1)} s`);
      });
    } finally {
      if (edgeChild?.pid && edgeChild.exitCode === null) {
        const exited = new Promise((r) => edgeChild!.once('exit', r));
        process.kill(edgeChild.pid, 'SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (edgeChild.exitCode === null && edgeChild.signalCode === null) process.kill(edgeChild.pid, 'SIGKILL');
      }
      await pier.close();
    }
    // Test teardown helpers remove this installation's services and overlay networks from the Swarm too.
    const scope = installationId(dataDir);
    assert.ok((await new SwarmRuntime({ socketPath: lab.managerSocket, scope }).recover()).length > 0, 'Pier leaves its instances running on close');
    await removeInstallationWorkloads(dataDir);
    assert.deepEqual(await new SwarmRuntime({ socketPath: lab.managerSocket, scope }).recover(), []);
    const nets = await new DockerEngine(lab.managerSocket).json<unknown[]>('GET', '/networks', { query: { filters: JSON.stringify({ label: [`dev.pier.scope=${scope}`] }) } });
    assert.deepEqual(nets, []);
  } finally {
    process.env = saved;
    await lab.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

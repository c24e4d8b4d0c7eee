// A real Pier on the swarm runtime (lab with one fra node and two was nodes): a service in was serves through the
// edge; killing the node that runs its instance gets the instance reported lost and restarted on the other was node,
// and the edge serves again without manual steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { SwarmRuntime } from '../../src/runtime/swarm/driver.ts';
import { apiClient } from '../support/api-client.ts';
import { until } from '../support/until.ts';
import { edgeGet, webDef } from '../edge/harness.ts';
import { edgeGet as sharedEdgeGet } from '../support/edge-get.ts';
import { startSwarmLab } from './lab.ts';

const skip = process.getuid?.() === 0 && existsSync('/usr/bin/docker-registry') && await new DockerEngine().ping(3000).then(() => true, () => false)
  ? false : 'needs root, docker-registry and a Docker engine for the test image (scripts/setup-host.sh --tests)';

test('pier on swarm: node loss replaces the instance on a healthy node of the same region, traffic follows', { skip, timeout: 180_000 }, async () => {
  const lab = await startSwarmLab({ regions: ['fra', 'was', 'was'] });
  const dataDir = mkdtempSync(join(tmpdir(), 'pier-swarm-'));
  const saved = { ...process.env };
  try {
    Object.assign(process.env, {
      PIER_SWARM_HOST: `unix://${lab.managerSocket}`, PIER_SWARM_REGISTRY: lab.registry, PIER_SWARM_STOP_GRACE_MS: '2000',
      PIER_SWARM_NODE_SOCKETS: lab.nodes.map((n) => `${n.addr}=${n.socket}`).join(','),
    });
    const token = `tok-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    const config = loadConfig({ 'data-dir': dataDir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0', runtime: 'swarm' }, { ...process.env, PIER_TOKEN: token });
    // The driver's node watch says what it drained (node-loss.ts): kept with their times for the report below.
    const watchLines: Array<[number, string]> = [];
    config.swarm = { ...config.swarm!, log: (line) => watchLines.push([Date.now(), line]) };
    const pier = await startPier(config, { log: () => {} });
    try {
      const api = apiClient(pier.apiUrl, token);
      const info = (await api<{ edge_url: string; runtime: string }>('GET', '/v1/pier/info')).body;
      assert.equal(info.runtime, 'swarm');
      const app = await api<{ app: { id: string } }>('POST', '/v1/apps', { name: 'swarmy' });
      assert.equal(app.status, 200, JSON.stringify(app.body));
      const def = webDef('pier-test/busybox:1', '/', { regions: ['was'], env: [{ key: 'GREETING', value: 'on-swarm' }] });
      const svc = await api<{ service: { id: string } }>('POST', '/v1/services', { app_id: app.body.app.id, name: 'web', definition: { name: 'web', ...def } });
      assert.equal(svc.status, 200, JSON.stringify(svc.body));
      const host = `swarmy-${config.orgName}.${config.domain}`;
      const healthy = async () => ((await api<{ instances: Array<{ id: string; allocation_id: string; status: string; messages?: string[] }> }>('GET', `/v1/instances?service_id=${svc.body.service.id}&statuses=HEALTHY`)).body.instances ?? []);
      const [first] = await until('first instance HEALTHY', async () => {
        const l = await healthy();
        return l.length ? l : undefined;
      }, 90_000, 300);
      await until('edge answer', async () => (await edgeGet(info.edge_url, host)).body.includes('hello from pier on-swarm'), 30_000, 200);

      // Which was node runs it? Kill that one.
      const rt = new SwarmRuntime({ socketPath: lab.managerSocket });
      const where = (await rt.recover()).find((h) => h.runtimeId === first.allocation_id)?.endpoints[0]?.host;
      const victim = lab.nodes.find((n) => n.addr === where);
      assert.ok(victim && victim.region === 'was', `the instance runs on a was node (${where})`);
      // The app's overlay is kept joined on every node by its anchor (a global pause service, src/runtime/swarm/spec.ts
      // anchorSpec), so the replacement skips joining it while the dead node still counts as a peer (~11 s without).
      // Pier creates the anchor with the app's first instance; a deployed app has it running long before any loss.
      const manager = new DockerEngine(lab.managerSocket);
      const anchor = (await manager.json<Array<{ ID: string; Spec: { Name: string } }>>('GET', '/services')).find((s) => s.Spec.Name.startsWith('pier-anchor-'));
      assert.ok(anchor, 'the app network has an anchor service');
      const nodes = await manager.json<Array<{ ID: string; Spec: { Labels?: Record<string, string> }; Status: { Addr?: string; State: string } }>>('GET', '/nodes');
      const wasNodes = nodes.filter((n) => n.Spec.Labels?.['dev.pier.region'] === 'was').map((n) => n.ID);
      await until('the anchor running on both was nodes', async () => {
        const tasks = await manager.json<Array<{ NodeID?: string; Status: { State: string } }>>('GET', '/tasks', { query: { filters: JSON.stringify({ service: [anchor.ID] }) } });
        return wasNodes.every((id) => tasks.some((t) => t.NodeID === id && t.Status.State === 'running'));
      }, 30_000, 100);
      // The driver pulls a started instance's image ahead on the region's other nodes (through their engines), so the
      // replacement does not pull it while the app is down.
      const survivor = lab.nodes.find((n) => n.region === 'was' && n.name !== victim.name)!;
      const image = (await manager.json<{ Spec: { TaskTemplate: { ContainerSpec: { Image: string } } } }>('GET', `/services/${first.allocation_id}`)).Spec.TaskTemplate.ContainerSpec.Image;
      await until('the image pulled ahead on the other was node', async () => !!(await new DockerEngine(survivor.socket).jsonOrNull('GET', `/images/${encodeURIComponent(image)}/json`)), 30_000, 100);
      const victimNode = nodes.find((n) => n.Status.Addr === victim.addr);
      assert.ok(victimNode, 'the victim is a Swarm node');

      // Serving again = the first answer through the edge to a request sent after the kill (one request every 100 ms,
      // each given 2 s; at most 300 requests and 30 s). killNode takes the node's link down first, so no answer after
      // the kill can come from the old instance.
      let servedAt = 0;
      let probing = true;
      const probes: Promise<void>[] = [];
      const killedAt = Date.now();
      const prober = (async () => {
        for (let n = 0; probing && n < 300 && Date.now() - killedAt < 30_000; n++) {
          probes.push(sharedEdgeGet(info.edge_url, host, '/', { timeoutMs: 2000 }).then((r) => {
            if (!servedAt && r.status === 200 && r.body.includes('hello from pier on-swarm')) servedAt = Date.now();
          }, () => undefined));
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      await lab.killNode(victim.name);

      // Pier restarts the instance (same row, new workload) as for any exit; the status says why it was lost.
      // Where the time goes: Swarm declares the node down, Pier reports the instance lost, the replacement workload
      // runs (start() returned), HEALTHY, served through the edge.
      let lostMessage = '';
      let downAt = 0;
      let drainedAt = 0;
      let lostAt = 0;
      let replacedAt = 0;
      try {
        const second = await until('the instance HEALTHY again on a new workload', async () => {
          const all = (await api<{ instances: Array<{ id: string; allocation_id: string; status: string; messages: string[] }> }>('GET', `/v1/instances?service_id=${svc.body.service.id}`)).body.instances;
          for (const i of all) if (/Instance lost/.test(i.messages.join(' '))) { lostMessage = i.messages.join(' '); lostAt ||= Date.now(); }
          if (!replacedAt && all.some((i) => i.allocation_id && i.allocation_id !== first.allocation_id)) replacedAt = Date.now();
          const seen = await manager.json<{ Spec: { Availability?: string; Labels?: Record<string, string> }; Status: { State: string } }>('GET', `/nodes/${victimNode.ID}`);
          if (!downAt && seen.Status.State !== 'ready') downAt = Date.now();
          if (!drainedAt && seen.Spec.Availability === 'drain' && seen.Spec.Labels?.['dev.pier.drained-for-loss'] === '1') drainedAt = Date.now();
          return all.find((i) => i.status === 'HEALTHY' && i.allocation_id !== first.allocation_id);
        }, 90_000, 100);
        const healthyAt = Date.now();
        // The lost status can last less than one round of the loop above (the replacement starts at the next pass,
        // ~10 ms later; 2 of 5 quiet runs missed it): the reason is also Pier's log line of the instance, stamped when
        // Pier recorded the loss.
        if (!lostMessage) {
          const lines = (await api<{ data: Array<{ msg: string; created_at: string }> }>('GET',
            `/v1/streams/logs/query?service_id=${svc.body.service.id}&text=${encodeURIComponent('Instance lost')}`)).body.data;
          const line = lines.at(-1); // newest first: the last is the first loss
          if (line) { lostMessage = line.msg; lostAt = Date.parse(line.created_at); }
        }
        assert.match(lostMessage, new RegExp(`Instance lost: node was-${victim.name} \\(region was\\) is (unreachable|down|unknown|disconnected)`));
        const moved = (await rt.recover()).find((h) => h.runtimeId === second.allocation_id)?.endpoints[0]?.host;
        assert.equal(moved, survivor.addr, 'the new workload runs on the other was node');
        await until('edge answer from the replacement', async () => servedAt || undefined, 30_000, 20);
        const servedMs = servedAt - killedAt;
        const sec = (t: number) => (t ? `${((t - killedAt) / 1000).toFixed(1)} s` : 'not seen');
        const drainLogAt = watchLines.find(([at, line]) => at >= killedAt && line.includes(`drained node was-${victim.name} `))?.[0] ?? 0;
        console.log(`# node loss to serving again through the edge: ${(servedMs / 1000).toFixed(1)} s (drained by Pier ${sec(drainLogAt)}, seen drained ${sec(drainedAt)}, ` +
          `Swarm's verdict ${sec(downAt)}, reported lost ${sec(lostAt)}, replacement running ${sec(replacedAt)}, HEALTHY ${sec(healthyAt)} after the kill)`);
        for (const [at, line] of watchLines) if (at >= killedAt) console.log(`#   ${sec(at)}: ${line}`);
        // Pier's own verdict (src/runtime/swarm/node-loss.ts): the victim's engine socket refuses once its dockerd is
        // gone, three pings 250 ms apart miss, and Pier drains the node ahead of Swarm's heartbeat verdict (the driver
        // logs it; the manager poll above sees it later). The drain's node event wakes the controller
        // (SwarmRuntime.watch), which reports the loss in its next pass.
        assert.ok(drainLogAt && drainedAt, 'Pier drained the lost node (dev.pier.drained-for-loss=1)');
        assert.ok(drainLogAt - killedAt < 5000, `Pier drained the node ${drainLogAt - killedAt} ms after the kill`);
        const verdictAt = downAt ? Math.min(drainLogAt, downAt) : drainLogAt;
        // Bound generous: the pass may have to wait for the one in flight, and this loop polls the API every ~0.1-0.5 s.
        assert.ok(lostAt - verdictAt < 2000, `instance reported lost ${lostAt - verdictAt} ms after the first verdict`);
        // The replacement (its image pulled ahead, its overlay kept joined by the anchor) then serves once Swarm has
        // scheduled it and Docker started it: 1-3 s on this shared 2-core box.
        assert.ok(servedAt - verdictAt < 5000, `serving again ${servedAt - verdictAt} ms after the first verdict`);
        // Issue #25's goal is 5 s from the kill; the bound is generous for a loaded box (docs/swarm.md has the runs).
        assert.ok(servedMs < 8000, `serving again ${servedMs} ms after the node loss (bound 8 s)`);
      } finally {
        probing = false;
        await prober;
        await Promise.all(probes);
      }
    } finally {
      await pier.close();
    }
  } finally {
    process.env = saved;
    await lab.close(); // the lab's dockerd go with everything Pier started there
    rmSync(dataDir, { recursive: true, force: true });
  }
});

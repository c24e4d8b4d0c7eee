// Swarm driver benchmark on the 3-node lab (test/swarm/lab.ts): time to place N instances across the 3 regions until
// all run, and time from a node's loss (its dockerd and everything under it killed) to the driver reporting its
// instance lost, with the driver's watch running (Pier's own node-loss verdict through the node engines' sockets) and
// when only Swarm's heartbeat verdict counts. Opt-in: `npm run bench -- --only swarm`, or standalone `node bin/run-ts.mjs bench/swarm.ts [N]`.
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { InstanceHandle } from '../src/runtime/contract.ts';
import { SwarmRuntime } from '../src/runtime/swarm/driver.ts';
import { TEST_IMAGE } from '../src/runtime/testing/images.ts';
import { startSwarmLab } from '../test/swarm/lab.ts';

interface Row { bench: string; measured: string; baseline: string; target: string; met?: boolean }

/** What the Swarm benchmark measured. */
export interface SwarmBenchResult {
  instances: number;
  lab_up_ms: number;
  place_all_running_ms: number;
  per_region: Record<string, number>;
  remove_all_ms: number;
  node_loss_reported_ms: number;
  /** The same loss with Pier's own verdict off (PIER_SWARM_DRAIN_LOST_NODES=0): Swarm's heartbeat verdict alone. */
  node_loss_reported_swarm_only_ms: number;
  rows: Row[];
}

/** Runs the benchmark: a fresh lab, N instances (10 starts in flight), one node lost at the end. */
export async function swarmBench(opts: { instances?: number; concurrency?: number } = {}): Promise<SwarmBenchResult> {
  const n = opts.instances ?? 100;
  const t0 = performance.now();
  const lab = await startSwarmLab();
  const labUp = performance.now() - t0;
  try {
    const rt = new SwarmRuntime({ socketPath: lab.managerSocket, registry: lab.registry, scope: `bench-${randomUUID().slice(0, 8)}`, stopGraceMs: 1000 });
    const regions = lab.nodes.map((x) => x.region);
    const spec = (i: number) => ({
      instanceId: randomUUID(), labels: { region: regions[i % regions.length] }, image: TEST_IMAGE, command: ['serve'],
      env: { PORT: '8000' }, ports: [8000], cpu: 0.1, memoryBytes: 32 * 1024 * 1024,
    });
    await rt.remove((await rt.start(spec(0))).runtimeId); // warm: the image reaches the registry and fra's node once
    const handles: InstanceHandle[] = [];
    const perRegion: Record<string, number> = {};
    const p0 = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: opts.concurrency ?? 10 }, async () => {
      while (next < n) {
        const i = next++;
        const h = await rt.start(spec(i));
        handles.push(h);
        perRegion[h.labels.region] = (perRegion[h.labels.region] ?? 0) + 1;
      }
    }));
    const place = performance.now() - p0;
    const r0 = performance.now();
    for (let i = 0; i < handles.length; i += 10) await Promise.all(handles.slice(i, i + 10).map((h) => rt.remove(h.runtimeId)));
    const removeAll = performance.now() - r0;

    // Two losses: was's node with Pier's verdict on (the watch pings the node engines), then sin's with it off.
    const sockets = Object.fromEntries(lab.nodes.map((x) => [x.addr, x.socket]));
    const lossMs = async (region: string, drainLostNodes: boolean) => {
      const watched = new SwarmRuntime({ socketPath: lab.managerSocket, registry: lab.registry, scope: `bench-${randomUUID().slice(0, 8)}`, stopGraceMs: 1000, nodeSockets: sockets, drainLostNodes });
      const unwatch = watched.watch(() => undefined);
      try {
        const victim = lab.nodes.find((x) => x.region === region) ?? lab.nodes[1];
        const h = await watched.start({ ...spec(0), labels: { region: victim.region } });
        await new Promise((r) => setTimeout(r, 1000)); // a few rounds of pings answered
        const k0 = performance.now();
        const killing = lab.killNode(victim.name); // its sweep of the node's processes runs on while the loss is watched
        for (let i = 0; i < 1200; i++) {
          if ((await watched.inspect(h.runtimeId))?.running === false) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        const ms = performance.now() - k0;
        await killing;
        await watched.remove(h.runtimeId);
        return ms;
      } finally {
        unwatch();
      }
    };
    const lost = await lossMs('was', true);
    const lostSwarmOnly = await lossMs('sin', false);
    const s = (x: number) => `${(x / 1000).toFixed(1)} s`;
    return {
      instances: n, lab_up_ms: Math.round(labUp), place_all_running_ms: Math.round(place), per_region: perRegion,
      remove_all_ms: Math.round(removeAll), node_loss_reported_ms: Math.round(lost), node_loss_reported_swarm_only_ms: Math.round(lostSwarmOnly),
      rows: [
        { bench: `Swarm: place ${n} instances across 3 regions (3-node lab, 10 starts in flight) until all run`, measured: s(place), baseline: `lab up in ${s(labUp)}`, target: 'recorded' },
        { bench: 'Swarm: node loss (dockerd killed) to instance reported lost (Pier drains the node, node-loss.ts)', measured: s(lost), baseline: `${s(lostSwarmOnly)} on Swarm's verdict alone (dispatcher heartbeat 1 s)`, target: '< 2 s', met: lost < 2000 },
      ],
    };
  } finally {
    await lab.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await swarmBench({ instances: Number(process.argv[2] ?? 100) });
  console.log(JSON.stringify(out, null, 2));
}

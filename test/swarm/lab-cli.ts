// `scripts/swarm-lab.sh up|down DIR`: brings the swarm lab up (and leaves it running) or tears one down.
import { destroyLab, readLabState, startSwarmLab } from './lab.ts';

const [cmd, dir] = process.argv.slice(2);
if (cmd === 'up') {
  const t0 = Date.now();
  const lab = await startSwarmLab({ keep: true });
  console.log(JSON.stringify({
    dir: lab.dir, seconds: (Date.now() - t0) / 1000, manager: lab.managerSocket, registry: lab.registry, testImage: lab.testImage,
    nodes: lab.nodes.map((n) => ({ name: n.name, region: n.region, addr: n.addr, socket: n.socket, pid: n.pid })),
  }, null, 2));
  console.log(`PIER_RUNTIME=swarm PIER_SWARM_HOST=unix://${lab.managerSocket} PIER_SWARM_REGISTRY=${lab.registry}`);
  console.log(`tear down: scripts/swarm-lab.sh down ${lab.dir}`);
  process.exit(0);
} else if (cmd === 'down' && dir) {
  await destroyLab(readLabState(dir));
  console.log(`lab ${dir} removed`);
} else {
  console.error('usage: swarm-lab.sh up | down DIR');
  process.exit(2);
}

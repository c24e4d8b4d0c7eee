// Reads the Swarm runtime's settings from the environment (PIER_SWARM_*), validated once at startup.
import { RuntimeError } from '../errors.ts';
import type { SwarmRuntimeOptions } from './driver.ts';

/**
 * PIER_SWARM_HOST (`unix:///path/docker.sock` or a socket path; the manager's Engine API), PIER_SWARM_REGISTRY
 * (host:port every node pulls from), PIER_SWARM_NODE_SOCKETS (`addr=socket,...`, optional: container stats and
 * OOM flags, exec, and Pier's own node-loss verdict), PIER_SWARM_DRAIN_LOST_NODES (1 or 0: drain a worker whose engine
 * stopped answering before Swarm declares it down; default 1 when node sockets are given), PIER_SWARM_STOP_GRACE_MS
 * (default 10000).
 */
export function swarmOptionsFromEnv(env: NodeJS.ProcessEnv): SwarmRuntimeOptions {
  const host = (env.PIER_SWARM_HOST ?? '').trim();
  if (!host) throw new RuntimeError('invalid_spec', 'PIER_RUNTIME=swarm needs PIER_SWARM_HOST: the Swarm manager socket, e.g. unix:///var/run/docker.sock');
  if (/^(tcp|https?|ssh):/i.test(host)) throw new RuntimeError('invalid_spec', `PIER_SWARM_HOST must be a unix socket for now, not ${host}`);
  const socketPath = host.replace(/^unix:\/\//, '');
  const opts: SwarmRuntimeOptions = { socketPath };
  const registry = env.PIER_SWARM_REGISTRY?.trim();
  if (registry) {
    if (!/^[\w.-]+(:\d+)?$/.test(registry)) throw new RuntimeError('invalid_spec', `PIER_SWARM_REGISTRY must be host[:port], not ${registry}`);
    opts.registry = registry;
  }
  const sockets = env.PIER_SWARM_NODE_SOCKETS?.trim();
  if (sockets) {
    opts.nodeSockets = {};
    for (const pair of sockets.split(',')) {
      const [addr, path] = pair.split('=');
      if (!addr || !path) throw new RuntimeError('invalid_spec', `PIER_SWARM_NODE_SOCKETS entries are addr=/path/docker.sock, not ${pair}`);
      opts.nodeSockets[addr.trim()] = path.trim().replace(/^unix:\/\//, '');
    }
  }
  const drain = env.PIER_SWARM_DRAIN_LOST_NODES?.trim().toLowerCase();
  if (drain) {
    if (!['0', '1', 'on', 'off', 'true', 'false'].includes(drain)) throw new RuntimeError('invalid_spec', `PIER_SWARM_DRAIN_LOST_NODES must be 1 or 0 (on or off), not ${drain}`);
    opts.drainLostNodes = ['1', 'on', 'true'].includes(drain);
  }
  const grace = env.PIER_SWARM_STOP_GRACE_MS;
  if (grace !== undefined && grace !== '') {
    const n = Number(grace);
    if (!Number.isInteger(n) || n < 0) throw new RuntimeError('invalid_spec', `PIER_SWARM_STOP_GRACE_MS must be a whole number of milliseconds, not ${grace}`);
    opts.stopGraceMs = n;
  }
  return opts;
}

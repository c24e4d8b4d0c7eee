// Test teardown: removes every workload and network a Pier installation (one data directory) created, so a suite
// that stops Pier (which on purpose leaves instances running) leaves nothing behind on a shared engine.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerRuntime, SCOPE_LABEL } from '../docker/driver.ts';
import { DockerEngine } from '../docker/engine.ts';
import { ProcessRuntime } from '../process/driver.ts';
import { swarmOptionsFromEnv } from '../swarm/config.ts';
import { SwarmRuntime } from '../swarm/driver.ts';
import { LocalVolumeDriver } from '../volumes/local.ts';

/** Stops and removes the containers, networks and sandboxed processes of the Pier whose data dir is `dataDir`. */
export async function removeInstallationWorkloads(dataDir: string): Promise<void> {
  const idFile = join(dataDir, 'installation-id');
  const scope = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : '';
  if (scope) {
    // Holders left without their instance are removed whatever their age: nothing of this installation runs any more.
    const docker = new DockerRuntime({ scope, holderOrphanAgeMs: 0 });
    try {
      await docker.capabilities();
      for (const h of await docker.recover()) {
        await docker.stop(h.runtimeId, 0).catch(() => undefined);
        await docker.remove(h.runtimeId).catch(() => undefined);
      }
      const engine = new DockerEngine();
      const nets = await engine.json<{ Id: string }[]>('GET', '/networks', { query: { filters: JSON.stringify({ label: [`${SCOPE_LABEL}=${scope}`] }) } });
      for (const n of nets) await engine.jsonOrNull('DELETE', `/networks/${n.Id}`).catch(() => undefined);
    } catch {
      // No engine: nothing of this installation can be running there.
    }
  }
  if (scope && process.env.PIER_SWARM_HOST) await removeSwarmWorkloads(scope);
  const stateDir = join(dataDir, 'process');
  if (existsSync(stateDir)) {
    const proc = new ProcessRuntime({ stateDir });
    for (const h of await proc.recover().catch(() => [])) {
      await proc.stop(h.runtimeId, 0).catch(() => undefined);
      await proc.remove(h.runtimeId).catch(() => undefined);
    }
  }
  // Volumes (issue #20) stay mounted when Pier stops, on purpose; a test's data dir is deleted next, so unmount them
  // (their loop devices go with the mounts) before anyone runs rm -r over it.
  await new LocalVolumeDriver({ dataDir }).unmountAll().catch(() => undefined);
}

/** Removes the Swarm services and overlay networks of installation `scope` from the Swarm PIER_SWARM_HOST names. */
export async function removeSwarmWorkloads(scope: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const opts = swarmOptionsFromEnv(env);
  const swarm = new SwarmRuntime({ ...opts, scope });
  try {
    // Deleting a service stops its task (with the grace fixed at start); remove() waits until its tasks are gone.
    for (const h of await swarm.recover()) await swarm.remove(h.runtimeId).catch(() => undefined);
    const engine = new DockerEngine(opts.socketPath);
    const nets = await engine.json<{ Name: string }[]>('GET', '/networks', { query: { filters: JSON.stringify({ label: [`${SCOPE_LABEL}=${scope}`] }) } });
    for (const n of nets) await swarm.removeNetwork(n.Name).catch(() => undefined); // with its anchor service
  } catch {
    // The Swarm manager is gone (a lab already torn down): nothing of this installation runs there any more.
  }
}

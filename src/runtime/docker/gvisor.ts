// PIER_RUNTIME=gvisor: the Docker driver with every instance in a gVisor sandbox (`HostConfig.Runtime = runsc`), so
// an instance's system calls are served by gVisor's application kernel (the Sentry), not by the host's kernel.
// Everything else (images, networks, firewall, ports, logs, stats, limits, disks, adoption) is the Docker driver's.
import { RuntimeError } from '../errors.ts';
import type { Capabilities } from '../contract.ts';
import { DockerRuntime, type DockerRuntimeOptions, unreachableMessage } from './driver.ts';
import { DEFAULT_DOCKER_SOCKET, DockerEngine } from './engine.ts';

/** The name under which the engine knows gVisor (`/etc/docker/daemon.json` `runtimes`). */
export const GVISOR_OCI_RUNTIME = 'runsc';

/**
 * The wrapper scripts/setup-host.sh registers as the engine's `runsc` (with `--platform=ptrace`: the only platform of
 * Debian's 2022 build that works without a usable KVM; `kvm` hangs on PVM hosts). It runs runsc with /proc/sys/net
 * hidden: that runsc takes the presence of /proc/sys/net/core/rmem_default for "this is the host's network namespace",
 * which recent kernels show in every namespace, and would refuse gVisor's own network stack.
 */
export const GVISOR_WRAPPER = '/usr/local/lib/pier/runsc';

/** What `GET /info` says of the engine's OCI runtimes. */
export interface EngineRuntimes { Runtimes?: Record<string, { path?: string; runtimeArgs?: string[] | null }> | null }

const FIX = 'run `PIER_RUNTIME=gvisor pier setup --yes` as root (or scripts/setup-host.sh --gvisor): it installs runsc and registers it';

/** Why this engine cannot run gVisor instances the way Pier needs, or undefined when it can. Pure. */
export function gvisorEngineProblem(info: EngineRuntimes): string | undefined {
  const rt = info.Runtimes?.[GVISOR_OCI_RUNTIME];
  if (!rt) {
    const known = Object.keys(info.Runtimes ?? {}).sort().join(', ') || 'none';
    return `the Docker engine has no "${GVISOR_OCI_RUNTIME}" runtime (it knows: ${known}): ${FIX} in /etc/docker/daemon.json`;
  }
  return undefined;
}

/**
 * What gVisor instances do differently from runc ones, found by running the conformance suite on runsc (docs/limits.md,
 * "gVisor"). Logged once when the driver is chosen.
 */
export const GVISOR_LIMITS = [
  'system calls are served by gVisor (Linux 4.4.0 as the instance sees it); programs needing calls gVisor lacks fail with ENOSYS',
  'names: Docker\'s embedded DNS (127.0.0.11) is not reachable from gVisor\'s network stack, so private names (<service>.<app>.internal) and DNS do not resolve inside instances; they reach each other by address',
  'image builds run on the engine\'s default runtime (runc, in the build sandbox), not in gVisor',
  'privileged instances get every capability inside their sandbox, never the host\'s devices',
];

/** Options of the gVisor driver: the Docker driver's, minus the OCI runtime and name it sets itself. */
export type GvisorRuntimeOptions = Omit<DockerRuntimeOptions, 'ociRuntime' | 'name'>;

/** Runs instances as Docker containers inside gVisor sandboxes. */
export class GvisorRuntime extends DockerRuntime {
  private readonly info: DockerEngine;
  private checked = false;

  constructor(opts: GvisorRuntimeOptions = {}) {
    super({ ...opts, ociRuntime: GVISOR_OCI_RUNTIME, name: 'gvisor' });
    this.info = new DockerEngine(opts.socketPath ?? DEFAULT_DOCKER_SOCKET);
  }

  override async capabilities(): Promise<Capabilities> {
    const caps = await super.capabilities();
    if (!this.checked) {
      let info: EngineRuntimes;
      try {
        info = await this.info.json<EngineRuntimes>('GET', '/info');
      } catch (err) {
        throw new RuntimeError('unavailable', `${unreachableMessage(this.info.socketPath)} (${(err as Error).message})`);
      }
      const problem = gvisorEngineProblem(info);
      if (problem) throw new RuntimeError('unavailable', `gvisor runtime: ${problem}`);
      this.checked = true;
    }
    return caps;
  }

  override async start(...args: Parameters<DockerRuntime['start']>): ReturnType<DockerRuntime['start']> {
    try {
      return await super.start(...args);
    } catch (err) {
      if (/cannot run with network enabled in root network namespace/.test((err as Error).message)) {
        throw new RuntimeError('unavailable', `gvisor runtime: runsc refused its network stack (${(err as Error).message}): register ${GVISOR_WRAPPER} as the engine's runsc runtime (scripts/setup-host.sh --gvisor writes it), or add --network=host to its runtimeArgs`);
      }
      throw err;
    }
  }
}

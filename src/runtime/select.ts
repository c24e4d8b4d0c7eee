// Picks the runtime driver for this host: Docker when its engine answers, else sandboxed processes.
import { RuntimeError } from './errors.ts';
import type { Runtime } from './contract.ts';
import { DockerRuntime, type DockerRuntimeOptions } from './docker/driver.ts';
import { GVISOR_LIMITS, GvisorRuntime } from './docker/gvisor.ts';
import { MicrovmRuntime, type MicrovmRuntimeOptions } from './microvm/driver.ts';
import { ProcessRuntime, type ProcessRuntimeOptions } from './process/driver.ts';
import { SwarmRuntime, type SwarmRuntimeOptions } from './swarm/driver.ts';

/** Which runtime the operator asked for (PIER_RUNTIME). */
export type RuntimePreference = 'auto' | 'docker' | 'gvisor' | 'microvm' | 'process' | 'swarm';

/** Options passed through to the drivers. */
export interface SelectRuntimeOptions {
  docker?: DockerRuntimeOptions;
  process?: ProcessRuntimeOptions;
  /** Swarm options (config.ts reads PIER_SWARM_*; the scope defaults to the Docker one). */
  swarm?: Partial<SwarmRuntimeOptions>;
  /** MicroVM options (state directory; the log defaults to `log`). */
  microvm?: MicrovmRuntimeOptions;
  /** Where to report which runtime was chosen and why (default: nowhere). */
  log?: (message: string) => void;
}

/**
 * Resolves with a working runtime. `auto` prefers Docker and falls back to the process runtime; an explicit
 * choice fails with that driver's own reason. When nothing works, the error carries both reasons.
 */
export async function selectRuntime(pref: RuntimePreference, opts: SelectRuntimeOptions = {}): Promise<Runtime> {
  const docker = () => new DockerRuntime(opts.docker);
  const proc = () => new ProcessRuntime(opts.process);
  if (pref === 'swarm') {
    // Never chosen by auto: a cluster is something the operator points Pier at.
    const socketPath = opts.swarm?.socketPath;
    if (!socketPath) throw new RuntimeError('invalid_spec', 'PIER_RUNTIME=swarm needs PIER_SWARM_HOST: the Swarm manager socket, e.g. unix:///var/run/docker.sock');
    const rt = new SwarmRuntime({ scope: opts.docker?.scope, ...opts.swarm, log: opts.swarm?.log ?? opts.log, socketPath });
    await rt.capabilities();
    opts.log?.(`runtime: swarm (chosen by configuration)`);
    return rt;
  }
  if (pref === 'microvm') {
    // Never chosen by auto: one QEMU microVM per instance (TCG where KVM cannot boot a stock guest, said once).
    const rt = new MicrovmRuntime({ ...opts.microvm, log: opts.microvm?.log ?? opts.log });
    await rt.capabilities();
    opts.log?.('runtime: microvm (chosen by configuration)');
    return rt;
  }
  if (pref === 'gvisor') {
    // Never chosen by auto: the Docker driver with every instance in a gVisor sandbox (runsc), on the operator's word.
    const rt = new GvisorRuntime(opts.docker);
    await rt.capabilities();
    opts.log?.(`runtime: gvisor (chosen by configuration; limits: ${GVISOR_LIMITS.join('; ')})`);
    return rt;
  }
  if (pref === 'docker' || pref === 'process') {
    const rt = pref === 'docker' ? docker() : proc();
    await rt.capabilities(); // throws the driver's reason
    opts.log?.(`runtime: ${rt.name} (chosen by configuration)`);
    return rt;
  }
  const reasons: string[] = [];
  for (const make of [docker, proc]) {
    const rt = make();
    try {
      await rt.capabilities();
      opts.log?.(`runtime: ${rt.name}${reasons.length ? ` (${reasons.join('; ')})` : ''}`);
      return rt;
    } catch (err) {
      reasons.push((err as Error).message);
    }
  }
  throw new RuntimeError('unavailable', `no runtime works on this host: ${reasons.join('; ')}. Run \`./pier setup --yes\` (as root) to install and start Docker and bubblewrap`);
}

/** Parses PIER_RUNTIME (unset = auto); throws on an unknown value. */
export function runtimePreference(value: string | undefined): RuntimePreference {
  const v = (value ?? 'auto').trim().toLowerCase() || 'auto';
  if (v === 'auto' || v === 'docker' || v === 'gvisor' || v === 'microvm' || v === 'process' || v === 'swarm') return v;
  throw new RuntimeError('invalid_spec', `PIER_RUNTIME must be auto, docker, gvisor, microvm, process or swarm, not "${value}"`);
}

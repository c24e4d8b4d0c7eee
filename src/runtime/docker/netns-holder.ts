// Network holders (issue #23): an instance that may sleep deeply runs in the network namespace of a tiny companion
// container (a "holder", like a Kubernetes pod's pause container) instead of one of its own. Deep sleep stops the
// instance's container and leaves the holder running, so the wake's `docker start` joins an existing namespace: no
// new sandbox, no libnetwork hook re-executing dockerd, no veth or bridge port. Measured on these machines: a
// stopped container on a Pier network starts in ~380 ms, one joined to a holder in ~125 ms. The address stays the
// same through the sleep too. The cost: one more container per such instance (its containerd shim ~13 MB RSS; the
// pause program itself a few pages), so only instances of services that scale to zero (InstanceSpec.resumable) or out
// (scalesOut: autoscaled) get one. For the latter the driver also keeps up to two spare holders per service, made
// ahead, which the service's next instances take: a scale-up skips the network setup too (DockerRuntime.makeSpares).
//
// The holder carries the instance's network identity: its Pier network, its mesh aliases and its declared ports
// (exposed, so the engine lists them); the instance's container has NetworkMode `container:<holder id>`. The holder
// has no capabilities, a read-only root, 16 MiB of memory and 4 processes, and runs only Pier's 129-byte pause
// program (../pause.ts: pause(2) until killed) from an image Pier imports once into the engine (no registry needed).
// x86-64 hosts only (the pause program's architecture); elsewhere the driver runs without holders.
import type { InstanceSpec } from '../contract.ts';
import { pauseLayer } from '../pause.ts';
import type { DockerEngine } from './engine.ts';
import { consumeProgress } from './engine.ts';

/** Label on a holder: the instance whose network namespace it holds. */
export const HOLDER_LABEL = 'dev.pier.netns_of';
/** The image holders run (imported once per engine). */
export const HOLDER_IMAGE = 'pier-netns-holder:2';
const HOLDER_MEMORY_BYTES = 16 * 1024 * 1024;

/** Whether this host can run holders (the pause program is x86-64). */
export const HOLDERS_SUPPORTED = process.arch === 'x64';

/** Docker's name for the holder of an instance. */
export function holderName(instanceId: string): string {
  return `pier-${instanceId}-netns`;
}

/** The holder's id in an instance container's NetworkMode (`container:<id>`), else undefined. */
export function holderIdOf(networkMode: string | undefined | null): string | undefined {
  return networkMode?.startsWith('container:') ? networkMode.slice('container:'.length) : undefined;
}

/** HOLDER_LABEL's value on a spare holder: made ahead for the next instance of a service (see DockerRuntime spares). */
export const SPARE = 'spare';

/**
 * HOLDER_LABEL's value on a pooled holder: made ahead for any instance (DockerRuntime's holder pool, issue #23). It is
 * started on the pool's internal network and taken off it at once, so it waits on no network, with no alias and no
 * port; the instance that takes it connects it to its own network with its aliases (~30-50 ms) instead of paying a
 * new network namespace at its start (~200-300 ms here). Labels cannot change, so a taken one keeps this value: its
 * instance names it (NetworkMode `container:<id>`), and it is renamed for that instance.
 */
export const POOLED = 'pool';

/** Labels on an instance container in a pooled holder: its network and ports (the holder has no exposed ports). */
export const HELD_NETWORK_LABEL = 'dev.pier.held_network';
export const HELD_PORTS_LABEL = 'dev.pier.held_ports';

/** The labels createContainerBody adds for an instance that joins a pooled holder. */
export function heldLabels(network: string, ports: number[]): Record<string, string> {
  return { [HELD_NETWORK_LABEL]: network, [HELD_PORTS_LABEL]: [...new Set(ports)].sort((a, b) => a - b).join(',') };
}

/** The network and ports of an instance in a pooled holder, from its labels; undefined for any other container. */
export function heldVia(labels: Record<string, string> | null | undefined): { network: string; ports: number[] } | undefined {
  const network = labels?.[HELD_NETWORK_LABEL];
  const ports = labels?.[HELD_PORTS_LABEL];
  if (!network || ports === undefined) return undefined;
  return { network, ports: ports.split(',').filter(Boolean).map(Number).filter((p) => Number.isInteger(p) && p > 0 && p < 65536) };
}

/**
 * What makes two instances' holders interchangeable: the network, the mesh aliases and the exposed ports (the label
 * of the installation scope is the driver's). A spare made for one instance of a service serves the next one.
 */
export function spareKey(spec: InstanceSpec, network: string): string {
  return JSON.stringify([network, [...(spec.networkAliases ?? [])].sort(), [...new Set(spec.ports)].sort((a, b) => a - b)]);
}

/**
 * The body of POST /containers/create for the holder of `spec` on `network` (labels: Pier's managed and scope
 * labels; `of`: the instance it is for, or SPARE).
 */
export function holderCreateBody(spec: InstanceSpec, network: string, labels: Record<string, string>, of: string = spec.instanceId): Record<string, unknown> {
  const exposed: Record<string, object> = {};
  for (const port of spec.ports) exposed[`${port}/tcp`] = {};
  return {
    Image: HOLDER_IMAGE,
    Entrypoint: ['/pause'],
    Labels: { ...labels, [HOLDER_LABEL]: of },
    ExposedPorts: exposed,
    HostConfig: {
      NetworkMode: network,
      Memory: HOLDER_MEMORY_BYTES,
      MemorySwap: HOLDER_MEMORY_BYTES,
      NanoCpus: 100_000_000,
      PidsLimit: 4,
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'none', Config: {} },
    },
    NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: spec.networkAliases ?? [] } } },
  };
}

/** The body of POST /containers/create for a pooled holder on `network` (the holder pool's network): no alias, no port. */
export function pooledHolderBody(network: string, labels: Record<string, string>): Record<string, unknown> {
  return holderCreateBody({ instanceId: POOLED, labels: {}, ports: [], env: {}, cpu: 0, memoryBytes: 0 }, network, labels, POOLED);
}

const imports = new Map<string, Promise<void>>();

/** Makes sure the engine has the holder image (imported once per engine socket and process; retried after a failure). */
export function ensureHolderImage(engine: DockerEngine): Promise<void> {
  let p = imports.get(engine.socketPath);
  if (!p) {
    p = (async () => {
      if (await engine.jsonOrNull('GET', `/images/${encodeURIComponent(HOLDER_IMAGE)}/json`)) return;
      const [repo, tag] = HOLDER_IMAGE.split(':');
      const res = await engine.request('POST', '/images/create', {
        query: { fromSrc: '-', repo, tag },
        body: pauseLayer(),
        headers: { 'content-type': 'application/x-tar' },
        timeoutMs: 60_000,
      });
      await consumeProgress(res);
    })();
    imports.set(engine.socketPath, p);
    p.catch(() => imports.delete(engine.socketPath));
  }
  return p;
}

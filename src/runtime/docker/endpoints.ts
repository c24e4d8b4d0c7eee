// Where the edge and the health checker reach a container: pure readings of the engine's inspect and list replies.
// New containers publish nothing (no docker-proxy per instance, issue #26): their endpoints are the container's
// address on its Pier network and the declared port. Containers created before that publish their ports on
// 127.0.0.1; recover() keeps using those host ports, so an upgrade never cuts traffic to running instances.
import type { Endpoint } from '../contract.ts';

type PortBindings = Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null | undefined;
type Networks = Record<string, { IPAddress?: string } | null> | null | undefined;

/** The parts of GET /containers/{id}/json that endpoints come from. */
export interface InspectNetworking {
  Config?: { ExposedPorts?: Record<string, object> | null } | null;
  HostConfig?: { NetworkMode?: string } | null;
  NetworkSettings?: { Ports?: PortBindings; Networks?: Networks } | null;
}

/** The parts of one GET /containers/json entry that endpoints come from. */
export interface SummaryNetworking {
  Ports?: Array<{ IP?: string; PrivatePort: number; PublicPort?: number; Type: string }> | null;
  HostConfig?: { NetworkMode?: string } | null;
  NetworkSettings?: { Networks?: Networks } | null;
}

/** The container's IPv4 address on its own network (NetworkMode), else on the first network that gave it one. */
export function containerAddress(networkMode: string | undefined, networks: Networks): string | undefined {
  const all = networks ?? {};
  const own = networkMode ? all[networkMode]?.IPAddress : undefined;
  if (own) return own;
  for (const n of Object.values(all)) if (n?.IPAddress) return n.IPAddress;
  return undefined;
}

const byPort = (a: Endpoint, b: Endpoint) => a.containerPort - b.containerPort;

/**
 * Where an instance in a pooled network holder is reached (netns-holder.ts heldVia): the holder's address on the
 * instance's network (it may still be on Pier's isolated network too, just after its start) and the instance's ports.
 */
export interface HeldVia { network: string; ports: number[] }

function viaEndpoints(networks: Networks, via: HeldVia): Endpoint[] {
  const ip = networks?.[via.network]?.IPAddress;
  if (!ip) return [];
  return [...new Set(via.ports)].map((p) => ({ containerPort: p, host: ip, hostPort: p })).sort(byPort);
}

/**
 * Endpoints from an inspect reply: published loopback ports when the container has them (older containers), else
 * address:port; `via` for the holder of an instance that took it from the pool.
 */
export function endpointsFromInspect(c: InspectNetworking, via?: HeldVia): Endpoint[] {
  if (via) return viaEndpoints(c.NetworkSettings?.Networks, via);
  const published: Endpoint[] = [];
  for (const [key, bindings] of Object.entries(c.NetworkSettings?.Ports ?? {})) {
    const [port, proto] = key.split('/');
    if (proto !== 'tcp' || !bindings) continue;
    const b = bindings.find((x) => x.HostIp === '127.0.0.1') ?? bindings.find((x) => x.HostIp === '0.0.0.0');
    if (b) published.push({ containerPort: Number(port), host: '127.0.0.1', hostPort: Number(b.HostPort) });
  }
  if (published.length) return published.sort(byPort);
  const ip = containerAddress(c.HostConfig?.NetworkMode, c.NetworkSettings?.Networks);
  if (!ip) return []; // not running: no address, nothing to reach
  const ports = Object.keys(c.Config?.ExposedPorts ?? {})
    .map((key) => key.split('/'))
    .filter(([, proto]) => proto === 'tcp')
    .map(([port]) => Number(port));
  return [...new Set(ports)].map((p) => ({ containerPort: p, host: ip, hostPort: p })).sort(byPort);
}

/** Endpoints from a list entry (recover()): the same rules as endpointsFromInspect. */
export function endpointsFromSummary(c: SummaryNetworking, via?: HeldVia): Endpoint[] {
  if (via) return viaEndpoints(c.NetworkSettings?.Networks, via);
  const published = new Map<number, Endpoint>();
  const exposed = new Set<number>();
  for (const p of c.Ports ?? []) {
    if (p.Type !== 'tcp') continue;
    exposed.add(p.PrivatePort);
    if (!p.PublicPort || (p.IP && p.IP !== '127.0.0.1' && p.IP !== '0.0.0.0')) continue;
    if (!published.has(p.PrivatePort)) published.set(p.PrivatePort, { containerPort: p.PrivatePort, host: '127.0.0.1', hostPort: p.PublicPort });
  }
  if (published.size) return [...published.values()].sort(byPort);
  const ip = containerAddress(c.HostConfig?.NetworkMode, c.NetworkSettings?.Networks);
  if (!ip) return [];
  return [...exposed].map((p) => ({ containerPort: p, host: ip, hostPort: p })).sort(byPort);
}

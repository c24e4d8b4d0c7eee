// Pure mapping from Pier's InstanceSpec to a Swarm service spec, and from Swarm task/node JSON to Pier's observations.
// One service per instance (replicas 1, restart none): Pier's reconcilers, not Swarm, decide about restarts.
import type { Endpoint, ExitStatus, InstanceSpec } from '../contract.ts';
import { isoTime, pierLabels, signalFromExitCode } from '../common.ts';
import { mountTarget, volumeMountsProblem } from '../volumes/mounts.ts';

/** Node label carrying a node's region; instances are placed only on nodes of their region. */
export const REGION_LABEL = 'dev.pier.region';

/**
 * The node an instance with volumes must run on (issue #20), or why it cannot run: every volume lives on one node
 * (its record on the manager, `volumes.ts`), so the instance goes there; a volume without a node, or volumes on two
 * different nodes, are refused. `nodes`: each volume's node from its record (undefined: no record). Binding a path
 * on whichever node Swarm picks would silently write to that node's own disk, so there is no fallback.
 */
export function volumePlacement(spec: InstanceSpec, nodes: ReadonlyMap<string, string | undefined>): { node?: string; problem?: string } {
  if (!spec.volumes?.length) return {};
  const paths = volumeMountsProblem(spec.volumes);
  if (paths) return { problem: paths };
  let node: string | undefined;
  let first = '';
  for (const v of spec.volumes) {
    const at = nodes.get(v.volumeId);
    if (!at) {
      return { problem: `volume ${v.volumeId} has no node on this Swarm (no record pier-volume-${v.volumeId} on the manager): the swarm runtime mounts only volumes its volume driver made` };
    }
    if (node && at !== node) return { problem: `volumes ${first} and ${v.volumeId} live on different Swarm nodes (${node}, ${at}): one instance cannot mount both` };
    node ??= at;
    first ||= v.volumeId;
  }
  return { node };
}

/** The service name of an instance. */
export function serviceName(instanceId: string): string {
  return `pier-${instanceId}`;
}

/** Options that shape every service. */
export interface ServiceSpecOptions {
  /** SIGTERM-to-SIGKILL grace, fixed when the service is created (Swarm stops a task with its own spec's grace). */
  stopGraceMs: number;
  pidsLimit: number;
  /** Extra labels (the installation scope). */
  labels?: Record<string, string>;
  /** The node that keeps the spec's volumes (`volumePlacement`): the instance runs there and binds them. */
  volumeNode?: string;
}

/** The body of POST /services/create for one instance; `image` is what the nodes pull. */
export function serviceSpec(spec: InstanceSpec, image: string, opts: ServiceSpecOptions): Record<string, unknown> {
  if (spec.volumes?.length && !opts.volumeNode) throw new Error('serviceSpec: a spec with volumes needs the node that keeps them (volumePlacement)');
  const labels = { ...pierLabels(spec.instanceId, spec.labels), ...opts.labels };
  const region = spec.labels.region;
  const caps = spec.privileged ? {} : { CapabilityDrop: ['NET_RAW', 'MKNOD', 'AUDIT_WRITE', 'SYS_CHROOT'] };
  return {
    Name: serviceName(spec.instanceId),
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        ...(spec.entrypoint ? { Command: spec.entrypoint } : {}),
        ...(spec.command ? { Args: spec.command } : {}),
        ...(spec.workdir ? { Dir: spec.workdir } : {}),
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        Labels: labels,
        StopGracePeriod: Math.max(0, Math.round(opts.stopGraceMs)) * 1_000_000,
        ...caps,
        ...(spec.volumes?.length ? {
          Mounts: spec.volumes.map((v) => ({ Type: 'bind', Source: v.hostPath, Target: mountTarget(v), ReadOnly: v.readOnly === true, BindOptions: { Propagation: 'rprivate' } })),
        } : {}),
      },
      Resources: {
        Limits: { NanoCPUs: Math.round(spec.cpu * 1e9), MemoryBytes: spec.memoryBytes, Pids: opts.pidsLimit },
      },
      RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
      Placement: {
        Constraints: [
          ...(region ? [`node.labels.${REGION_LABEL}==${region}`] : []),
          ...(spec.volumes?.length && opts.volumeNode ? [`node.id==${opts.volumeNode}`] : []),
        ],
      },
      ...(spec.network ? { Networks: [{ Target: spec.network, Aliases: spec.networkAliases ?? [] }] } : {}),
    },
    Mode: { Replicated: { Replicas: 1 } },
    // No IPVS needed: DNS round robin inside overlays, ports published on the node itself.
    EndpointSpec: {
      Mode: 'dnsrr',
      Ports: spec.ports.map((p) => ({ Protocol: 'tcp', TargetPort: p, PublishMode: 'host' })),
    },
  };
}

/** A Swarm task, as far as the driver reads it. */
export interface TaskJson {
  ID: string;
  CreatedAt: string;
  NodeID?: string;
  DesiredState: string;
  Status: {
    Timestamp: string;
    State: string;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; ExitCode?: number };
    PortStatus?: { Ports?: Array<{ Protocol: string; TargetPort: number; PublishedPort?: number }> };
  };
}

/** A Swarm node, as far as the driver reads it. */
export interface NodeJson {
  ID: string;
  Version?: { Index: number };
  Description?: { Hostname?: string };
  Spec: { Name?: string; Labels?: Record<string, string>; Role?: string; Availability?: string };
  Status: { State: string; Addr?: string };
  ManagerStatus?: { Addr?: string };
}

const TERMINAL = new Set(['complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove']);

/** Whether a task state is final. */
export function isTerminal(state: string): boolean {
  return TERMINAL.has(state);
}

/** The task that is the instance: the first one Swarm created for the service (later ones are never ours to run). */
export function instanceTask(tasks: TaskJson[]): TaskJson | undefined {
  return [...tasks].sort((a, b) => Date.parse(a.CreatedAt) - Date.parse(b.CreatedAt) || a.ID.localeCompare(b.ID))[0];
}

/** The address a node is reached at (a manager may report 0.0.0.0 as its status address). */
export function nodeAddress(node: NodeJson): string | undefined {
  const addr = node.Status.Addr;
  if (addr && addr !== '0.0.0.0') return addr;
  return node.ManagerStatus?.Addr?.replace(/:\d+$/, '');
}

/** How the node is described in messages: hostname and region. */
export function nodeName(node: NodeJson | undefined, id = '?'): string {
  const region = node?.Spec.Labels?.[REGION_LABEL];
  return `node ${node?.Spec.Name || node?.Description?.Hostname || id}${region ? ` (region ${region})` : ''}`;
}

/** The endpoints of a running task: node address plus each host-published port. */
export function taskEndpoints(task: TaskJson, node: NodeJson | undefined): Endpoint[] {
  const host = node ? nodeAddress(node) : undefined;
  if (!host) return [];
  return (task.Status.PortStatus?.Ports ?? [])
    .filter((p) => p.Protocol === 'tcp' && p.PublishedPort)
    .map((p) => ({ containerPort: p.TargetPort, host, hostPort: p.PublishedPort as number }))
    .sort((a, b) => a.containerPort - b.containerPort);
}

/**
 * How a finished task ended. Swarm's task status carries the exit code but no OOM flag: a SIGKILL exit Pier did not
 * ask for (state `failed`; a stop Pier asks for ends in `shutdown`) is taken for the kernel's OOM killer, the one
 * that SIGKILLs inside a memory-limited container without anybody stopping it.
 */
export function taskExit(task: TaskJson, startedAt?: string): ExitStatus {
  const code = task.Status.ContainerStatus?.ExitCode;
  const exitCode = typeof code === 'number' && task.Status.ContainerStatus?.ContainerID ? code : null;
  const oomKilled = exitCode === 137 && task.Status.State === 'failed';
  const noContainer = exitCode === null && (task.Status.Err || task.Status.State === 'rejected');
  return {
    exitCode,
    signal: signalFromExitCode(exitCode),
    oomKilled,
    ...(noContainer ? { error: `Swarm could not run the instance: ${task.Status.Err || task.Status.Message || task.Status.State}` } : {}),
    startedAt: startedAt ?? isoTime(task.CreatedAt),
    finishedAt: isoTime(task.Status.Timestamp),
  };
}

/** Splits `name[:tag]` (no digest) into a repository path and a tag, dropping any registry host. */
export function splitRef(image: string): [string, string] {
  const at = image.indexOf('@');
  const ref = at >= 0 ? image.slice(0, at) : image;
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  const [name, tag] = colon > slash ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
  const parts = name.split('/');
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0])) parts.shift();
  return [parts.join('/'), at >= 0 ? `pinned-${image.slice(at + 8, at + 20)}` : tag];
}

/** Label on a network anchor service: the overlay it keeps joined on every node. */
export const ANCHOR_LABEL = 'dev.pier.network_anchor';

/** The service that keeps overlay `network` joined on every node (see `anchorSpec`). */
export function anchorServiceName(network: string): string {
  return `pier-anchor-${network}`;
}

export { pauseExecutable, pauseLayer } from '../pause.ts';

/** The pause image's config for `layer` (its diff id is the sha256 of the uncompressed tar). */
export function pauseConfig(layerDigest: string): Buffer {
  return Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Entrypoint: ['/pause'] },
    rootfs: { type: 'layers', diff_ids: [layerDigest] }, history: [{ created_by: 'pier: pause(2) forever' }],
  }));
}

/**
 * The global service that keeps overlay `network` joined on every x86-64 node, running only the pause image. Why:
 * Swarm creates an overlay on a node when the first task needing it lands there, and the node then bulk-syncs the
 * network's gossip with every peer it knows in it; right after a node loss that list still holds the dead node, and
 * the sync waits out a 10 s TCP dial timeout ("Error bulk syncing while joining network … i/o timeout") while the
 * replacement task sits in `preparing`. A node that already holds the network skips the join.
 */
export function anchorSpec(network: string, image: string, labels: Record<string, string>): Record<string, unknown> {
  const all = { ...labels, [ANCHOR_LABEL]: network };
  return {
    Name: anchorServiceName(network),
    Labels: all,
    TaskTemplate: {
      ContainerSpec: { Image: image, Labels: all, StopGracePeriod: 0, CapabilityDrop: ['ALL'], ReadOnly: true },
      Resources: { Limits: { NanoCPUs: 10_000_000, MemoryBytes: 8 * 1024 * 1024, Pids: 4 } },
      RestartPolicy: { Condition: 'any', Delay: 1_000_000_000 },
      Placement: { Constraints: ['node.platform.arch==x86_64'] },
      Networks: [{ Target: network }],
    },
    Mode: { Global: {} },
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

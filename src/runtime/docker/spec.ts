// Pure translation of an InstanceSpec into Docker's container-create body, and of an image reference into pull
// parameters. Kept free of I/O so the mapping is pinned by fast tests.
import type { InstanceSpec } from '../contract.ts';
import { pierLabels } from '../common.ts';
import { mountTarget } from '../volumes/mounts.ts';
import { heldLabels } from './netns-holder.ts';

/** Knobs of the translation that are the operator's, not the spec's. */
export interface CreateOptions {
  /** Max processes per container (fork-bomb guard). */
  pidsLimit: number;
  /** Cap the writable layer at `spec.diskBytes` (the engine's storage driver must support `StorageOpt.size`). */
  diskQuota?: boolean;
  /** The engine's OCI runtime for the container (`HostConfig.Runtime`, e.g. `runsc` for gVisor); unset = the engine's default. */
  runtime?: string;
  /**
   * The id of the holder container whose network namespace the container joins (netns-holder.ts): the network, its
   * aliases and the exposed ports are the holder's then (the engine refuses them on a joining container).
   */
  netnsOf?: string;
  /**
   * netnsOf is a pooled holder (netns-holder.ts POOLED): it exposes no port, so the container is labelled with its
   * network and ports (HELD_NETWORK_LABEL, HELD_PORTS_LABEL), where its endpoints are read from.
   */
  pooled?: boolean;
  /** Start on this many vCPUs (a startup boost, InstanceSpec.startupCpu): the container is labelled with its own `cpu`. */
  boostCpu?: number;
}

/** On a container created with a startup boost: its own CPU limit in vCPUs (what the boost's end sets, also after a restart). */
export const BOOST_LABEL = 'dev.pier.cpu';

/** The limit a boosted container's label names, or undefined unless it is one Pier could have written (a positive number). */
export function boostLimitOf(labels: Record<string, string> | null | undefined): number | undefined {
  const cpu = Number(labels?.[BOOST_LABEL]);
  return Number.isFinite(cpu) && cpu > 0 ? cpu : undefined;
}

/** Capabilities dropped from ordinary (non-privileged) containers; none of them is needed to serve HTTP. */
export const DROPPED_CAPABILITIES = ['NET_RAW', 'MKNOD', 'AUDIT_WRITE', 'SYS_CHROOT'];

/** Docker's name for the container of an instance. */
export function containerName(instanceId: string): string {
  return `pier-${instanceId}`;
}

/** Docker's NanoCpus for `cpu` vCPUs (0 = no limit). */
export function nanoCpus(cpu: number): number {
  return cpu > 0 ? Math.round(cpu * 1e9) : 0;
}

/** The body of POST /containers/create for a spec. */
export function createContainerBody(spec: InstanceSpec, opts: CreateOptions): Record<string, unknown> {
  if (!spec.image) throw new Error('the docker runtime needs spec.image');
  // Exposed, never published: the edge and the health checker reach the container at its address on its network
  // (the host reaches its bridges), so no port is opened on the host and no docker-proxy runs per instance (#26).
  const exposed: Record<string, object> = {};
  if (!opts.netnsOf) for (const port of spec.ports) exposed[`${port}/tcp`] = {};
  const memory = Math.max(0, Math.floor(spec.memoryBytes));
  const body: Record<string, unknown> = {
    Image: spec.image,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: pierLabels(spec.instanceId, spec.labels),
    ExposedPorts: exposed,
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    HostConfig: {
      NanoCpus: nanoCpus(opts.boostCpu ?? spec.cpu),
      Memory: memory,
      MemorySwap: memory, // equal to Memory: no swap on top of the limit
      PidsLimit: opts.pidsLimit,
      ReadonlyRootfs: false,
      Privileged: spec.privileged === true,
      CapDrop: spec.privileged ? [] : DROPPED_CAPABILITIES,
      SecurityOpt: spec.privileged ? [] : ['no-new-privileges'],
      RestartPolicy: { Name: 'no' }, // Pier's reconciler restarts instances, never the engine
      NetworkMode: opts.netnsOf ? `container:${opts.netnsOf}` : spec.network ?? 'bridge',
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
    },
  };
  if (opts.boostCpu !== undefined) (body.Labels as Record<string, string>)[BOOST_LABEL] = String(spec.cpu);
  if (opts.netnsOf && opts.pooled) Object.assign(body.Labels as Record<string, string>, heldLabels(spec.network ?? 'bridge', spec.ports));
  if (opts.diskQuota && spec.diskBytes && spec.diskBytes > 0) {
    (body.HostConfig as Record<string, unknown>).StorageOpt = { size: String(Math.floor(spec.diskBytes)) };
  }
  if (opts.runtime) (body.HostConfig as Record<string, unknown>).Runtime = opts.runtime;
  if (spec.volumes?.length) {
    // Binds of the mounted volumes (their own filesystems: the size limit is theirs), read-write unless the volume is
    // read-only, not propagated back.
    (body.HostConfig as Record<string, unknown>).Mounts = spec.volumes.map((v) => ({
      Type: 'bind', Source: v.hostPath, Target: mountTarget(v), ReadOnly: v.readOnly === true, BindOptions: { Propagation: 'rprivate' },
    }));
  }
  if (spec.entrypoint) body.Entrypoint = spec.entrypoint;
  if (spec.command) body.Cmd = spec.command;
  if (spec.workdir) body.WorkingDir = spec.workdir;
  if (spec.network && !opts.netnsOf) {
    body.NetworkingConfig = { EndpointsConfig: { [spec.network]: { Aliases: spec.networkAliases ?? [] } } };
  }
  return body;
}

/** Splits an image reference into `fromImage` and `tag` for POST /images/create (an untagged name means latest). */
export function pullParams(image: string): { fromImage: string; tag: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { fromImage: image.slice(0, at), tag: image.slice(at + 1) };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: 'latest' };
}

/** The X-Registry-Auth header value: URL-safe base64 JSON, as the engine expects. */
export function registryAuthHeader(auth: InstanceSpec['registryAuth']): string | undefined {
  if (!auth) return undefined;
  // Padded: engines before 23 decode with Go's padded URLEncoding and, on a decode error, pull with NO credentials.
  return Buffer.from(JSON.stringify(auth)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

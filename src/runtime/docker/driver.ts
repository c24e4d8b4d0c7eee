// The Docker runtime: one container per instance, driven through the Engine API on the unix socket.
// Containers are named pier-<instanceId>, labelled dev.pier.*, reached at their network address (no published port),
// never restarted by Docker.
import { randomUUID } from 'node:crypto';
import { RuntimeError, workloadNotFound } from '../errors.ts';
import type { Capabilities, ExecOptions, ExecSession, ExitStatus, InstanceHandle, InstanceSpec, InstanceState, InstanceStats, LogLine, Runtime } from '../contract.ts';
import { STARTUP_BOOST_MAX_MS } from '../contract.ts';
import { INSTANCE_LABEL, MANAGED_LABEL, SingleFlight, isoTime, signalFromExitCode, specLabels } from '../common.ts';
import { dockerBridgeName } from '../firewall.ts';
import { DockerDisks } from './disk.ts';
import { endpointsFromInspect, endpointsFromSummary, type InspectNetworking, type SummaryNetworking } from './endpoints.ts';
import { DEFAULT_DOCKER_SOCKET, DockerEngine, EngineError, consumeProgress } from './engine.ts';
import { BRIDGE_NAME_OPTION, DockerFirewall, ROLE_LABEL, bridgeOf, firewallUnavailable } from './firewall.ts';
import { dockerExec } from './exec.ts';
import { FrameDecoder } from './frames.ts';
import { ImagePullError, classifyPullMessage, isDigestRef, registryHost, repoDigestFor } from './pull.ts';
import { boostLimitOf, containerName, createContainerBody, nanoCpus, pullParams, registryAuthHeader } from './spec.ts';
import { statsFromDocker, type DockerStats } from './stats.ts';
import {
  HOLDERS_SUPPORTED, HOLDER_LABEL, POOLED, SPARE, ensureHolderImage, heldVia, holderCreateBody, holderIdOf, holderName, pooledHolderBody, spareKey,
} from './netns-holder.ts';
import { containerFreezer } from './freezer.ts';
import type { InstanceCgroup } from '../process/cgroups.ts';
import { StartSpans } from './timing.ts';
import { volumeMountsProblem } from '../volumes/mounts.ts';
import { isMountPoint } from '../volumes/local.ts';

/** Label naming the Pier installation that owns a container (see DockerRuntimeOptions.scope). */
export const SCOPE_LABEL = 'dev.pier.scope';

/**
 * The network of instances without an app network (mesh disabled): Pier-owned like app networks, so the same
 * firewall covers it, and with inter-container traffic disabled, so its instances cannot reach each other either.
 */
export const ISOLATED_NETWORK = 'pier-isolated';
/**
 * Where pooled network holders are made (netns-holder.ts POOLED): an internal network (no route out) without traffic
 * between its containers. Each holder leaves it as soon as it is up and waits on no network (makePooled).
 */
export const HOLDER_POOL_NETWORK = 'pier-holder-pool';

/** Options of the Docker runtime. */
export interface DockerRuntimeOptions {
  socketPath?: string;
  /** Max processes per container. */
  pidsLimit?: number;
  /**
   * Installation scope: labels every container `dev.pier.scope=<scope>` and makes recover() see only those, so
   * two Pier installations sharing one engine never adopt (or remove) each other's containers.
   */
  scope?: string;
  /**
   * Install Pier's firewall for its Docker networks (default true): no host, no link-local, no other network. Off
   * only for an engine in another network namespace than this process (tests), whose rules would land in the wrong one.
   */
  firewall?: boolean;
  /** Where operator warnings go (disk or firewall not enforced); default stderr. */
  log?: (line: string) => void;
  /** Where per-instance disk images live when the engine cannot limit disk itself (default /var/lib/pier/docker-disks). */
  diskDir?: string;
  /**
   * The engine's OCI runtime for instances (`HostConfig.Runtime`), e.g. `runsc` (gVisor, see gvisor.ts); unset = the
   * engine's default (runc). Image builds always use the engine's default.
   */
  ociRuntime?: string;
  /** The driver's name in capabilities, status and instance messages (default `docker`). */
  name?: string;
  /**
   * Resumable instances (services that scale to zero) join the network namespace of a holder container kept through
   * deep sleep, so a wake skips the engine's network setup, and autoscaled services keep one spare holder that their
   * next instance takes (netns-holder.ts). Default true; only on x86-64 hosts with the engine's default OCI runtime
   * (runc).
   */
  netnsHolders?: boolean;
  /**
   * How many network holders to keep started ahead for any instance (issue #23; default 0, Pier's config sets
   * PIER_DOCKER_HOLDER_POOL, default 2): an instance that takes one joins its namespace (connected to the instance's
   * network with its aliases) instead of having the engine set up a namespace at its start. What it costs: every such
   * instance keeps its holder (one more containerd shim, ~13 MB RSS), and the pool's idle holders. Needs netnsHolders.
   */
  holderPool?: number;
  /** recover() removes a holder without its instance container once it is this old (default 60 s: younger, a start may be making it). */
  holderOrphanAgeMs?: number;
  /** The longest a startup boost lasts without endStartupBoost (default STARTUP_BOOST_MAX_MS; tests shorten it). */
  startupBoostMs?: number;
}

/** A container started with a startup boost (InstanceSpec.startupCpu), while this driver knows it. */
interface Boost {
  /** Its own limit and its boost, in vCPUs. */
  cpu: number;
  startupCpu: number;
  /** Deep sleep keeps it: its stop puts the boost back for the wake. */
  resumable: boolean;
  /** Whether the engine has the boost as its limit now. */
  active: boolean;
  timer?: NodeJS.Timeout;
}

interface ContainerJson extends InspectNetworking {
  Id: string;
  Config: { Labels: Record<string, string> | null; ExposedPorts?: Record<string, object> | null };
  HostConfig?: { StorageOpt?: Record<string, string> | null; NetworkMode?: string };
  State: { Status: string; Running: boolean; Paused?: boolean; Pid?: number; OOMKilled: boolean; ExitCode: number; Error: string; StartedAt: string; FinishedAt: string };
}

interface NetworkJson { Id: string; Driver: string; Options: Record<string, string> | null; Labels: Record<string, string> | null }

interface ContainerSummary extends SummaryNetworking {
  Id: string;
  /** Seconds since the epoch. */
  Created?: number;
  Labels: Record<string, string> | null;
  /** `running`, `exited`, `created`... */
  State?: string;
  /** `/name`. */
  Names?: string[];
}

/** Name prefix of a pooled holder until an instance takes it (then it is renamed for the instance). */
const POOL_NAME_PREFIX = 'pier-netns-pool-';

/**
 * Spare network holders kept per autoscaled service (each ~13 MB, its containerd shim): two, so a scale-up by two
 * starts both new instances without network setup; fewer when the service's max leaves room for fewer.
 */
const MAX_SPARES = 2;

/** The message every caller shows when the engine is down. */
export function unreachableMessage(socketPath: string): string {
  return `Docker engine not reachable at ${socketPath}: start it with scripts/setup-host.sh or set PIER_RUNTIME=process`;
}

/** Docker's `since`: "seconds.nanoseconds" (the fraction is read as an integer count of nanoseconds). */
export function dockerTimestamp(d: Date): string {
  const ms = d.getTime();
  return `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1_000_000).padStart(9, '0')}`;
}

function exitFromInspect(c: ContainerJson): ExitStatus {
  const s = c.State;
  return {
    exitCode: s.ExitCode,
    signal: signalFromExitCode(s.ExitCode),
    oomKilled: s.OOMKilled,
    ...(s.Error ? { error: s.Error } : {}),
    startedAt: isoTime(s.StartedAt),
    finishedAt: isoTime(s.FinishedAt),
  };
}

/** How long after a failed exit dockerd may still learn that it was an OOM kill. */
const OOM_EVENT_SETTLE_MS = 1000;
/** How long a freeze through the cgroup may take (a process in an uninterruptible sleep holds it) before it gives up. */
const FREEZE_TIMEOUT_MS = 5000;

/** Runs instances as Docker containers. */
export class DockerRuntime implements Runtime {
  readonly name: string;
  /** start() makes the app network itself, single-flight per name, while the container is created (see start()). */
  readonly startEnsuresNetwork = true;
  /** Frozen standbys for autoscaled regions (standby.ts): runc only (another OCI runtime's freeze is untested). */
  readonly keepsStandbys: boolean;
  private readonly ociRuntime: string | undefined;
  private readonly engine: DockerEngine;
  private readonly pidsLimit: number;
  private readonly scope: string | undefined;
  private readonly networkCreates = new SingleFlight();
  private readonly log: (line: string) => void;
  /** Null when the firewall is off by option or cannot be installed here (then a warning was logged once). */
  private firewall: DockerFirewall | null;
  /** Networks whose bridge this process has seen covered by the firewall. */
  private readonly protectedNetworks = new Set<string>();
  private readonly disks: DockerDisks;
  /** Containers this driver froze through their cgroup (freezer.ts), by runtime id: thawed the same way, engine-free. */
  private readonly frozen = new Map<string, InstanceCgroup>();
  /** Containers started by this driver object: none of them was frozen by an earlier control-plane life. */
  private readonly startedHere = new Set<string>();
  private readonly netnsHolders: boolean;
  private readonly holderOrphanAgeMs: number;
  /** Instance container id -> the id of the holder whose network namespace it joins (netns-holder.ts). */
  private readonly holderOf = new Map<string, string>();
  /**
   * Spare holders per spareKey (a service's network, aliases and ports; up to MAX_SPARES), made after an instance of
   * an autoscaled service (scalesOut) started: the service's next instances (a scale-up, a replacement, a redeploy)
   * take them and skip the network setup. Kept while this driver has an instance of that key; each resolves
   * undefined when making it failed.
   */
  private readonly spares = new Map<string, Promise<ContainerJson | undefined>[]>();
  /** The ids of this process's spares (recover() removes every other spare). */
  private readonly spareIds = new Set<string>();
  /** Instance container id -> its spareKey (a key with no instance left here loses its spares). */
  private readonly keyOf = new Map<string, string>();
  /** How many pooled holders to keep ready (holderPool; 0 without holders). */
  private readonly poolSize: number;
  /** Pooled holders made or being made (each resolves undefined when making it failed), oldest first. */
  private readonly pool: { made: Promise<ContainerJson | undefined>; ready?: ContainerJson }[] = [];
  /** The ids of this process's pooled holders not taken yet (recover() removes every other untaken one). */
  private readonly poolIds = new Set<string>();
  /** Starts (and wakes) under way: the pool is topped up only while there are none (fillPool). */
  private startsInFlight = 0;
  /** A pooled holder is being made (one at a time); none after close() until the next start or recover. */
  private poolMaking = false;
  private poolClosed = false;
  /** Startup boosts (runc only: `docker update` of another OCI runtime's limits is not relied on), by container id. */
  private readonly boosts = new Map<string, Boost>();
  private readonly boostsSupported: boolean;
  private readonly startupBoostMs: number;

  constructor(opts: DockerRuntimeOptions = {}) {
    this.name = opts.name ?? 'docker';
    this.ociRuntime = opts.ociRuntime;
    this.keepsStandbys = !opts.ociRuntime || opts.ociRuntime === 'runc';
    this.engine = new DockerEngine(opts.socketPath ?? DEFAULT_DOCKER_SOCKET);
    this.pidsLimit = opts.pidsLimit ?? 4096;
    this.scope = opts.scope;
    this.netnsHolders = opts.netnsHolders !== false && HOLDERS_SUPPORTED && (!opts.ociRuntime || opts.ociRuntime === 'runc');
    this.holderOrphanAgeMs = opts.holderOrphanAgeMs ?? 60_000;
    this.poolSize = this.netnsHolders ? Math.max(0, Math.floor(opts.holderPool ?? 0)) : 0;
    this.boostsSupported = !opts.ociRuntime || opts.ociRuntime === 'runc';
    this.startupBoostMs = opts.startupBoostMs ?? STARTUP_BOOST_MAX_MS;
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.disks = new DockerDisks(this.engine, opts.diskDir ?? '/var/lib/pier/docker-disks', this.log);
    this.firewall = opts.firewall === false ? null : new DockerFirewall(this.engine, this.log);
    const missing = this.firewall ? firewallUnavailable() : null;
    if (missing) {
      this.log(`docker runtime: WARNING instances can reach the host and link-local addresses (169.254.169.254): the firewall needs root and iptables: ${missing}`);
      this.firewall = null;
    }
  }

  async capabilities(): Promise<Capabilities> {
    try {
      await this.engine.ping();
    } catch (err) {
      throw new RuntimeError('unavailable', `${unreachableMessage(this.engine.socketPath)} (${(err as Error).message})`);
    }
    const disk = await this.call(() => this.disks.mode());
    return { name: this.name, runs: 'image', enforcesCpu: true, enforcesMemory: true, enforcesDisk: disk !== undefined && disk !== 'none', privateNetworking: true, volumes: true };
  }

  async start(spec: InstanceSpec, signal?: AbortSignal): Promise<InstanceHandle> {
    // startOnce removes what it made when it fails; after a lost race one fresh attempt (not when cancelled).
    return this.counted(() => onceMoreAfterStartRace(() => this.startOnce(spec, signal), (err) => {
      if (signal?.aborted) return false;
      this.log(`docker runtime: instance ${spec.instanceId}: the engine lost its start in a runtime race (${err.message}); starting it once more`);
      return true;
    }));
  }

  /** Runs a start or a wake, counted: the holder pool is topped up once none is under way (fillPool). */
  private async counted<T>(fn: () => Promise<T>): Promise<T> {
    this.startsInFlight++;
    this.poolClosed = false;
    try {
      return await fn();
    } finally {
      this.startsInFlight--;
      this.fillPool();
    }
  }

  private async startOnce(spec: InstanceSpec, signal?: AbortSignal): Promise<InstanceHandle> {
    if (this.scope) spec = { ...spec, labels: { ...spec.labels, [SCOPE_LABEL]: this.scope } };
    if (!spec.image) throw new RuntimeError('invalid_spec', 'the docker runtime runs images: spec.image is required');
    checkVolumes(spec);
    const t = new StartSpans(spec.instanceId);
    const network = spec.network ?? ISOLATED_NETWORK;
    // An app's first instance makes its network (~150 ms on a loaded host, issue #23) while the image is checked and
    // the container created and given its disk: the engine resolves the network at start, and the network (firewall
    // included) is ready before that start. A failure is thrown there; until then it must not go unhandled.
    const networkReady = this.protectedNetworks.has(network) ? undefined : t.span('network', () => this.ensureNetwork(network));
    networkReady?.catch(() => undefined);
    // A service that scales out keeps a spare holder here: its next instance takes it (no network setup). Without a
    // spare at hand it starts in a namespace of its own as usual, unless it is resumable: a deep-sleep wake needs the
    // namespace kept, so it makes its holder now (~170 ms more on this first start, ~250 ms less on every wake).
    const key = this.netnsHolders && (spec.resumable === true || spec.scalesOut === true) ? spareKey(spec, network) : undefined;
    const spare = key ? this.takeSpare(key) : undefined;
    // Else a pooled holder that is up (checked below, ~2 ms): any instance joins it after connecting it to its network.
    const pooled = spare ? undefined : this.takePooled();
    const withHolder = this.netnsHolders && spec.resumable === true;
    const boost = this.boostsSupported && spec.cpu > 0 && spec.startupCpu !== undefined && spec.startupCpu > spec.cpu ? spec.startupCpu : undefined;
    const holderImage = withHolder && !spare && !pooled ? t.span('holder_image', () => this.call(() => ensureHolderImage(this.engine))) : undefined;
    holderImage?.catch(() => undefined);
    await t.span('image', () => this.call(() => this.ensureImage(spec, signal)));
    const diskMode = await t.span('disk_mode', () => this.call(() => this.disks.mode()));
    // An engine that looks the network up at create already: once the network is there, create again (once).
    const createOnNetwork = async <T>(create: () => Promise<T>): Promise<T> => {
      try {
        return await create();
      } catch (err) {
        if (!networkReady || !(err instanceof EngineError && err.status === 404 && /network/i.test(err.message))) throw err;
        await networkReady;
        return create();
      }
    };
    // The network this process made and protected was removed behind its back (a prune; the engine checks it at
    // start, not at create): make it again (firewall included), once.
    const startOnNetwork = async (id: string) => {
      try {
        await this.engine.json('POST', `/containers/${id}/start`, { signal });
      } catch (err) {
        if (!(err instanceof EngineError && err.status === 404 && /network/i.test(err.message) && this.protectedNetworks.delete(network))) throw err;
        await this.ensureNetwork(network);
        await this.engine.json('POST', `/containers/${id}/start`, { signal });
      }
    };
    let holder: { id: string; started: Promise<ContainerJson>; pooled?: boolean } | undefined;
    try {
      const pooledUp = await this.stillRunning(pooled ? await t.span('holder_pooled', () => pooled) : undefined, t);
      const taken = await this.stillRunning(spare ? await t.span('holder_spare', () => spare) : undefined, t);
      if (taken) {
        // A spare made for this service: already in the network, its namespace ready. Named for its instance now.
        holder = { id: taken.Id, started: Promise.resolve(taken) };
        this.engine.json('POST', `/containers/${taken.Id}/rename`, { query: { name: holderName(spec.instanceId) } }).catch(() => undefined);
      } else if (pooledUp) {
        holder = { id: pooledUp.Id, started: this.joinPooled(pooledUp.Id, spec, network, networkReady, t, signal), pooled: true };
      } else if (withHolder) {
        await (holderImage ?? ensureHolderImage(this.engine));
        const made = await t.span('holder_create', () => this.call(() => createOnNetwork(() => this.engine.json<{ Id: string }>('POST', '/containers/create', {
          query: { name: holderName(spec.instanceId) }, body: holderCreateBody(spec, network, this.holderLabels()), signal,
        }))));
        // The holder starts (the engine's network setup, the slow part) while the instance's container is created.
        const started = (async () => {
          if (networkReady) await networkReady;
          await startOnNetwork(made.Id);
          return this.engine.json<ContainerJson>('GET', `/containers/${made.Id}/json`);
        })();
        started.catch(() => undefined);
        holder = { id: made.Id, started };
      }
      const created = await t.span('create', () => this.call(() => createOnNetwork(() => this.engine.json<{ Id: string }>('POST', '/containers/create', {
        query: { name: containerName(spec.instanceId) },
        body: createContainerBody({ ...spec, network }, { pidsLimit: this.pidsLimit, diskQuota: diskMode === 'storage-opt', runtime: this.ociRuntime, netnsOf: holder?.id, pooled: holder?.pooled, boostCpu: boost }),
        signal,
      }))));
      try {
        try {
          await this.disks.afterCreate(created.Id, spec.diskBytes, t);
        } catch (err) {
          throw new RuntimeError('unavailable', `setting up the instance's ${spec.diskBytes} byte disk failed: ${(err as Error).message}`);
        }
        let held: ContainerJson | undefined;
        if (holder) held = await t.span('holder_start', () => this.call(() => holder!.started));
        else if (networkReady) await t.span('network_wait', () => networkReady);
        await t.span('start', () => this.call(() => (holder ? this.engine.json('POST', `/containers/${created.Id}/start`, { signal }) : startOnNetwork(created.Id))));
        const c = held ?? await t.span('inspect', () => this.call(() => this.engine.json<ContainerJson>('GET', `/containers/${created.Id}/json`)));
        t.done();
        this.startedHere.add(created.Id);
        if (holder) this.holderOf.set(created.Id, holder.id);
        if (boost) {
          this.boosts.set(created.Id, { cpu: spec.cpu, startupCpu: boost, resumable: spec.resumable === true, active: true });
          this.endBoostLater(created.Id);
        }
        if (key) {
          this.keyOf.set(created.Id, key);
          // Only where more instances come (a scale-up): a service that only sleeps and wakes has its holders.
          if (spec.scalesOut) this.makeSpares(key, spec, network);
        }
        const via = holder?.pooled ? { network, ports: spec.ports } : undefined;
        return { instanceId: spec.instanceId, runtimeId: created.Id, endpoints: endpointsFromInspect(c, via), labels: { ...spec.labels } };
      } catch (err) {
        // A container that was created but could not start is garbage: leave nothing behind.
        await this.remove(created.Id).catch(() => undefined);
        throw err;
      }
    } catch (err) {
      if (holder) await this.removeHolder(holder.id).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Deep sleep's wake (issue #23): starts again a container this driver stopped and kept, with its disk and network
   * attachment (its definition is the instance's, immutable per deployment): a `docker start`, no image check, create
   * or disk. Answers the handle with the addresses the engine gave it this time (a bridge may hand out another IP).
   * RuntimeError not_found when the container is gone; any failure leaves the caller to create a fresh one.
   */
  async resume(handle: InstanceHandle, signal?: AbortSignal): Promise<InstanceHandle> {
    return this.counted(() => this.resumeOnce(handle, signal));
  }

  private async resumeOnce(handle: InstanceHandle, signal?: AbortSignal): Promise<InstanceHandle> {
    const id = encodeURIComponent(handle.runtimeId);
    const t = new StartSpans(handle.instanceId);
    // An instance in a holder's network namespace: the holder kept running through the sleep (started again if the
    // engine restarted meanwhile); the instance's start then joins that namespace, the address unchanged.
    const holderId = await this.holderFor(handle.runtimeId);
    if (holderId) {
      await t.span('holder_start', () => this.call(async () => {
        try {
          await this.engine.json('POST', `/containers/${encodeURIComponent(holderId)}/start`, { signal });
        } catch (err) {
          if (err instanceof EngineError && err.status === 304) return; // running, as it should be
          if (err instanceof EngineError && err.status === 404 && !/network/i.test(err.message)) throw workloadNotFound(handle.runtimeId);
          throw err;
        }
      }));
    }
    await t.span('resume_start', () => this.call(async () => {
      try {
        await this.engine.json('POST', `/containers/${id}/start`, { signal });
      } catch (err) {
        if (err instanceof EngineError && err.status === 304) return; // already running: nothing to start
        if (err instanceof EngineError && err.status === 404 && !/network/i.test(err.message)) throw workloadNotFound(handle.runtimeId);
        throw err;
      }
    }));
    const [c, held] = await t.span('inspect', () => this.call(() => Promise.all([
      this.engine.jsonOrNull<ContainerJson>('GET', `/containers/${id}/json`),
      holderId ? this.engine.jsonOrNull<ContainerJson>('GET', `/containers/${encodeURIComponent(holderId)}/json`) : Promise.resolve(null),
    ])));
    if (!c || (holderId && !held)) throw workloadNotFound(handle.runtimeId);
    if (!c.State.Running) throw new RuntimeError('failed', `Docker: container ${handle.runtimeId} exited right after its start (exit code ${c.State.ExitCode}${c.State.Error ? `: ${c.State.Error}` : ''})`);
    t.done();
    this.startedHere.add(c.Id);
    // Its stop put the boost back (stop()): it lasts until the first passing check or its time, as at the start.
    if (this.boosts.get(c.Id)?.active) this.endBoostLater(c.Id);
    return { ...handle, runtimeId: c.Id, endpoints: held ? endpointsFromInspect(held, heldVia(c.Config.Labels)) : endpointsFromInspect(c) };
  }

  private holderLabels(): Record<string, string> {
    return { [MANAGED_LABEL]: 'true', ...(this.scope ? { [SCOPE_LABEL]: this.scope } : {}) };
  }

  /** Takes a spare holder of a key (maybe still being made), or undefined. */
  private takeSpare(key: string): Promise<ContainerJson | undefined> | undefined {
    const list = this.spares.get(key);
    const p = list?.shift();
    if (list?.length === 0) this.spares.delete(key);
    return p?.then((c) => { if (c) this.spareIds.delete(c.Id); return c; });
  }

  /**
   * Tops up the spare holders of a key in the background (a failure is logged, never thrown): as many as more
   * instances of the service may still come here, at most MAX_SPARES, at least one (a replacement or a redeploy
   * takes it too).
   */
  private makeSpares(key: string, spec: InstanceSpec, network: string): void {
    const here = [...this.keyOf.values()].filter((k) => k === key).length;
    const want = Math.max(1, Math.min(MAX_SPARES, (spec.scaleMax ?? 0) - here));
    const list = this.spares.get(key) ?? [];
    this.spares.set(key, list);
    while (list.length < want) list.push(this.makeSpare(spec, network));
  }

  /**
   * Makes one spare holder on a network; resolves undefined when that failed (logged). A start runc loses in a race
   * is made once more from a fresh container, as an instance's start is.
   */
  private makeSpare(spec: InstanceSpec, network: string): Promise<ContainerJson | undefined> {
    const once = async (): Promise<ContainerJson> => {
      await ensureHolderImage(this.engine);
      const made = await this.engine.json<{ Id: string }>('POST', '/containers/create', {
        query: { name: `pier-netns-spare-${randomUUID().slice(0, 12)}` }, body: holderCreateBody(spec, network, this.holderLabels(), SPARE),
      });
      this.spareIds.add(made.Id);
      try {
        await this.engine.json('POST', `/containers/${made.Id}/start`);
        return await this.engine.json<ContainerJson>('GET', `/containers/${made.Id}/json`);
      } catch (err) {
        this.spareIds.delete(made.Id);
        await this.removeHolder(made.Id).catch(() => undefined);
        throw err;
      }
    };
    return onceMoreAfterStartRace(once, () => true).catch((err: Error) => {
      this.log(`docker runtime: making a spare network holder on ${network} failed (the next instance makes its own): ${err.message}`);
      return undefined;
    });
  }

  /** Removes the spares of a key (waiting for those being made). */
  private async dropSpare(key: string): Promise<void> {
    const list = this.spares.get(key);
    if (!list) return;
    this.spares.delete(key);
    for (const c of await Promise.all(list)) {
      if (!c) continue;
      this.spareIds.delete(c.Id);
      await this.removeHolder(c.Id).catch((err: Error) => this.log(`docker runtime: removing a spare network holder failed: ${err.message}`));
    }
  }

  /**
   * A holder made ahead (a spare or a pooled one, maybe hours ago) as the engine sees it now, if it still runs; one
   * that stopped or went meanwhile (an engine restart, a prune) is removed and not used: the instance starts as if
   * there were none.
   */
  private async stillRunning(made: ContainerJson | undefined, t: StartSpans): Promise<ContainerJson | undefined> {
    if (!made) return undefined;
    const now = await t.span('holder_inspect', () => this.engine.jsonOrNull<ContainerJson>('GET', `/containers/${made.Id}/json`).catch(() => null));
    if (now?.State.Running) return now;
    this.removeHolder(made.Id).catch(() => undefined);
    return undefined;
  }

  /** Takes a pooled holder (one that is made, else the one being made), or undefined when the pool is empty. */
  private takePooled(): Promise<ContainerJson | undefined> | undefined {
    // A made one, else the one being made: its making is past the engine's slow part sooner than a start of its own
    // would be (making one takes ~550-700 ms here, a start beside it is slowed as much).
    if (this.pool.length === 0) return undefined;
    const [e] = this.pool.splice(Math.max(0, this.pool.findIndex((x) => x.ready)), 1);
    return e!.made.then((c) => { if (c) this.poolIds.delete(c.Id); return c; });
  }

  /**
   * Tops the pool up to poolSize in the background, one holder at a time and only while no start or wake of this
   * driver is under way (each one's end calls this again): making a holder takes the engine ~550-700 ms here, and a
   * start beside it is slowed about as much. A start that finds no made holder takes the one being made. A failure
   * is logged, never thrown; the next start or recover tries again.
   */
  private fillPool(): void {
    if (this.poolClosed || this.poolMaking || this.startsInFlight > 0 || this.pool.length >= this.poolSize) return;
    const entry: { made: Promise<ContainerJson | undefined>; ready?: ContainerJson } = { made: this.makePooled() };
    this.pool.push(entry);
    this.poolMaking = true;
    void entry.made.then((c) => {
      this.poolMaking = false;
      if (!c) {
        const i = this.pool.indexOf(entry);
        if (i >= 0) this.pool.splice(i, 1);
        return;
      }
      entry.ready = c;
      this.fillPool();
    });
  }

  /**
   * Makes one pooled holder: started on HOLDER_POOL_NETWORK (the engine's network namespace set-up, the slow part of
   * a start, done ahead), then taken off it, so it waits with loopback alone and its instance's network is the only
   * one it ever joins: one connect (~35-50 ms) where a container of its own costs the engine ~200-300 ms at its start.
   * (A disconnect after the connect would drop the holder's /etc/hosts line for its host name.) Resolves undefined
   * when making it failed (logged).
   */
  private makePooled(): Promise<ContainerJson | undefined> {
    const once = async (): Promise<ContainerJson> => {
      await Promise.all([ensureHolderImage(this.engine), this.ensureNetwork(HOLDER_POOL_NETWORK)]);
      const made = await this.engine.json<{ Id: string }>('POST', '/containers/create', {
        query: { name: `${POOL_NAME_PREFIX}${randomUUID().slice(0, 12)}` }, body: pooledHolderBody(HOLDER_POOL_NETWORK, this.holderLabels()),
      });
      this.poolIds.add(made.Id);
      try {
        await this.engine.json('POST', `/containers/${made.Id}/start`);
        await this.engine.json('POST', `/networks/${HOLDER_POOL_NETWORK}/disconnect`, { body: { Container: made.Id } });
        return await this.engine.json<ContainerJson>('GET', `/containers/${made.Id}/json`);
      } catch (err) {
        this.poolIds.delete(made.Id);
        await this.removeHolder(made.Id).catch(() => undefined);
        throw err;
      }
    };
    // The pool's network is shared by every installation on the engine; one removed behind this process's back
    // (another installation's teardown, a prune) is made again, once.
    const onNetwork = () => once().catch(async (err) => {
      if (!(err instanceof EngineError && err.status === 404 && /network/i.test(err.message))) throw err;
      this.protectedNetworks.delete(HOLDER_POOL_NETWORK);
      await this.ensureNetwork(HOLDER_POOL_NETWORK);
      return once();
    });
    return onceMoreAfterStartRace(onNetwork, () => true).catch((err: Error) => {
      this.log(`docker runtime: making a pooled network holder failed (instances start without one meanwhile): ${err.message}`);
      return undefined;
    });
  }

  /**
   * Readies a pooled holder for an instance while its container is created: named for the instance and connected to
   * the instance's network with its aliases (it is on no network until then: makePooled). The instance starts with
   * its network alone: its default route, its address for its host name in /etc/hosts, its aliases; its interface is
   * eth1 until the holder restarts (eth0 in a container of its own). Resolves with the holder as the engine then sees it.
   */
  private joinPooled(holderId: string, spec: InstanceSpec, network: string, networkReady: Promise<void> | undefined, t: StartSpans, signal?: AbortSignal): Promise<ContainerJson> {
    const id = encodeURIComponent(holderId);
    const p = (async () => {
      const renamed = this.engine.json('POST', `/containers/${id}/rename`, { query: { name: holderName(spec.instanceId) } });
      renamed.catch(() => undefined);
      if (networkReady) await networkReady;
      const connect = () => this.engine.json('POST', `/networks/${encodeURIComponent(network)}/connect`, {
        body: { Container: holderId, EndpointConfig: { Aliases: spec.networkAliases ?? [] } }, signal,
      });
      await t.span('holder_connect', () => this.call(async () => {
        try {
          await connect();
        } catch (err) {
          // The network this process made and protected was removed behind its back: made again (firewall included), once.
          if (!(err instanceof EngineError && err.status === 404 && /network/i.test(err.message) && this.protectedNetworks.delete(network))) throw err;
          await this.ensureNetwork(network);
          await connect();
        }
      }));
      // Its name says whose it is (recover() and operators read it); a failed rename is not worth failing the start.
      await renamed.catch((err: Error) => this.log(`docker runtime: naming the network holder of ${spec.instanceId} failed: ${err.message}`));
      return this.call(() => this.engine.json<ContainerJson>('GET', `/containers/${id}/json`));
    })();
    p.catch(() => undefined);
    return p;
  }

  /**
   * Removes what this driver made ahead of need and no instance took: its pooled holders and its spares. Running
   * instances (and their holders) are left as they are, for the next life to adopt. Called when the control plane
   * stops or stops leading; a later start tops the pool up again.
   */
  async close(): Promise<void> {
    this.poolClosed = true;
    const pooled = this.pool.splice(0);
    for (const c of await Promise.all(pooled.map((e) => e.made))) {
      if (!c) continue;
      this.poolIds.delete(c.Id);
      await this.removeHolder(c.Id).catch((err: Error) => this.log(`docker runtime: removing a pooled network holder failed: ${err.message}`));
    }
    for (const key of [...this.spares.keys()]) await this.dropSpare(key);
  }

  /** The holder whose network namespace an instance container joins, or undefined (its own namespace, or gone). */
  private async holderFor(runtimeId: string): Promise<string | undefined> {
    const known = this.holderOf.get(runtimeId);
    if (known) return known;
    if (this.startedHere.has(runtimeId)) return undefined; // started here without one: no engine call
    const c = await this.call(() => this.engine.jsonOrNull<ContainerJson>('GET', `/containers/${encodeURIComponent(runtimeId)}/json`));
    const id = holderIdOf(c?.HostConfig?.NetworkMode);
    if (!c || !id) return undefined;
    // Only a holder Pier made (its label says so) is one: another container's namespace is never Pier's to remove.
    const h = await this.call(() => this.engine.jsonOrNull<{ Id: string; Config?: { Labels?: Record<string, string> | null } }>('GET', `/containers/${encodeURIComponent(id)}/json`));
    if (!h?.Config?.Labels?.[HOLDER_LABEL]) return undefined;
    this.holderOf.set(c.Id, h.Id);
    return h.Id;
  }

  /** Removes a holder (its sleeping busybox is killed); one already gone is fine. */
  private async removeHolder(holderId: string): Promise<void> {
    await this.call(() => this.engine.jsonOrNull('DELETE', `/containers/${encodeURIComponent(holderId)}`, { query: { force: true, v: true } }))
      .catch((err: Error) => { if (!/already in progress/i.test(err.message)) throw err; });
  }

  private async ensureImage(spec: InstanceSpec, signal?: AbortSignal): Promise<void> {
    const image = spec.image as string;
    if (await this.engine.jsonOrNull('GET', `/images/${encodeURIComponent(image)}/json`, { signal })) return;
    await this.pull(image, spec.registryAuth, signal);
  }

  /** Pulls an image with optional credentials (sent only as X-Registry-Auth); failures are ImagePullErrors. */
  private async pull(image: string, auth: InstanceSpec['registryAuth'], signal?: AbortSignal): Promise<void> {
    const header = registryAuthHeader(auth);
    const fail = (err: unknown) => {
      if (err instanceof EngineError && err.status === 0) return this.translate(err);
      if ((err as Error).name === 'AbortError') return err;
      const message = (err as Error).message;
      return new ImagePullError(classifyPullMessage(message), image, registryHost(image), message);
    };
    let res;
    try {
      res = await this.engine.request('POST', '/images/create', {
        query: pullParams(image),
        headers: header ? { 'x-registry-auth': header } : {},
        signal,
        timeoutMs: 300_000,
      });
    } catch (err) {
      throw fail(err);
    }
    try {
      await consumeProgress(res);
    } catch (err) {
      throw fail(err);
    }
  }

  /**
   * Resolves an image reference to the digest its registry serves now (pulling it, with `auth` when given), so a
   * deployment can record `<repo>@sha256:…` and run exactly that image later. An image known to this engine only
   * (built or loaded here: no RepoDigest of its own repository) is returned unchanged, as no registry knows it.
   */
  async resolveImage(image: string, auth?: InstanceSpec['registryAuth'], signal?: AbortSignal): Promise<string> {
    const path = `/images/${encodeURIComponent(image)}/json`;
    if (isDigestRef(image)) {
      if (!(await this.call(() => this.engine.jsonOrNull('GET', path, { signal })))) await this.pull(image, auth, signal);
      return image;
    }
    const local = await this.call(() => this.engine.jsonOrNull<{ RepoDigests?: string[] | null }>('GET', path, { signal }));
    if (local && !repoDigestFor(image, local.RepoDigests)) return image;
    await this.pull(image, auth, signal);
    const pulled = await this.call(() => this.engine.json<{ RepoDigests?: string[] | null }>('GET', path, { signal }));
    return repoDigestFor(image, pulled.RepoDigests) ?? image;
  }

  async stop(runtimeId: string, graceMs: number): Promise<void> {
    // A container frozen through its cgroup would not see the stop signal (Docker, not knowing, does not thaw it):
    // thaw it first, so it stops as asked instead of being killed when the grace runs out.
    await this.thawForStop(runtimeId);
    const t = Math.max(0, Math.ceil(graceMs / 1000));
    await this.call(() => this.engine.jsonOrNull('POST', `/containers/${encodeURIComponent(runtimeId)}/stop`, {
      query: { t },
      timeoutMs: t * 1000 + 60_000,
    }));
    // A kept container (deep sleep) wakes with `docker start`: its boost is put back now, off the wake's path.
    const b = this.boosts.get(runtimeId);
    if (b?.resumable) clearTimeout(b.timer); // a boost still on stays on for the wake (resume() times it again)
    if (b?.resumable && !b.active) {
      await this.setCpu(runtimeId, b.startupCpu).then(() => { b.active = true; })
        .catch((err: Error) => this.log(`docker runtime: restoring the startup boost of ${runtimeId.slice(0, 12)} for its wake failed: ${err.message}`));
    }
  }

  async endStartupBoost(runtimeId: string): Promise<void> {
    const b = this.boosts.get(runtimeId);
    if (!b?.active) return;
    clearTimeout(b.timer);
    b.active = false;
    await this.setCpu(runtimeId, b.cpu);
  }

  /** Ends a boost after startupBoostMs unless endStartupBoost comes first. */
  private endBoostLater(runtimeId: string): void {
    const b = this.boosts.get(runtimeId);
    if (!b) return;
    clearTimeout(b.timer);
    b.timer = setTimeout(() => {
      this.endStartupBoost(runtimeId).catch((err: Error) => this.log(`docker runtime: ending the startup boost of ${runtimeId.slice(0, 12)} failed: ${err.message}`));
    }, this.startupBoostMs);
    b.timer.unref();
  }

  /** Sets a container's CPU limit (running or stopped); one that is gone meanwhile needs none. */
  private async setCpu(runtimeId: string, cpu: number): Promise<void> {
    try {
      await this.engine.json('POST', `/containers/${encodeURIComponent(runtimeId)}/update`, { body: { NanoCpus: nanoCpus(cpu) } });
    } catch (err) {
      // Gone, or going (a removal under way): nothing to limit.
      if (err instanceof EngineError && (err.status === 404 || /marked for removal|removal .*in progress/i.test(err.message))) return;
      throw this.translate(err);
    }
  }

  async remove(runtimeId: string): Promise<void> {
    const path = `/containers/${encodeURIComponent(runtimeId)}`;
    // The kill that a forced removal sends reaches a frozen process too; thawing first spares the kernel the wait.
    await this.frozen.get(runtimeId)?.setFrozen(false).catch(() => undefined);
    this.frozen.delete(runtimeId);
    // Its holder goes with it, after it (a holder removed first would leave it without a network namespace).
    const holderId = await this.holderFor(runtimeId);
    this.startedHere.delete(runtimeId);
    this.holderOf.delete(runtimeId);
    clearTimeout(this.boosts.get(runtimeId)?.timer);
    this.boosts.delete(runtimeId);
    const key = this.keyOf.get(runtimeId);
    this.keyOf.delete(runtimeId);
    if (this.disks.holds(runtimeId)) {
      // Its disk is mounted over the layer Docker is about to delete: stop the container, unmount, then remove.
      await this.call(() => this.engine.jsonOrNull('POST', `${path}/kill`)).catch((err) => { if (!/not running/i.test((err as Error).message)) throw err; });
      await this.call(() => this.engine.jsonOrNull('POST', `${path}/wait`, { query: { condition: 'not-running' }, timeoutMs: 60_000 }));
      await this.disks.release(runtimeId);
    }
    try {
      await this.call(() => this.engine.jsonOrNull('DELETE', path, { query: { force: true, v: true } }));
    } catch (err) {
      // Two removals racing (a stop after a restart, a recover): the other one finishes the job; wait for it, bounded.
      if (!/already in progress/i.test((err as Error).message)) throw err;
      for (let i = 0; i < 100 && (await this.call(() => this.engine.jsonOrNull('GET', `${path}/json`))) !== null; i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    if (holderId) await this.removeHolder(holderId);
    // The last instance of its service here: the service's spare holder goes too.
    if (key && ![...this.keyOf.values()].includes(key)) await this.dropSpare(key);
  }

  async wait(runtimeId: string, signal?: AbortSignal): Promise<ExitStatus> {
    const id = encodeURIComponent(runtimeId);
    const waited = await this.call(() => this.engine.jsonOrNull('POST', `/containers/${id}/wait`, { query: { condition: 'not-running' }, signal, timeoutMs: 0 }));
    if (waited === null) throw workloadNotFound(runtimeId);
    const c = await this.call(() => this.engine.jsonOrNull<ContainerJson>('GET', `/containers/${id}/json`));
    if (!c) throw workloadNotFound(runtimeId);
    return this.explainExit(c);
  }

  /** The exit of a stopped container; a failure with its disk (nearly) full says so instead of a bare exit code. */
  private explainExit(c: ContainerJson): Promise<ExitStatus> {
    return this.disks.explainExit(c, exitFromInspect(c));
  }

  async inspect(runtimeId: string): Promise<InstanceState | null> {
    const get = () => this.call(() => this.engine.jsonOrNull<ContainerJson>('GET', `/containers/${encodeURIComponent(runtimeId)}/json`));
    let c = await get();
    if (!c) return null;
    // dockerd records OOMKilled from containerd's OOM event, which may arrive after the exit event (a child killed
    // for memory, the main process exiting on its own): a fresh failed exit is read again once that event had time.
    const age = Date.now() - Date.parse(c.State.FinishedAt);
    if (!c.State.Running && !c.State.OOMKilled && c.State.ExitCode !== 0 && age >= 0 && age < OOM_EVENT_SETTLE_MS) {
      await new Promise((r) => setTimeout(r, OOM_EVENT_SETTLE_MS - age));
      c = (await get()) ?? c;
    }
    const startedAt = isoTime(c.State.StartedAt);
    if (c.State.Running) return { running: true, startedAt };
    const ended = c.State.Status === 'exited' || c.State.Status === 'dead';
    return { running: false, startedAt, ...(ended ? { exit: await this.explainExit(c) } : {}) };
  }

  /**
   * Light sleep: freezes the container's cgroup directly (freezer.ts), or through `docker pause` where this process
   * cannot reach that cgroup (another OCI runtime such as gVisor, no freezer, not root). An already frozen or paused
   * container is fine.
   */
  async freeze(runtimeId: string): Promise<void> {
    const c = await this.call(() => this.engine.jsonOrNull<ContainerJson>('GET', `/containers/${encodeURIComponent(runtimeId)}/json`));
    if (!c) throw workloadNotFound(runtimeId);
    if (c.State.Paused) return; // paused through the engine (an operator, an earlier Pier): thawed the same way
    const cg = c.State.Running ? this.freezerOf(c) : null;
    if (cg) {
      try {
        await cg.setFrozen(true, FREEZE_TIMEOUT_MS);
        this.frozen.set(runtimeId, cg);
        return;
      } catch (err) {
        // Half frozen (a process stuck in the kernel) or not writable here: leave it running, then ask the engine.
        await cg.setFrozen(false).catch(() => undefined);
        this.log(`docker runtime: freezing container ${runtimeId.slice(0, 12)} through its cgroup failed (${(err as Error).message}); using docker pause`);
      }
    }
    await this.pauseOrUnpause(runtimeId, 'pause', /already paused/i);
  }

  /** Wakes a frozen container the way it was frozen (its cgroup, or `docker unpause`); a running one is fine. */
  async thaw(runtimeId: string): Promise<void> {
    const cg = this.frozen.get(runtimeId);
    if (cg) {
      this.frozen.delete(runtimeId);
      try {
        await cg.setFrozen(false);
        return;
      } catch {
        // Gone meanwhile, or not writable any more: the engine's view below decides (not_found, paused...).
      }
    }
    const c = await this.call(() => this.engine.jsonOrNull<ContainerJson>('GET', `/containers/${encodeURIComponent(runtimeId)}/json`));
    if (!c) throw workloadNotFound(runtimeId);
    if (c.State.Paused) return this.pauseOrUnpause(runtimeId, 'unpause', /not paused/i);
    // Frozen through its cgroup by an earlier control-plane life (the engine says running): thaw it there.
    const left = c.State.Running ? this.freezerOf(c) : null;
    if (left?.frozen()) await left.setFrozen(false).catch((err: Error) => { throw new RuntimeError('failed', `thawing container ${runtimeId}: ${err.message}`); });
  }

  /** Before a stop: thaws a container frozen through its cgroup, by this driver or (found so) by an earlier life. */
  private async thawForStop(runtimeId: string): Promise<void> {
    if (!this.frozen.has(runtimeId) && this.startedHere.has(runtimeId)) return; // never frozen: no engine call
    try {
      await this.thaw(runtimeId);
    } catch (err) {
      if (err instanceof RuntimeError && err.code === 'not_found') return; // the stop below says what is left
      throw err;
    }
  }

  /** The freezer of a running container's cgroup, or null when only the engine can pause it. */
  private freezerOf(c: ContainerJson): InstanceCgroup | null {
    // Other OCI runtimes (gVisor's runsc) keep their own paused state: the engine's pause is theirs.
    if (this.ociRuntime && this.ociRuntime !== 'runc') return null;
    return containerFreezer(c.Id, c.State.Pid ?? 0);
  }

  private async pauseOrUnpause(runtimeId: string, op: 'pause' | 'unpause', noop: RegExp): Promise<void> {
    try {
      await this.engine.json('POST', `/containers/${encodeURIComponent(runtimeId)}/${op}`);
    } catch (err) {
      if (err instanceof EngineError && err.status === 404) throw workloadNotFound(runtimeId);
      // Already in that state: 409 for pause, 500 for unpause on Docker 20.10.
      if (err instanceof EngineError && noop.test(err.message)) return;
      throw this.translate(err);
    }
  }

  async stats(runtimeId: string): Promise<InstanceStats> {
    const s = await this.call(() => this.engine.jsonOrNull<DockerStats>('GET', `/containers/${encodeURIComponent(runtimeId)}/stats`, { query: { stream: false }, timeoutMs: 30_000 }));
    if (!s) throw workloadNotFound(runtimeId);
    return statsFromDocker(s);
  }

  async *logs(runtimeId: string, opts: { follow: boolean; since?: Date; signal?: AbortSignal }): AsyncIterable<LogLine> {
    const res = await this.call(() => this.engine.request('GET', `/containers/${encodeURIComponent(runtimeId)}/logs`, {
      query: { stdout: 1, stderr: 1, timestamps: 1, follow: opts.follow ? 1 : 0, since: opts.since ? dockerTimestamp(opts.since) : undefined },
      signal: opts.signal,
      timeoutMs: 0,
    }));
    if (res.statusCode === 404) { res.resume(); throw workloadNotFound(runtimeId); }
    if ((res.statusCode ?? 0) >= 300) { res.resume(); throw new RuntimeError('failed', `Docker logs failed with HTTP ${res.statusCode}`); }
    const decoder = new FrameDecoder();
    try {
      for await (const chunk of res) yield* decoder.push(chunk as Buffer);
    } catch (err) {
      if (opts.signal?.aborted) return;
      throw err;
    }
    yield* decoder.end();
  }

  /** Runs a command in the container through the engine's exec API, with the container's own confinement (exec.ts). */
  exec(runtimeId: string, opts: ExecOptions): Promise<ExecSession> {
    // What the engine answers for a paused container; runc would refuse a cgroup-frozen one less clearly.
    if (this.frozen.has(runtimeId)) return Promise.reject(new RuntimeError('conflict', `Docker: container ${runtimeId} is frozen (light sleep): thaw it before exec`));
    return this.call(() => dockerExec(this.engine, runtimeId, opts));
  }

  async recover(): Promise<InstanceHandle[]> {
    const list = await this.call(() => this.engine.json<ContainerSummary[]>('GET', '/containers/json', {
      query: { all: 1, filters: JSON.stringify({ label: [`${MANAGED_LABEL}=true`, ...(this.scope ? [`${SCOPE_LABEL}=${this.scope}`] : [])] }) },
    }));
    const ours = list.filter((c) => c.Labels?.[MANAGED_LABEL] === 'true' && (!this.scope || c.Labels?.[SCOPE_LABEL] === this.scope));
    const holders = new Map(ours.filter((c) => c.Labels?.[HOLDER_LABEL]).map((c) => [c.Id, c]));
    const held = new Set<string>();
    const handles = ours.filter((c) => c.Labels![INSTANCE_LABEL]).map((c) => {
      const holder = holders.get(holderIdOf(c.HostConfig?.NetworkMode) ?? '');
      if (holder) { held.add(holder.Id); this.holderOf.set(c.Id, holder.Id); }
      const endpoints = holder ? endpointsFromSummary(holder, heldVia(c.Labels)) : endpointsFromSummary(c);
      return { instanceId: c.Labels![INSTANCE_LABEL], runtimeId: c.Id, endpoints, labels: specLabels(c.Labels) };
    });
    // Boosts of an earlier life end now (nobody knows how long they ran), one engine call each, in the background.
    // Only a limit Pier could have written (a positive number): anything else would lift the container's limit.
    const boosted = ours.filter((c) => c.State === 'running' && !this.boosts.has(c.Id) && boostLimitOf(c.Labels) !== undefined);
    if (boosted.length) {
      void (async () => {
        for (const c of boosted) {
          await this.setCpu(c.Id, boostLimitOf(c.Labels)!)
            .catch((err: Error) => this.log(`docker runtime: ending the startup boost of ${c.Id.slice(0, 12)} failed: ${err.message}`));
        }
      })();
    }
    // A holder whose instance container is gone (a removal cut short by a crash) holds nothing: removed. Not one
    // younger than holderOrphanAgeMs: a start (of this process, or of a control plane handing over) may be making it.
    for (const h of holders.values()) {
      if (held.has(h.Id) || this.spareIds.has(h.Id) || this.poolIds.has(h.Id)) continue;
      // Another life's spare or pooled holder not taken: nobody takes it (both live in the process that made them).
      // A pooled one that an instance took is renamed for it: left to the age rule below (a start may be joining it).
      const untakenPooled = h.Labels![HOLDER_LABEL] === POOLED && (h.Names ?? []).some((n) => n.startsWith(`/${POOL_NAME_PREFIX}`));
      if (h.Labels![HOLDER_LABEL] === SPARE || untakenPooled) {
        await this.removeHolder(h.Id).catch(() => undefined);
        continue;
      }
      if (h.Created !== undefined && Date.now() - h.Created * 1000 < this.holderOrphanAgeMs) continue;
      await this.removeHolder(h.Id).catch((err: Error) => this.log(`docker runtime: removing the orphaned network holder ${h.Id.slice(0, 12)} failed: ${err.message}`));
    }
    this.poolClosed = false;
    this.fillPool();
    return handles;
  }


  async ensureNetwork(name: string): Promise<void> {
    // Made (or found) and covered by the firewall in this process already: no engine round trip per instance start.
    // A network removed behind Pier's back is made again when the engine says it is missing (start()).
    if (this.protectedNetworks.has(name)) return;
    // The engine does not reliably refuse a second network of the same name, and two first instances of one app
    // (e.g. two regions) ask at once: serialise per name so exactly one create is sent.
    return this.networkCreates.run(name, async () => {
      const t = new StartSpans(`network ${name}`);
      const net = await t.span('network_create', () => this.createNetworkOnce(name));
      await t.span('network_protect', () => this.protect(name, net));
      t.done();
    });
  }

  /**
   * Makes sure the firewall covers a network's bridge before any instance joins it. Bridges Pier names (`pierdk…`)
   * are covered by the installed wildcard; others (older networks, the build network) need a rebuild of the chains.
   */
  private async protect(name: string, net: NetworkJson | null): Promise<void> {
    if (this.firewall && net?.Driver === 'bridge') {
      try {
        await this.firewall.ensure();
        if (!this.firewall.covers(bridgeOf(net))) await this.firewall.refresh();
      } catch (err) {
        throw new RuntimeError('unavailable', `the firewall of Pier's Docker networks could not be installed: ${(err as Error).message}`);
      }
    }
    this.protectedNetworks.add(name);
  }

  private async createNetworkOnce(name: string): Promise<NetworkJson | null> {
    const path = `/networks/${encodeURIComponent(name)}`;
    const found = await this.call(() => this.engine.jsonOrNull<NetworkJson>('GET', path));
    if (found) return found;
    const isolated = name === ISOLATED_NETWORK;
    // The holder pool's: no traffic between holders, no route out (a holder leaves it before its instance starts).
    const pool = name === HOLDER_POOL_NETWORK;
    const labels = { [MANAGED_LABEL]: 'true', ...(this.scope ? { [SCOPE_LABEL]: this.scope } : {}), ...(isolated ? { [ROLE_LABEL]: 'isolated' } : pool ? { [ROLE_LABEL]: 'holder-pool' } : {}) };
    // The bridge is named by Pier so the firewall's one wildcard covers it from the first packet on.
    const options = { [BRIDGE_NAME_OPTION]: dockerBridgeName(name), ...(isolated || pool ? { 'com.docker.network.bridge.enable_icc': 'false' } : {}) };
    try {
      const made = await this.engine.json<{ Id: string }>('POST', '/networks/create', {
        body: { Name: name, Driver: 'bridge', CheckDuplicate: true, Labels: labels, Options: options, ...(pool ? { Internal: true } : {}) },
      });
      // What protect() needs is what was just sent: no second inspect.
      if (made?.Id) return { Id: made.Id, Driver: 'bridge', Options: options, Labels: labels };
    } catch (err) {
      if (!(err instanceof EngineError && err.status === 409)) throw this.translate(err); // 409: created concurrently, fine
    }
    return this.call(() => this.engine.jsonOrNull<NetworkJson>('GET', path));
  }

  async removeNetwork(name: string): Promise<void> {
    this.protectedNetworks.delete(name);
    // Spare holders on it would keep it in use.
    for (const key of [...this.spares.keys()]) if ((JSON.parse(key) as string[])[0] === name) await this.dropSpare(key);
    const net = await this.call(() => this.engine.jsonOrNull<NetworkJson>('GET', `/networks/${encodeURIComponent(name)}`));
    if (!net || net.Labels?.[MANAGED_LABEL] !== 'true') return; // never remove a network Pier did not create
    try {
      await this.engine.jsonOrNull('DELETE', `/networks/${net.Id}`);
    } catch (err) {
      if (err instanceof EngineError && (err.status === 403 || err.status === 409)) return; // still in use
      throw this.translate(err);
    }
  }

  /** Runs an engine call, turning transport failures into the one clear "engine not reachable" error. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.translate(err);
    }
  }

  private translate(err: unknown): unknown {
    if (!(err instanceof EngineError)) return err;
    if (err.status === 0) return new RuntimeError('unavailable', `${unreachableMessage(this.engine.socketPath)} (${err.message})`);
    if (err.status === 409) return new RuntimeError('conflict', `Docker: ${err.message}`);
    if (err.status === 404) return new RuntimeError('not_found', `Docker: ${err.message}`);
    if (err.status === 400) return new RuntimeError('invalid_spec', `Docker: ${err.message}`);
    return new RuntimeError('failed', `Docker: ${err.message}`);
  }
}

/**
 * The engine's answer to a start that runc lost in a race with the process it started (the start is worth repeating),
 * or to one whose init process containerd already saw exit between create and start ("cannot start a stopped
 * process", containerd's init state machine; seen once in CI on a loaded host, on a start into a holder's namespace).
 */
export function isStartRace(err: unknown): boolean {
  return err instanceof Error && (/OCI runtime start failed: (cannot start an already running container|container process is already dead)/.test(err.message)
    || /(^|: )cannot start a stopped process(: |$)/.test(err.message));
}

/**
 * Runs `attempt` (which removes what it made when it fails); when the engine lost its start in runc's race on a
 * loaded host (runc#2183, docker/for-linux#647: the process ran, often to its end when short-lived, yet the start
 * "failed" and the task was dropped) and `again` agrees, runs it once more from scratch: the second answer stands.
 */
async function onceMoreAfterStartRace<T>(attempt: () => Promise<T>, again: (err: Error) => boolean): Promise<T> {
  try {
    return await attempt();
  } catch (err) {
    if (!isStartRace(err) || !again(err as Error)) throw err;
    return attempt();
  }
}

/** Refuses volumes that cannot be bound as asked, or whose filesystem is not mounted (the bind would hit the host's disk). */
function checkVolumes(spec: InstanceSpec): void {
  const problem = volumeMountsProblem(spec.volumes);
  if (problem) throw new RuntimeError('invalid_spec', problem);
  for (const v of spec.volumes ?? []) {
    if (!isMountPoint(v.hostPath)) throw new RuntimeError('invalid_spec', `volume ${v.volumeId} is not mounted at ${v.hostPath} on this host (VolumeDriver.mount it first)`);
  }
}

// The Swarm runtime: one replicated service (replicas 1, restart none) per instance, driven through the manager's
// Engine API, placed on the nodes labelled with the instance's region, reached at <node address>:<host-published port>.
import { createHash } from 'node:crypto';
import { RuntimeError, workloadNotFound } from '../errors.ts';
import type { Capabilities, ExecOptions, ExecSession, ExitStatus, InstanceHandle, InstanceSpec, InstanceState, InstanceStats, LogLine, Runtime } from '../contract.ts';
import { INSTANCE_LABEL, MANAGED_LABEL, SingleFlight, isoTime, specLabels } from '../common.ts';
import { SCOPE_LABEL } from '../docker/driver.ts';
import { DockerEngine, EngineError, consumeProgress } from '../docker/engine.ts';
import { dockerExec } from '../docker/exec.ts';
import { FrameDecoder } from '../docker/frames.ts';
import { registryAuthHeader } from '../docker/spec.ts';
import { statsFromDocker, type DockerStats } from '../docker/stats.ts';
import { pushImage, putImage } from './push.ts';
import {
  REGION_LABEL, anchorServiceName, anchorSpec, pauseConfig, pauseLayer, instanceTask, splitRef, isTerminal, nodeAddress, nodeName, serviceName, serviceSpec, taskEndpoints, taskExit,
  volumePlacement, type NodeJson, type TaskJson,
} from './spec.ts';
import { volumeNodes } from './volumes.ts';
import { drainedForLoss, nodeUsable, watchNodeLoss } from './node-loss.ts';

export { REGION_LABEL } from './spec.ts';

/** Options of the Swarm runtime. */
export interface SwarmRuntimeOptions {
  /** The manager's Engine API socket. */
  socketPath: string;
  /** Installation scope, as with the Docker driver: recover() adopts only services carrying it. */
  scope?: string;
  /** SIGTERM-to-SIGKILL grace, fixed per service at start (default 10 s, the controller's default). */
  stopGraceMs?: number;
  pidsLimit?: number;
  /**
   * A registry every node pulls from (host:port, plain HTTP or trusted). Images only the local engine knows (built
   * by Pier) are copied there before the service is created, so no worker ever answers "No such image".
   */
  registry?: string;
  /** The engine Pier builds on, where local images are read from (default /var/run/docker.sock). */
  localSocketPath?: string;
  /** Engine sockets of the nodes, by node address, for stats (the manager API has no container stats). */
  nodeSockets?: Record<string, string>;
  /** How long start() waits for the task to run (image pull included). */
  startTimeoutMs?: number;
  /** How long a task may stay unschedulable ("no suitable node") before start() gives up. */
  unschedulableMs?: number;
  /**
   * Pier's own node-loss verdict (node-loss.ts): while watch() runs, ping every node engine of `nodeSockets` and drain
   * a worker whose engine missed 3 pings in a row, ahead of Swarm's heartbeat verdict; set it back to active when it
   * answers again. Default: on whenever `nodeSockets` is given (PIER_SWARM_DRAIN_LOST_NODES=0 turns it off).
   */
  drainLostNodes?: boolean;
  /** Where the node watch reports what it drained and restored (default: nowhere). */
  log?: (line: string) => void;
}

interface ServiceJson {
  ID: string;
  Version: { Index: number };
  Spec: { Name: string; Labels?: Record<string, string>; TaskTemplate: { Placement?: { Constraints?: string[] } } & Record<string, unknown> } & Record<string, unknown>;
}

/** How long after a failed exit dockerd may still learn that it was an OOM kill (as in the Docker driver). */
const OOM_EVENT_SETTLE_MS = 1000;

/** A placement constraint no node satisfies: stopping = moving the task to nowhere, so Swarm keeps its final status. */
const STOPPED_CONSTRAINT = `node.labels.${REGION_LABEL}==pier-stopped`;

const sleep = (ms: number, signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
  if (signal?.aborted) return reject(signal.reason);
  const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); reject(signal?.reason); };
  signal?.addEventListener('abort', onAbort, { once: true });
});

/** Runs instances as Swarm services on a cluster whose nodes carry `dev.pier.region` labels. */
export class SwarmRuntime implements Runtime {
  readonly name = 'swarm';
  private readonly engine: DockerEngine;
  private readonly opts: SwarmRuntimeOptions;
  private readonly pushed = new Map<string, Promise<string>>();
  private readonly startedAt = new Map<string, string>();
  private readonly networkCreates = new SingleFlight();
  private pauseImage?: Promise<string>;
  /** Networks whose anchor this process saw or made: every start calls ensureNetwork, one manager call per network is enough. */
  private readonly anchored = new Set<string>();
  /** `<node id> <image>` pairs pulled ahead (or being pulled) on a node that does not run the instance (prePull). */
  private readonly prePulled = new Set<string>();
  /** Service id → the node its instance task was assigned to (a task never moves): read alongside the task. */
  private readonly taskNodes = new Map<string, string>();

  constructor(opts: SwarmRuntimeOptions) {
    this.opts = opts;
    this.engine = new DockerEngine(opts.socketPath);
  }

  async capabilities(): Promise<Capabilities> {
    let info: { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } };
    try {
      info = await this.engine.json('GET', '/info', { timeoutMs: 5000 });
    } catch (err) {
      throw new RuntimeError('unavailable', `Swarm manager not reachable at ${this.engine.socketPath}: ${(err as Error).message}`);
    }
    if (info.Swarm?.LocalNodeState !== 'active' || !info.Swarm.ControlAvailable) {
      throw new RuntimeError('unavailable', `the engine at ${this.engine.socketPath} is not a Swarm manager (swarm state: ${info.Swarm?.LocalNodeState ?? 'unknown'})`);
    }
    return { name: 'swarm', runs: 'image', enforcesCpu: true, enforcesMemory: true, enforcesDisk: false, privateNetworking: true, volumes: true };
  }

  async start(spec: InstanceSpec, signal?: AbortSignal): Promise<InstanceHandle> {
    if (!spec.image) throw new RuntimeError('invalid_spec', 'the swarm runtime runs images: spec.image is required');
    // A volume lives on one node (volumes.ts): the instance is pinned there, or refused if a volume has no node.
    const placement = volumePlacement(spec, await this.call(() => volumeNodes(this.engine, spec.volumes)));
    if (placement.problem) throw new RuntimeError('invalid_spec', placement.problem);
    const image = await this.call(() => this.distribute(spec.image as string, signal));
    const scope = this.opts.scope ? { [SCOPE_LABEL]: this.opts.scope } : undefined;
    const body = serviceSpec(spec, image, { stopGraceMs: this.opts.stopGraceMs ?? 10_000, pidsLimit: this.opts.pidsLimit ?? 4096, labels: scope, volumeNode: placement.node });
    const header = registryAuthHeader(spec.registryAuth);
    const created = await this.call(() => this.engine.json<{ ID: string }>('POST', '/services/create', {
      body, headers: header ? { 'x-registry-auth': header } : {}, signal,
    }));
    try {
      const { task, node } = await this.awaitRunning(created.ID, spec, signal);
      const startedAt = isoTime(task.Status.Timestamp) ?? new Date().toISOString();
      this.startedAt.set(created.ID, startedAt);
      this.prePull(image, spec.labels.region, task.NodeID, header);
      return { instanceId: spec.instanceId, runtimeId: created.ID, endpoints: taskEndpoints(task, node), labels: { ...spec.labels, ...scope } };
    } catch (err) {
      await this.remove(created.ID).catch(() => undefined); // a service that never ran is garbage
      throw err;
    }
  }

  /** Copies a local-only image to the cluster's registry (once per image id) and answers what the nodes pull. */
  private async distribute(image: string, signal?: AbortSignal): Promise<string> {
    const registry = this.opts.registry;
    if (!registry || image.startsWith(`${registry}/`)) return image;
    const local = new DockerEngine(this.opts.localSocketPath);
    const found = await local.jsonOrNull<{ Id: string }>('GET', `/images/${encodeURIComponent(image)}/json`, { signal }).catch(() => null);
    if (!found) return image; // not built here: the nodes pull it from wherever it lives
    const key = `${found.Id}@${registry}`;
    let p = this.pushed.get(key);
    if (!p) {
      const [repo, tag] = splitRef(image);
      p = pushImage(local, image, registry, repo, tag, signal);
      this.pushed.set(key, p);
      p.catch(() => this.pushed.delete(key));
    }
    return p;
  }

  private async awaitRunning(serviceId: string, spec: InstanceSpec, signal?: AbortSignal): Promise<{ task: TaskJson; node?: NodeJson }> {
    const deadline = Date.now() + (this.opts.startTimeoutMs ?? 120_000);
    let unschedulableSince: number | undefined;
    for (let i = 0; i < 100_000; i++) {
      const task = instanceTask(await this.tasks(serviceId));
      if (task?.Status.State === 'running') {
        const node = task.NodeID ? await this.node(task.NodeID) : undefined;
        return { task, node };
      }
      if (task && isTerminal(task.Status.State)) {
        const exit = taskExit(task);
        // A task that ran and exited already (e.g. `exit 3` at once) did start: report it like a started container.
        if (exit.exitCode !== null) return { task, node: task.NodeID ? await this.node(task.NodeID) : undefined };
        throw new RuntimeError('unavailable', exit.error ?? `Swarm task ended in state ${task.Status.State}`);
      }
      if (task && /no suitable node/i.test(task.Status.Err ?? '')) {
        unschedulableSince ??= Date.now();
        if (Date.now() - unschedulableSince > (this.opts.unschedulableMs ?? 3000)) {
          const region = spec.labels.region;
          throw new RuntimeError('unavailable', `no Swarm node${region ? ` of region ${region}` : ''} can run the instance (${task.Status.Err})`);
        }
      } else unschedulableSince = undefined;
      if (Date.now() > deadline) throw new RuntimeError('unavailable', `the Swarm task did not start within ${this.opts.startTimeoutMs ?? 120_000} ms (state ${task?.Status.State ?? 'none'}${task?.Status.Err ? `: ${task.Status.Err}` : ''})`);
      // A start takes 1-3 s here (scheduling, prepare, the container's start): every 50 ms of the first 10 s is one
      // cheap manager read each, and the replacement after a node loss is seen running as soon as it runs.
      await sleep(i < 200 ? 50 : 200, signal);
    }
    throw new RuntimeError('unavailable', 'the Swarm task did not start');
  }

  /**
   * Pulls the instance's image on the other ready nodes of its region, through their engines (`nodeSockets`), in the
   * background and once per node and image: the replacement after a node loss then finds it there (Swarm skips the
   * pull of an image referenced by digest that the node has) instead of pulling it while the app is down. Best effort:
   * without a node's socket, or if the pull fails, that node pulls at the task's start as before.
   */
  private prePull(image: string, region: string | undefined, runsOn: string | undefined, auth: string | undefined): void {
    const sockets = this.opts.nodeSockets;
    if (!region || !sockets || Object.keys(sockets).length === 0) return;
    void (async () => {
      const nodes = await this.engine.json<NodeJson[]>('GET', '/nodes', { timeoutMs: 10_000 }).catch(() => [] as NodeJson[]);
      await Promise.all(nodes.map(async (n) => {
        const socket = sockets[nodeAddress(n) ?? ''];
        const key = `${n.ID} ${image}`;
        if (n.ID === runsOn || !nodeUsable(n) || n.Spec.Availability === 'drain' || n.Spec.Labels?.[REGION_LABEL] !== region || !socket || this.prePulled.has(key)) return;
        this.prePulled.add(key);
        try {
          const res = await new DockerEngine(socket).request('POST', '/images/create', {
            query: { fromImage: image }, headers: auth ? { 'x-registry-auth': auth } : {}, timeoutMs: 300_000,
          });
          await consumeProgress(res);
        } catch {
          this.prePulled.delete(key); // the next start of this image tries again
        }
      }));
    })();
  }

  /**
   * Calls `onChange` for every node event of the manager (a node declared down or ready again, drained, relabelled),
   * so the controller runs a pass at once instead of at its next resync: a lost node's instances are replaced as soon
   * as Swarm declares it down. Level-triggered: the event only wakes the controller, whose pass reads the nodes' and
   * tasks' state as always (and the periodic resync stays the safety net). The stream is reopened with a backoff
   * (250 ms doubling to 5 s) when it breaks, with one more call after reconnecting (events may have been missed).
   * With node sockets it also runs Pier's own node-loss verdict (`drainLostNodes`, node-loss.ts), which drains a worker
   * whose engine stopped answering well before Swarm's heartbeat verdict. Returns the function that stops watching.
   */
  watch(onChange: () => void): () => void {
    const ctl = new AbortController();
    const notify = () => { try { onChange(); } catch { /* the listener's own business */ } };
    const sockets = this.opts.nodeSockets ?? {};
    if (this.opts.drainLostNodes !== false && Object.keys(sockets).length > 0) {
      const stopNodeWatch = watchNodeLoss(this.engine, sockets, notify, { log: this.opts.log });
      ctl.signal.addEventListener('abort', stopNodeWatch, { once: true });
    }
    void (async () => {
      let backoffMs = 250;
      for (let attempt = 0; !ctl.signal.aborted; attempt++) {
        try {
          const res = await this.engine.request('GET', '/events', {
            query: { filters: JSON.stringify({ type: ['node'] }) }, signal: ctl.signal, timeoutMs: 0,
          });
          if ((res.statusCode ?? 0) >= 300) { res.resume(); throw new Error(`HTTP ${res.statusCode}`); }
          if (attempt > 0) notify();
          backoffMs = 250;
          // The events stream is newline-separated JSON, as pull progress is: one notify per node event.
          await consumeProgress(res, (msg) => { if (msg.Type === 'node') notify(); });
        } catch {
          // The manager restarted or is away: reconnect below (the resync covers the gap).
        }
        await sleep(backoffMs, ctl.signal).catch(() => undefined);
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    })();
    return () => ctl.abort();
  }

  async stop(runtimeId: string, _graceMs: number): Promise<void> {
    // The grace period is the one fixed at start: Swarm stops a task with its own spec's StopGracePeriod.
    for (let attempt = 0; attempt < 5; attempt++) {
      const svc = await this.service(runtimeId);
      if (!svc) return;
      const task = instanceTask(await this.tasks(svc.ID));
      if (!task || isTerminal(task.Status.State)) return;
      if (!(svc.Spec.TaskTemplate.Placement?.Constraints ?? []).includes(STOPPED_CONSTRAINT)) {
        const spec = structuredClone(svc.Spec);
        spec.TaskTemplate = { ...spec.TaskTemplate, Placement: { Constraints: [STOPPED_CONSTRAINT] } };
        try {
          await this.engine.json('POST', `/services/${svc.ID}/update`, { query: { version: svc.Version.Index }, body: spec });
        } catch (err) {
          if (err instanceof EngineError && (err.status === 404)) return;
          if (err instanceof EngineError && /update out of sequence/i.test(err.message)) continue; // raced: read again
          throw this.translate(err);
        }
      }
      await this.waitTerminal(svc.ID, this.stopDeadline());
      return;
    }
  }

  private stopDeadline(): number {
    return Date.now() + (this.opts.stopGraceMs ?? 10_000) + 60_000;
  }

  /** Polls until the instance task is final or its node is lost; resolves with the task (undefined if gone). */
  private async waitTerminal(serviceId: string, deadline: number, signal?: AbortSignal): Promise<ExitStatus | undefined> {
    for (let i = 0; Date.now() < deadline && i < 100_000; i++) {
      const state = await this.inspect(serviceId);
      if (!state) return undefined;
      if (state.exit) return state.exit;
      await sleep(i < 20 ? 100 : 250, signal);
    }
    throw new RuntimeError('unavailable', `the Swarm service ${serviceId} did not stop in time`);
  }

  async remove(runtimeId: string): Promise<void> {
    // Read together (a lost node's instance is removed before its replacement starts): ids are service ids, except
    // an anchor's, removed by name.
    const [svc, byId] = await Promise.all([this.service(runtimeId), this.tasks(runtimeId)]);
    if (!svc) return;
    this.taskNodes.delete(svc.ID);
    const tasks = svc.ID === runtimeId ? byId : await this.tasks(svc.ID);
    try {
      await this.engine.jsonOrNull('DELETE', `/services/${svc.ID}`);
    } catch (err) {
      throw this.translate(err);
    }
    // Removal is asynchronous: wait (bounded) until the tasks on live nodes are gone and, where the node's engine is
    // at hand, their containers too. A task on a lost node never confirms: it is not waited for.
    const nodes = new Map((await this.nodes()).map((n) => [n.ID, n]));
    const live = tasks.filter((t) => t.NodeID && nodeUsable(nodes.get(t.NodeID)));
    const deadline = Date.now() + 20_000;
    for (const t of live) {
      while (Date.now() < deadline && await this.call(() => this.engine.jsonOrNull('GET', `/tasks/${t.ID}`))) await sleep(100);
      const socket = this.opts.nodeSockets?.[nodeAddress(nodes.get(t.NodeID as string)!) ?? ''];
      const cid = t.Status.ContainerStatus?.ContainerID;
      if (!socket || !cid) continue;
      const engine = new DockerEngine(socket);
      while (Date.now() < deadline && await engine.jsonOrNull('GET', `/containers/${cid}/json`).catch(() => null)) await sleep(100);
    }
  }

  async wait(runtimeId: string, signal?: AbortSignal): Promise<ExitStatus> {
    if (!(await this.service(runtimeId))) throw workloadNotFound(runtimeId);
    const exit = await this.waitTerminal(runtimeId, Number.POSITIVE_INFINITY, signal);
    if (!exit) throw workloadNotFound(runtimeId);
    return exit;
  }

  /**
   * Exec runs on the node where the task runs, through that node's engine (PIER_SWARM_NODE_SOCKETS): Swarm's manager
   * API has no exec. Without the node's socket it fails saying so.
   */
  async exec(runtimeId: string, opts: ExecOptions): Promise<ExecSession> {
    const svc = await this.service(runtimeId);
    if (!svc) throw workloadNotFound(runtimeId);
    const task = instanceTask(await this.tasks(svc.ID));
    if (!task || task.Status.State !== 'running') throw new RuntimeError('not_found', `instance ${runtimeId} is not running`);
    const node = task.NodeID ? await this.node(task.NodeID) : undefined;
    const socket = node ? this.opts.nodeSockets?.[nodeAddress(node) ?? ''] : undefined;
    const id = task.Status.ContainerStatus?.ContainerID;
    if (!socket || !id) {
      throw new RuntimeError('unavailable', `exec is not implemented for this instance: it runs on Swarm node ${nodeName(node, task.NodeID ?? '')}, whose engine Pier cannot reach `
        + '(the Swarm manager API has no exec): list that node\'s engine socket in PIER_SWARM_NODE_SOCKETS');
    }
    try {
      return await dockerExec(new DockerEngine(socket), id, opts, false);
    } catch (err) {
      if (err instanceof EngineError) throw new RuntimeError(err.status === 404 ? 'not_found' : 'unavailable', `Swarm node ${nodeName(node, task.NodeID ?? '')}: ${err.message}`);
      throw err;
    }
  }

  async inspect(runtimeId: string): Promise<InstanceState | null> {
    const { svc, task, node } = await this.current(runtimeId);
    if (!svc) return null;
    if (!task) return { running: false };
    const started = this.startedAt.get(svc.ID);
    // Pier drained the node because its engine stopped answering (node-loss.ts): what ran there is lost unless it had
    // already ended by itself. A drain sets the task's desired state to shutdown, so on a node that was alive after all
    // its end reads `shutdown`: still the loss, not an exit of the app.
    if (task.NodeID && node && drainedForLoss(node) && !['complete', 'failed', 'rejected'].includes(task.Status.State)) {
      return {
        running: false,
        startedAt: started,
        exit: { exitCode: null, oomKilled: false, lost: true, error: `Instance lost: ${nodeName(node, task.NodeID)} is unreachable (its engine stopped answering; Pier drained it)`, startedAt: started, finishedAt: new Date().toISOString() },
      };
    }
    if (isTerminal(task.Status.State)) {
      const exit = await this.refineExit(task, node, taskExit(task, started));
      return { running: false, startedAt: exit.startedAt, exit };
    }
    if (task.NodeID && node?.Status.State !== 'ready') {
      // The node stopped answering the dispatcher: whatever runs there is out of Pier's reach, so the instance is lost.
      return {
        running: false,
        startedAt: started,
        exit: { exitCode: null, oomKilled: false, lost: true, error: `Instance lost: ${nodeName(node, task.NodeID)} is ${node?.Status.State ?? 'gone'}`, startedAt: started, finishedAt: new Date().toISOString() },
      };
    }
    if (task.Status.State !== 'running') return { running: false };
    const startedAt = started ?? isoTime(task.Status.Timestamp);
    if (startedAt) this.startedAt.set(svc.ID, startedAt);
    return { running: true, startedAt };
  }

  /**
   * With the node's engine at hand, the container itself says whether the kernel OOM-killed it (also a child process:
   * the task's exit code alone cannot tell) and when it ran. dockerd may learn of an OOM kill just after the exit.
   */
  private async refineExit(task: TaskJson, node: NodeJson | undefined, exit: ExitStatus): Promise<ExitStatus> {
    const socket = node ? this.opts.nodeSockets?.[nodeAddress(node) ?? ''] : undefined;
    const id = task.Status.ContainerStatus?.ContainerID;
    if (!socket || !id) return exit;
    const engine = new DockerEngine(socket);
    type C = { State: { OOMKilled: boolean; ExitCode: number; StartedAt: string; FinishedAt: string } };
    const get = () => engine.jsonOrNull<C>('GET', `/containers/${id}/json`, { timeoutMs: 5000 }).catch(() => null);
    let c = await get();
    if (!c) return exit;
    const age = Date.now() - Date.parse(c.State.FinishedAt);
    if (!c.State.OOMKilled && c.State.ExitCode !== 0 && age >= 0 && age < OOM_EVENT_SETTLE_MS) {
      await sleep(OOM_EVENT_SETTLE_MS - age);
      c = (await get()) ?? c;
    }
    return {
      ...exit,
      oomKilled: c.State.OOMKilled,
      startedAt: isoTime(c.State.StartedAt) ?? exit.startedAt,
      finishedAt: isoTime(c.State.FinishedAt) ?? exit.finishedAt,
    };
  }

  async stats(runtimeId: string): Promise<InstanceStats> {
    const svc = await this.service(runtimeId);
    const task = svc ? instanceTask(await this.tasks(svc.ID)) : undefined;
    if (!svc || !task) throw workloadNotFound(runtimeId);
    const node = task.NodeID ? await this.node(task.NodeID) : undefined;
    const socket = node ? this.opts.nodeSockets?.[nodeAddress(node) ?? ''] : undefined;
    const containerId = task.Status.ContainerStatus?.ContainerID;
    if (!socket || !containerId) {
      throw new RuntimeError('unavailable', `stats of Swarm instances need the engine socket of ${nodeName(node, task.NodeID)} (nodeSockets)`);
    }
    const s = await new DockerEngine(socket).jsonOrNull<DockerStats>('GET', `/containers/${containerId}/stats`, { query: { stream: false }, timeoutMs: 30_000 });
    if (!s) throw workloadNotFound(runtimeId);
    return statsFromDocker(s);
  }

  async *logs(runtimeId: string, opts: { follow: boolean; since?: Date; signal?: AbortSignal }): AsyncIterable<LogLine> {
    const { svc, task, node } = await this.current(runtimeId);
    if (!svc || !task) throw workloadNotFound(runtimeId);
    // The manager relays a task's logs from its node: a lost node would keep the request open forever.
    if (task.NodeID && !nodeUsable(node)) return;
    // Swarm's log stream never ends by itself: with follow, it is closed once the task is final and the last lines
    // had time to travel from the node.
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.follow) {
      this.waitTerminal(svc.ID, Number.POSITIVE_INFINITY, ctl.signal)
        .then(() => sleep(1000, ctl.signal)).then(() => ctl.abort(), () => undefined);
    }
    try {
      const res = await this.call(() => this.engine.request('GET', `/tasks/${task.ID}/logs`, {
        query: { stdout: 1, stderr: 1, timestamps: 1, follow: opts.follow ? 1 : 0, since: opts.since ? Math.floor(opts.since.getTime() / 1000) : undefined },
        signal: ctl.signal,
        timeoutMs: opts.follow ? 0 : 15_000,
      }));
      if ((res.statusCode ?? 0) >= 300) { res.resume(); throw new RuntimeError('failed', `Swarm task logs failed with HTTP ${res.statusCode}`); }
      const decoder = new FrameDecoder();
      const since = opts.since?.getTime();
      const keep = (l: LogLine) => since === undefined || Date.parse(l.time) >= since;
      try {
        for await (const chunk of res) yield* decoder.push(chunk as Buffer).filter(keep);
      } catch (err) {
        if (ctl.signal.aborted) { yield* decoder.end().filter(keep); return; }
        throw err;
      }
      yield* decoder.end().filter(keep);
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      ctl.abort();
    }
  }

  async recover(): Promise<InstanceHandle[]> {
    const labels = [`${MANAGED_LABEL}=true`, ...(this.opts.scope ? [`${SCOPE_LABEL}=${this.opts.scope}`] : [])];
    const services = await this.call(() => this.engine.json<ServiceJson[]>('GET', '/services', { query: { filters: JSON.stringify({ label: labels }) } }));
    const nodes = new Map((await this.nodes()).map((n) => [n.ID, n]));
    const out: InstanceHandle[] = [];
    for (const s of services) {
      const l = s.Spec.Labels ?? {};
      if (l[MANAGED_LABEL] !== 'true' || !l[INSTANCE_LABEL] || (this.opts.scope && l[SCOPE_LABEL] !== this.opts.scope)) continue;
      const task = instanceTask(await this.tasks(s.ID));
      const endpoints = task && task.Status.State === 'running' ? taskEndpoints(task, task.NodeID ? nodes.get(task.NodeID) : undefined) : [];
      out.push({ instanceId: l[INSTANCE_LABEL], runtimeId: s.ID, endpoints, labels: specLabels(l) });
    }
    return out;
  }

  async ensureNetwork(name: string): Promise<void> {
    // The manager does not refuse a second overlay of the same name, and the first instances of one app (one per
    // region) ask at once: two networks then make every service create fail as "ambiguous". Serialise per name.
    return this.networkCreates.run(name, async () => {
      await this.createNetworkOnce(name);
      await this.ensureAnchor(name);
    });
  }

  /**
   * Keeps the overlay joined on every node (a global service running a pause image, `anchorSpec`), so a replacement
   * task after a node loss finds it there instead of joining it while the dead node still counts as a peer (~11 s in
   * `preparing`, see README). Needs PIER_SWARM_REGISTRY for the pause image. Best effort: without it an instance
   * still runs, only its failover is slower, and the next start tries again.
   */
  private async ensureAnchor(network: string): Promise<void> {
    const registry = this.opts.registry;
    if (!registry || this.anchored.has(network)) return;
    try {
      if (await this.engine.jsonOrNull('GET', `/services/${anchorServiceName(network)}`)) { this.anchored.add(network); return; }
      if (!this.pauseImage) {
        const layer = pauseLayer();
        const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
        this.pauseImage = putImage(registry, 'pier/pause', 'amd64', pauseConfig(diffId), [layer]);
        this.pauseImage.catch(() => { this.pauseImage = undefined; });
      }
      const labels: Record<string, string> = { [MANAGED_LABEL]: 'true', ...(this.opts.scope ? { [SCOPE_LABEL]: this.opts.scope } : {}) };
      await this.engine.json('POST', '/services/create', { body: anchorSpec(network, await this.pauseImage, labels) });
      this.anchored.add(network);
    } catch {
      // Created meanwhile, or no registry/manager answer: the instance does not need the anchor to run.
    }
  }

  private async createNetworkOnce(name: string): Promise<void> {
    type NetJson = { Id: string; Name: string; Created: string; Labels: Record<string, string> | null };
    const same = (await this.call(() => this.engine.json<NetJson[]>('GET', '/networks', { query: { filters: JSON.stringify({ name: [name] }) } })))
      .filter((n) => n.Name === name);
    if (same.length > 1) {
      // Left by an earlier race (or another Pier on this Swarm): keep the oldest, remove Pier's other copies.
      const [, ...extra] = same.sort((a, b) => a.Created.localeCompare(b.Created) || a.Id.localeCompare(b.Id));
      for (const n of extra) if (n.Labels?.[MANAGED_LABEL] === 'true') await this.engine.jsonOrNull('DELETE', `/networks/${n.Id}`).catch(() => undefined);
    }
    if (same.length > 0) return;
    try {
      await this.engine.json('POST', '/networks/create', {
        body: { Name: name, Driver: 'overlay', Attachable: true, CheckDuplicate: true, Labels: { [MANAGED_LABEL]: 'true', ...(this.opts.scope ? { [SCOPE_LABEL]: this.opts.scope } : {}) } },
      });
    } catch (err) {
      // Created meanwhile by another process: the manager answers 409 or a 500 "name conflicts with an existing object".
      if (err instanceof EngineError && (err.status === 409 || /name conflicts with an existing object/i.test(err.message))) return;
      throw this.translate(err);
    }
  }

  async removeNetwork(name: string): Promise<void> {
    const net = await this.call(() => this.engine.jsonOrNull<{ Id: string; Labels: Record<string, string> | null }>('GET', `/networks/${encodeURIComponent(name)}`));
    if (!net || net.Labels?.[MANAGED_LABEL] !== 'true') return;
    // The network's anchor goes first, and its tasks with it (as remove() waits for an instance's): the manager keeps
    // its own copy of the overlay while a container there still uses it.
    this.anchored.delete(name);
    await this.remove(anchorServiceName(name));
    try {
      await this.engine.jsonOrNull('DELETE', `/networks/${net.Id}`);
    } catch (err) {
      if (err instanceof EngineError && (err.status === 403 || err.status === 409 || /in use/i.test(err.message))) return;
      throw this.translate(err);
    }
  }

  /**
   * The service, its instance task and that task's node, in one round of parallel manager calls where it can: a
   * runtime id is the service id, and a task keeps its node, so the node seen last time is read alongside (inspect
   * runs for every instance on every controller pass; three calls in a row were three round trips).
   */
  private async current(runtimeId: string): Promise<{ svc: ServiceJson | null; task?: TaskJson; node?: NodeJson }> {
    const seen = this.taskNodes.get(runtimeId);
    const [svc, tasks, guess] = await Promise.all([this.service(runtimeId), this.tasks(runtimeId), seen ? this.node(seen) : undefined]);
    if (!svc) return { svc: null };
    const task = instanceTask(svc.ID === runtimeId ? tasks : await this.tasks(svc.ID));
    if (!task?.NodeID) return { svc, task };
    this.taskNodes.set(svc.ID, task.NodeID);
    return { svc, task, node: guess?.ID === task.NodeID ? guess : await this.node(task.NodeID) };
  }

  private service(id: string): Promise<ServiceJson | null> {
    return this.call(() => this.engine.jsonOrNull<ServiceJson>('GET', `/services/${encodeURIComponent(id)}`));
  }

  private async tasks(serviceId: string): Promise<TaskJson[]> {
    // The manager answers 404 for the tasks of a service it no longer knows: none.
    return this.call(() => this.engine.jsonOrNull<TaskJson[]>('GET', '/tasks', { query: { filters: JSON.stringify({ service: [serviceId] }) } }))
      .then((ts) => (ts ?? []).filter((t) => (t as TaskJson & { ServiceID?: string }).ServiceID === serviceId));
  }

  private node(id: string): Promise<NodeJson | undefined> {
    return this.call(() => this.engine.jsonOrNull<NodeJson>('GET', `/nodes/${encodeURIComponent(id)}`)).then((n) => n ?? undefined);
  }

  private nodes(): Promise<NodeJson[]> {
    return this.call(() => this.engine.json<NodeJson[]>('GET', '/nodes'));
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.translate(err);
    }
  }

  private translate(err: unknown): unknown {
    if (!(err instanceof EngineError)) return err;
    if (err.status === 0) return new RuntimeError('unavailable', `Swarm manager not reachable at ${this.engine.socketPath} (${err.message})`);
    if (err.status === 409) return new RuntimeError('conflict', `Swarm: ${err.message}`);
    if (err.status === 404) return new RuntimeError('not_found', `Swarm: ${err.message}`);
    if (err.status === 400) return new RuntimeError('invalid_spec', `Swarm: ${err.message}`);
    return new RuntimeError('failed', `Swarm: ${err.message}`);
  }
}

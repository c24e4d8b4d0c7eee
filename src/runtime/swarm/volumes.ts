// Persistent volumes on the Swarm runtime (issue #20): each volume lives on ONE node of its region, as an ext4 image
// loop-mounted on that node (`<DockerRootDir>/pier-volumes/<id>.ext4`, mounted at `.../mnt/<id>`), made and mounted
// by a short-lived helper container run through the node's engine (volumes-helper.ts). Where a volume lives is
// recorded on the Swarm manager as a config object `pier-volume-<id>` (labels: node, region, size, path): it survives
// a restart of Pier and stays readable while the node is down. The runtime (driver.ts) reads the same record to bind
// the volume's path and pin the instance to that node (`node.id==`). A volume never moves: while its node is lost,
// mount() refuses naming the node, so the instance that needs it waits instead of starting elsewhere on an empty disk.
import { RuntimeError } from '../errors.ts';
import { DockerEngine, EngineError } from '../docker/engine.ts';
import { MANAGED_LABEL } from '../common.ts';
import { SCOPE_LABEL } from '../docker/driver.ts';
import type { SnapshotConsistency, SnapshotInfo, VolumeDriver, VolumeInfo } from '../volumes/contract.ts';
import { KeyedSerial } from '../volumes/serial.ts';
import { REGION_LABEL, nodeAddress, nodeName, type NodeJson } from './spec.ts';
import { ensureImage, nodeVolumeRoot, parseMounted, parseStored, pushHelperImage, runHelper, type HelperResult } from './volumes-helper.ts';
import { nodeUsable } from './node-loss.ts';

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MIN_VOLUME_BYTES = 16 * 1024 * 1024;

/** Label on a volume's record (a Swarm config): the volume's id. */
export const VOLUME_LABEL = 'dev.pier.volume';
/** Label on a volume's record: the id of the Swarm node that keeps it. */
export const VOLUME_NODE_LABEL = 'dev.pier.volume.node';
const SIZE_LABEL = 'dev.pier.volume.size';
const PATH_LABEL = 'dev.pier.volume.path';
const VOLUME_REGION_LABEL = 'dev.pier.volume.region';
/** Label on a snapshot's record (a Swarm config `pier-snapshot-<id>`): the snapshot's id; more labels below. */
export const SNAPSHOT_LABEL = 'dev.pier.snapshot';
const SNAP = { volume: 'dev.pier.snapshot.volume', node: 'dev.pier.snapshot.node', region: 'dev.pier.snapshot.region', size: 'dev.pier.snapshot.size', stored: 'dev.pier.snapshot.stored', consistency: 'dev.pier.snapshot.consistency', root: 'dev.pier.snapshot.root' };

/** Where a snapshot lives (on its volume's node, `<root>/snapshots/<id>.ext4`), as its record says. */
interface SnapshotRecord extends SnapshotInfo { node: string; region: string; root: string; configId: string }

function snapshotOf(c: ConfigJson): SnapshotRecord | null {
  const l = c.Spec.Labels ?? {};
  const size = Number(l[SNAP.size]);
  const stored = Number(l[SNAP.stored]);
  if (!l[SNAPSHOT_LABEL] || !l[SNAP.node] || !l[SNAP.root] || !Number.isFinite(size) || !Number.isFinite(stored)) return null;
  return {
    snapshotId: l[SNAPSHOT_LABEL], volumeId: l[SNAP.volume] ?? '', sizeBytes: size, storedBytes: stored,
    consistency: l[SNAP.consistency] === 'frozen' ? 'frozen' : 'stopped', node: l[SNAP.node], region: l[SNAP.region] ?? '', root: l[SNAP.root], configId: c.ID,
  };
}

/** How often the used space of a node's volumes is measured (one helper run per node); inspect() answers from it. */
const USAGE_REFRESH_MS = 15_000;

/** Options of the Swarm volume driver (the runtime's own: manager socket, registry, node sockets). */
export interface SwarmVolumeOptions {
  socketPath: string;
  registry?: string;
  nodeSockets?: Record<string, string>;
  scope?: string;
  log?: (line: string) => void;
  /** How old a node's usage figures may be before inspect() measures again (default 15 s, in the background; 0: now). */
  usageRefreshMs?: number;
}

/** Where a volume lives, as its record on the manager says. */
export interface VolumeRecord { volumeId: string; node: string; region: string; sizeBytes: number; hostPath: string; configId: string }

interface ConfigJson { ID: string; Version: { Index: number }; Spec: { Name: string; Labels?: Record<string, string> } }

/** The name of a volume's record on the manager. */
export function volumeConfigName(volumeId: string): string {
  return `pier-volume-${volumeId}`;
}

function recordOf(c: ConfigJson): VolumeRecord | null {
  const l = c.Spec.Labels ?? {};
  const size = Number(l[SIZE_LABEL]);
  if (!l[VOLUME_LABEL] || !l[VOLUME_NODE_LABEL] || !l[PATH_LABEL] || !Number.isFinite(size)) return null;
  return { volumeId: l[VOLUME_LABEL], node: l[VOLUME_NODE_LABEL], region: l[VOLUME_REGION_LABEL] ?? '', sizeBytes: size, hostPath: l[PATH_LABEL], configId: c.ID };
}

/** Reads a volume's record from the manager (null: no such volume on this Swarm). */
export async function readVolumeRecord(manager: DockerEngine, volumeId: string): Promise<VolumeRecord | null> {
  if (!ID.test(volumeId)) return null;
  const c = await manager.jsonOrNull<ConfigJson>('GET', `/configs/${volumeConfigName(volumeId)}`);
  return c ? recordOf(c) : null;
}

/** Each volume of `spec` with the node its record names (undefined: no record), for `volumePlacement`. */
export async function volumeNodes(manager: DockerEngine, volumes: ReadonlyArray<{ volumeId: string }> | undefined): Promise<Map<string, string | undefined>> {
  const out = new Map<string, string | undefined>();
  for (const v of volumes ?? []) out.set(v.volumeId, (await readVolumeRecord(manager, v.volumeId))?.node);
  return out;
}

/**
 * Picks the node a new volume lives on: a ready, active node of `region` holding the fewest volumes (ties broken by
 * node id, so a retried create with the same records picks the same node).
 */
export function pickVolumeNode(nodes: NodeJson[], region: string, volumesPerNode: Map<string, number>): NodeJson | undefined {
  return nodes
    .filter((n) => n.Spec.Labels?.[REGION_LABEL] === region && n.Status.State === 'ready' && n.Spec.Availability !== 'drain')
    .sort((a, b) => (volumesPerNode.get(a.ID) ?? 0) - (volumesPerNode.get(b.ID) ?? 0) || a.ID.localeCompare(b.ID))[0];
}

/** Keeps each volume on one Swarm node of its region; see the file's header. */
export class SwarmVolumeDriver implements VolumeDriver {
  readonly name = 'swarm';
  private readonly manager: DockerEngine;
  private readonly opts: SwarmVolumeOptions;
  private helperImage?: Promise<string>;
  private readonly serialized = new KeyedSerial();
  /** Available bytes per volume, from the last helper run on its node. */
  private readonly available = new Map<string, number>();
  private readonly measuredAt = new Map<string, number>();
  private readonly measuring = new Map<string, Promise<void>>();

  constructor(opts: SwarmVolumeOptions) {
    this.opts = opts;
    this.manager = new DockerEngine(opts.socketPath);
  }

  async unavailable(): Promise<string | null> {
    if (!this.opts.registry) return 'volumes on the swarm runtime need PIER_SWARM_REGISTRY (the helper image that makes them on their node is pushed there)';
    if (!this.opts.nodeSockets || Object.keys(this.opts.nodeSockets).length === 0) {
      return 'volumes on the swarm runtime need PIER_SWARM_NODE_SOCKETS: a volume is made and mounted on its node through that node\'s engine';
    }
    return null;
  }

  /** Runs `fn` after every earlier operation on the same volume (create, mount, remove never overlap). */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> { return this.serialized.run(id, fn); }

  async create(volumeId: string, sizeBytes: number, opts: { fromSnapshotId?: string; signal?: AbortSignal; region?: string } = {}): Promise<VolumeInfo> {
    checkId(volumeId);
    if (!Number.isInteger(sizeBytes) || sizeBytes < MIN_VOLUME_BYTES) {
      throw new RuntimeError('invalid_spec', `volume size must be a whole number of bytes, at least ${MIN_VOLUME_BYTES} (16 MiB), got ${sizeBytes}`);
    }
    if (opts.fromSnapshotId) checkId(opts.fromSnapshotId);
    return this.serial(volumeId, async () => {
      // A restore is made on the snapshot's node (the copy is local), so in the snapshot's region.
      const snap = opts.fromSnapshotId ? await this.snapshotRecord(opts.fromSnapshotId) : undefined;
      if (opts.fromSnapshotId && !snap) throw new RuntimeError('not_found', `snapshot ${opts.fromSnapshotId} not found on this Swarm`);
      if (snap && sizeBytes < snap.sizeBytes) throw new RuntimeError('invalid_spec', `a volume restored from snapshot ${snap.snapshotId} must be at least its ${snap.sizeBytes} bytes, got ${sizeBytes}`);
      if (snap && opts.region && snap.region && opts.region !== snap.region) throw new RuntimeError('invalid_spec', `snapshot ${snap.snapshotId} is in region ${snap.region}: a volume restored from it lives there, not in ${opts.region}`);
      let rec = await this.record(volumeId);
      if (rec && rec.sizeBytes !== sizeBytes) throw new RuntimeError('conflict', `volume ${volumeId} already exists with ${rec.sizeBytes} bytes, not ${sizeBytes}`);
      if (!rec) {
        const region = opts.region ?? snap?.region;
        if (!region) throw new RuntimeError('invalid_spec', `the swarm runtime keeps a volume on one node of its region: create(${volumeId}) needs the region`);
        const nodes = await this.call(() => this.manager.json<NodeJson[]>('GET', '/nodes'));
        const perNode = new Map<string, number>();
        for (const r of await this.records()) perNode.set(r.node, (perNode.get(r.node) ?? 0) + 1);
        const node = snap ? await this.liveNode(snap.node, `snapshot ${snap.snapshotId}`) : pickVolumeNode(nodes.filter((n) => this.socketOf(n)), region, perNode);
        if (!node) throw new RuntimeError('unavailable', `no ready Swarm node of region ${region} whose engine Pier reaches (PIER_SWARM_NODE_SOCKETS) can keep volume ${volumeId}`);
        const root = nodeVolumeRoot((await this.nodeEngine(node).json<{ DockerRootDir: string }>('GET', '/info')).DockerRootDir);
        // The record goes first and names the node: a create cut short is finished by the next one on that same
        // node, never started over on another (which would leave a stray image behind).
        await this.call(() => this.manager.json('POST', '/configs/create', {
          body: {
            Name: volumeConfigName(volumeId),
            Labels: {
              [MANAGED_LABEL]: 'true', ...(this.opts.scope ? { [SCOPE_LABEL]: this.opts.scope } : {}),
              [VOLUME_LABEL]: volumeId, [VOLUME_NODE_LABEL]: node.ID, [VOLUME_REGION_LABEL]: region,
              [SIZE_LABEL]: String(sizeBytes), [PATH_LABEL]: `${root}/mnt/${volumeId}`,
            },
            Data: Buffer.from(JSON.stringify({ volumeId, node: node.ID, region, sizeBytes, createdAt: new Date().toISOString() })).toString('base64'),
          },
        }));
        rec = await this.record(volumeId);
        if (!rec) throw new RuntimeError('failed', `volume ${volumeId}: its record on the Swarm manager vanished right after it was written`);
      }
      return this.onNode(rec, 'create', [String(rec.sizeBytes), ...(snap ? [snap.snapshotId] : [])]);
    });
  }

  async mount(volumeId: string): Promise<VolumeInfo> {
    checkId(volumeId);
    return this.serial(volumeId, async () => {
      const rec = await this.record(volumeId);
      if (!rec) throw new RuntimeError('not_found', `volume ${volumeId} not found on this Swarm`);
      return this.onNode(rec, 'mount', []);
    });
  }

  async inspect(volumeId: string): Promise<VolumeInfo | null> {
    checkId(volumeId);
    const rec = await this.record(volumeId);
    if (!rec) return null;
    const refreshMs = this.opts.usageRefreshMs ?? USAGE_REFRESH_MS;
    const last = this.measuredAt.get(rec.node) ?? 0;
    if (Date.now() - last >= refreshMs && !this.measuring.has(rec.node)) {
      const p = this.measure(rec.node).catch((err: unknown) => this.opts.log?.(`swarm volumes: measuring the volumes of node ${rec.node} failed: ${(err as Error).message}`))
        .finally(() => this.measuring.delete(rec.node));
      this.measuring.set(rec.node, p);
    }
    if (refreshMs === 0) await this.measuring.get(rec.node);
    return this.info(rec);
  }

  private info(rec: VolumeRecord): VolumeInfo {
    const avail = this.available.get(rec.volumeId);
    return {
      volumeId: rec.volumeId, sizeBytes: rec.sizeBytes, hostPath: rec.hostPath, node: rec.node,
      usedBytes: avail === undefined ? 0 : Math.max(0, rec.sizeBytes - avail),
    };
  }

  /** One helper run on a node measures every volume mounted there. */
  private async measure(nodeId: string): Promise<void> {
    const node = await this.liveNode(nodeId, 'volumes');
    const root = await this.rootOf(node);
    const res = await this.helper(node, ['usage', root]);
    for (const [id, avail] of parseMounted(res.stdout)) this.available.set(id, avail);
    this.measuredAt.set(nodeId, Date.now());
  }

  async grow(volumeId: string, _sizeBytes: number): Promise<VolumeInfo> {
    checkId(volumeId);
    throw new RuntimeError('unavailable', 'the swarm runtime cannot grow volumes yet: copy the data into a new, larger volume');
  }

  async remove(volumeId: string): Promise<void> {
    checkId(volumeId);
    return this.serial(volumeId, async () => {
      const rec = await this.record(volumeId);
      if (!rec) return;
      if (!(await this.call(() => this.manager.jsonOrNull('GET', `/nodes/${encodeURIComponent(rec.node)}`)))) {
        // The node left the Swarm for good: its disk is out of reach, so only the record can go (a node merely down
        // refuses below, and the delete is retried until it is back).
        this.opts.log?.(`swarm volumes: volume ${volumeId} was on node ${rec.node}, which left the Swarm; its image ${rec.hostPath.replace(/\/mnt\/[^/]+$/, '')}/${volumeId}.ext4 stays on that machine`);
        await this.call(() => this.manager.jsonOrNull('DELETE', `/configs/${rec.configId}`));
        return;
      }
      const node = await this.liveNode(rec.node, `volume ${volumeId}`);
      const res = await this.helper(node, ['remove', rootOfPath(rec.hostPath, volumeId), volumeId]);
      if (res.code !== 0) throw new RuntimeError('failed', `removing volume ${volumeId} on ${nodeName(node, rec.node)} failed: ${res.stderr.trim() || `exit ${res.code}`}`);
      // The record goes last: without it nothing points at the node any more.
      await this.call(() => this.manager.jsonOrNull('DELETE', `/configs/${rec.configId}`));
      this.available.delete(volumeId);
    });
  }

  async snapshot(volumeId: string, snapshotId: string, opts: { attached: boolean; signal?: AbortSignal }): Promise<SnapshotInfo> {
    checkId(volumeId);
    checkId(snapshotId);
    return this.serial(volumeId, async () => {
      const done = await this.snapshotRecord(snapshotId);
      if (done) {
        if (done.volumeId !== volumeId) throw new RuntimeError('conflict', `snapshot ${snapshotId} exists already, of volume ${done.volumeId}`);
        return publicSnapshot(done);
      }
      const rec = await this.record(volumeId);
      if (!rec) throw new RuntimeError('not_found', `volume ${volumeId} not found on this Swarm`);
      const node = await this.liveNode(rec.node, `volume ${volumeId}`);
      const root = rootOfPath(rec.hostPath, volumeId);
      const res = await this.helper(node, ['snapshot', root, volumeId, snapshotId]);
      const stored = parseStored(res.stdout, snapshotId);
      if (res.code !== 0 || stored === undefined) throw new RuntimeError('failed', `snapshot of volume ${volumeId} on ${nodeName(node, rec.node)} failed: ${res.stderr.trim().slice(-500) || `exit ${res.code}`}`);
      const consistency: SnapshotConsistency = opts.attached ? 'frozen' : 'stopped';
      // The record is written last: no record, no snapshot (a copy cut short is redone by the next call).
      await this.call(() => this.manager.json('POST', '/configs/create', {
        body: {
          Name: `pier-snapshot-${snapshotId}`,
          Labels: {
            [MANAGED_LABEL]: 'true', ...(this.opts.scope ? { [SCOPE_LABEL]: this.opts.scope } : {}),
            [SNAPSHOT_LABEL]: snapshotId, [SNAP.volume]: volumeId, [SNAP.node]: rec.node, [SNAP.region]: rec.region,
            [SNAP.size]: String(rec.sizeBytes), [SNAP.stored]: String(stored), [SNAP.consistency]: consistency, [SNAP.root]: root,
          },
          Data: Buffer.from(JSON.stringify({ snapshotId, volumeId, createdAt: new Date().toISOString() })).toString('base64'),
        },
      }));
      return { snapshotId, volumeId, sizeBytes: rec.sizeBytes, storedBytes: stored, consistency };
    });
  }

  async inspectSnapshot(snapshotId: string): Promise<SnapshotInfo | null> {
    checkId(snapshotId);
    const rec = await this.snapshotRecord(snapshotId);
    return rec ? publicSnapshot(rec) : null;
  }

  async removeSnapshot(snapshotId: string): Promise<void> {
    checkId(snapshotId);
    return this.serial(snapshotId, async () => {
      const rec = await this.snapshotRecord(snapshotId);
      if (!rec) return;
      if (await this.call(() => this.manager.jsonOrNull('GET', `/nodes/${encodeURIComponent(rec.node)}`))) {
        const node = await this.liveNode(rec.node, `snapshot ${snapshotId}`);
        const res = await this.helper(node, ['rmsnap', rec.root, rec.volumeId, snapshotId]);
        if (res.code !== 0) throw new RuntimeError('failed', `removing snapshot ${snapshotId} on ${nodeName(node, rec.node)} failed: ${res.stderr.trim() || `exit ${res.code}`}`);
      }
      await this.call(() => this.manager.jsonOrNull('DELETE', `/configs/${rec.configId}`));
    });
  }

  private async snapshotRecord(snapshotId: string): Promise<SnapshotRecord | null> {
    const c = await this.call(() => this.manager.jsonOrNull<ConfigJson>('GET', `/configs/pier-snapshot-${snapshotId}`));
    return c ? snapshotOf(c) : null;
  }

  async list(): Promise<{ volumes: string[]; snapshots: string[] }> {
    const labels = [SNAPSHOT_LABEL, ...(this.opts.scope ? [`${SCOPE_LABEL}=${this.opts.scope}`] : [])];
    const snaps = await this.call(() => this.manager.json<ConfigJson[]>('GET', '/configs', { query: { filters: JSON.stringify({ label: labels }) } }));
    return {
      volumes: (await this.records()).map((r) => r.volumeId).sort(),
      snapshots: snaps.map(snapshotOf).filter((r): r is SnapshotRecord => r !== null).map((r) => r.snapshotId).sort(),
    };
  }

  /** Runs create or mount on the volume's node and answers its state. */
  private async onNode(rec: VolumeRecord, op: 'create' | 'mount', extra: string[]): Promise<VolumeInfo> {
    const node = await this.liveNode(rec.node, `volume ${rec.volumeId}`);
    const res = await this.helper(node, [op, rootOfPath(rec.hostPath, rec.volumeId), rec.volumeId, ...extra]);
    if (res.code !== 0) {
      throw new RuntimeError('failed', `${op === 'create' ? 'making' : 'mounting'} volume ${rec.volumeId} on ${nodeName(node, rec.node)} failed: ${res.stderr.trim().slice(-500) || `exit ${res.code}`}`);
    }
    const avail = parseMounted(res.stdout).get(rec.volumeId);
    if (avail === undefined) throw new RuntimeError('failed', `volume ${rec.volumeId} on ${nodeName(node, rec.node)}: the helper did not report it mounted`);
    this.available.set(rec.volumeId, avail);
    return this.info(rec);
  }

  /** The node, if it is up and Pier reaches its engine; otherwise why the volume must wait for it. */
  private async liveNode(nodeId: string, what: string): Promise<NodeJson> {
    const node = await this.call(() => this.manager.jsonOrNull<NodeJson>('GET', `/nodes/${encodeURIComponent(nodeId)}`));
    if (!node) throw new RuntimeError('unavailable', `${what} lives on Swarm node ${nodeId}, which left the Swarm: its data is on that machine's disk and is never recreated elsewhere (bring the node back, or delete the volume)`);
    if (!nodeUsable(node)) {
      const state = node.Status.State === 'ready' ? 'unreachable (drained by Pier: its engine stopped answering)' : node.Status.State;
      throw new RuntimeError('unavailable', `${what} lives on ${nodeName(node, nodeId)}, which is ${state}: instances that mount it wait until that node is back; its data is never recreated on another node`);
    }
    if (!this.socketOf(node)) throw new RuntimeError('unavailable', `${what} lives on ${nodeName(node, nodeId)}, whose engine Pier cannot reach: list it in PIER_SWARM_NODE_SOCKETS`);
    return node;
  }

  private socketOf(node: NodeJson): string | undefined {
    return this.opts.nodeSockets?.[nodeAddress(node) ?? ''];
  }

  private nodeEngine(node: NodeJson): DockerEngine {
    const socket = this.socketOf(node);
    if (!socket) throw new RuntimeError('unavailable', `Pier cannot reach the engine of ${nodeName(node, node.ID)}: list it in PIER_SWARM_NODE_SOCKETS`);
    return new DockerEngine(socket);
  }

  private async rootOf(node: NodeJson): Promise<string> {
    return nodeVolumeRoot((await this.nodeEngine(node).json<{ DockerRootDir: string }>('GET', '/info')).DockerRootDir);
  }

  private async helper(node: NodeJson, args: string[]): Promise<HelperResult> {
    const registry = this.opts.registry;
    if (!registry) throw new RuntimeError('unavailable', (await this.unavailable()) ?? 'no registry');
    if (!this.helperImage) {
      this.helperImage = pushHelperImage(registry);
      this.helperImage.catch(() => { this.helperImage = undefined; });
    }
    const image = await this.helperImage;
    const engine = this.nodeEngine(node);
    try {
      await ensureImage(engine, image);
      return await runHelper(engine, image, args[1]!, args);
    } catch (err) {
      if (err instanceof EngineError) throw new RuntimeError(err.status === 0 ? 'unavailable' : 'failed', `volume helper on ${nodeName(node, node.ID)}: ${err.message}`);
      throw err;
    }
  }

  private async record(volumeId: string): Promise<VolumeRecord | null> {
    return this.call(() => readVolumeRecord(this.manager, volumeId));
  }

  private async records(): Promise<VolumeRecord[]> {
    const labels = [`${VOLUME_LABEL}`, ...(this.opts.scope ? [`${SCOPE_LABEL}=${this.opts.scope}`] : [])];
    const configs = await this.call(() => this.manager.json<ConfigJson[]>('GET', '/configs', { query: { filters: JSON.stringify({ label: labels }) } }));
    return configs.map(recordOf).filter((r): r is VolumeRecord => r !== null);
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof EngineError) throw new RuntimeError(err.status === 0 ? 'unavailable' : 'failed', `Swarm manager: ${err.message}`);
      throw err;
    }
  }
}

function publicSnapshot(r: SnapshotRecord): SnapshotInfo {
  return { snapshotId: r.snapshotId, volumeId: r.volumeId, sizeBytes: r.sizeBytes, storedBytes: r.storedBytes, consistency: r.consistency };
}

function checkId(id: string): void {
  if (typeof id !== 'string' || !ID.test(id)) throw new RuntimeError('invalid_spec', `volume id must be a UUID, got ${JSON.stringify(String(id).slice(0, 80))}`);
}

/** The node's volume root from a volume's recorded mount path (`<root>/mnt/<id>`). */
function rootOfPath(hostPath: string, volumeId: string): string {
  const suffix = `/mnt/${volumeId}`;
  if (!hostPath.endsWith(suffix)) throw new RuntimeError('failed', `volume ${volumeId}: its record names an unexpected path ${hostPath}`);
  return hostPath.slice(0, -suffix.length);
}

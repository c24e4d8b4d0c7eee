// The default components of a running Pier: the instance runtime (Docker or sandboxed processes), the edge proxy
// and the controller (reconcilers, health checks, log collection) that joins them. startPier() starts these unless
// the caller passes its own list. Order matters: the edge starts before the controller so the first route table
// has somewhere to go, and stops after it so instances are drained through it.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PierComponent, PierCore } from './component.ts';
import { selectRuntime } from './runtime/select.ts';
import type { Runtime } from './runtime/contract.ts';
import { RuntimeError } from './runtime/errors.ts';
import { startEdgeDataplane } from './edge/index.ts';
import { TcpProxy } from './edge/tcp-proxy.ts';
import type { Edge, EdgeOptions } from './edge/types.ts';
import { createController, type Controller } from './control/controller.ts';
import { storeState, storeVolumeState } from './control/store-state.ts';
import { createVolumeDriver, type VolumeDriver } from './runtime/volumes/index.ts';
import { renderVolumeMetrics, type VolumeUsageRow } from './metrics/volumes.ts';
import { withOperatorLog } from './control/operator-log.ts';
import { createRoutePublisher } from './control/route-publisher.ts';
import { buildEnvironment } from './control/spec.ts';
import { getApp } from './store/apps.ts';
import { getService, liveServiceIds } from './store/services.ts';
import { createBuilder } from './build/builder.ts';
import { appendLogLines } from './store/logs.ts';
import { startLogRelay } from './store/log-relay.ts';
import { metricsComponent } from './metrics/component.ts';
import { DEFAULT_DOCKER_HOLDER_POOL, defaultEdgeWorkers, startupCpuBoost } from './config.ts';
import { certificatesComponent } from './certs/index.ts';
import { fencedDb, Lease, leaderComponent } from './control/leader.ts';
import { dockerBuiltImages, gcComponent } from './control/gc.ts';
import { usageComponent } from './control/usage.ts';
import { DockerEngine } from './runtime/docker/engine.ts';
import { archivesDirOf } from './store/archives.ts';
import { backupScheduler } from './backup/index.ts';

/**
 * A stable id for this installation (one data directory), created on first start. The Docker runtime labels its
 * containers with it so two installations sharing one engine never adopt or remove each other's containers.
 */
export function installationId(dataDir: string): string {
  const file = join(dataDir, 'installation-id');
  if (existsSync(file)) {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f-]{36}$/.test(id)) return id;
  }
  const id = randomUUID();
  writeFileSync(file, id + '\n', { mode: 0o600 });
  return id;
}

/** What a caller may supply instead of the defaults (tests that run a prepared app directory for every instance). */
export interface PlatformOverrides { runtime?: Runtime; volumes?: VolumeDriver }

/** Builds the runtime, edge and controller for this core. */
export async function platformComponents(core: PierCore, overrides: PlatformOverrides = {}): Promise<PierComponent[]> {
  const { config, log } = core;
  // Several control planes may share a PostgreSQL store: all serve the API, only the lease holder runs what follows
  // (edge, certificates, reconcilers, metrics), and its writes are fenced by the lease (docs/postgres.md). On SQLite
  // the one process always takes the lease, and it never expires: a busy machine cannot lose it to itself.
  const sqlite = core.store.db.dialect === 'sqlite';
  const lease = new Lease(core.store.db, { takeover: sqlite, expires: !sqlite, apiUrl: config.advertiseUrl ?? core.apiUrl });
  const store = { ...core.store, db: fencedDb(core.store.db, lease) };
  const leaderCore: PierCore = { ...core, store };
  const scope = installationId(config.dataDir);
  const processDir = join(config.dataDir, 'process');
  mkdirSync(processDir, { recursive: true });
  const runtime: Runtime = overrides.runtime ?? await selectRuntime(config.runtime, {
    docker: {
      scope, holderPool: config.dockerHolderPool ?? DEFAULT_DOCKER_HOLDER_POOL,
      ...(config.dockerNetnsHolders !== undefined ? { netnsHolders: config.dockerNetnsHolders } : {}),
    },
    // MicroVMs join their app's private network from the same pool (and egress setting) as the process runtime.
    microvm: { stateDir: join(config.dataDir, 'microvm'), appNetworks: { pool: config.processNetwork?.pool, egress: config.processNetwork?.egress } },
    process: {
      stateDir: processDir, log: (line) => log(`pier: ${line}`),
      network: config.processNetwork?.mode, networks: { pool: config.processNetwork?.pool, egress: config.processNetwork?.egress },
    },
    ...(config.swarm ? { swarm: config.swarm } : {}),
    log: (line) => log(`pier: ${line}`),
  });
  core.setInfo({ runtime: runtime.name });
  // `instances exec`: the API opens commands through this process's runtime (an instance's allocation_id is its id).
  core.setExec?.({
    open: async (inst, opts) => {
      if (!runtime.exec) throw new RuntimeError('unavailable', `exec is not implemented by the ${runtime.name} runtime`);
      if (!inst.allocation_id) throw new RuntimeError('not_found', `instance ${inst.id} is not running yet`);
      return runtime.exec(inst.allocation_id, opts);
    },
  });
  // Persistent volumes (#20): ext4 images under <data-dir>/volumes (on Swarm: on one node of each volume's region),
  // reconciled by the controller; usage on /metrics.
  const swarmVolumes = runtime.name === 'swarm' && config.swarm ? { swarm: { ...config.swarm, scope } } : {};
  const volumeDriver = overrides.volumes ?? createVolumeDriver({ dataDir: config.dataDir, log: (line) => log(`pier: ${line}`), ...swarmVolumes });
  let volumeUsage: VolumeUsageRow[] = [];
  core.addMetrics(() => renderVolumeMetrics(volumeUsage));
  // Git deployments are built into what this runtime runs; build lines are stored as type build and streamed live.
  const state = storeState(store);
  const runsImages = (await runtime.capabilities()).runs === 'image';
  const builder = createBuilder({
    target: runsImages ? 'image' : 'directory',
    workDir: join(config.dataDir, 'builds'),
    appendLogs: (lines) => appendLogLines(store.db, lines, store.logBus),
    labels: { 'dev.pier.scope': scope },
    packages: config.buildPackages,
    goStdDir: config.buildGoStdDir,
    archiveMaxExtractedBytes: config.archiveMaxExtractedBytes,
    // The API's rule again at build time (PIER_GIT_ALLOW_LOCAL; `operator` means the installation organization here).
    gitAccess: async (d) => ({
      allowLocal: config.gitAllowLocal === 'all' || (config.gitAllowLocal === 'operator' && d.organization_id === core.organizationId),
      ownRepositories: (await liveServiceIds(store.db, d.organization_id)).map((id) => join(config.dataDir, 'git', `${id}.git`)),
    }),
    environment: async (d) => {
      const [app, service] = await Promise.all([getApp(store.db, d.app_id), getService(store.db, d.service_id)]);
      if (!app || !service) throw new Error('its app or service no longer exists');
      return buildEnvironment({ deployment: d, app, service, secrets: await state.secretValues(d.organization_id), publicDomain: config.domain });
    },
  });

  let edge: Edge | undefined;
  let controller: Controller | undefined;
  // Services' proxy_ports, on the edge's host beside it (src/edge/tcp-proxy.ts); absent when PIER_TCP_PROXY_PORTS=off.
  let tcpProxy: TcpProxy | undefined;

  const publisher = createRoutePublisher({
    routes: () => controller?.routes(), edge: () => edge, feed: core.routeFeed, log,
    onTable: (apps) => { void tcpProxy?.setRoutes(apps); },
  });

  const edgeComponent: PierComponent = {
    name: 'edge',
    async start() {
      const edgeOptions: EdgeOptions = {
        addr: `${config.edgeAddr.host.includes(':') ? `[${config.edgeAddr.host}]` : config.edgeAddr.host}:${config.edgeAddr.port}`,
        domain: config.domain,
        // A new leader binds before its controller computed the first table: 503 with Retry-After until then, not 404.
        requireRoutes: true,
        ...(config.tlsAddr ? { tlsAddr: `${config.tlsAddr.host.includes(':') ? `[${config.tlsAddr.host}]` : config.tlsAddr.host}:${config.tlsAddr.port}` } : {}),
        workers: config.edgeWorkers ?? defaultEdgeWorkers(),
        // Scale-to-zero: a request for a sleeping app is held while the controller wakes it.
        onWake: async (appId) => {
          if (!controller) throw new Error('the control plane is not running');
          controller.wake(appId);
        },
        // Autoscaling on requests: a rise the edge sees is sampled at once, not at the autoscaler's next tick.
        onLoad: (serviceId) => controller?.load(serviceId),
      };
      // HAProxy on the public address with the Node edge behind it as activator and fallback, where installed (the
      // default), or the Node edge alone (src/edge/dataplane.ts).
      const started = await startEdgeDataplane(
        { dataplane: config.edgeDataplane ?? 'node', auto: config.edgeDataplaneAuto === true }, edgeOptions,
        { dir: join(config.dataDir, 'edge-haproxy'), onError: (m) => log(`pier: edge (haproxy): ${m}`) }, log,
      );
      if (config.tcpProxyPorts) tcpProxy = new TcpProxy({ host: config.edgeAddr.host, limits: config.tcpProxyLimits, onError: (m) => log(`pier: ${m}`) });
      edge = started.edge;
      core.setInfo({ edge_url: edge.url, edge_dataplane: started.dataplane, ...(edge.tlsUrl ? { edge_tls_url: edge.tlsUrl } : {}) });
      core.addMetrics(() => edge?.prometheus() ?? '');
      core.addMetrics(() => tcpProxy?.prometheus() ?? '');
      log(`pier: edge listening on ${edge.url}${started.dataplane === 'haproxy' ? ' (data plane: haproxy, Node edge behind it)' : ' (data plane: node)'} (apps answer at http://<app>-<org>.${config.domain}:${new URL(edge.url).port}/)`);
      if (edge.tlsUrl) log(`pier: HTTPS edge listening on ${edge.tlsUrl} (https://<app>-<org>.${config.domain}:${new URL(edge.tlsUrl).port}/)`);
    },
    async stop() {
      await tcpProxy?.close();
      tcpProxy = undefined;
      await edge?.close();
      edge = undefined;
      core.routeFeed.clear();
    },
  };

  const controllerComponent: PierComponent = {
    name: 'controller',
    async start() {
      controller = createController({
        // The operator's terminal gets one line per deploy, failed deployment and crash (operator-log.ts).
        state: withOperatorLog(storeState(store), (line) => log(`pier: ${line}`)),
        runtime,
        publicDomain: config.domain,
        startupCpuBoost: startupCpuBoost(config.startupCpuBoost),
        // The stopping instance must leave the edge's table before in-flight requests are counted: the pass that
        // marked it STOPPING drains it before onRoutesChanged fires, so push the current routes first.
        drain: async (instanceId, timeoutMs) => {
          await publisher.refresh();
          // Regional edges (`pier edge`) must hold the table without it too before it stops (bounded).
          const t0 = Date.now();
          await core.routeFeed.remoteEdgesCaughtUp(Math.min(timeoutMs, 10_000));
          if (edge) await edge.drain(instanceId, timeoutMs);
          // Their requests on it finish too: each remote edge posts its counters once it holds the new table, and the
          // drain waits (within what is left of the time) for those posts to show nothing in flight on the instance.
          await core.routeFeed.traffic.drained(instanceId, Math.max(0, timeoutMs - (Date.now() - t0)), () => core.routeFeed.current()?.etag);
        },
        onRoutesChanged: () => { void publisher.push(); },
        onError: (err, context) => log(`pier: ${context}: ${(err as Error)?.message ?? String(err)}`),
        builder: { build: (d, signal) => builder.build(d, signal).finally(() => controller?.kick()) },
        // The TCP proxy's connections count as activity too (a min-0 service does not sleep under open ones).
        // Regional edges' traffic (POST /v1/pier/edge/traffic) is added to the in-process edge's.
        metrics: () => {
          const m = edge?.metrics();
          if (m && tcpProxy) m.tcp = tcpProxy.activity();
          return core.routeFeed.traffic.merge(m);
        },
        autoscale: config.autoscale,
        volumes: { driver: volumeDriver, state: storeVolumeState(store), onUsage: (rows) => { volumeUsage = rows; } },
      });
      core.onWrite(() => controller?.kick());
      core.routeFeed.onWake = (appId) => controller?.wake(appId);
      core.routeFeed.onLoad = (serviceId) => controller?.load(serviceId);
      // Attaching a custom domain or changing an app's https_redirect changes hosts and redirects without any status
      // change the reconcilers would notice: recompute the table after each write (unchanged tables are not resent).
      core.onWrite(publisher.pushSoon);
      await controller.start();
      await publisher.push();
    },
    async stop() {
      core.routeFeed.onWake = undefined;
      core.routeFeed.onLoad = undefined;
      await controller?.stop();
      // A deposed leader's edge keeps the table it has: nothing recomputes it from a stopped controller.
      controller = undefined;
      // What the runtime made ahead (Docker's pooled holders) is the leader's: the next leader makes its own.
      await runtime.close?.().catch((err: Error) => log(`pier: runtime: ${err.message}`));
    },
  };

  // Metrics sampler: after the controller, whose bindings say which instances run.
  const metricsSampler = metricsComponent({
    store, runtime, log, settings: config.metrics, edge: () => edge, isBound: (id) => controller?.endpoints(id) !== undefined,
    // Requests served by regional edges (`pier edge`) count in the charts too, not only the in-process edge's.
    remoteServices: () => core.routeFeed.traffic.services(),
  });

  // Certificates (local CA, ACME) and custom-domain statuses: after the edge, which serves them and the challenges.
  // A verified custom domain joins the route table at once, not at the next API write.
  const certificates = certificatesComponent(leaderCore, () => edge, () => publisher.pushSoon());

  // Build outputs no deployment can run or roll back to: periodically, and soon after API writes (a deleted service).
  // Images live on the engine the builder used (the local one).
  const garbage = gcComponent({
    db: store.db, buildsDir: join(config.dataDir, 'builds'), archivesDir: archivesDirOf(config.dataDir), log,
    images: runsImages ? dockerBuiltImages(new DockerEngine(), scope) : undefined,
    keep: config.gcKeepDeployments, intervalMs: config.gcIntervalMs, eventsKeepDays: config.eventsKeepDays,
  });
  core.onWrite(() => garbage.kick());
  // Usage (instance-seconds by type for /v1/usages): sampled from the instance rows, the lease holder's alone.
  const usage = usageComponent({ db: store.db, log });

  // Scheduled backups (PIER_BACKUP_SCHEDULE): the lease holder's alone, so several control planes never take two.
  const backups = config.backup ? [backupScheduler({
    dataDir: config.dataDir, masterKeyFile: config.masterKeyFile, databaseUrl: config.databaseUrl, log, ...config.backup,
  })] : [];

  // The edge outlives a lost lease, serving the routes it has (only the reconcilers stop); stop() stops it last.
  let leading = false;
  const leader = leaderComponent({
    lease, log,
    serving: [edgeComponent],
    components: [certificates, controllerComponent, metricsSampler, garbage, usage, ...backups],
    onChange: (c) => { leading = c.leader; core.setInfo({ leader: c.leader, leader_term: c.term, control_plane_id: c.holder }); },
  });
  // Several control planes on one PostgreSQL database: the lease holder collects log lines and publishes them in its
  // own process; a follower relays what it appended to the tails opened on the follower's API (src/store/log-relay.ts).
  if (config.databaseUrl === undefined) return [leader];
  let relay: { stop(): Promise<void> } | undefined;
  const logRelay: PierComponent = {
    name: 'log-relay',
    async start() {
      relay = await startLogRelay({ db: store.db, bus: store.logBus, collecting: () => leading, onError: (err) => log(`pier: log relay: ${err.message}`) });
    },
    async stop() { await relay?.stop(); relay = undefined; },
  };
  return [leader, logRelay];
}

// The runtime contract: what the control plane needs from anything that runs instances.
// Small on purpose (after Nomad's task driver): start, stop, wait, inspect, stats, logs, recover, capabilities.
// Every driver (docker/, process/, later swarm/) passes the one conformance suite in conformance.ts.

import type { ExecStream } from '../domain/exec.ts';

/** Labels every Pier-owned workload carries; drivers use them to adopt their own and ignore everyone else's. */
export const PIER_LABEL_PREFIX = 'dev.pier.';

/** What to run for one instance. All commands are argv arrays, never shell strings. */
export interface InstanceSpec {
  /** Pier's instance id (a UUID); also used to name the workload. */
  instanceId: string;
  /** Extra identifying labels (service_id, deployment_id, app_id, organization_id, region, replica_index). */
  labels: Record<string, string>;
  /** Docker image reference (docker driver). */
  image?: string;
  /** A prepared root directory with the app (process driver): what the builder produced. */
  appDir?: string;
  /** Overrides the image ENTRYPOINT (docker) or is the program to run (process). */
  entrypoint?: string[];
  /** Overrides the image CMD (docker) or the arguments after entrypoint (process). */
  command?: string[];
  /** Working directory inside the instance. */
  workdir?: string;
  /** Environment variables, already interpolated. Secret values travel only here, never in argv or labels. */
  env: Record<string, string>;
  /** Ports the app listens on (declared in the definition). Each is made reachable from the edge. */
  ports: number[];
  /** CPU limit in vCPUs (fractional allowed), enforced. */
  cpu: number;
  /** Memory limit in bytes, enforced. */
  memoryBytes: number;
  /** Writable disk limit in bytes where the driver can enforce it. */
  diskBytes?: number;
  /** Name of the private network of the app (service mesh); instances on it reach each other by alias. */
  network?: string;
  /** DNS aliases on the private network (e.g. `api`, `api.myapp.internal`). */
  networkAliases?: string[];
  /** Registry credentials for a private image; never logged. */
  registryAuth?: { username: string; password: string; serveraddress: string };
  /** Run privileged (only if the operator allows it). */
  privileged?: boolean;
  /**
   * Persistent volumes to mount (issue #20): `hostPath` is the mounted volume on the host (VolumeDriver.mount), bound
   * read-write at `path` inside the instance. At most one instance mounts a volume at a time (the control plane sees
   * to it). Drivers that cannot mount volumes refuse the spec with an invalid_spec RuntimeError.
   */
  volumes?: { volumeId: string; hostPath: string; path: string; readOnly?: boolean }[];
  /**
   * The control plane may stop this instance and start it again with `resume` (deep sleep of a service that scales
   * to zero, issue #23): a driver may keep what makes that start fast through the stop, at some cost while it runs
   * (Docker: a holder container keeping the network namespace, docker/netns-holder.ts).
   */
  resumable?: boolean;
  /**
   * More instances of this instance's service may be started soon (autoscaling: max above min): a driver may keep
   * ready parts for the next ones (Docker: spare network holders, docker/netns-holder.ts).
   */
  scalesOut?: boolean;
  /** With scalesOut: the most instances of the service in this region (its scaling's max), bounding what is kept ready. */
  scaleMax?: number;
  /**
   * CPU in vCPUs the instance may use while it starts, above `cpu` (a startup boost, as Cloud Run's): until the
   * control plane calls `endStartupBoost` (its first passing health check) or STARTUP_BOOST_MAX_MS passed, whichever
   * comes first; then `cpu` is enforced. Drivers that cannot change a running instance's CPU ignore it.
   */
  startupCpu?: number;
}

/** The longest a startup boost lasts (InstanceSpec.startupCpu) when no passing health check ends it first. */
export const STARTUP_BOOST_MAX_MS = 10_000;

/** Where the edge and health checker reach one declared port of an instance. */
export interface Endpoint { containerPort: number; host: string; hostPort: number }

/** A started (or adopted) instance. */
export interface InstanceHandle {
  instanceId: string;
  /** The driver's own id (container id, pid-based id...). */
  runtimeId: string;
  endpoints: Endpoint[];
  labels: Record<string, string>;
}

/** How an instance ended. */
export interface ExitStatus {
  exitCode: number | null;
  signal?: string | null;
  oomKilled: boolean;
  /** A driver-side failure (image missing, spawn failed...) in words a person understands. */
  error?: string;
  /**
   * The workload's host was lost (a Swarm node stopped answering): not the instance's doing. The controller starts
   * a replacement at once, without the crash backoff and without counting it toward a crash loop.
   */
  lost?: boolean;
  startedAt?: string;
  finishedAt?: string;
}

/** What the driver observes about an instance right now. */
export interface InstanceState {
  running: boolean;
  exit?: ExitStatus;
  startedAt?: string;
}

/** Resource usage sample. */
export interface InstanceStats { cpuPercent: number; memoryBytes: number; memoryLimitBytes: number }

/** One line of instance output. */
export interface LogLine { stream: 'stdout' | 'stderr'; line: string; time: string }

/** One command to run inside a running instance (`Runtime.exec`). */
export interface ExecOptions {
  /** argv of the command (never a shell string); resolved through the instance's PATH. */
  command: string[];
  /** Run on a new pseudo-terminal (stdout and stderr merged into stdout, resizable) instead of three pipes. */
  tty: boolean;
  /** Terminal size to start with (tty only). */
  size?: { cols: number; rows: number };
  /** Extra environment variables, on top of the instance's own. */
  env?: Record<string, string>;
  /** Aborting kills the command (the session's exit then resolves). */
  signal?: AbortSignal;
}

/**
 * A command running inside an instance with the instance's confinement (same user, namespaces, cgroup, seccomp
 * filter and capabilities: an exec is never more privileged than the app). Ends when the command exits, when the
 * instance stops, or on kill().
 */
export type ExecSession = ExecStream;

/** What a driver can do, for the scheduler and for tests. */
export interface Capabilities {
  name: string;
  /** Runs images (docker) or prepared directories (process). */
  runs: 'image' | 'directory';
  enforcesCpu: boolean;
  enforcesMemory: boolean;
  enforcesDisk: boolean;
  privateNetworking: boolean;
  /** Mounts persistent volumes (InstanceSpec.volumes); a driver without it refuses a spec that has some. */
  volumes?: boolean;
}

/** The contract every runtime driver implements. Methods are idempotent where that makes sense. */
export interface Runtime {
  readonly name: string;
  /** Checks the driver can work here; throws with a human-readable reason if not. */
  capabilities(): Promise<Capabilities>;
  /** Creates and starts an instance. Resolves once the process/container is running (not healthy). */
  start(spec: InstanceSpec, signal?: AbortSignal): Promise<InstanceHandle>;
  /** Stops gracefully (SIGTERM, then SIGKILL after graceMs). A no-op for an already stopped instance. */
  stop(runtimeId: string, graceMs: number): Promise<void>;
  /** Removes everything the driver created for the instance. A no-op if already gone. */
  remove(runtimeId: string): Promise<void>;
  /** Resolves when the instance exits. */
  wait(runtimeId: string, signal?: AbortSignal): Promise<ExitStatus>;
  /** Observes the instance; null if the driver knows nothing of it. */
  inspect(runtimeId: string): Promise<InstanceState | null>;
  /** Current resource usage. */
  stats(runtimeId: string): Promise<InstanceStats>;
  /** Output lines; with follow, keeps streaming until the instance exits or the signal aborts. */
  logs(runtimeId: string, opts: { follow: boolean; since?: Date; signal?: AbortSignal }): AsyncIterable<LogLine>;
  /** Lists every Pier-owned instance this driver still has (running or exited), to re-attach after a restart. */
  recover(): Promise<InstanceHandle[]>;
  /**
   * Pulls an image (with these registry credentials) and answers `<repository>@sha256:...`, the digest the
   * registry serves now, so a deployment records exactly what it runs. Drivers that run directories omit it.
   */
  resolveImage?(image: string, auth?: InstanceSpec['registryAuth'], signal?: AbortSignal): Promise<string>;
  /**
   * Runs a command inside a running instance with its confinement (ExecSession). Throws RuntimeError not_found for an
   * unknown or stopped instance. Drivers that cannot reach the instance omit it or throw `unavailable` saying why.
   */
  exec?(runtimeId: string, opts: ExecOptions): Promise<ExecSession>;
  /**
   * Light sleep: freezes every process of a running instance (no CPU, memory and sockets kept: cgroup freezer,
   * `docker pause`). A no-op on an instance already frozen; throws RuntimeError not_found for an unknown one.
   * Drivers that cannot freeze omit it (the control plane then sleeps deeply: the workload stops).
   */
  freeze?(runtimeId: string): Promise<void>;
  /** Thaws a frozen instance: it runs on where it stopped, with its connections. A no-op on a running one. */
  thaw?(runtimeId: string): Promise<void>;
  /**
   * Deep sleep's wake: starts again a workload this driver stopped and kept (Docker keeps the stopped container, so
   * the wake is a `docker start`, no create; issue #23). Answers the handle with its current endpoints; RuntimeError
   * not_found when it is gone. Drivers that cannot omit it (deep sleep then removes the workload).
   */
  resume?(handle: InstanceHandle, signal?: AbortSignal): Promise<InstanceHandle>;
  /**
   * Ends an instance's startup boost (InstanceSpec.startupCpu): its CPU limit becomes `cpu`. A no-op for an instance
   * without a boost, one whose boost ended, or an unknown one. Drivers that do not boost omit it.
   */
  endStartupBoost?(runtimeId: string): Promise<void>;
  /** Ensures a private network exists (no-op where unsupported). */
  ensureNetwork?(name: string): Promise<void>;
  /**
   * True when start() makes the spec's network itself if it is missing (once per name however many starts ask at
   * once, ready before the workload runs), so a caller need not await ensureNetwork first. The Docker driver (and
   * gVisor, which is it) makes the network while the container is created (issue #23); absent, callers await
   * ensureNetwork before start (Swarm).
   */
  readonly startEnsuresNetwork?: boolean;
  /**
   * True when autoscaled regions keep frozen standbys on this runtime (src/control/standby.ts): a scale-up thaws
   * them instead of starting instances (Docker with runc: 80-230 ms a start on 2 cores; the process runtime). Absent:
   * none (gVisor's freeze is untested; microVM and Swarm cannot freeze).
   */
  readonly keepsStandbys?: boolean;
  /** Removes a private network (no-op where unsupported or still in use). */
  removeNetwork?(name: string): Promise<void>;
  /**
   * Removes what the driver made ahead of need that no instance took (Docker: pooled and spare network holders);
   * running instances are left for the next control-plane life to adopt. Called when the control plane stops or
   * stops leading; the driver may make such things again on its next start.
   */
  close?(): Promise<void>;
}

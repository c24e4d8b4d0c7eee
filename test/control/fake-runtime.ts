// A scripted Runtime for table tests: each start asks `script` how that attempt behaves (start fails, exits
// with a code, OOM, never healthy...). Health is scripted too, through `prober`, keyed by published host port.
import { EventEmitter } from 'node:events';
import type {
  Capabilities, ExitStatus, InstanceHandle, InstanceSpec, InstanceState, InstanceStats, LogLine, Runtime,
} from '../../src/runtime/contract.ts';
import type { Prober } from '../../src/control/health.ts';

/** How one start attempt of one instance behaves. */
export interface Behaviour {
  /** start() rejects with this message. */
  startError?: string;
  /** The workload has already exited when first inspected. */
  exit?: { code: number; oom?: boolean };
  /** Output lines written right after start. */
  logs?: string[];
  /** Lines written on stderr right after start (after `logs`). */
  stderr?: string[];
  /** Lines written later, each `afterMs` after start; with `exitAfter`, the workload then exits with that code. */
  timeline?: { afterMs: number; stream: 'stdout' | 'stderr'; line: string }[];
  exitAfter?: number;
  /** What stop() does: exit with a code (default 143) after printing `line`, or ignore SIGTERM until killed. */
  onStop?: { line?: string; exitCode?: number; ignore?: boolean };
  /** Whether health checks pass (default true). */
  healthy?: boolean;
  /** start() answers only once this settles (a slow start: a pull, a busy engine). */
  startGate?: Promise<void>;
  /** Each probe answers only once this settles (an app that accepts a connection and never answers). */
  probeGate?: Promise<void>;
}

interface Workload {
  runtimeId: string;
  spec: InstanceSpec;
  running: boolean;
  exit?: ExitStatus;
  logs: LogLine[];
  healthy: boolean;
  endpoints: InstanceHandle['endpoints'];
  startedAt: string;
  behaviour: Behaviour;
  timers: NodeJS.Timeout[];
}

/** The fake driver; also records every call so tests can assert on actions. */
export class FakeRuntime implements Runtime {
  readonly name = 'fake';
  script: (spec: InstanceSpec, attempt: number) => Behaviour = () => ({});
  readonly calls: string[] = [];
  readonly workloads = new Map<string, Workload>();
  readonly networks = new Set<string>();
  private readonly attempts = new Map<string, number>();
  private readonly events = new EventEmitter();
  private nextPort = 20000;
  /** Probes waiting on a probeGate now. */
  probesWaiting = 0;
  private seq = 0;

  async capabilities(): Promise<Capabilities> {
    return { name: 'fake', runs: 'image', enforcesCpu: true, enforcesMemory: true, enforcesDisk: false, privateNetworking: true };
  }

  async start(spec: InstanceSpec): Promise<InstanceHandle> {
    const attempt = (this.attempts.get(spec.instanceId) ?? 0) + 1;
    this.attempts.set(spec.instanceId, attempt);
    this.calls.push(`start ${spec.instanceId}`);
    const b = this.script(spec, attempt);
    if (b.startGate) await b.startGate;
    if (b.startError) throw new Error(b.startError);
    for (const w of this.workloads.values()) {
      if (w.spec.instanceId === spec.instanceId) throw new Error(`duplicate workload for instance ${spec.instanceId}`);
    }
    const runtimeId = `rt-${++this.seq}`;
    const now = new Date().toISOString();
    const w: Workload = {
      runtimeId, spec, running: true, healthy: b.healthy ?? true, startedAt: now, behaviour: b, timers: [],
      logs: [
        ...(b.logs ?? []).map((line) => ({ stream: 'stdout' as const, line, time: now })),
        ...(b.stderr ?? []).map((line) => ({ stream: 'stderr' as const, line, time: now })),
      ],
      endpoints: spec.ports.map((p) => ({ containerPort: p, host: '127.0.0.1', hostPort: this.nextPort++ })),
    };
    this.workloads.set(runtimeId, w);
    if (b.exit) this.finish(w, b.exit.code, b.exit.oom ?? false);
    else if (b.timeline || b.exitAfter !== undefined) this.play(w, b);
    return this.handle(w);
  }

  async stop(runtimeId: string, graceMs = 0): Promise<void> {
    this.calls.push(`stop ${this.idOf(runtimeId)}`);
    const w = this.workloads.get(runtimeId);
    if (!w?.running) return;
    const onStop = w.behaviour.onStop;
    if (onStop?.line) this.write(w, 'stdout', onStop.line);
    if (onStop?.ignore) {
      // SIGTERM ignored: the workload runs on through the grace period, then SIGKILL.
      await new Promise((resolve) => setTimeout(resolve, graceMs));
      if (w.running) this.finish(w, 137, false, 'SIGKILL');
      return;
    }
    this.finish(w, onStop?.exitCode ?? 143, false);
  }

  async remove(runtimeId: string): Promise<void> {
    this.calls.push(`remove ${this.idOf(runtimeId)}`);
    const w = this.workloads.get(runtimeId);
    if (w?.running) this.finish(w, 137, false);
    this.workloads.delete(runtimeId);
  }

  async wait(runtimeId: string): Promise<ExitStatus> {
    const w = this.workloads.get(runtimeId);
    if (!w) throw new Error(`no workload ${runtimeId}`);
    if (w.exit) return w.exit;
    return new Promise((resolve) => this.events.once(`exit:${runtimeId}`, () => resolve(w.exit!)));
  }

  async inspect(runtimeId: string): Promise<InstanceState | null> {
    const w = this.workloads.get(runtimeId);
    return w ? { running: w.running, exit: w.exit, startedAt: w.startedAt } : null;
  }

  async stats(): Promise<InstanceStats> { return { cpuPercent: 1, memoryBytes: 1, memoryLimitBytes: 2 }; }

  async *logs(runtimeId: string, opts: { follow: boolean; since?: Date; signal?: AbortSignal }): AsyncIterable<LogLine> {
    const w = this.workloads.get(runtimeId);
    if (!w) return;
    const since = opts.since?.getTime();
    let i = 0;
    for (;;) {
      while (i < w.logs.length) {
        const line = w.logs[i++]!;
        if (since === undefined || Date.parse(line.time) >= since) yield line;
      }
      if (!opts.follow || !w.running || opts.signal?.aborted) return;
      await new Promise<void>((resolve) => {
        const wake = () => { this.events.off(`log:${runtimeId}`, wake); this.events.off(`exit:${runtimeId}`, wake); opts.signal?.removeEventListener('abort', wake); resolve(); };
        this.events.on(`log:${runtimeId}`, wake);
        this.events.on(`exit:${runtimeId}`, wake);
        opts.signal?.addEventListener('abort', wake);
      });
    }
  }

  async recover(): Promise<InstanceHandle[]> { return [...this.workloads.values()].map((w) => this.handle(w)); }
  async ensureNetwork(name: string): Promise<void> { this.networks.add(name); }
  async removeNetwork(name: string): Promise<void> { this.calls.push(`removeNetwork ${name}`); this.networks.delete(name); }
  /** Instance ids whose startup boost the control plane ended, in order (kept apart from `calls`). */
  readonly boostEnded: string[] = [];
  async endStartupBoost(runtimeId: string): Promise<void> { this.boostEnded.push(this.idOf(runtimeId)); }

  // ---- test controls

  /** The workload currently holding an instance, if any. */
  workloadOf(instanceId: string): Workload | undefined {
    return [...this.workloads.values()].find((w) => w.spec.instanceId === instanceId);
  }
  /** Makes an instance's workload exit (optionally OOM-killed), after printing `line`. */
  exit(instanceId: string, code: number, opts: { oom?: boolean; line?: string } = {}): void {
    const w = this.workloadOf(instanceId);
    if (!w) throw new Error(`no workload for ${instanceId}`);
    if (opts.line) this.print(instanceId, opts.line);
    this.finish(w, code, opts.oom ?? false);
  }
  /** Reports an instance's workload lost with its host (a Swarm node down), as the swarm driver does. */
  loseHost(instanceId: string, why: string): void {
    const w = this.workloadOf(instanceId);
    if (!w) throw new Error(`no workload for ${instanceId}`);
    for (const t of w.timers) clearTimeout(t);
    w.running = false;
    w.exit = { exitCode: null, oomKilled: false, lost: true, error: `Instance lost: ${why}`, startedAt: w.startedAt, finishedAt: new Date().toISOString() };
    this.events.emit(`exit:${w.runtimeId}`);
  }
  /** Prints one stdout line from an instance. */
  print(instanceId: string, line: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    this.write(this.workloadOf(instanceId)!, stream, line);
  }
  /** Forgets an instance's workload, as if the engine lost it. */
  lose(instanceId: string): void { const w = this.workloadOf(instanceId); if (w) this.workloads.delete(w.runtimeId); }
  /** Scripts whether an instance passes its health checks from now on. */
  setHealthy(instanceId: string, healthy: boolean): void { this.workloadOf(instanceId)!.healthy = healthy; }
  /** A prober answering from the scripted health of the workload that published the probed port. */
  readonly prober: Prober = async (check, target) => {
    const w = [...this.workloads.values()].find((x) => x.endpoints.some((e) => e.hostPort === target.port));
    if (w?.behaviour.probeGate) { this.probesWaiting++; await w.behaviour.probeGate; this.probesWaiting--; }
    const ok = !!w && w.running && w.healthy;
    return { ok, detail: ok ? 'ok' : check.kind === 'http' ? `${check.method} ${check.path} returned 503` : 'ECONNREFUSED' };
  };
  /** Workloads currently running. */
  running(): Workload[] { return [...this.workloads.values()].filter((w) => w.running); }

  private write(w: Workload, stream: 'stdout' | 'stderr', line: string): void {
    w.logs.push({ stream, line, time: new Date().toISOString() });
    this.events.emit(`log:${w.runtimeId}`);
  }
  /** Plays a behaviour's timeline (lines at their times), then its exit. */
  private play(w: Workload, b: Behaviour): void {
    let last = 0;
    for (const step of b.timeline ?? []) {
      last = Math.max(last, step.afterMs);
      w.timers.push(setTimeout(() => { if (w.running) this.write(w, step.stream, step.line); }, step.afterMs));
    }
    if (b.exitAfter !== undefined) {
      const code = b.exitAfter;
      w.timers.push(setTimeout(() => { if (w.running) this.finish(w, code, false); }, last + 1));
    }
  }
  private finish(w: Workload, code: number, oom: boolean, signal?: string): void {
    for (const t of w.timers) clearTimeout(t);
    w.running = false;
    w.exit = { exitCode: code, oomKilled: oom, startedAt: w.startedAt, finishedAt: new Date().toISOString(), ...(signal ? { signal } : {}) };
    this.events.emit(`exit:${w.runtimeId}`);
  }
  private handle(w: Workload): InstanceHandle {
    return { instanceId: w.spec.instanceId, runtimeId: w.runtimeId, endpoints: w.endpoints, labels: { 'dev.pier.instance_id': w.spec.instanceId, 'dev.pier.managed': 'true' } };
  }
  private idOf(runtimeId: string): string { return this.workloads.get(runtimeId)?.spec.instanceId ?? runtimeId; }
}

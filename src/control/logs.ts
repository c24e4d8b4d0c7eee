// Follows each running instance's output and appends it to the store (streams stdout/stderr), plus Pier's own
// system lines (stream `koyeb`). Known secret values are redacted before anything is stored.
import type { Instance } from '../domain/types.ts';
import type { InstanceHandle, Runtime } from '../runtime/contract.ts';
import { createRedactor } from '../domain/redact.ts';
import type { Clock, ControlState, NewLogLine } from './ports.ts';

/** Replaces every copy of a secret value (verbatim, base64 or percent-encoded; 4+ chars) with `****`. */
export function redact(line: string, secrets: readonly string[]): string {
  return createRedactor(secrets, '****')(line);
}

/** Keeps one follower per running workload; `stop` aborts it, `system` writes a Pier line. */
export class LogCollector {
  /** Called with the instance id for every line a workload prints (the controller probes a starting instance sooner). */
  onOutput: ((instanceId: string) => void) | undefined;
  private readonly followers = new Map<string, { runtimeId: string; abort: AbortController; done: Promise<void> }>();

  constructor(
    private readonly state: ControlState,
    private readonly runtime: Runtime,
    private readonly clock: Clock,
    private readonly onError: (err: unknown, context: string) => void,
  ) {}

  /** Starts following a workload's output (a no-op if already following this very workload). */
  follow(inst: Instance, handle: InstanceHandle, secrets: readonly string[], since?: Date): void {
    const current = this.followers.get(inst.id);
    if (current?.runtimeId === handle.runtimeId) return;
    if (current) current.abort.abort();
    const abort = new AbortController();
    const done = this.pump(inst, handle.runtimeId, secrets, abort.signal, since);
    this.followers.set(inst.id, { runtimeId: handle.runtimeId, abort, done });
  }

  /** Stops following an instance; resolves once its follower has written its last line. */
  async stop(instanceId: string): Promise<void> {
    const f = this.followers.get(instanceId);
    if (!f) return;
    this.followers.delete(instanceId);
    f.abort.abort();
    await f.done;
  }

  /** Stops every follower (control plane shutting down). */
  async stopAll(): Promise<void> { await Promise.all([...this.followers.keys()].map((id) => this.stop(id))); }

  /** Appends one Pier system line (stream `koyeb`) for an instance. */
  async system(inst: Instance, msg: string): Promise<void> {
    await this.state.appendLog(this.line(inst, 'koyeb', msg, this.clock.now().toISOString()));
  }

  private async pump(inst: Instance, runtimeId: string, secrets: readonly string[], signal: AbortSignal, since?: Date): Promise<void> {
    // Built once per follower: the encoded forms of every secret are computed here, not per line.
    const hide = createRedactor(secrets, '****');
    try {
      for await (const l of this.runtime.logs(runtimeId, { follow: true, since, signal })) {
        this.onOutput?.(inst.id);
        await this.state.appendLog(this.line(inst, l.stream, hide(l.line), l.time));
        if (signal.aborted) break;
      }
    } catch (err) {
      if (!signal.aborted) this.onError(err, `following logs of instance ${inst.id}`);
    }
  }

  private line(inst: Instance, stream: NewLogLine['stream'], msg: string, at: string): NewLogLine {
    return {
      organization_id: inst.organization_id, app_id: inst.app_id, service_id: inst.service_id,
      deployment_id: inst.xyz_deployment_id, regional_deployment_id: inst.regional_deployment_id,
      instance_id: inst.id, stream, msg, created_at: at,
    };
  }
}

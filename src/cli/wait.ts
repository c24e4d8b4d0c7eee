// --wait: polls until the deployment a command started is HEALTHY, printing each status change and streaming the
// build's lines as they come (with a live status line on a terminal: progress.ts). Fails on DEGRADED, UNHEALTHY
// (and the deployment's other dead ends), on a DELETED service or at the timeout; Ctrl-C stops waiting only.
import type { Deployment, Service } from '../domain/types.ts';
import type { Ctx } from './command.ts';
import { formatDuration } from './duration.ts';
import { CliError } from './errors.ts';
import { openLogTail, type LogTail } from './logs.ts';
import { Progress } from './progress.ts';

/** Default --wait-timeout, as in the koyeb CLI. */
export const DEFAULT_WAIT_TIMEOUT_MS = 5 * 60_000;

const SUCCESS = new Set(['HEALTHY', 'SLEEPING']);
const FAILURE = new Set(['DEGRADED', 'UNHEALTHY', 'ERROR', 'CANCELED', 'STOPPED']);

/** What to wait for: a known deployment, or the service's next latest deployment after `previousDeploymentId`. */
export interface WaitTarget {
  serviceId: string;
  deploymentId?: string;
  previousDeploymentId?: string;
  timeoutMs: number;
  /** Receives the deployment once it is healthy (the caller prints its URLs from its definition). */
  reached?: (deployment: Deployment) => void;
}

/** Waits and returns the exit code: 0 healthy, 1 failed or timed out, 130 interrupted. */
export async function waitForDeployment(ctx: Ctx, target: WaitTarget): Promise<number> {
  const client = ctx.client();
  const deadline = ctx.io.now() + target.timeoutMs;
  let interrupted = false;
  let wake: (() => void) | undefined;
  const unregister = ctx.io.onInterrupt(() => {
    interrupted = true;
    wake?.();
  });
  const progress = new Progress(ctx.io);
  let buildTail: LogTail | undefined;
  try {
    let deploymentId = target.deploymentId;
    let lastStatus = '';
    for (;;) {
      const { service } = await client.get<{ service: Service }>(`/v1/services/${target.serviceId}`);
      if (service.status === 'DELETED' || service.status === 'DELETING') {
        throw new CliError(`service ${service.name} was deleted while waiting`);
      }
      if (!deploymentId && service.latest_deployment_id && service.latest_deployment_id !== target.previousDeploymentId) {
        deploymentId = service.latest_deployment_id;
      }
      if (deploymentId && !buildTail) buildTail = followBuild(ctx, deploymentId, progress);
      if (deploymentId) {
        const { deployment } = await client.get<{ deployment: Deployment }>(`/v1/deployments/${deploymentId}`);
        if (deployment.status !== lastStatus) {
          lastStatus = deployment.status;
          // The first line of the latest message: a failure's full messages follow in the error itself.
          const message = deployment.messages?.at(-1)?.split('\n')[0];
          progress.setStatus(deployment.status, `deployment ${deployment.id.slice(0, 8)}: ${deployment.status}${message ? ` (${message})` : ''}`);
        }
        if (SUCCESS.has(deployment.status)) {
          target.reached?.(deployment);
          return 0;
        }
        if (FAILURE.has(deployment.status)) {
          throw new CliError(`deployment ${deployment.id.slice(0, 8)} is ${deployment.status}`, deployment.messages ?? []);
        }
      }
      if (ctx.io.now() >= deadline) {
        throw new CliError(
          `timed out after ${formatDuration(target.timeoutMs)} waiting for the deployment to be healthy (last status: ${lastStatus || 'none yet'})`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(ctx.io.pollIntervalMs, Math.max(0, deadline - ctx.io.now())));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
        if (interrupted) wake();
      });
      if (interrupted) {
        progress.stop();
        ctx.err(`stopped waiting; the deployment continues${deploymentId ? ` (pier deployments get ${deploymentId.slice(0, 8)})` : ''}`);
        return 130;
      }
    }
  } finally {
    buildTail?.close();
    progress.stop();
    unregister();
  }
}

/** Streams the deployment's build lines into the progress display; a stream that fails only loses the decoration. */
function followBuild(ctx: Ctx, deploymentId: string, progress: Progress): LogTail {
  const tail = openLogTail(ctx, { type: 'build', deployment_id: deploymentId }, (entry) => progress.buildLine(entry.msg));
  tail.done.catch((err: unknown) => {
    if (ctx.args.bool('debug')) ctx.err(`(build log stream: ${(err as Error).message})`);
  });
  return tail;
}

// One image build through the Engine API (POST /build, classic builder): a tar context, dockerfile and target, build
// args, a CPU and memory cap so a build cannot starve serving instances, and cancel by closing the request.
import { DockerEngine, EngineError, consumeProgress } from '../runtime/docker/engine.ts';
import { duringBuild } from '../runtime/docker/image-gate.ts';

/** Parameters of one engine build. */
export interface EngineBuildOptions {
  tag: string;
  dockerfile?: string;
  target?: string;
  buildArgs?: Record<string, string>;
  /** Ignore the layer cache (skip_cache). */
  noCache?: boolean;
  /** CPU cap in vCPUs. */
  cpu: number;
  /** Memory cap in bytes (swap included: none). */
  memoryBytes: number;
  labels?: Record<string, string>;
  /** The network RUN steps join (Pier's build network, fenced like instances'); default the engine's bridge. */
  network?: string;
}

/** The query of POST /build for these options (exported for tests: the caps and cache flags must be there). */
export function buildQuery(o: EngineBuildOptions): Record<string, string | number | undefined> {
  const period = 100_000;
  return {
    t: o.tag, dockerfile: o.dockerfile || 'Dockerfile', target: o.target || undefined, rm: 1, forcerm: 1,
    nocache: o.noCache ? 1 : undefined, pull: undefined,
    cpuperiod: period, cpuquota: Math.max(1000, Math.round(o.cpu * period)),
    memory: o.memoryBytes, memswap: o.memoryBytes,
    buildargs: o.buildArgs && Object.keys(o.buildArgs).length ? JSON.stringify(o.buildArgs) : undefined,
    labels: o.labels ? JSON.stringify(o.labels) : undefined,
    networkmode: o.network,
    version: '1',
  };
}

/**
 * Builds `context` (a tar archive) into the image `o.tag`, streaming the build output to onLine. Image removals by
 * the collector wait until it ends (image-gate.ts: they would take its cached steps away mid-build).
 */
export function engineBuild(
  engine: DockerEngine, context: Buffer, o: EngineBuildOptions, onLine: (line: string) => void, signal: AbortSignal,
): Promise<void> {
  return duringBuild(engine.socketPath, () => build(engine, context, o, onLine, signal));
}

async function build(
  engine: DockerEngine, context: Buffer, o: EngineBuildOptions, onLine: (line: string) => void, signal: AbortSignal,
): Promise<void> {
  const res = await engine.request('POST', '/build', {
    query: buildQuery(o), body: context, headers: { 'content-type': 'application/x-tar' }, signal, timeoutMs: 0,
  });
  let partial = '';
  try {
    await consumeProgress(res, (msg) => {
      if (typeof msg.stream === 'string') {
        partial += msg.stream;
        let i: number;
        while ((i = partial.indexOf('\n')) >= 0) { const l = partial.slice(0, i).trimEnd(); if (l) onLine(l); partial = partial.slice(i + 1); }
      } else if (typeof msg.status === 'string') onLine(msg.status);
    });
  } catch (err) {
    if (signal.aborted) throw err;
    throw new Error(err instanceof EngineError ? err.message : String(err));
  } finally {
    if (partial.trim()) onLine(partial.trim());
  }
}

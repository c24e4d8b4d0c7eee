// The defaults a function's service gets (the CLI and tests use these; the API accepts any definition): a web
// service on port 8000 routed at `/` (none when private), scale-to-zero after a short idle delay, an HTTP check
// on the wrapper's own health path.
import type { ArchiveSource, DeploymentDefinition, GitSource } from '../../domain/types.ts';

/** The port Pier's wrappers listen on ($PORT is set to it). */
export const FUNCTION_PORT = 8000;

/**
 * Health path the wrappers answer themselves (src/build/functions/wrappers): an HTTP check passes only once the handler
 * is loaded and never runs user code. (A TCP check holds each probe ~100 ms to see the peer stay, which every
 * wake-up would pay, and Docker's proxy accepts connections before the app listens.)
 */
export const FUNCTION_HEALTH_PATH = '/.pier/health';

/** Idle time before a function goes to sleep. */
export const FUNCTION_SLEEP_SECONDS = 60;

/** What a function's definition is made of. */
export interface FunctionOptions {
  name: string;
  source: { archive: ArchiveSource } | { git: GitSource };
  /** Public route path (default `/`); ignored when private. */
  route?: string;
  /** No route: reachable only from the app's other services. */
  private?: boolean;
  env?: Record<string, string>;
  /** Most instances (default 1); the least is always 0. */
  maxScale?: number;
  /** Idle seconds before sleep (default FUNCTION_SLEEP_SECONDS). */
  sleepSeconds?: number;
  region?: string;
  /** Instance type (default nano). */
  instanceType?: string;
}

/** A complete definition for a new function service. */
export function functionDefinition(o: FunctionOptions): DeploymentDefinition {
  return {
    name: o.name,
    type: 'WEB',
    ...o.source,
    ports: [{ port: FUNCTION_PORT, protocol: 'http' }],
    routes: o.private ? [] : [{ port: FUNCTION_PORT, path: o.route ?? '/' }],
    regions: [o.region ?? 'was'],
    instance_types: [{ type: o.instanceType ?? 'nano' }],
    scalings: [{ min: 0, max: o.maxScale ?? 1, targets: [{ sleep_idle_delay: { deep_sleep_value: o.sleepSeconds ?? FUNCTION_SLEEP_SECONDS } }] }],
    env: Object.entries(o.env ?? {}).map(([key, value]) => ({ key, value })),
    health_checks: [{ http: { port: FUNCTION_PORT, path: FUNCTION_HEALTH_PATH }, grace_period: 5, interval: 5 }],
  } as DeploymentDefinition;
}

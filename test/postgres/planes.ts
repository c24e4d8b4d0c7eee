// Control planes as separate `pier up` processes on one PostgreSQL database and one Docker engine, for the failover
// suites: start one, ask its /v1/pier/info, wait for its exit, list this installation's containers, clean up.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { DockerEngine } from '../../src/runtime/docker/engine.ts';
import { apiClient } from '../support/api-client.ts';

const root = new URL('../../', import.meta.url).pathname;

/** The operator token every test control plane accepts. */
export const PLANE_TOKEN = 'pier-failover-test-token-0123456789';

/** A running `pier up` child process. */
export interface Plane { name: string; child: ChildProcess; apiUrl: string; output: string[]; api: ReturnType<typeof apiClient> }

/** Starts `pier up` and resolves once its API listens (the URL comes from its "Pier is up" line). */
export async function startPlane(name: string, dataDir: string, databaseUrl: string): Promise<Plane> {
  const child = spawn(process.execPath, [join(root, 'bin/pier.mjs'), 'up', '--data-dir', dataDir, '--api-addr', '127.0.0.1:0',
    '--edge-addr', '127.0.0.1:0', '--runtime', 'docker'], {
    cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DATABASE_URL: databaseUrl, PIER_TOKEN: PLANE_TOKEN, PIER_EDGE_WORKERS: '1', PIER_TLS_ADDR: 'off' },
  });
  const output: string[] = [];
  const apiUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${output.join('')}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (output.length > 400) output.splice(0, 100);
      const m = /Pier is up: API (http:\/\/\S+)/.exec(output.join(''));
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${name} exited (${code}): ${output.join('')}`)); });
  });
  return { name, child, apiUrl, output, api: apiClient(apiUrl, PLANE_TOKEN) };
}

/** GET /v1/pier/info of a control plane. */
export async function planeInfo(p: Plane): Promise<Record<string, any>> {
  return (await p.api('GET', '/v1/pier/info')).body;
}

/** Resolves when the child has exited. */
export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

/** Stops every plane still running (SIGTERM, SIGKILL after 20 s) and removes this installation's containers and networks. */
export async function cleanUpPlanes(planes: Plane[], scope: string): Promise<void> {
  for (const p of planes) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM');
      const t = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
      await exited(p.child);
      clearTimeout(t);
    }
  }
  if (!scope) return;
  const engine = new DockerEngine();
  const filters = JSON.stringify({ label: [`dev.pier.scope=${scope}`] });
  for (const c of await engine.json<{ Id: string }[]>('GET', '/containers/json', { query: { all: 1, filters } }).catch(() => [])) {
    await engine.jsonOrNull('DELETE', `/containers/${c.Id}`, { query: { force: 1 } }).catch(() => undefined);
  }
  // Its app networks too: the planes stop before they finish deleting the app, and every run left one behind, so a
  // machine that ran the suite ~30 times had no address pool left for a new network.
  for (const n of await engine.json<{ Id: string }[]>('GET', '/networks', { query: { filters } }).catch(() => [])) {
    await engine.jsonOrNull('DELETE', `/networks/${n.Id}`).catch(() => undefined);
  }
}

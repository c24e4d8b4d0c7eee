// Starts a real Pier for the compatibility suites: temp data dir, loopback ports chosen by the OS, a known admin token,
// the docker runtime when the engine answers (else process), and the runtime's test image.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './clients.ts';

/** A Pier started for a compat suite, with what a Koyeb client needs to reach it. */
export interface CompatPier {
  apiUrl: string;
  token: string;
  runtime: 'docker' | 'process';
  /** The test image to deploy and the port its HTTP server listens on. */
  image: string;
  port: number;
  close(): Promise<void>;
}

/** True when a Docker engine answers `GET /_ping` on its unix socket within two seconds. */
export function dockerAnswers(socketPath = '/var/run/docker.sock'): Promise<boolean> {
  if (!existsSync(socketPath)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = http.get({ socketPath, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

const CLEANUP_MS = 60_000;

/** Deletes every app (and so its services) and waits until no service is left, so no instance outlives the suite.
 * Best effort: a failure here is reported by the suite's own steps, not hidden by a cleanup error. */
async function deleteEverything(apiUrl: string, token: string): Promise<void> {
  const headers = { authorization: `Bearer ${token}` };
  const list = async (what: 'apps' | 'services'): Promise<{ id: string; status?: string }[]> => {
    const res = await fetch(`${apiUrl}/v1/${what}?limit=100`, { headers });
    if (!res.ok) return [];
    return ((await res.json()) as Record<string, { id: string; status?: string }[]>)[what] ?? [];
  };
  try {
    for (const svc of await list('services')) {
      if (svc.status !== 'DELETED') await fetch(`${apiUrl}/v1/services/${svc.id}`, { method: 'DELETE', headers });
    }
    for (const app of await list('apps')) {
      if (app.status !== 'DELETED') await fetch(`${apiUrl}/v1/apps/${app.id}`, { method: 'DELETE', headers });
    }
    const deadline = Date.now() + CLEANUP_MS;
    while (Date.now() < deadline && (await list('services')).some((s) => s.status !== 'DELETED')) {
      await new Promise((r) => setTimeout(r, 500));
    }
  } catch {
    // The API may already be down when a suite failed early; there is nothing left to clean through it.
  }
}

async function importFromRepo<T>(relative: string, purpose: string): Promise<T> {
  const file = path.join(repoRoot, relative);
  if (!existsSync(file)) throw new Error(`${relative} is missing: the compat suite needs ${purpose}`);
  return (await import(pathToFileURL(file).href)) as T;
}

/** Starts Pier through its composition root (`loadConfig` + `startPier`), the way `pier up` does. */
export async function startCompatPier(): Promise<CompatPier> {
  const { loadConfig } = await importFromRepo<{ loadConfig: (flags: object, env: NodeJS.ProcessEnv) => unknown }>(
    'src/config.ts',
    'loadConfig(flags, env) to configure Pier',
  );
  const { startPier } = await importFromRepo<{
    startPier: (config: unknown) => Promise<{ apiUrl: string; close(): Promise<void> }>;
  }>('src/main.ts', 'startPier(config) to run Pier');

  const docker = await dockerAnswers();
  let image = process.env.PIER_COMPAT_IMAGE ?? 'pier-test/busybox:1';
  if (docker && !process.env.PIER_COMPAT_IMAGE) {
    const images = await importFromRepo<{ ensureTestImage: (name?: string) => Promise<unknown> }>(
      'src/runtime/testing/images.ts',
      'ensureTestImage() to build the test image',
    );
    const built = await images.ensureTestImage();
    if (typeof built === 'string') image = built;
    else if (built && typeof built === 'object' && 'name' in built) image = String((built as { name: unknown }).name);
  }

  const dataDir = await mkdtemp(path.join(tmpdir(), 'pier-compat-'));
  const token = `compat-${randomBytes(16).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PIER_DATA_DIR: dataDir,
    PIER_API_ADDR: '127.0.0.1:0',
    PIER_EDGE_ADDR: '127.0.0.1:0',
    PIER_DOMAIN: 'localhost',
    PIER_TOKEN: token,
    PIER_RUNTIME: docker ? 'docker' : 'process',
  };
  let handle: { apiUrl: string; close(): Promise<void> };
  try {
    handle = await startPier(loadConfig({}, env));
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    apiUrl: handle.apiUrl.replace(/\/+$/, ''),
    token,
    runtime: docker ? 'docker' : 'process',
    image,
    port: Number(process.env.PIER_COMPAT_PORT ?? 8000),
    async close() {
      try {
        await deleteEverything(handle.apiUrl.replace(/\/+$/, ''), token);
        await handle.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  };
}

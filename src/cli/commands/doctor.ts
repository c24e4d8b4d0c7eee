// `pier doctor`: checks this machine for what Pier needs (runtime, engine, sandbox, ports, disk, certificates, the
// API) and prints ok, warn or FAIL per check with the exact fix; exit 1 when something fails. Verdicts are pure
// (doctor-checks.ts); this file only gathers facts, each probe bounded in time.
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, statfsSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { ApiClient } from '../client.ts';
import type { Command, Ctx } from '../command.ts';
import { doctorChecks, renderChecks, type DoctorFacts } from '../doctor-checks.ts';
import { ApiError } from '../errors.ts';
import { printRaw } from '../output.ts';
import { resolveSettings } from '../settings.ts';
import { cgroupJoinTuning } from '../../runtime/process/cgroups.ts';
import { hostFacts } from '../up-setup.ts';

const PROBE_TIMEOUT_MS = 3000;

/** GET /version on the Docker socket: the engine's version, or why it does not answer. */
function dockerVersion(socketPath: string): Promise<{ version: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/version', timeout: PROBE_TIMEOUT_MS }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => {
        try {
          resolve({ version: String((JSON.parse(body) as { Version?: string }).Version ?? '?') });
        } catch {
          resolve({ error: `${socketPath} answered HTTP ${res.statusCode} without a version` });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 3 s')));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: `no Docker engine answers at ${socketPath} (${err.code ?? err.message})` }));
    req.end();
  });
}

function onPath(cmd: string, env: Record<string, string | undefined>): boolean {
  const dirs = (env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  return [...dirs, '/usr/sbin', '/sbin'].some((d) => {
    try {
      accessSync(join(d, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** A /proc or /sys file's text, trimmed; undefined when it cannot be read. */
function readKernelFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Whether `addr` (host:port) can be bound now. */
function portFree(addr: string): Promise<boolean> {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(addr.slice(i + 1));
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

async function gatherFacts(ctx: Ctx): Promise<DoctorFacts> {
  const env = ctx.io.env;
  const settings = resolveSettings({ url: ctx.args.str('url'), token: ctx.args.str('token') }, env, ctx.io.readFile);
  const dataDir = dirname(settings.credentialsPath);
  const host = hostFacts(env, false);
  const socket = (env.DOCKER_HOST?.startsWith('unix://') ? env.DOCKER_HOST.slice(7) : undefined) ?? '/var/run/docker.sock';

  let api: DoctorFacts['api'];
  try {
    await new ApiClient(settings.url, settings.token).get('/v1/apps', { limit: 1 });
    api = { url: settings.url, state: 'ok', detail: '' };
  } catch (err) {
    api = err instanceof ApiError && (err.status === 401 || err.status === 403)
      ? { url: settings.url, state: 'refused', detail: err.message }
      : { url: settings.url, state: 'down', detail: (err as Error).message.replace(/^cannot reach the Pier API at \S+ \(([^)]*)\).*$/, '$1') };
  }
  // A port held by the Pier that answers at the API URL is fine; the addresses are pier up's defaults and env.
  const addrs = [
    { flag: 'api-addr', addr: env.PIER_API_ADDR || '127.0.0.1:7700' },
    { flag: 'edge-addr', addr: env.PIER_EDGE_ADDR || '127.0.0.1:8000' },
    ...(env.PIER_TLS_ADDR === 'off' ? [] : [{ flag: 'tls-addr', addr: env.PIER_TLS_ADDR || '127.0.0.1:8443' }]),
  ];
  const ports = await Promise.all(addrs.map(async (a) => ({
    ...a, state: (await portFree(a.addr)) ? 'free' as const : api.state !== 'down' ? 'pier' as const : 'busy' as const,
  })));

  let disk: DoctorFacts['disk'];
  let probe = dataDir;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    const s = statfsSync(probe);
    disk = { path: probe, freeBytes: s.bavail * s.bsize };
  } catch (err) {
    disk = { path: probe, error: (err as Error).message };
  }

  const caPath = join(dataDir, 'tls', 'local-ca', 'root.pem');
  let ca: DoctorFacts['ca'];
  if (existsSync(caPath)) {
    try {
      ca = { path: caPath, notAfter: new Date(new X509Certificate(readFileSync(caPath)).validTo).toISOString() };
    } catch (err) {
      ca = { path: caPath, error: (err as Error).message };
    }
  }

  const userns = readKernelFile('/proc/sys/kernel/unprivileged_userns_clone') !== '0' && readKernelFile('/proc/sys/user/max_user_namespaces') !== '0';
  return {
    isRoot: host.isRoot, isDebian: host.isDebian, launcher: host.launcher,
    docker: await dockerVersion(socket),
    tools: { bwrap: onPath('bwrap', env), ip: onPath('ip', env), iptables: onPath('iptables', env), nsenter: onPath('nsenter', env) },
    userns, cgroupJoins: cgroupJoinTuning(readKernelFile('/proc/self/mountinfo') ?? '', readKernelFile('/sys/kernel/cgroup/features')), ports, disk, ca, api, now: ctx.io.now(),
  };
}

/** `pier doctor`. */
export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'Check this machine for what Pier needs (runtime, engine, sandbox, ports, disk, certificates) and say the fix',
  run: async (ctx) => {
    const results = doctorChecks(await gatherFacts(ctx));
    if (!printRaw(ctx, { checks: results })) ctx.out(renderChecks(results));
    return results.some((r) => r.level === 'FAIL') ? 1 : 0;
  },
};

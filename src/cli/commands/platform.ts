// `pier up` (run the platform in the foreground until Ctrl-C) and `pier setup` (prepare the host: Docker,
// bubblewrap). The platform modules load lazily so every other command starts fast.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command, Ctx } from '../command.ts';
import { CliError } from '../errors.ts';
import { decideSetup, hostFacts, isNoRuntimeError, runSetupScript, type HostFacts } from '../up-setup.ts';

/** What `pier up` needs from src/config.ts and src/main.ts. */
export interface Platform {
  loadConfig(flags: Record<string, string | boolean>, env: Record<string, string | undefined>): unknown;
  startPier(config: unknown): Promise<{ apiUrl: string; close(): Promise<void> | void }>;
}

/** Loads the real platform. Specifiers are built at run time so this file typechecks before those modules land. */
export async function loadPlatform(): Promise<Platform> {
  const configModule = new URL('../../config.ts', import.meta.url).href;
  const mainModule = new URL('../../main.ts', import.meta.url).href;
  const { loadConfig } = (await import(configModule)) as Pick<Platform, 'loadConfig'>;
  const { startPier } = (await import(mainModule)) as Pick<Platform, 'startPier'>;
  return { loadConfig, startPier };
}

const UP_FLAGS = ['data-dir', 'api-addr', 'edge-addr', 'tls-addr', 'domain', 'token', 'runtime', 'database-url', 'advertise-url'];

/** How `pier up` prepares a host where no runtime works (injectable: tests never install anything). */
export interface HostSetup {
  facts(): HostFacts;
  /** Runs the host setup and returns its exit code. */
  run(): Promise<number>;
}

/** The real host: its facts, and scripts/setup-host.sh run with step lines and progress. */
export function realHostSetup(ctx: Ctx): HostSetup {
  return {
    facts: () => hostFacts(ctx.io.env, ctx.args.bool('no-setup')),
    run: () => runSetupScript(ctx, ['bash', SETUP_SCRIPT]),
  };
}

/**
 * Starts Pier; when no runtime works on this host, prepares the host (as root on Debian) and starts again, or
 * says exactly what to run. Then keeps it running until SIGINT/SIGTERM and closes it cleanly.
 */
export async function runUp(ctx: Ctx, platform: Platform, host: HostSetup = realHostSetup(ctx)): Promise<number> {
  const flags: Record<string, string> = {};
  for (const name of UP_FLAGS) {
    const v = ctx.args.str(name);
    if (v !== undefined) flags[name] = v;
  }
  const config = platform.loadConfig(flags, ctx.io.env);
  let handle: Awaited<ReturnType<Platform['startPier']>>;
  try {
    handle = await platform.startPier(config);
  } catch (err) {
    if (!isNoRuntimeError(err)) throw err;
    const decision = decideSetup(host.facts());
    if (decision.kind === 'tell') throw new CliError((err as Error).message, ['', ...decision.lines]);
    ctx.err(`${(err as Error).message.replace(/\. Run `.*$/, '')}.`);
    ctx.err('Installing what Pier needs (Debian packages, then the Docker engine); this takes a minute or two the first time:');
    const code = await host.run();
    if (code !== 0) throw new CliError(`the host setup failed (exit ${code}); fix the error above, then run it again: pier setup --yes`);
    ctx.err('Host ready; starting Pier.');
    handle = await platform.startPier(config);
  }
  ctx.err(`Pier is up: API ${handle.apiUrl} (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const off = ctx.io.onInterrupt(() => {
      off();
      resolve();
    });
  });
  ctx.err('stopping Pier...');
  await handle.close();
  ctx.err('stopped');
  return 0;
}

/** `pier up`. */
export const upCommand: Command = {
  name: 'up',
  summary: 'Run Pier (API, control loops, edge) in the foreground until Ctrl-C',
  flags: [
    { name: 'data-dir', kind: 'string', placeholder: 'DIR', help: 'State directory (env PIER_DATA_DIR)', defaultText: '~/.pier' },
    { name: 'api-addr', kind: 'string', placeholder: 'HOST:PORT', help: 'API listen address (env PIER_API_ADDR)', defaultText: '127.0.0.1:7700' },
    { name: 'edge-addr', kind: 'string', placeholder: 'HOST:PORT', help: 'Edge proxy listen address (env PIER_EDGE_ADDR)', defaultText: '127.0.0.1:8000' },
    { name: 'domain', kind: 'string', placeholder: 'DOMAIN', help: 'Base domain of app URLs (env PIER_DOMAIN)', defaultText: 'localhost' },
    { name: 'token', kind: 'string', placeholder: 'TOKEN', help: 'Also accept this admin API token (env PIER_TOKEN)' },
    { name: 'tls-addr', kind: 'string', placeholder: 'HOST:PORT', help: 'HTTPS edge listen address, or off (env PIER_TLS_ADDR)', defaultText: '<edge host>:8443' },
    { name: 'runtime', kind: 'string', placeholder: 'RUNTIME', help: 'docker, process, swarm or auto (env PIER_RUNTIME)', defaultText: 'auto' },
    { name: 'database-url', kind: 'string', placeholder: 'URL', help: 'PostgreSQL store shared by several control planes (env DATABASE_URL)', defaultText: 'SQLite in the data dir' },
    { name: 'advertise-url', kind: 'string', placeholder: 'URL', help: 'API URL regional edges reach this control plane at (env PIER_ADVERTISE_URL)', defaultText: 'the API listen address' },
    { name: 'no-setup', kind: 'bool', help: 'When no runtime works, only say what to install (as root on Debian, pier up installs it)' },
  ],
  run: async (ctx) => runUp(ctx, await loadPlatform()),
};

/** The host setup script, relative to this file. */
export const SETUP_SCRIPT = fileURLToPath(new URL('../../../scripts/setup-host.sh', import.meta.url));

const setupCommand: Command = {
  name: 'setup',
  summary: 'Prepare this machine for Pier: install and start Docker, install bubblewrap and HAProxy (needs root)',
  flags: [
    { name: 'yes', short: 'y', kind: 'bool', help: 'Run the setup script (without it, only show what it would run)' },
    { name: 'stop', kind: 'bool', help: 'Stop a dockerd that the setup script started' },
  ],
  run: async (ctx) => {
    if (!existsSync(SETUP_SCRIPT)) throw new CliError(`setup script not found at ${SETUP_SCRIPT}`);
    const argv = ['bash', SETUP_SCRIPT, ...(ctx.args.bool('stop') ? ['--stop'] : [])];
    if (!ctx.args.bool('yes')) {
      ctx.out(`pier setup would run: ${argv.join(' ')}`);
      ctx.out('It installs docker.io, bubblewrap, busybox-static, iproute2, iptables and haproxy (the edge\'s native data plane; PIER_EDGE_DATAPLANE=node leaves it out) with apt-get if missing, and starts dockerd if it is not running.');
      ctx.out("Run 'pier setup --yes' to do it.");
      return 0;
    }
    return new Promise<number>((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
      child.on('error', (err) => reject(new CliError(`could not run ${SETUP_SCRIPT}: ${err.message}`)));
      child.on('exit', (code, signal) => resolve(signal ? 1 : code ?? 1));
    });
  },
};

/** The platform commands: up and setup. */
export const platformCommands: Command[] = [upCommand, setupCommand];

// A throwaway PostgreSQL cluster for tests: initdb into a temp dir (as the `postgres` OS user when root, since initdb
// refuses root), the server on a free loopback port and a socket in that dir, one database per test, torn down by PID.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../support/ports.ts';

/** A running test cluster. */
export interface PgCluster {
  port: number;
  /** The URL of a database of this cluster (default: the `postgres` maintenance database). */
  url(database?: string): string;
  /** Creates a fresh, uniquely named database and returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Stops the server for a while (fast shutdown: clients are cut), keeping its data; resume() starts it again. */
  pause(): Promise<void>;
  /** Starts a paused server again on the same port and data. */
  resume(): Promise<void>;
  /** Stops the server (SIGINT, then SIGKILL after a bound) and removes its directory. */
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL server's bin directory, or undefined. */
export function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  return undefined;
}

/** Why PostgreSQL tests cannot run here, or undefined when they can. */
export function postgresUnavailable(): string | undefined {
  if (!postgresBinDir()) return 'PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)';
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) return 'no postgres OS user to run initdb as';
  return undefined;
}


function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

const running = new Map<number, string>();
// Last resort if a test process exits without calling stop(): no server outlives its test file.
process.once('exit', () => {
  for (const [pid, dir] of running) {
    try { process.kill(pid, 'SIGQUIT'); } catch { /* gone */ }
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
});

let unique = 0;

/** Creates a fresh database through a cluster's maintenance URL (`.../postgres`) and returns the new one's URL. */
export async function createDatabaseOn(adminUrl: string, prefix = 't'): Promise<string> {
  const name = `${prefix.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${process.pid}_${++unique}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Starts a cluster; throws with the server log when it does not come up. */
export async function startPgCluster(): Promise<PgCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(postgresUnavailable());
  const dir = mkdtempSync(join(tmpdir(), 'pier-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  let uid = -1;
  let gid = -1;
  if (asRoot) {
    uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const as = (cmd: string, args: string[]): [string, string[]] => (asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  const run = (cmd: string, args: string[], timeout: number) => {
    const [file, argv] = as(cmd, args);
    const r = spawnSync(file, argv, { timeout, encoding: 'utf8', cwd: dir });
    return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
  };
  const init = run(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--locale=C', '-E', 'UTF8', '--no-sync'], 60_000);
  if (!init.ok) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.out.slice(-2000)}`);
  }
  let port = 0;
  let pid = 0;
  let lastLog = '';
  for (let attempt = 0; attempt < 3 && !pid; attempt++) {
    port = await freePort();
    const opts = `-k ${dir} -p ${port} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
    const started = run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', opts, 'start'], 70_000);
    const pidFile = join(data, 'postmaster.pid');
    if (started.ok && existsSync(pidFile)) pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    else lastLog = `${started.out}\n${existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8').slice(-2000) : ''}`;
  }
  if (!pid) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${lastLog}`);
  }
  running.set(pid, dir);
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let seq = 0;
  return {
    port,
    url,
    createDatabase: (prefix = 't') => createDatabaseOn(url(), `${prefix}_${++seq}`),
    async pause() {
      if (alive(pid)) process.kill(pid, 'SIGINT');
      const deadline = Date.now() + 15_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (alive(pid)) throw new Error('PostgreSQL did not stop within 15 s');
      running.delete(pid);
    },
    async resume() {
      const opts = `-k ${dir} -p ${port} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`;
      const started = run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', opts, 'start'], 70_000);
      if (!started.ok) throw new Error(`PostgreSQL did not start again: ${started.out.slice(-2000)}`);
      pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      running.set(pid, dir);
    },
    async stop() {
      if (alive(pid)) process.kill(pid, 'SIGINT'); // fast shutdown: disconnects clients, no checkpoint wait
      const deadline = Date.now() + 15_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (alive(pid)) process.kill(pid, 'SIGKILL');
      running.delete(pid);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

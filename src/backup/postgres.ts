// The PostgreSQL side of backups: pg_dump (one consistent snapshot, custom format) while Pier serves, and
// pg_restore into an empty database in a single transaction, so a failed restore leaves that database as it was.
// The password never reaches an argv (other users can read those): it goes through PGPASSWORD.
import { execFile } from 'node:child_process';
import { PgDb } from '../store/pg.ts';
import { BackupError } from './errors.ts';

/** A connection URL split into what may appear in argv and messages (no password) and the env carrying it. */
export function pgTarget(url: string): { url: string; env: NodeJS.ProcessEnv; display: string } {
  const u = new URL(url);
  const password = decodeURIComponent(u.password);
  u.password = '';
  const bare = u.toString();
  return { url: bare, env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) }, display: bare };
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, signal, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new BackupError('backup_postgres_unsupported', `${cmd} is not installed: install Debian's postgresql-client (scripts/setup-host.sh does when DATABASE_URL is set)`));
      }
      reject(new Error(`${cmd} failed: ${String(stderr).trim().split('\n').slice(-3).join(' | ') || err.message}`));
    });
  });
}

/** Dumps the database (pg_dump custom format, no owners or grants) into `file`. */
export async function dumpPostgres(url: string, file: string, signal?: AbortSignal): Promise<void> {
  const t = pgTarget(url);
  await run('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', '--file', file, '--dbname', t.url], t.env, signal);
}

/** The schema version and resource counts of a live PostgreSQL store. */
export async function postgresFacts(url: string): Promise<{ schema: number; counts: Record<string, number> }> {
  const db = new PgDb({ url });
  try {
    const count = async (sql: string) => Number((await db.get<{ n: number }>(sql))?.n ?? 0);
    const schema = await count('SELECT COALESCE(MAX(id), 0) AS n FROM schema_migrations');
    return {
      schema,
      counts: {
        organizations: await count('SELECT COUNT(*) AS n FROM organizations'),
        api_tokens: await count('SELECT COUNT(*) AS n FROM api_tokens'),
        apps: await count("SELECT COUNT(*) AS n FROM apps WHERE status <> 'DELETED'"),
        services: await count("SELECT COUNT(*) AS n FROM services WHERE status <> 'DELETED'"),
        deployments: await count('SELECT COUNT(*) AS n FROM deployments'),
        secrets: await count('SELECT COUNT(*) AS n FROM secrets'),
        archives: await count('SELECT COUNT(*) AS n FROM archives'),
        // Volumes (schema 9) are backed up through their snapshots (create.ts).
        ...(schema >= 9 ? {
          volumes: await count("SELECT COUNT(*) AS n FROM volumes WHERE status <> 'PERSISTENT_VOLUME_STATUS_DELETED'"),
          snapshots: await count("SELECT COUNT(*) AS n FROM snapshots WHERE status <> 'SNAPSHOT_STATUS_DELETED'"),
        } : {}),
      },
    };
  } finally {
    await db.close();
  }
}

/** Refuses a database that already holds tables (restore only fills an empty one). */
export async function checkPostgresEmpty(url: string): Promise<void> {
  const db = new PgDb({ url });
  try {
    const row = await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM pg_tables WHERE schemaname = 'public'");
    if (Number(row?.n ?? 0) > 0) {
      throw new BackupError('restore_target_not_empty', `the database ${pgTarget(url).display} is not empty (${row!.n} tables): restore only into an empty database`);
    }
  } finally {
    await db.close();
  }
}

const SEALED: [table: string, column: string][] = [
  ['secrets', 'encrypted_value'], ['webhook_secrets', 'encrypted_secret'], ['certificates', 'encrypted_pem'], ['acme_accounts', 'encrypted_key'],
];

/** One sealed value from a dump file, read with pg_restore's SQL output (no database is touched); undefined if none. */
export async function sealedValueOfDump(file: string): Promise<string | undefined> {
  for (const [table, column] of SEALED) {
    const sql = await run('pg_restore', ['--data-only', '--table', table, '--file', '-', file], process.env);
    const lines = sql.split('\n');
    const copy = lines.findIndex((l) => l.startsWith(`COPY public.${table} (`) || l.startsWith(`COPY ${table} (`));
    if (copy < 0) continue;
    const columns = /\(([^)]*)\)/.exec(lines[copy]!)![1]!.split(',').map((c) => c.trim().replace(/"/g, ''));
    const first = lines[copy + 1];
    if (!first || first === '\\.') continue;
    return first.split('\t')[columns.indexOf(column)];
  }
  return undefined;
}

/** Restores a dump into an empty database in one transaction (all or nothing). */
export async function restorePostgres(url: string, file: string): Promise<void> {
  const t = pgTarget(url);
  await run('pg_restore', ['--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', '--dbname', t.url, file], t.env);
}

/**
 * Settles a restored database: drops the leader lease of the installation it came from (its holder is not coming
 * back, so the first control plane leads at once instead of waiting for it to expire) and points process-runtime
 * build paths (`dir:<old>/...`) at the new data directory.
 */
export async function settleRestoredPostgres(url: string, from: string, to: string): Promise<void> {
  const db = new PgDb({ url });
  try {
    await db.transaction(async (tx) => {
      await tx.run('DELETE FROM leases');
      if (from === to) return;
      for (const table of ['deployments', 'regional_deployments', 'instances']) {
        await tx.run(`UPDATE ${table} SET data = REPLACE(data, ?, ?) WHERE strpos(data, ?) > 0`, [from, to, from]);
      }
    });
  } finally {
    await db.close();
  }
}

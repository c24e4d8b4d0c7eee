// `pier backup` and `pier restore`: operator commands that work on the data directory itself (not through the API),
// so they need what only the operator has: read access to the data directory (and its master key). They run while
// Pier serves (backup) or before it starts (restore).
import { join, resolve } from 'node:path';
import { loadConfig } from '../../config.ts';
import { BackupError, createBackup, listBackups, restoreBackup } from '../../backup/index.ts';
import { printRaw, renderTable } from '../output.ts';
import type { Command, Ctx } from '../command.ts';
import { CliError } from '../errors.ts';

const DATA_DIR_FLAG = { name: 'data-dir', kind: 'string', placeholder: 'DIR', help: 'Pier data directory (env PIER_DATA_DIR)', defaultText: '~/.pier' } as const;
const DATABASE_URL_FLAG = { name: 'database-url', kind: 'string', placeholder: 'URL', help: 'PostgreSQL store (env DATABASE_URL); SQLite in the data directory otherwise' } as const;

function dataDirOf(ctx: Ctx): { dataDir: string; masterKeyFile?: string; databaseUrl?: string } {
  const dir = ctx.args.str('data-dir');
  const url = ctx.args.str('database-url');
  const config = loadConfig({ ...(dir ? { 'data-dir': dir } : {}), ...(url ? { 'database-url': url } : {}) }, ctx.io.env as NodeJS.ProcessEnv);
  return { dataDir: config.dataDir, masterKeyFile: config.masterKeyFile, databaseUrl: config.databaseUrl };
}

function fail(err: unknown): never {
  if (err instanceof BackupError) throw new CliError(`${err.message} [${err.code}]`, [], err.code === 'backup_canceled' ? 130 : 1);
  throw err;
}

function megabytes(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

/** `pier backup list`: the scheduled backups (PIER_BACKUP_DIR), newest first, each read through to check its checksums. */
const backupListCommand: Command = {
  name: 'list',
  aliases: ['ls'],
  summary: 'List the scheduled backups: file, time, size, schema version, checksums verified',
  flags: [
    { name: 'dir', kind: 'string', placeholder: 'DIR', help: 'Backup directory (env PIER_BACKUP_DIR)', defaultText: '<data dir>/backups' },
    { name: 'no-verify', kind: 'bool', help: 'Do not read each file through (faster; no schema version, checksums "not checked")' },
    DATA_DIR_FLAG,
  ],
  run: async (ctx) => {
    const { dataDir } = dataDirOf(ctx);
    const env = ctx.io.env as NodeJS.ProcessEnv;
    const dir = resolve(ctx.args.str('dir') ?? (env.PIER_BACKUP_DIR?.trim() || join(dataDir, 'backups')));
    const rows = await listBackups(dir, { verify: !ctx.args.bool('no-verify') });
    if (printRaw(ctx, { dir, backups: rows })) return rows.some((r) => r.error) ? 1 : 0;
    if (!rows.length) {
      ctx.out(`no scheduled backups in ${dir} (set PIER_BACKUP_SCHEDULE, e.g. 6h, on the control planes)`);
      return 0;
    }
    ctx.out(renderTable(['FILE', 'TIME', 'SIZE', 'SCHEMA', 'KEY', 'CHECKSUMS'], rows.map((r) => [
      r.name, r.time, megabytes(r.size), r.schema_version === undefined ? '-' : String(r.schema_version),
      r.key_included === undefined ? '-' : r.key_included ? 'yes' : 'no', r.checksums,
    ])));
    for (const r of rows) if (r.error) ctx.err(`${r.name}: ${r.error}`);
    // A damaged backup is worth a non-zero exit: a cron job listing them notices.
    return rows.some((r) => r.error) ? 1 : 0;
  },
};

/** `pier backup`: one tar.gz of the data directory, taken while Pier serves. */
export const backupCommand: Command = {
  name: 'backup',
  summary: 'Back up the store (SQLite or PostgreSQL), master key, local CA, git remotes, archives and builds',
  flags: [
    { name: 'output', short: 'o', kind: 'string', placeholder: 'FILE', help: 'Where to write the backup', defaultText: 'pier-backup-<time>.tar.gz' },
    { name: 'without-key', kind: 'bool', help: 'Leave the master key and the admin token out (restore then needs --key-file)' },
    { name: 'images', kind: 'bool', help: 'Also save the images Pier built for the docker runtime (for a restore on another machine)' },
    DATA_DIR_FLAG, DATABASE_URL_FLAG,
  ],
  examples: ['pier backup --output /srv/backups/pier.tar.gz', 'pier backup --without-key -o offsite.tar.gz', 'pier backup list'],
  subcommands: [backupListCommand],
  run: async (ctx) => {
    const { dataDir, masterKeyFile, databaseUrl } = dataDirOf(ctx);
    const output = resolve(ctx.args.str('output') ?? `pier-backup-${new Date().toISOString().replace(/[:.]/g, '-')}.tar.gz`);
    const abort = new AbortController();
    const unregister = ctx.io.onInterrupt(() => abort.abort());
    const tty = ctx.io.stderrIsTTY;
    let last = '';
    try {
      const manifest = await createBackup({
        dataDir, masterKeyFile, databaseUrl, output, withoutKey: ctx.args.bool('without-key'), images: ctx.args.bool('images'), signal: abort.signal,
        progress: (stage, bytes) => {
          // A live line on a terminal; elsewhere one line per stage.
          if (tty) ctx.io.stderr(`\r\x1b[Kbacking up ${stage}: ${megabytes(bytes)}`);
          else if (stage !== last) ctx.err(`backing up ${stage}`);
          last = stage;
        },
      });
      if (tty) ctx.io.stderr('\r\x1b[K');
      const c = manifest.counts;
      ctx.out(`backup written to ${output}`);
      ctx.out(`  Pier ${manifest.pier_version}, schema ${manifest.schema_version}, ${manifest.members.length} members` +
        `${manifest.key_included ? ', master key included' : ', WITHOUT the master key (keep it: restore needs --key-file)'}`);
      ctx.out(`  ${c.apps} apps, ${c.services} services, ${c.deployments} deployments, ${c.secrets} secrets, ${c.api_tokens} tokens`);
      if (manifest.images) ctx.out(`  ${manifest.images.length} built image(s) saved`);
    } catch (err) {
      if (tty) ctx.io.stderr('\r\x1b[K');
      if (abort.signal.aborted) fail(new BackupError('backup_canceled', 'backup canceled: no file was written'));
      fail(err);
    } finally {
      unregister();
    }
  },
};

/** `pier restore FILE`: lays a backup out in an empty data directory. */
export const restoreCommand: Command = {
  name: 'restore',
  summary: 'Restore a backup into an empty data directory (then start Pier on it)',
  usage: 'FILE',
  args: [1, 1],
  flags: [
    DATA_DIR_FLAG, DATABASE_URL_FLAG,
    { name: 'key-file', kind: 'string', placeholder: 'FILE', help: 'The master key, for a backup taken --without-key' },
    { name: 'keep-installation-id', kind: 'bool', help: 'Same installation moved to a new machine: keep its id (its old containers must be gone)' },
  ],
  examples: ['pier restore pier.tar.gz --data-dir /var/lib/pier', 'pier restore offsite.tar.gz --key-file master.key'],
  run: async (ctx) => {
    const { dataDir, databaseUrl } = dataDirOf(ctx);
    const file = resolve(ctx.args.positionals[0]!);
    try {
      const r = await restoreBackup({
        file, dataDir, databaseUrl, keyFile: ctx.args.str('key-file'), keepInstallationId: ctx.args.bool('keep-installation-id'),
        progress: (stage) => ctx.err(`restore: ${stage}`),
      });
      const c = r.manifest.counts;
      ctx.out(`restored ${file} into ${dataDir}`);
      ctx.out(`  Pier ${r.manifest.pier_version}, schema ${r.manifest.schema_version}, taken ${r.manifest.created_at}`);
      ctx.out(`  ${c.apps} apps, ${c.services} services, ${c.deployments} deployments, ${c.secrets} secrets, ${c.api_tokens} tokens`);
      if (r.images?.loaded) ctx.out(`  ${r.images.count} built image(s) loaded into the Docker engine`);
      if (r.images && !r.images.loaded) ctx.err(`warning: built images not loaded (${r.images.error}): load them with docker load -i ${r.images.file}`);
      ctx.out(r.keptInstallationId
        ? `  installation id kept (${r.installationId}): this Pier adopts the containers labelled with it`
        : `  new installation id ${r.installationId}: containers of the backed-up installation (${r.manifest.installation_id || 'unknown'}) are left alone`);
      ctx.out(`start it with: pier up --data-dir ${dataDir}${databaseUrl ? ' (DATABASE_URL naming that database)' : ''}`);
    } catch (err) {
      fail(err);
    }
  },
};

// `pier backup`: a consistent snapshot of a data directory while Pier serves it. The database is copied through
// SQLite's online backup API (pages copied from a read-only connection; Pier keeps writing), the files beside it are
// streamed as they are, and everything lands in one tar.gz written under a temporary name and renamed at the end, so
// a failure or Ctrl-C never leaves a half-written backup behind.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import Database from 'better-sqlite3';
import { BackupError } from './errors.ts';
import { BACKUP_FORMAT, MANIFEST_NAME, type Manifest, type ManifestMember } from './manifest.ts';
import { encodeHeader, endOfArchive, padding, type TarHeader } from './tar.ts';
import { dumpPostgres, postgresFacts } from './postgres.ts';
import { builtImagesOf, saveImages } from './images.ts';
import { PgDb } from '../store/pg.ts';

/** What a backup is taken of and where it goes. */
export interface BackupOptions {
  dataDir: string;
  /** The master key's file when it lives outside the data directory (PIER_MASTER_KEY_FILE). */
  masterKeyFile?: string;
  /** A PostgreSQL store (DATABASE_URL): dumped with pg_dump instead of SQLite's online backup. */
  databaseUrl?: string;
  output: string;
  /** Leave the master key (and credentials.json's admin token) out: for copies kept off-site. */
  withoutKey?: boolean;
  /** Also save the images Pier built for the docker runtime that deployments name (docker save). */
  images?: boolean;
  signal?: AbortSignal;
  /** Progress lines (stage and bytes so far). */
  progress?: (stage: string, bytes: number) => void;
}

/**
 * The backup's directories besides the database; builds/ only its deployment outputs (caches are rebuilt). Volumes
 * are backed up through their snapshots (`snapshots/`, immutable images the volume driver wrote with the filesystem
 * frozen); the live images under `volumes/` are mounted and written to, so they are never copied.
 */
const TREES = ['tls', 'git', 'archives', join('builds', 'deployments'), 'snapshots'];

/** What the manifest says about volumes. */
export const VOLUMES_NOTE = 'volumes are backed up through their snapshots: the snapshots/ member holds every snapshot image, ' +
  'the live volumes are not copied; after a restore, create each volume again from its newest snapshot';

/** The Pier version from package.json. */
export function pierVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

interface Source { name: string; path: string; header: TarHeader }

function headerOf(name: string, path: string): TarHeader {
  const st = lstatSync(path);
  const common = { name, mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000), uid: st.uid, gid: st.gid };
  if (st.isSymbolicLink()) return { ...common, type: 'symlink', size: 0, linkname: readlinkSync(path) };
  if (st.isDirectory()) return { ...common, type: 'dir', size: 0 };
  return { ...common, type: 'file', size: st.size };
}

/** Every directory, file and symlink under `root` (sockets and devices skipped), parents before children. */
function walk(root: string, name: string, out: Source[]): void {
  const st = lstatSync(root);
  if (!st.isDirectory() && !st.isFile() && !st.isSymbolicLink()) return;
  out.push({ name, path: root, header: headerOf(name, root) });
  if (!st.isDirectory()) return;
  for (const child of readdirSync(root).sort()) walk(join(root, child), `${name}/${child}`, out);
}

/** Copies the live database through SQLite's online backup API and reads its schema version and counts. */
async function snapshotDatabase(dataDir: string, into: string): Promise<{ schema: number; counts: Record<string, number> }> {
  const source = join(dataDir, 'pier.db');
  if (!existsSync(source)) throw new BackupError('backup_corrupt', `${dataDir} holds no Pier database (pier.db): is it a Pier data directory?`);
  const live = new Database(source, { readonly: true, fileMustExist: true });
  try {
    live.pragma('busy_timeout = 5000');
    // All pages in one step: a step-wise copy restarts whenever Pier writes between steps (it appends log lines and
    // metric samples all the time), and could never finish. One step reads one snapshot; in WAL mode Pier's writes
    // go on meanwhile.
    await live.backup(into, { progress: () => 0x7fffffff });
  } finally {
    live.close();
  }
  const copy = new Database(into, { readonly: true });
  try {
    const count = (sql: string) => Number((copy.prepare(sql).get() as { n: number }).n);
    const schema = count('SELECT COALESCE(MAX(id), 0) AS n FROM schema_migrations');
    const counts = {
      organizations: count('SELECT COUNT(*) AS n FROM organizations'),
      api_tokens: count('SELECT COUNT(*) AS n FROM api_tokens'),
      apps: count("SELECT COUNT(*) AS n FROM apps WHERE status <> 'DELETED'"),
      services: count("SELECT COUNT(*) AS n FROM services WHERE status <> 'DELETED'"),
      deployments: count('SELECT COUNT(*) AS n FROM deployments'),
      secrets: count('SELECT COUNT(*) AS n FROM secrets'),
      archives: count('SELECT COUNT(*) AS n FROM archives'),
      ...(schema >= 9 ? {
        volumes: count("SELECT COUNT(*) AS n FROM volumes WHERE status <> 'PERSISTENT_VOLUME_STATUS_DELETED'"),
        snapshots: count("SELECT COUNT(*) AS n FROM snapshots WHERE status <> 'SNAPSHOT_STATUS_DELETED'"),
      } : {}),
    };
    return { schema, counts };
  } finally {
    copy.close();
  }
}

/** Every deployment's `data` JSON, from the SQLite copy or the PostgreSQL store. */
async function deploymentData(dbCopy: string, databaseUrl?: string): Promise<string[]> {
  if (databaseUrl) {
    const db = new PgDb({ url: databaseUrl });
    try { return (await db.all<{ data: string }>('SELECT data FROM deployments')).map((r) => r.data); } finally { await db.close(); }
  }
  const copy = new Database(dbCopy, { readonly: true });
  try { return (copy.prepare('SELECT data FROM deployments').all() as { data: string }[]).map((r) => r.data); } finally { copy.close(); }
}

/** Yields one member's header, body and padding, hashing the body (a symlink's target stands in for its body). */
async function* member(src: Source, members: ManifestMember[], progress: (bytes: number) => void): AsyncGenerator<Buffer> {
  const h = src.header;
  yield encodeHeader(h);
  if (h.type === 'dir') { members.push({ name: h.name, type: 'dir', size: 0 }); return; }
  if (h.type === 'symlink') {
    members.push({ name: h.name, type: 'symlink', size: 0, sha256: createHash('sha256').update(h.linkname ?? '').digest('hex') });
    return;
  }
  const hash = createHash('sha256');
  let read = 0;
  if (h.size > 0) {
    for await (const chunk of createReadStream(src.path, { start: 0, end: h.size - 1 })) {
      const buf = chunk as Buffer;
      hash.update(buf);
      read += buf.length;
      progress(buf.length);
      yield buf;
    }
  }
  // A file that shrank while it was read cannot be padded silently: its checksum would lie.
  if (read !== h.size) throw new Error(`${src.path} changed size while it was backed up (${h.size} -> ${read} bytes): run the backup again`);
  yield padding(h.size);
  members.push({ name: h.name, type: 'file', size: h.size, sha256: hash.digest('hex') });
}

/** Takes a backup of `dataDir` into `output` (tar.gz) and returns its manifest. */
export async function createBackup(opts: BackupOptions): Promise<Manifest> {
  const scratch = mkdtempSync(join(tmpdir(), 'pier-backup-'));
  const partial = join(dirname(opts.output), `.${basename(opts.output)}.partial-${process.pid}`);
  let bytes = 0;
  const progress = (stage: string) => (n: number) => { bytes += n; opts.progress?.(stage, bytes); };
  try {
    opts.progress?.('database', 0);
    const dbName = opts.databaseUrl ? 'pier.pgdump' : 'pier.db';
    const dbCopy = join(scratch, dbName);
    let facts: { schema: number; counts: Record<string, number> };
    if (opts.databaseUrl) {
      // pg_dump reads one snapshot; the facts are read just before it (migrations do not run while Pier serves).
      facts = await postgresFacts(opts.databaseUrl);
      await dumpPostgres(opts.databaseUrl, dbCopy, opts.signal);
    } else {
      facts = await snapshotDatabase(opts.dataDir, dbCopy);
    }
    const { schema, counts } = facts;
    if (opts.signal?.aborted) throw new BackupError('backup_canceled', 'backup canceled');
    const sources: Source[] = [{ name: dbName, path: dbCopy, header: { ...headerOf(dbName, dbCopy), mode: 0o600 } }];
    if (!opts.withoutKey) {
      const keyPath = opts.masterKeyFile || join(opts.dataDir, 'master.key');
      if (!existsSync(keyPath)) throw new BackupError('backup_corrupt', `the master key ${keyPath} does not exist (use --without-key to back up without it)`);
      sources.push({ name: 'master.key', path: keyPath, header: { ...headerOf('master.key', keyPath), type: 'file', size: statSync(keyPath).size, mode: 0o600 } });
      const creds = join(opts.dataDir, 'credentials.json');
      if (existsSync(creds)) sources.push({ name: 'credentials.json', path: creds, header: headerOf('credentials.json', creds) });
    }
    for (const tree of TREES) {
      const root = join(opts.dataDir, tree);
      if (!existsSync(root)) continue;
      if (tree.includes('/')) sources.push({ name: 'builds', path: join(opts.dataDir, 'builds'), header: headerOf('builds', join(opts.dataDir, 'builds')) });
      walk(root, tree.split(/[\\/]/).join('/'), sources);
    }
    let images: string[] | undefined;
    if (opts.images) {
      opts.progress?.('images', bytes);
      const tar = join(scratch, 'images.tar');
      images = await saveImages(builtImagesOf(await deploymentData(dbCopy, opts.databaseUrl)), tar, opts.signal);
      if (images.length) sources.push({ name: 'images.tar', path: tar, header: { ...headerOf('images.tar', tar), mode: 0o600 } });
    }
    const idFile = join(opts.dataDir, 'installation-id');
    const members: ManifestMember[] = [];
    const manifest: Manifest = {
      format: BACKUP_FORMAT, pier_version: pierVersion(), schema_version: schema, created_at: new Date().toISOString(),
      installation_id: existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : '',
      data_dir: opts.dataDir, database: opts.databaseUrl ? 'postgres' : 'sqlite', key_included: !opts.withoutKey, ...(images ? { images } : {}), counts, members,
      ...(counts.volumes !== undefined ? { volumes: { backed_up_through: 'snapshots' as const, volumes: counts.volumes, snapshots: counts.snapshots ?? 0, note: VOLUMES_NOTE } } : {}),
    };
    async function* archive(): AsyncGenerator<Buffer> {
      for (const src of sources) {
        if (opts.signal?.aborted) throw new BackupError('backup_canceled', 'backup canceled');
        yield* member(src, members, progress(src.name.split('/')[0]!));
      }
      const text = Buffer.from(JSON.stringify(manifest, null, 2) + '\n', 'utf8');
      yield encodeHeader({ name: MANIFEST_NAME, type: 'file', size: text.length, mode: 0o644, mtime: Math.floor(Date.now() / 1000), uid: 0, gid: 0 });
      yield text;
      yield padding(text.length);
      yield endOfArchive();
    }
    try {
      await pipeline(archive(), createGzip(), createWriteStream(partial, { mode: 0o600 }), { signal: opts.signal });
    } catch (err) {
      if (opts.signal?.aborted) throw new BackupError('backup_canceled', 'backup canceled: no file was written');
      throw err;
    }
    renameSync(partial, opts.output);
    return manifest;
  } finally {
    rmSync(partial, { force: true });
    rmSync(scratch, { recursive: true, force: true });
  }
}

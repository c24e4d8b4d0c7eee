// `pier restore`: checks a backup completely before writing anything (every member against the manifest's sha256, the
// schema version, the key), then lays the data directory out in a staging directory beside the target and renames
// it into place, so a failed restore leaves the target exactly as it was.
import { createHash, randomUUID } from 'node:crypto';
import {
  chmodSync, createReadStream, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync,
  rmSync, rmdirSync, renameSync, symlinkSync, writeFileSync, writeSync, openSync, closeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import Database from 'better-sqlite3';
import { decryptSecret } from '../store/crypto.ts';
import { knownSchemaVersion } from '../store/migrations.ts';
import { BackupError } from './errors.ts';
import { checkSchema, compareMembers, MANIFEST_NAME, parseManifest, validMemberName, type Manifest, type ManifestMember } from './manifest.ts';
import { TarFormatError, TarReader, type TarHeader } from './tar.ts';
import { loadImages } from './images.ts';
import { checkPostgresEmpty, pgTarget, restorePostgres, settleRestoredPostgres, sealedValueOfDump } from './postgres.ts';

/** Handlers a pass over the archive gets: each member with its body chunks. */
interface Pass { entry(h: TarHeader): void; data(chunk: Buffer): void; end(h: TarHeader): void }

/** Streams the archive once, hashing every member; returns what it held and the manifest's text. */
async function readArchive(file: string, pass?: Pass): Promise<{ seen: ManifestMember[]; manifestText?: string }> {
  const seen: ManifestMember[] = [];
  let manifestText: string | undefined;
  let current: { h: TarHeader; hash: ReturnType<typeof createHash>; chunks?: Buffer[] } | undefined;
  const reader = new TarReader({
    entry(h) {
      if (manifestText !== undefined) throw new BackupError('backup_checksum_mismatch', `the backup holds ${h.name} after its manifest: it was altered`);
      if (h.name !== MANIFEST_NAME && !validMemberName(h.name)) throw new BackupError('backup_corrupt', `the backup holds an unexpected member ${JSON.stringify(h.name)}`);
      current = { h, hash: createHash('sha256'), ...(h.name === MANIFEST_NAME ? { chunks: [] } : {}) };
      if (h.type === 'symlink') current.hash.update(h.linkname ?? '');
      if (!current.chunks) pass?.entry(h);
    },
    data(chunk) {
      current!.hash.update(chunk);
      if (current!.chunks) current!.chunks.push(Buffer.from(chunk)); else pass?.data(chunk);
    },
    end() {
      const { h, hash, chunks } = current!;
      if (chunks) { manifestText = Buffer.concat(chunks).toString('utf8'); return; }
      seen.push({ name: h.name, type: h.type, size: h.size, ...(h.type === 'dir' ? {} : { sha256: hash.digest('hex') }) });
      pass?.end(h);
    },
  });
  try {
    const gunzip = createReadStream(file).pipe(createGunzip());
    for await (const chunk of gunzip) reader.feed(chunk as Buffer);
  } catch (err) {
    if (err instanceof BackupError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new BackupError('backup_corrupt', `${file} does not exist`);
    if (e.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(e.message)) {
      throw new BackupError('backup_truncated', `${file} is truncated (it ends early): copy it again`);
    }
    if (err instanceof TarFormatError || e.code?.startsWith('Z_')) throw new BackupError('backup_corrupt', `${file} is damaged: ${e.message}`);
    throw err;
  }
  if (!reader.complete()) throw new BackupError('backup_truncated', `${file} is truncated (the archive ends early): copy it again`);
  return { seen, manifestText };
}

/** Reads a backup end to end and checks every member against its manifest; writes nothing. */
export async function verifyBackup(file: string): Promise<Manifest> {
  const { seen, manifestText } = await readArchive(file);
  if (manifestText === undefined) throw new BackupError('backup_manifest_invalid', `${file} has no ${MANIFEST_NAME}: it is not a Pier backup, or it was cut short`);
  const manifest = parseManifest(manifestText);
  compareMembers(manifest, seen);
  return manifest;
}

/** How and where to restore. */
export interface RestoreOptions {
  file: string;
  dataDir: string;
  /** For a PostgreSQL backup: the empty database to restore it into (DATABASE_URL of the restored Pier). */
  databaseUrl?: string;
  /** The master key, required when the backup was taken --without-key (it replaces an included one otherwise). */
  keyFile?: string;
  /**
   * Keep the backed-up installation id: the same installation moved to a new machine, whose old containers are gone.
   * By default a restore takes a new id, so it never adopts or removes containers of the installation it came from.
   */
  keepInstallationId?: boolean;
  progress?: (stage: string) => void;
}

/** What a restore did; `images` when the backup held built images: loaded into the engine, or why not. */
export interface RestoreResult {
  manifest: Manifest; installationId: string; keptInstallationId: boolean;
  images?: { count: number; loaded: true } | { count: number; loaded: false; error: string; file: string };
}

function readKey(path: string): Buffer {
  if (!existsSync(path)) throw new BackupError('backup_key_wrong', `the key file ${path} does not exist`);
  const raw = readFileSync(path);
  if (raw.length === 32) return raw;
  const decoded = Buffer.from(raw.toString('utf8').trim(), 'base64');
  if (decoded.length !== 32) throw new BackupError('backup_key_wrong', `the key file ${path} must hold 32 bytes (raw or base64), found ${decoded.length}`);
  return decoded;
}

/** One sealed value of the restored SQLite database (secret, webhook secret, certificate, ACME key), if any. */
function sealedValueOf(db: Database.Database): string | undefined {
  const sealed = [
    'SELECT encrypted_value AS v FROM secrets LIMIT 1', 'SELECT encrypted_secret AS v FROM webhook_secrets LIMIT 1',
    'SELECT encrypted_pem AS v FROM certificates LIMIT 1', 'SELECT encrypted_key AS v FROM acme_accounts LIMIT 1',
  ];
  for (const sql of sealed) {
    const row = db.prepare(sql).get() as { v: string } | undefined;
    if (row) return row.v;
  }
  return undefined;
}

/** Decrypts one sealed value with `key`; a wrong key fails here, before anything is moved. */
function checkKey(sealed: string | undefined, key: Buffer): void {
  // Nothing sealed yet (no secret, certificate or webhook): there is nothing the key could be wrong about.
  if (sealed === undefined) return;
  try {
    decryptSecret(key, sealed);
  } catch {
    throw new BackupError('backup_key_wrong', 'the key does not decrypt the secrets of this backup: it is not the master key of the installation that took it');
  }
}

/** Refuses a target that exists and holds anything. */
function checkTarget(dir: string): void {
  if (!existsSync(dir)) return;
  if (!lstatSync(dir).isDirectory()) throw new BackupError('restore_target_not_empty', `${dir} exists and is not a directory`);
  const entries = readdirSync(dir);
  if (entries.length) {
    throw new BackupError('restore_target_not_empty', `the data directory ${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}): restore only into an empty or new directory`);
  }
}

/** Writes the members into `root`, never through a symlink a member planted. */
function extractPass(root: string): Pass & { close(): void } {
  const realDirs = new Set<string>([root]);
  let fd: number | undefined;
  const asRoot = process.getuid?.() === 0;
  const ensureParent = (path: string): void => {
    const parent = dirname(path);
    if (realDirs.has(parent)) return;
    ensureParent(parent);
    if (existsSync(parent) && !lstatSync(parent).isDirectory()) throw new BackupError('backup_corrupt', `the backup writes through ${parent}, which is not a directory`);
    mkdirSync(parent, { mode: 0o700 });
    realDirs.add(parent);
  };
  return {
    entry(h) {
      const path = join(root, h.name);
      ensureParent(path);
      if (h.type === 'dir') {
        if (!existsSync(path)) mkdirSync(path, { mode: 0o700 });
        realDirs.add(path);
      } else if (h.type === 'symlink') {
        symlinkSync(h.linkname ?? '', path);
      } else {
        fd = openSync(path, 'wx', 0o600);
      }
    },
    data(chunk) { if (fd !== undefined) writeSync(fd, chunk); },
    end(h) {
      if (fd !== undefined) { closeSync(fd); fd = undefined; }
      const path = join(root, h.name);
      // Permission bits only: a backup (checksummed, not signed) never plants a setuid or setgid file.
      if (h.type !== 'symlink') chmodSync(path, h.mode & 0o777);
      if (asRoot) lchownSync(path, h.uid, h.gid);
    },
    close() { if (fd !== undefined) closeSync(fd); },
  };
}

/** SQLite: checks the key and the schema of the extracted database and moves its build paths. */
function finishSqlite(staging: string, manifest: Manifest, key: Buffer, from: string, to: string): void {
  const db = new Database(join(staging, 'pier.db'));
  try {
    checkKey(sealedValueOf(db), key);
    const schema = Number((db.prepare('SELECT COALESCE(MAX(id), 0) AS n FROM schema_migrations').get() as { n: number }).n);
    if (schema !== manifest.schema_version) throw new BackupError('backup_checksum_mismatch', `the database has schema ${schema}, its manifest says ${manifest.schema_version}`);
    if (from === to) return;
    for (const table of ['deployments', 'regional_deployments', 'instances']) {
      db.prepare(`UPDATE ${table} SET data = REPLACE(data, ?, ?) WHERE instr(data, ?) > 0`).run(from, to, from);
    }
  } finally {
    db.close();
  }
}

/** PostgreSQL: checks the key against the dump, restores it in one transaction, moves its build paths. */
async function finishPostgres(staging: string, opts: RestoreOptions, key: Buffer, from: string, to: string): Promise<void> {
  const dump = join(staging, 'pier.pgdump');
  checkKey(await sealedValueOfDump(dump), key);
  opts.progress?.(`restoring the database into ${pgTarget(opts.databaseUrl!).display}`);
  await restorePostgres(opts.databaseUrl!, dump);
  await settleRestoredPostgres(opts.databaseUrl!, from, to);
  rmSync(dump);
}

/** Restores `file` into the empty (or new) data directory `dataDir`. */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const target = resolve(opts.dataDir);
  checkTarget(target);
  opts.progress?.('verifying checksums');
  const manifest = await verifyBackup(opts.file);
  checkSchema(manifest, knownSchemaVersion());
  if (manifest.database === 'postgres' && !opts.databaseUrl) {
    throw new BackupError('restore_database_mismatch', 'this backup holds a PostgreSQL store: give the empty database to restore it into with --database-url (or DATABASE_URL)');
  }
  if (manifest.database === 'sqlite' && opts.databaseUrl) {
    throw new BackupError('restore_database_mismatch', 'this backup holds a SQLite store: restore it without --database-url / DATABASE_URL');
  }
  if (opts.databaseUrl) await checkPostgresEmpty(opts.databaseUrl);
  if (!manifest.key_included && !opts.keyFile) {
    throw new BackupError('backup_key_required', 'this backup was taken without the master key: give it with --key-file FILE (the master.key of the installation that took it)');
  }
  const key = opts.keyFile ? readKey(opts.keyFile) : undefined;
  mkdirSync(dirname(target), { recursive: true });
  const staging = mkdtempSync(join(dirname(target), '.pier-restore-'));
  try {
    opts.progress?.('extracting');
    const pass = extractPass(staging);
    try {
      const { seen } = await readArchive(opts.file, pass);
      // The file could have changed since the first pass: what was written must be what was verified.
      compareMembers(manifest, seen);
    } finally {
      pass.close();
    }
    const keyPath = join(staging, 'master.key');
    if (key) writeFileSync(keyPath, key.toString('base64') + '\n', { mode: 0o600 });
    // Process-runtime builds are directories named by absolute path (`dir:<data-dir>/builds/...`): point them here.
    const from = JSON.stringify(`dir:${manifest.data_dir}/`).slice(1, -1);
    const to = JSON.stringify(`dir:${target}/`).slice(1, -1);
    if (manifest.database === 'postgres') await finishPostgres(staging, opts, key ?? readKey(keyPath), from, to);
    else finishSqlite(staging, manifest, key ?? readKey(keyPath), from, to);
    let images: RestoreResult['images'];
    const imagesTar = join(staging, 'images.tar');
    if (existsSync(imagesTar)) {
      const count = manifest.images?.length ?? 0;
      opts.progress?.(`loading ${count} built image(s) into the Docker engine`);
      try {
        await loadImages(imagesTar);
        rmSync(imagesTar);
        images = { count, loaded: true };
      } catch (err) {
        // No engine here (yet): the images stay beside the data for `docker load -i`; the rest of the restore stands.
        images = { count, loaded: false, error: (err as Error).message, file: join(target, 'images.tar') };
      }
    }
    const keep = Boolean(opts.keepInstallationId && manifest.installation_id);
    const installationId = keep ? manifest.installation_id : randomUUID();
    writeFileSync(join(staging, 'installation-id'), installationId + '\n', { mode: 0o600 });
    chmodSync(staging, 0o700);
    if (existsSync(target)) rmdirSync(target);
    renameSync(staging, target);
    return { manifest, installationId, keptInstallationId: keep, ...(images ? { images } : {}) };
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

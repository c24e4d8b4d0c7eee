// The manifest that ends every backup: what Pier wrote it, which schema, how many of each resource, and the sha256 of
// every other member. Pure: parsing and the checks restore runs before it writes anything.
import { BackupError } from './errors.ts';

/** Bumped only when the backup layout itself changes (not the database schema). */
export const BACKUP_FORMAT = 1;

/** The manifest's own member name: always the last member of the archive. */
export const MANIFEST_NAME = 'manifest.json';

/** One member as the manifest lists it; sha256 of a file's bytes or of a symlink's target, none for directories. */
export interface ManifestMember { name: string; type: 'file' | 'dir' | 'symlink'; size: number; sha256?: string }

/** What `manifest.json` holds. */
export interface Manifest {
  format: number;
  pier_version: string;
  /** The highest migration id applied to the database in the backup. */
  schema_version: number;
  created_at: string;
  /** The installation id (docker scope label) of the Pier that was backed up. */
  installation_id: string;
  /** The data directory it was taken from (restore rewrites build paths that point into it). */
  data_dir: string;
  /** Where the store was: `pier.db` (SQLite online backup) or `pier.pgdump` (pg_dump custom format). */
  database: 'sqlite' | 'postgres';
  key_included: boolean;
  /** Built images saved in `images.tar` (`--images`), loaded into the engine by restore. */
  images?: string[];
  counts: Record<string, number>;
  members: ManifestMember[];
  /** How volumes are covered (schema 9 and later): through their snapshots, never the live images. */
  volumes?: { backed_up_through: 'snapshots'; volumes: number; snapshots: number; note: string };
}

const TOP_LEVEL = ['pier.db', 'pier.pgdump', 'images.tar', 'master.key', 'credentials.json', 'tls', 'git', 'archives', 'builds', 'snapshots'];

/** Whether a member name is one a backup may hold: relative, no `..`, under one of the known top-level entries. */
export function validMemberName(name: string): boolean {
  if (!name || name.startsWith('/') || name.includes('\\') || name.includes('\0')) return false;
  const parts = name.replace(/\/$/, '').split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return false;
  return TOP_LEVEL.includes(parts[0]!);
}

/** Parses manifest.json, refusing anything this Pier cannot restore from. */
export function parseManifest(text: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    throw new BackupError('backup_manifest_invalid', 'the backup manifest is not valid JSON');
  }
  const bad = (why: string) => new BackupError('backup_manifest_invalid', `the backup manifest ${why}`);
  if (!m || typeof m !== 'object') throw bad('is not an object');
  if (m.format !== BACKUP_FORMAT) throw bad(`has format ${JSON.stringify(m.format)}; this Pier reads format ${BACKUP_FORMAT}`);
  if (!Number.isInteger(m.schema_version) || m.schema_version < 1) throw bad('has no schema_version');
  if (typeof m.key_included !== 'boolean' || !Array.isArray(m.members)) throw bad('lacks key_included or members');
  if (typeof m.data_dir !== 'string' || typeof m.installation_id !== 'string') throw bad('lacks data_dir or installation_id');
  for (const x of m.members) {
    if (!x || !validMemberName(x.name) || !['file', 'dir', 'symlink'].includes(x.type)) throw bad(`lists an invalid member ${JSON.stringify(x?.name)}`);
    if (x.type !== 'dir' && !/^[0-9a-f]{64}$/.test(x.sha256 ?? '')) throw bad(`has no sha256 for ${x.name}`);
  }
  if (m.database !== 'sqlite' && m.database !== 'postgres') throw bad(`names an unknown database ${JSON.stringify(m.database)}`);
  const dbMember = m.database === 'sqlite' ? 'pier.db' : 'pier.pgdump';
  if (!m.members.some((x) => x.name === dbMember && x.type === 'file')) throw bad(`lists no database (${dbMember})`);
  return m;
}

/** Refuses a backup written by a Pier whose schema is newer than the one this Pier knows. */
export function checkSchema(m: Manifest, known: number): void {
  if (m.schema_version > known) {
    throw new BackupError('backup_schema_too_new',
      `this backup has schema version ${m.schema_version} (Pier ${m.pier_version}); this Pier knows schema versions up to ${known}: restore it with Pier ${m.pier_version} or newer`);
  }
}

/**
 * Compares what the archive held with what its manifest lists: same names, types, sizes and checksums, nothing
 * missing, nothing extra. Throws on the first difference, naming the member.
 */
export function compareMembers(m: Manifest, seen: ManifestMember[]): void {
  const listed = new Map(m.members.map((x) => [x.name, x]));
  const found = new Set<string>();
  for (const s of seen) {
    const want = listed.get(s.name);
    if (!want) throw new BackupError('backup_checksum_mismatch', `the backup holds ${s.name}, which its manifest does not list: it was altered`);
    if (found.has(s.name)) throw new BackupError('backup_checksum_mismatch', `the backup holds ${s.name} twice: it was altered`);
    found.add(s.name);
    if (want.type !== s.type || want.size !== s.size || (want.sha256 ?? '') !== (s.sha256 ?? '')) {
      throw new BackupError('backup_checksum_mismatch', `${s.name} does not match the manifest's checksum: the backup is damaged or was altered`);
    }
  }
  const missing = m.members.filter((x) => !found.has(x.name));
  if (missing.length) {
    throw new BackupError('backup_checksum_mismatch', `the backup lacks ${missing.length} member(s) its manifest lists, e.g. ${missing[0]!.name}`);
  }
}

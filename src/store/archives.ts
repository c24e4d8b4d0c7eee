// Archives: uploaded source tarballs (Koyeb's /v1/archives). Rows hold the provisioned size and the SHA-256 of the
// one-time upload token; the tar.gz itself lives in <data-dir>/archives/<id>.tar.gz.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Db } from './db.ts';

/** An archive row. */
export interface ArchiveRow {
  id: string;
  organization_id: string;
  size: number;
  upload_token_hash: string;
  uploaded_at: string | null;
  created_at: string;
}

/** SHA-256 hex of an upload token (the token itself is never stored). */
export function hashUploadToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Stores a new archive row. */
export async function insertArchive(db: Db, a: ArchiveRow): Promise<void> {
  await db.run('INSERT INTO archives (id, organization_id, size, upload_token_hash, uploaded_at, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
    a.id, a.organization_id, a.size, a.upload_token_hash, a.uploaded_at, a.created_at,
  ]);
}

/** One archive by id. */
export async function getArchive(db: Db, id: string): Promise<ArchiveRow | undefined> {
  const row = await db.get<ArchiveRow>('SELECT * FROM archives WHERE id = ?', [id]);
  return row ? { ...row, size: Number(row.size) } : undefined;
}

/** What the upload token hash becomes while an upload holds the archive: no second request can claim it meanwhile. */
function claimedHash(tokenHash: string): string {
  return `claimed:${tokenHash}`;
}

/**
 * Claims the single-use upload of an archive in one conditional UPDATE: 'claimed' for exactly one caller holding the
 * token, 'used' when the token is right but another upload holds or finished it, 'refused' for a wrong token.
 */
export async function claimArchiveUpload(db: Db, id: string, tokenHash: string): Promise<'claimed' | 'used' | 'refused'> {
  const r = await db.run('UPDATE archives SET upload_token_hash = ? WHERE id = ? AND upload_token_hash = ? AND uploaded_at IS NULL', [
    claimedHash(tokenHash), id, tokenHash,
  ]);
  if (r.changes > 0) return 'claimed';
  const row = await getArchive(db, id);
  return row && (row.upload_token_hash === claimedHash(tokenHash) || (row.upload_token_hash === tokenHash && row.uploaded_at)) ? 'used' : 'refused';
}

/** Gives a claimed upload back after it failed (too large, cut off), so the same URL may be tried again. */
export async function releaseArchiveUpload(db: Db, id: string, tokenHash: string): Promise<void> {
  await db.run('UPDATE archives SET upload_token_hash = ? WHERE id = ? AND upload_token_hash = ? AND uploaded_at IS NULL', [
    tokenHash, id, claimedHash(tokenHash),
  ]);
}

/** Records a finished upload. */
export async function markArchiveUploaded(db: Db, id: string, at: string): Promise<void> {
  await db.run('UPDATE archives SET uploaded_at = ? WHERE id = ?', [at, id]);
}

/** Where a data directory keeps archive files. */
export function archivesDirOf(dataDir: string): string {
  return join(dataDir, 'archives');
}

/** The file of one archive inside an archives directory. */
export function archiveFile(archivesDir: string, id: string): string {
  if (!/^[0-9a-zA-Z-]+$/.test(id)) throw new Error(`invalid archive id ${id}`);
  return join(archivesDir, `${id}.tar.gz`);
}

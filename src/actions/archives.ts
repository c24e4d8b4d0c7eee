// Archive actions (Koyeb's /v1/archives): provisioning an archive (an id and a single-use upload token, stored
// hashed) and the upload's claim / completion / release around the bytes the API streams to disk.
import { randomBytes } from 'node:crypto';
import { PierError } from '../domain/errors.ts';
import {
  claimArchiveUpload, getArchive, hashUploadToken, insertArchive, markArchiveUploaded, releaseArchiveUpload,
} from '../store/archives.ts';
import { newId, nowIso } from '../store/rows.ts';
import { objectBody, type ActionContext } from './common.ts';

/** Largest archive accepted (bytes); CreateArchive asking for more, or an upload beyond its size, is refused. */
export const MAX_ARCHIVE_BYTES = 256 * 1024 * 1024;

/** A provisioned archive and the upload token to put in its signed URL (shown once). */
export interface NewArchive { archive: { id: string; organization_id: string; size: number; created_at: string }; token: string }

/** POST /v1/archives: validates the announced size and stores the archive row with the token's hash. */
export async function createArchive(ctx: ActionContext, body: unknown): Promise<NewArchive> {
  const input = objectBody(body);
  const raw = input.size ?? String(MAX_ARCHIVE_BYTES);
  const size = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new PierError('invalid_argument', 'size must be a positive number of bytes', [{ field: 'size', description: 'must be a positive integer' }]);
  }
  if (size > MAX_ARCHIVE_BYTES) {
    throw new PierError('payload_too_large', `Archives are limited to ${MAX_ARCHIVE_BYTES} bytes`, [{ field: 'size', description: `must be at most ${MAX_ARCHIVE_BYTES}` }]);
  }
  const token = randomBytes(24).toString('hex');
  const row = { id: newId(), organization_id: ctx.organizationId, size, upload_token_hash: hashUploadToken(token), uploaded_at: null, created_at: nowIso() };
  await insertArchive(ctx.store.db, row);
  return { archive: row, token };
}

/** An upload in progress: what the stream may write, and how to end it. */
export interface ArchiveUpload {
  id: string;
  /** The provisioned size: the stream is refused beyond it. */
  size: number;
  /** Records the archive as uploaded (the bytes are in place). */
  complete(): Promise<void>;
  /** Gives the claim back (the upload failed), so the signed URL may be used again. */
  release(): Promise<void>;
}

/**
 * Claims an archive's single-use upload with its token, in one conditional write before any byte is read: of two
 * concurrent uploads exactly one proceeds. The token is the credential (no bearer token on this route).
 */
export async function claimArchive(store: ActionContext['store'], id: string, token: string): Promise<ArchiveUpload> {
  const row = await getArchive(store.db, id);
  const tokenHash = hashUploadToken(token);
  const claim = row && token ? await claimArchiveUpload(store.db, row.id, tokenHash) : 'refused';
  if (!row || claim === 'refused') throw new PierError('authentication_error', 'Upload URL is invalid or was already used');
  if (claim === 'used') throw new PierError('invalid_state', `Archive ${row.id} was already uploaded (or is being uploaded): the upload URL is single-use`);
  return {
    id: row.id, size: row.size,
    complete: () => markArchiveUploaded(store.db, row.id, nowIso()),
    release: () => releaseArchiveUpload(store.db, row.id, tokenHash),
  };
}

// Archives (Koyeb's /v1/archives): CreateArchive provisions an id and a signed upload URL; the caller PUTs a tar.gz
// there (the token in the URL is the credential, checked against its stored hash); a definition then deploys it
// with `archive: {id, buildpack|docker}` and the builder extracts it like a git checkout.
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { PierError } from '../domain/errors.ts';
import {
  archiveFile, archivesDirOf, claimArchiveUpload, getArchive, hashUploadToken, insertArchive, markArchiveUploaded, releaseArchiveUpload,
} from '../store/archives.ts';
import { newId, nowIso } from '../store/rows.ts';
import { objectBody } from '../actions/common.ts';
import type { RequestContext, Route } from './router.ts';

/** Largest archive accepted (bytes); CreateArchive asking for more, or an upload beyond its size, is refused. */
export const MAX_ARCHIVE_BYTES = 256 * 1024 * 1024;

/** The wire Archive (size as a string, as protojson writes uint64). */
function wire(a: { id: string; organization_id: string; size: number; created_at: string }, uploadUrl: string): Record<string, unknown> {
  return { id: a.id, organization_id: a.organization_id, upload_url: uploadUrl, size: String(a.size), created_at: a.created_at, deleted_at: null };
}

async function createArchive(c: RequestContext): Promise<unknown> {
  const input = objectBody(await c.body());
  const raw = input.size ?? String(MAX_ARCHIVE_BYTES);
  const size = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new PierError('invalid_argument', 'size must be a positive number of bytes', [{ field: 'size', description: 'must be a positive integer' }]);
  }
  if (size > MAX_ARCHIVE_BYTES) {
    throw new PierError('payload_too_large', `Archives are limited to ${MAX_ARCHIVE_BYTES} bytes`, [{ field: 'size', description: `must be at most ${MAX_ARCHIVE_BYTES}` }]);
  }
  const token = randomBytes(24).toString('hex');
  const row = { id: newId(), organization_id: c.organizationId, size, upload_token_hash: hashUploadToken(token), uploaded_at: null, created_at: nowIso() };
  await insertArchive(c.store.db, row);
  const host = c.req.headers.host ?? '127.0.0.1';
  return { archive: wire(row, `http://${host}/v1/pier/archives/${row.id}/upload?token=${token}`) };
}

/** The signed upload URL: its token claims the archive once, then the body is received. */
async function uploadArchive(c: RequestContext): Promise<unknown> {
  const token = c.query.str('token') ?? '';
  const row = await getArchive(c.store.db, c.params.id!);
  const tokenHash = hashUploadToken(token);
  // Claimed in one conditional write before the body is read: of two concurrent PUTs exactly one proceeds.
  const claim = row && token ? await claimArchiveUpload(c.store.db, row.id, tokenHash) : 'refused';
  if (!row || claim === 'refused') throw new PierError('authentication_error', 'Upload URL is invalid or was already used');
  if (claim === 'used') throw new PierError('invalid_state', `Archive ${row.id} was already uploaded (or is being uploaded): the upload URL is single-use`);
  try {
    return await receiveArchive(c, row.id, row.size);
  } catch (err) {
    await releaseArchiveUpload(c.store.db, row.id, tokenHash);
    throw err;
  }
}

/** Streams the body of a claimed upload to a temp file, refusing (413) beyond `limit` bytes, then moves it into place. */
async function receiveArchive(c: RequestContext, id: string, limit: number): Promise<unknown> {
  const declared = Number(c.req.headers['content-length'] ?? 0);
  if (declared > limit) throw new PierError('payload_too_large', `Archive is larger than its provisioned ${limit} bytes`);
  const dir = archivesDirOf(c.store.dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = archiveFile(dir, id);
  const part = `${file}.${randomBytes(4).toString('hex')}.part`;
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > limit) cb(new PierError('payload_too_large', `Archive is larger than its provisioned ${limit} bytes`));
      else cb(null, chunk);
    },
  });
  try {
    await pipeline(c.req, counter, createWriteStream(part, { mode: 0o600 }));
    if (seen === 0) throw new PierError('invalid_argument', 'The archive is empty: upload a tar.gz');
    renameSync(part, file);
  } catch (err) {
    rmSync(part, { force: true });
    throw err;
  }
  await markArchiveUploaded(c.store.db, id, nowIso());
  return { archive: { id, size: String(seen) } };
}

/** CreateArchive plus Pier's signed-URL upload endpoint (PUT, or POST for clients that cannot PUT). */
export function archiveRoutes(): Route[] {
  return [
    { method: 'POST', path: '/v1/archives', operationId: 'CreateArchive', tag: 'Archives', handler: createArchive },
    { method: 'PUT', path: '/v1/pier/archives/{id}/upload', operationId: 'UploadArchive', tag: 'Pier', pier: true, handler: uploadArchive },
    { method: 'POST', path: '/v1/pier/archives/{id}/upload', operationId: 'UploadArchive2', tag: 'Pier', pier: true, handler: uploadArchive },
  ];
}

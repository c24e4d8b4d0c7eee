// Archives (Koyeb's /v1/archives): CreateArchive provisions an id and a signed upload URL; the caller PUTs a tar.gz
// there (the token in the URL is the credential, checked against its stored hash); a definition then deploys it
// with `archive: {id, buildpack|docker}` and the builder extracts it like a git checkout.
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { PierError } from '../domain/errors.ts';
import * as actions from '../actions/archives.ts';
import { MAX_ARCHIVE_BYTES } from '../actions/archives.ts';
import { archiveFile, archivesDirOf } from '../store/archives.ts';
import { actionContext } from './context.ts';
import type { RequestContext, Route } from './router.ts';

/** Largest archive accepted (bytes), from the archive actions. */
export { MAX_ARCHIVE_BYTES };

/** The wire Archive (size as a string, as protojson writes uint64). */
function wire(a: { id: string; organization_id: string; size: number; created_at: string }, uploadUrl: string): Record<string, unknown> {
  return { id: a.id, organization_id: a.organization_id, upload_url: uploadUrl, size: String(a.size), created_at: a.created_at, deleted_at: null };
}

async function createArchive(c: RequestContext): Promise<unknown> {
  const { archive, token } = await actions.createArchive(actionContext(c), await c.body());
  const host = c.req.headers.host ?? '127.0.0.1';
  return { archive: wire(archive, `http://${host}/v1/pier/archives/${archive.id}/upload?token=${token}`) };
}

/** The signed upload URL: its token claims the archive once (src/actions/archives.ts), then the body is received. */
async function uploadArchive(c: RequestContext): Promise<unknown> {
  const upload = await actions.claimArchive(c.store, c.params.id!, c.query.str('token') ?? '');
  try {
    return await receiveArchive(c, upload);
  } catch (err) {
    await upload.release();
    throw err;
  }
}

/** Streams the body of a claimed upload to a temp file, refusing (413) beyond `limit` bytes, then moves it into place. */
async function receiveArchive(c: RequestContext, upload: actions.ArchiveUpload): Promise<unknown> {
  const { id, size: limit } = upload;
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
  await upload.complete();
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

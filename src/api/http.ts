// HTTP plumbing for the API: JSON bodies with a size limit, JSON replies, query-string readers.
import type http from 'node:http';
import { PierError } from '../domain/errors.ts';

/** Largest accepted request body (1 MiB), as a 413 payload_too_large beyond. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Reads and parses a JSON body; an empty body is `{}`. */
export async function readJson(req: http.IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new PierError('invalid_argument', `Request body is not valid JSON: ${(err as Error).message}`);
  }
}

function tooLarge(limit: number): PierError {
  return new PierError('payload_too_large', `Request body exceeds ${limit} bytes`);
}

/** Sends a JSON reply. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Typed readers over a request's query string (repeated params for lists, as grpc-gateway). */
export class Query {
  constructor(readonly params: URLSearchParams) {}
  /** A single value, or undefined when absent or empty. */
  str(name: string): string | undefined {
    const v = this.params.get(name);
    return v === null || v === '' ? undefined : v;
  }
  /** Every value of a repeated param; also splits comma-separated values. */
  list(name: string): string[] | undefined {
    const vs = this.params.getAll(name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
    return vs.length ? vs : undefined;
  }
  /** A boolean param: true/1 → true, false/0 → false, absent → fallback. */
  bool(name: string, fallback = false): boolean {
    const v = this.str(name);
    if (v === undefined) return fallback;
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    throw new PierError('invalid_argument', `Query parameter ${name} must be true or false`, [
      { field: name, description: 'must be true or false' },
    ]);
  }
  /** A non-negative integer param. */
  int(name: string, fallback?: number): number | undefined {
    const v = this.str(name);
    if (v === undefined) return fallback;
    // Beyond 2^53 a number is no longer exact (and the database refuses it): a 400 naming the field, not a 500.
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) {
      throw new PierError('invalid_argument', `Query parameter ${name} must be a non-negative integer up to ${Number.MAX_SAFE_INTEGER}`, [
        { field: name, description: `must be a non-negative integer up to ${Number.MAX_SAFE_INTEGER}` },
      ]);
    }
    return Number(v);
  }
  /** limit/offset of a list: limit defaults to `def`, must be ≤ `max`. */
  page(def = 20, max = 100): { limit: number; offset: number } {
    const limit = this.int('limit', def)!;
    if (limit > max) {
      throw new PierError('invalid_argument', `limit must be at most ${max}`, [{ field: 'limit', description: `must be at most ${max}` }]);
    }
    return { limit: limit === 0 ? def : limit, offset: this.int('offset', 0)! };
  }
  /** An RFC 3339 timestamp param, normalised to UTC ISO form. */
  time(name: string): string | undefined {
    const v = this.str(name);
    if (v === undefined) return undefined;
    const t = Date.parse(v);
    if (Number.isNaN(t)) {
      throw new PierError('invalid_argument', `Query parameter ${name} must be an RFC 3339 timestamp`, [
        { field: name, description: 'must be an RFC 3339 timestamp' },
      ]);
    }
    return new Date(t).toISOString();
  }
  /** `asc` or `desc`. */
  order(fallback: 'asc' | 'desc' = 'desc'): 'asc' | 'desc' {
    const v = this.str('order')?.toLowerCase();
    if (v === undefined) return fallback;
    if (v === 'asc' || v === 'desc') return v;
    throw new PierError('invalid_argument', 'order must be asc or desc', [{ field: 'order', description: 'must be asc or desc' }]);
  }
}

/** A list reply envelope: `{<plural>: [...], limit, offset, count, has_next}`. */
export function listReply<T>(
  key: string, items: T[], page: { limit: number; offset: number }, count: number,
): Record<string, unknown> {
  return { [key]: items, limit: page.limit, offset: page.offset, count, has_next: page.offset + items.length < count };
}

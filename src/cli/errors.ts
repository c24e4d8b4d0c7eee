// Errors the CLI reports to the user: one line `error: <message>`, optional detail lines, and an exit code.
import type { FieldError } from '../domain/types.ts';

/** A failure to show the user as one clear line (plus optional detail lines). Exit code 1 unless stated. */
export class CliError extends Error {
  readonly details: string[];
  readonly exitCode: number;
  constructor(message: string, details: string[] = [], exitCode = 1) {
    super(message);
    this.name = 'CliError';
    this.details = details;
    this.exitCode = exitCode;
  }
}

/** An error body returned by the API ({status, code, message, fields}); each field error becomes a detail line. */
export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;
  readonly fields: FieldError[];
  constructor(status: number, code: string, message: string, fields: FieldError[] = []) {
    // A field line that only repeats the message (e.g. a duplicate name) is left out, so it prints once.
    super(message, fields.filter((f) => sameText(f.description, message) === false).map((f) => `${f.field}: ${f.description}`));
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/** Whether two messages say the same thing, ignoring case, quotes and a trailing period. */
function sameText(a: string, b: string): boolean {
  const norm = (t: string): string => t.toLowerCase().replace(/["'`]/g, '').replace(/[.\s]+$/, '').trim();
  return norm(a) === norm(b);
}

/** Pier's stable error code from an API error body: `details[].reason` of its google.rpc.ErrorInfo (every Pier error
 * body has one), else a string `code`; where Koyeb's spec expects google.rpc.Status, `code` is a gRPC number. */
export function apiErrorCode(body: { code?: unknown; details?: unknown }): string | undefined {
  const info = Array.isArray(body.details)
    ? (body.details as { '@type'?: unknown; reason?: unknown }[]).find((d) => d?.['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo')
    : undefined;
  if (typeof info?.reason === 'string') return info.reason;
  return typeof body.code === 'string' ? body.code : undefined;
}

// One catalogue of errors with stable codes and HTTP statuses. Users and tests match on `code`, never on prose.
// The wire body is Koyeb's: { status, code, message, fields[] }.
import type { FieldError } from './types.ts';

/** Every error code Pier can return, with its HTTP status. */
export const ERROR_CODES = {
  invalid_argument: 400,
  authentication_error: 401,
  authorization_required: 403,
  /** A write past one of the organization's quotas (src/domain/quotas.ts): nothing was written. */
  quota_exceeded: 403,
  unknown_resource: 404,
  already_exists: 409,
  invalid_state: 409,
  payload_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  not_implemented: 501,
  unavailable: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/** An error that knows its API code, status and (for validation) its field errors. */
export class PierError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly fields: FieldError[];
  constructor(code: ErrorCode, message: string, fields: FieldError[] = []) {
    super(message);
    this.name = 'PierError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.fields = fields;
  }
  /** The JSON body the API sends for this error. */
  toBody(): { status: number; code: ErrorCode; message: string; fields: FieldError[] } {
    return { status: this.status, code: this.code, message: this.message, fields: this.fields };
  }
}

/** A 400 naming each bad field; the message summarises them so a CLI user sees the fix in one line. */
export function validationError(fields: FieldError[]): PierError {
  const summary = fields.map((f) => `${f.field}: ${f.description}`).join('; ');
  return new PierError('invalid_argument', `Validation failed: ${summary}`, fields);
}

/** A 404 that never says whether the resource exists in another organization. */
export function notFound(kind: string, id: string): PierError {
  return new PierError('unknown_resource', `${kind} not found: ${id}`);
}

/** A 409 for an action the resource's current status does not allow. */
export function invalidState(message: string): PierError {
  return new PierError('invalid_state', message);
}

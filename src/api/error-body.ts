// Error bodies on the wire, shaped so Koyeb's generated clients can read every one of them.
//
// Koyeb's Go client (koyeb-api-client-go) and Python SDK pick the model that decodes an error body from the HTTP
// status alone, per operation: the spec declares `ErrorWithFields` for 400 and `Error` for 401/403/404/500/503
// (`code` a string), and `google.rpc.Status` (`code` an int32) for every other status ("default"). The catalog and
// usage operations declare only "default". A body whose `code` has the wrong JSON type fails to decode, and the user
// sees "cannot unmarshal string into Go struct field GoogleRpcStatus.code" instead of Pier's message. So:
// - a status the operation declares gets Koyeb's body `{status, code: "<pier code>", message, fields, details}`;
// - any other status gets `google.rpc.Status`: `{code: <gRPC code number>, message, details, status, fields}`.
// Both carry Pier's stable code in `details[0]` (a `google.rpc.ErrorInfo`, `reason` = the code), which is where
// Pier's own CLI and console read it whatever the status; unknown fields are ignored by both generated clients.
// koyeb-cli prints only the model's message for `Error`/`ErrorWithFields`; for `google.rpc.Status` it prints the
// HTTP status line, so those replies also carry the message as the status line's reason phrase.
import { STATUS_CODES } from 'node:http';
import { ERROR_CODES, type ErrorCode, type PierError } from '../domain/errors.ts';
import type { FieldError } from '../domain/types.ts';

/** The gRPC canonical code of each Pier error code (google.rpc.Code), sent where the spec expects google.rpc.Status. */
export const GRPC_CODES: Record<ErrorCode, number> = {
  invalid_argument: 3,
  authentication_error: 16,
  authorization_required: 7,
  quota_exceeded: 8,
  unknown_resource: 5,
  already_exists: 6,
  invalid_state: 9,
  payload_too_large: 8,
  rate_limit_error: 8,
  api_error: 13,
  not_implemented: 12,
  unavailable: 14,
};

/** The `@type` of the detail that carries Pier's stable error code. */
export const ERROR_INFO_TYPE = 'type.googleapis.com/google.rpc.ErrorInfo';

/** Statuses Koyeb's spec declares with `Error`/`ErrorWithFields` on (almost) every operation. */
const DECLARED_STATUSES = new Set([400, 401, 403, 404, 500, 503]);

/** Paths whose operations declare only "default" (koyeb-openapi.json: ListRegions, GetRegion, ListDatacenters,
 * ListUsage, ListCatalogInstances, GetCatalogInstance, GetOrganizationUsage, GetOrganizationUsageDetails). */
function declaresOnlyDefault(path: string): boolean {
  return path.startsWith('/v1/catalog/') || path === '/v1/usages' || path === '/v1/usages/details';
}

/** Whether Koyeb's spec declares a string-coded `Error`/`ErrorWithFields` body for `status` on this request path. */
export function declaresKoyebError(path: string, status: number): boolean {
  return DECLARED_STATUSES.has(status) && !declaresOnlyDefault(path);
}

/** One error reply: the HTTP status, the reason phrase for the status line, and the JSON body. */
export interface ErrorReply {
  status: number;
  reason: string;
  body: Record<string, unknown>;
}

/** A reason phrase must be visible ASCII and spaces only (no CR/LF); long messages are cut. */
function reasonPhrase(status: number, message: string): string {
  const text = message.replace(/[^\x20-\x7e]+/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 300);
  const standard = STATUS_CODES[status] ?? 'Error';
  return text ? `${standard}: ${text}` : standard;
}

/** The wire reply for a Pier error raised while serving `path` (see the file comment for the rule). */
export function errorReply(err: PierError, path: string): ErrorReply {
  return errorReplyFor(err.code, err.message, err.fields, path);
}

/** The wire reply for an error code and message (also for errors that are not PierErrors, as api_error). */
export function errorReplyFor(code: ErrorCode, message: string, fields: FieldError[], path: string): ErrorReply {
  const status = ERROR_CODES[code];
  const details = [{ '@type': ERROR_INFO_TYPE, reason: code, domain: 'pier', metadata: {} }];
  if (declaresKoyebError(path, status)) {
    return { status, reason: STATUS_CODES[status] ?? 'Error', body: { status, code, message, fields, details } };
  }
  return {
    status,
    reason: reasonPhrase(status, message),
    body: { code: GRPC_CODES[code], message, details, status, fields },
  };
}

/** Pier's stable error code from any error body Pier sends (either shape), or undefined for a foreign body. */
export function errorCodeOf(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { code?: unknown; details?: unknown };
  if (Array.isArray(b.details)) {
    const info = b.details.find((d) => d && typeof d === 'object' && (d as { '@type'?: unknown })['@type'] === ERROR_INFO_TYPE) as { reason?: unknown } | undefined;
    if (typeof info?.reason === 'string') return info.reason;
  }
  return typeof b.code === 'string' ? b.code : undefined;
}

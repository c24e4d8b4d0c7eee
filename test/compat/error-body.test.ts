// The error-body rule (src/api/error-body.ts): every status Koyeb's spec declares gets Koyeb's string-coded body,
// every other status google.rpc.Status with an int32 code, and both carry Pier's code in details[].
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PierError, type ErrorCode, ERROR_CODES } from '../../src/domain/errors.ts';
import { errorCodeOf, errorReply, GRPC_CODES } from '../../src/api/error-body.ts';

test('declared statuses get {status, code: string, message, fields}; the rest google.rpc.Status with an int code', () => {
  const rows: [ErrorCode, string, 'koyeb' | 'rpc'][] = [
    ['invalid_argument', '/v1/apps', 'koyeb'],
    ['authentication_error', '/v1/apps', 'koyeb'],
    ['authorization_required', '/v1/secrets', 'koyeb'],
    ['unknown_resource', '/v1/apps/x', 'koyeb'],
    ['api_error', '/v1/apps', 'koyeb'],
    ['unavailable', '/v1/apps', 'koyeb'],
    ['already_exists', '/v1/secrets', 'rpc'],
    ['invalid_state', '/v1/services/x/pause', 'rpc'],
    ['payload_too_large', '/v1/apps', 'rpc'],
    ['rate_limit_error', '/v1/apps', 'rpc'],
    ['not_implemented', '/v1/volumes', 'rpc'],
    // The catalog declares only "default": even its 404 is google.rpc.Status.
    ['unknown_resource', '/v1/catalog/regions/nope', 'rpc'],
    ['authentication_error', '/v1/catalog/instances', 'rpc'],
  ];
  for (const [code, path, shape] of rows) {
    const reply = errorReply(new PierError(code, `msg ${code}`, [{ field: 'f', description: 'd' }]), path);
    assert.equal(reply.status, ERROR_CODES[code]);
    assert.equal(errorCodeOf(reply.body), code, `${code} ${path}`);
    assert.equal(reply.body.message, `msg ${code}`);
    if (shape === 'koyeb') {
      assert.equal(reply.body.code, code, `${code} ${path}`);
      assert.equal(reply.body.status, reply.status);
      assert.deepEqual(reply.body.fields, [{ field: 'f', description: 'd' }]);
    } else {
      assert.equal(reply.body.code, GRPC_CODES[code], `${code} ${path}`);
      assert.ok(Number.isInteger(reply.body.code) && (reply.body.code as number) > 0 && (reply.body.code as number) < 17);
      assert.match(reply.reason, new RegExp(`: msg ${code}$`));
    }
  }
});

test('the reason phrase is a single line of visible ASCII', () => {
  const reply = errorReply(new PierError('already_exists', 'naïve\r\nX-Injected: 1\tname ' + 'x'.repeat(500)), '/v1/apps');
  assert.match(reply.reason, /^Conflict: [\x20-\x7e]+$/);
  assert.ok(!reply.reason.includes('\n') && reply.reason.length <= 320);
});

test("Pier's own CLI reads its stable code from both shapes", async () => {
  const { apiErrorCode } = await import('../../src/cli/errors.ts');
  for (const [code, path] of [['already_exists', '/v1/apps'], ['unknown_resource', '/v1/apps/x'], ['not_implemented', '/v1/volumes']] as const) {
    assert.equal(apiErrorCode(errorReply(new PierError(code, 'm'), path).body), code);
  }
  assert.equal(apiErrorCode({ code: 'invalid_argument' }), 'invalid_argument', 'a body without details (an older Pier)');
  assert.equal(apiErrorCode({ code: 6 }), undefined);
});

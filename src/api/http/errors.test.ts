import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EarshotError, ERROR_CODES } from '../../core/errors.js';
import { statusForCode, toHttpError } from './errors.js';

describe('toHttpError', () => {
  it('gives every code a status, and only the server\'s own failures hide behind `internal`', () => {
    for (const code of ERROR_CODES) {
      const { status, body } = toHttpError(new EarshotError(code, `the ${code} message`));
      assert.ok(status >= 400 && status < 600, `${code}: ${status}`);
      assert.equal(status, statusForCode(code));
      if (status === 500) assert.deepEqual(body.error, { code: 'internal', message: 'internal error', details: null }, code);
      else assert.equal(body.error.code, code);
    }
  });

  it('passes a typed retryAfterMs on, for the Retry-After header', () => {
    assert.equal(toHttpError(new EarshotError('unavailable', 'down', { retryable: true, retryAfterMs: 1500 })).retryAfterMs, 1500);
    assert.equal(toHttpError(new EarshotError('unavailable', 'down')).retryAfterMs, undefined);
  });

  it('answers anything that is not ours with a bare 500', () => {
    assert.deepEqual(toHttpError(new Error('secret path /etc/x')), { status: 500, body: { error: { code: 'internal', message: 'internal error', details: null } } });
  });
});

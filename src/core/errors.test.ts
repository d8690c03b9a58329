import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EarshotError, ERROR_CODES, isErrorCode, parseRetryAfter, toErrorInfo } from './errors.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

  it('reads delay-seconds, with fractions', () => {
    assert.equal(parseRetryAfter('7', now), 7000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('1.5', now), 1500);
  });

  it('reads an HTTP-date as the time left until it, and a past date as 0', () => {
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0);
  });

  it('gives undefined for nothing or nonsense', () => {
    for (const value of [null, undefined, '', '   ', 'soon', '-5', '1e3']) assert.equal(parseRetryAfter(value, now), undefined, String(value));
  });
});

describe('EarshotError', () => {
  it('carries retryAfterMs into its ErrorInfo, and toErrorInfo keeps it', () => {
    const err = new EarshotError('asr_failed', 'busy', { retryable: true, retryAfterMs: 7000 });
    assert.deepEqual(toErrorInfo(err), { code: 'asr_failed', message: 'busy', retryable: true, retryAfterMs: 7000 });
    assert.equal(new EarshotError('asr_failed', 'x', { retryAfterMs: -3 }).retryAfterMs, 0);
    assert.equal(new EarshotError('asr_failed', 'x', { retryAfterMs: Number.NaN }).retryAfterMs, undefined);
    assert.equal('retryAfterMs' in toErrorInfo(new EarshotError('asr_failed', 'x')), false);
  });

  it('knows its codes, and nothing else', () => {
    assert.ok(ERROR_CODES.every(isErrorCode));
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, 'no code listed twice');
    for (const code of ['nope', '', 42, null, 'toString']) assert.equal(isErrorCode(code), false, String(code));
  });
});

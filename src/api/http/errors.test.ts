import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
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

describe('the error table in docs/API.md', () => {
  it('lists every code a client can get under its status', () => {
    const doc = readFileSync(resolve(import.meta.dirname, '../../../docs/API.md'), 'utf8');
    const rows = new Map<number, string>();
    for (const m of doc.matchAll(/^\| (\d{3}) \| (.*) \|$/gm)) rows.set(Number(m[1]), m[2]!);
    for (const code of ERROR_CODES) {
      const status = statusForCode(code);
      const shown = status === 500 ? 'internal' : code;
      assert.ok(rows.get(status)?.includes(`\`${shown}\``), `docs/API.md has no \`${shown}\` in its ${status} row`);
    }
  });
});

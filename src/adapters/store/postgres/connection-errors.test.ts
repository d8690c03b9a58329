import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isConnectionFailure } from './connection-errors.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isConnectionFailure', () => {
  it('knows a server that is down, restarting or cut off', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P03', '08006', '08001', '53300']) assert.ok(isConnectionFailure(withCode(code)), code);
    assert.ok(isConnectionFailure(new Error('Connection terminated unexpectedly')));
    assert.ok(isConnectionFailure(new Error('timeout exceeded when trying to connect')));
    // localhost resolves to ::1 and 127.0.0.1: one refusal each.
    assert.ok(isConnectionFailure(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')])));
    assert.ok(isConnectionFailure(new Error('wrapped', { cause: withCode('ECONNRESET') })));
  });

  it('leaves statement errors alone', () => {
    for (const code of ['23505', '42P01', '40P01', '22P02']) assert.equal(isConnectionFailure(withCode(code)), false, code);
    assert.equal(isConnectionFailure(new Error('syntax error at or near "SELEC"')), false);
    assert.equal(isConnectionFailure(undefined), false);
    const loop: Error & { cause?: unknown } = new Error('loop');
    loop.cause = loop;
    assert.equal(isConnectionFailure(loop), false);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson, requestFingerprint } from './request-fingerprint.js';

describe('request fingerprints', () => {
  it('do not depend on the order of object keys, at any depth', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: null } }), '{"a":{"c":null,"d":[1,{"x":1,"y":2}]},"b":1}');
    assert.equal(requestFingerprint('k', { a: 1, b: { c: 'x', d: 2 } }), requestFingerprint('k', { b: { d: 2, c: 'x' }, a: 1 }));
  });

  it('differ by kind, by any value, and by array order', () => {
    const base = requestFingerprint('diagnostics', { input: { tasks: 1 }, priority: 'normal' });
    assert.match(base, /^[0-9a-f]{64}$/);
    assert.notEqual(requestFingerprint('transcription', { input: { tasks: 1 }, priority: 'normal' }), base);
    assert.notEqual(requestFingerprint('diagnostics', { input: { tasks: 2 }, priority: 'normal' }), base);
    assert.notEqual(requestFingerprint('diagnostics', { input: { tasks: 1 }, priority: 'high' }), base);
    assert.notEqual(requestFingerprint('k', [1, 2]), requestFingerprint('k', [2, 1]));
    // A string is not the number it spells.
    assert.notEqual(requestFingerprint('k', { n: 1 }), requestFingerprint('k', { n: '1' }));
  });
});

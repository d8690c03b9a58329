import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashSeed, mulberry32 } from './prng.js';

describe('mulberry32', () => {
  it('matches the reference sequence for seed 1', () => {
    const next = mulberry32(1);
    assert.deepEqual([next(), next(), next()], [0.6270739405881613, 0.002735721180215478, 0.5274470399599522]);
  });

  it('repeats under a seed, differs across seeds, and stays in [0, 1)', () => {
    const take = (seed: number) => Array.from({ length: 1000 }, mulberry32(seed));
    assert.deepEqual(take(42), take(42));
    assert.notDeepEqual(take(42), take(43));
    const all = take(7);
    assert.ok(all.every((x) => x >= 0 && x < 1));
    const mean = all.reduce((a, b) => a + b, 0) / all.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
  });
});

describe('hashSeed', () => {
  it('depends on every value, their order and sign', () => {
    const h = hashSeed([1, 2, 3]);
    assert.equal(hashSeed([1, 2, 3]), h);
    assert.notEqual(hashSeed([1, 2, 4]), h);
    assert.notEqual(hashSeed([3, 2, 1]), h);
    assert.notEqual(hashSeed([-1]), hashSeed([1]));
    assert.notEqual(hashSeed([1, 2, 3], 99), h);
    assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32);
  });
});

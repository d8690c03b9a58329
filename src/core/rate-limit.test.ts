import assert from 'node:assert/strict';
import { it } from 'node:test';
import { FakeClock } from './clock.js';
import { RateLimiter } from './rate-limit.js';

it('allows a minute\'s worth at once, then refills at the rate, per key', () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter(60, clock);
  for (let i = 0; i < 60; i++) assert.equal(limiter.take('a'), 0);
  assert.equal(limiter.take('a'), 1000);
  assert.equal(limiter.take('b'), 0);
  clock.advance(1000);
  assert.equal(limiter.take('a'), 0);
  assert.ok(limiter.take('a') > 0);
});

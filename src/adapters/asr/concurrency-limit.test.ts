import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createConcurrencyLimit } from './concurrency-limit.js';

describe('concurrency limit', () => {
  it('lets `max` in at once and hands slots on in order', async () => {
    const limit = createConcurrencyLimit(2);
    const a = await limit.acquire();
    const b = await limit.acquire();
    const order: string[] = [];
    const c = limit.acquire().then((release) => (order.push('c'), release));
    const d = limit.acquire().then((release) => (order.push('d'), release));
    assert.equal(limit.active, 2);
    assert.equal(limit.waiting, 2);
    a();
    a(); // a second release of the same slot does nothing
    const releaseC = await c;
    assert.deepEqual(order, ['c']);
    assert.equal(limit.waiting, 1);
    b();
    (await d)();
    releaseC();
    assert.deepEqual(order, ['c', 'd']);
    assert.equal(limit.active, 0);
  });

  it('drops an aborted waiter from the queue', async () => {
    const limit = createConcurrencyLimit(1);
    const release = await limit.acquire();
    const controller = new AbortController();
    const waiting = limit.acquire(controller.signal);
    controller.abort('cancelled');
    await assert.rejects(waiting, { name: 'AbortError' });
    assert.equal(limit.waiting, 0);
    await assert.rejects(limit.acquire(controller.signal), { name: 'AbortError' });
    release();
    assert.equal(limit.active, 0);
  });
});

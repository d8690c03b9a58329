import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deriveJobStatus, validateDag, type TaskStateCount } from './job.js';
import { backoffDelayMs, retryPolicy } from './retry.js';

const c = (state: TaskStateCount['state'], count: number, alwaysRun = false): TaskStateCount => ({ state, count, alwaysRun });

describe('job status', () => {
  it('is queued until a task starts, then running, then succeeded', () => {
    assert.deepEqual(deriveJobStatus([c('ready', 1), c('waiting', 2)], false), { status: 'queued', settled: false });
    assert.deepEqual(deriveJobStatus([c('running', 1), c('waiting', 2)], false), { status: 'running', settled: false });
    assert.deepEqual(deriveJobStatus([c('succeeded', 3)], false), { status: 'succeeded', settled: true });
  });

  it('fails as soon as a task is dead; a finaliser still running keeps it unsettled', () => {
    assert.deepEqual(deriveJobStatus([c('dead', 1), c('cancelled', 1), c('ready', 1, true)], false), { status: 'failed', settled: false });
    assert.deepEqual(deriveJobStatus([c('dead', 1), c('succeeded', 1, true)], false), { status: 'failed', settled: true });
  });

  it('ignores the finaliser\'s own outcome', () => {
    assert.equal(deriveJobStatus([c('succeeded', 2), c('dead', 1, true)], false).status, 'succeeded');
  });

  it('is cancelled when cancel was requested', () => {
    assert.equal(deriveJobStatus([c('running', 1)], true).status, 'cancelled');
  });
});

describe('DAG validation', () => {
  it('accepts a DAG and refuses cycles, unknown and duplicate keys', () => {
    validateDag([{ key: 'a', type: 't' }, { key: 'b', type: 't', dependsOn: ['a'] }]);
    assert.throws(() => validateDag([{ key: 'a', type: 't', dependsOn: ['b'] }, { key: 'b', type: 't', dependsOn: ['a'] }]), { code: 'invalid_dag' });
    assert.throws(() => validateDag([{ key: 'a', type: 't', dependsOn: ['x'] }]), { code: 'invalid_dag' });
    assert.throws(() => validateDag([{ key: 'a', type: 't' }, { key: 'a', type: 't' }]), { code: 'invalid_dag' });
    assert.throws(() => validateDag([]), { code: 'invalid_dag' });
  });
});

describe('backoff', () => {
  it('doubles from the initial delay, caps, and jitters down by at most the jitter share', () => {
    const p = retryPolicy({ initialDelayMs: 1000, factor: 2, maxDelayMs: 5000, jitter: 0.5 });
    assert.deepEqual([1, 2, 3, 4].map((a) => backoffDelayMs(p, a, 0)), [1000, 2000, 4000, 5000]);
    assert.equal(backoffDelayMs(p, 2, 0.999), Math.round(2000 - 2000 * 0.5 * 0.999));
    assert.throws(() => retryPolicy({ maxAttempts: 0 }), RangeError);
  });
});

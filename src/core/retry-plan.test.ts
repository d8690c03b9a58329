import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskState } from './job.js';
import { planRetry, type RetryPlanTask } from './retry-plan.js';

const task = (id: string, type: string, state: TaskState = 'succeeded', extra: Partial<RetryPlanTask> = {}): RetryPlanTask => ({
  id,
  type,
  state,
  alwaysRun: false,
  spawnedBy: null,
  ...extra,
});
const edge = (taskId: string, dependsOn: string) => ({ taskId, dependsOn });

describe('retry plan', () => {
  // probe -> plan -(spawns c1, c2)-> merge -> render, plus a notify finaliser after render.
  const tasks = [
    task('probe', 'probe'),
    task('plan', 'plan'),
    task('c1', 'asr', 'succeeded', { spawnedBy: 'plan' }),
    task('c2', 'asr', 'dead', { spawnedBy: 'plan' }),
    task('merge', 'merge', 'cancelled'),
    task('render', 'render', 'cancelled'),
    task('notify', 'notify', 'succeeded', { alwaysRun: true }),
  ];
  const edges = [edge('plan', 'probe'), edge('merge', 'plan'), edge('merge', 'c1'), edge('merge', 'c2'), edge('render', 'merge'), edge('notify', 'render')];

  it('from the failed step: reruns it and what follows, keeps what succeeded upstream', () => {
    const { reset, removed } = planRetry(tasks, edges, 'asr');
    assert.deepEqual([...reset].sort(), ['c1', 'c2', 'merge', 'notify', 'render']);
    assert.equal(removed.size, 0);
  });

  it('with no step: reruns only what did not succeed, its dependents and the finalisers', () => {
    assert.deepEqual([...planRetry(tasks, edges, undefined).reset].sort(), ['c2', 'merge', 'notify', 'render']);
  });

  it('from the fan-out step: removes the tasks it spawned, since it will spawn them again', () => {
    const { reset, removed } = planRetry(tasks, edges, 'plan');
    assert.deepEqual([...removed].sort(), ['c1', 'c2']);
    assert.deepEqual([...reset].sort(), ['merge', 'notify', 'plan', 'render']);
  });

  it('refuses an unknown step and names the steps there are', () => {
    assert.throws(() => planRetry(tasks, edges, 'nope'), (err: Error & { code?: string; details?: { steps?: string[] } }) => {
      assert.equal(err.code, 'unknown_step');
      assert.deepEqual(err.details?.steps, ['probe', 'plan', 'asr', 'merge', 'render', 'notify']);
      return true;
    });
  });
});

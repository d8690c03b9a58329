import { EarshotError } from './errors.js';
import type { TaskState } from './job.js';

export interface RetryPlanTask {
  id: string;
  type: string;
  state: TaskState;
  alwaysRun: boolean;
  spawnedBy: string | null;
}

/**
 * Which tasks of a finished job run again when it is retried from `fromStep`: that step, whatever did
 * not succeed, the finalisers, and everything downstream of those (`reset`). Tasks spawned by a task
 * that runs again will be spawned again, so they go (`removed`). Upstream results stay.
 */
export function planRetry(
  tasks: readonly RetryPlanTask[],
  edges: readonly { taskId: string; dependsOn: string }[],
  fromStep: string | undefined,
): { reset: Set<string>; removed: Set<string> } {
  const steps = [...new Set(tasks.map((t) => t.type))];
  if (fromStep !== undefined && !steps.includes(fromStep)) {
    throw new EarshotError('unknown_step', `the job has no step "${fromStep}"`, { details: { steps } });
  }
  const dependents = new Map<string, string[]>();
  for (const e of edges) dependents.set(e.dependsOn, [...(dependents.get(e.dependsOn) ?? []), e.taskId]);
  const reset = new Set<string>();
  const visit = (id: string) => {
    if (reset.has(id)) return;
    reset.add(id);
    for (const d of dependents.get(id) ?? []) visit(d);
  };
  for (const t of tasks) if (t.type === fromStep || t.state !== 'succeeded' || t.alwaysRun) visit(t.id);

  const removed = new Set<string>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const t of tasks) {
      const parent = t.spawnedBy;
      if (parent !== null && parent !== t.id && !removed.has(t.id) && (removed.has(parent) || reset.has(parent))) {
        removed.add(t.id);
        grew = true;
      }
    }
  }
  for (const id of removed) reset.delete(id);
  return { reset, removed };
}

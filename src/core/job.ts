import { EarshotError, type ErrorInfo } from './errors.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** waiting: on dependencies; retry_wait: failed, will retry at run_at; dead: out of attempts or not retryable. */
export const taskStates = ['waiting', 'ready', 'running', 'retry_wait', 'succeeded', 'dead', 'cancelled'] as const;
export type TaskState = (typeof taskStates)[number];

export const jobStatuses = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobStatus = (typeof jobStatuses)[number];

export const priorities = { urgent: 30, high: 20, normal: 10, low: 0 } as const;
export type Priority = keyof typeof priorities;

export function priorityValue(p: Priority): number {
  return priorities[p];
}

export function priorityName(value: number): Priority {
  if (value >= priorities.urgent) return 'urgent';
  if (value >= priorities.high) return 'high';
  if (value >= priorities.normal) return 'normal';
  return 'low';
}

export function isPriority(value: unknown): value is Priority {
  return typeof value === 'string' && Object.hasOwn(priorities, value);
}

export const terminalTaskStates: ReadonlySet<TaskState> = new Set(['succeeded', 'dead', 'cancelled']);
export const terminalJobStatuses: ReadonlySet<JobStatus> = new Set(['succeeded', 'failed', 'cancelled']);

/** One node of a job's DAG as a pipeline describes it. */
export interface TaskSpec {
  /** Unique within the job; dependencies name keys. */
  key: string;
  /** The step: which handler runs it. Several tasks may share a type (one per chunk). */
  type: string;
  input?: Json;
  dependsOn?: string[];
  /** Pool override; otherwise the task type's pool. */
  pool?: string;
  /** Runs even when the job fails or is cancelled (a finaliser such as a notification). */
  alwaysRun?: boolean;
  maxAttempts?: number;
}

/** A task added at run time by a running task of the same job (fan-out). */
export interface SpawnSpec extends TaskSpec {
  /** Keys of existing tasks of the job that must now also wait for this one (fan-in). */
  blocks?: string[];
}

/** Counts of tasks by state, as the store reports them, for status derivation. */
export interface TaskStateCount {
  state: TaskState;
  alwaysRun: boolean;
  count: number;
}

/**
 * A job's status derived from its tasks. Always-run tasks (finalisers) never change the outcome:
 * a job is failed as soon as one of its other tasks is dead, succeeded when all of them succeeded.
 */
export function deriveJobStatus(counts: readonly TaskStateCount[], cancelRequested: boolean): { status: JobStatus; settled: boolean } {
  let active = 0;
  let dead = 0;
  let succeeded = 0;
  let started = 0;
  let total = 0;
  for (const c of counts) {
    if (!terminalTaskStates.has(c.state)) active += c.count;
    if (c.alwaysRun) continue;
    total += c.count;
    if (c.state === 'dead') dead += c.count;
    if (c.state === 'succeeded') succeeded += c.count;
    if (c.state === 'running' || c.state === 'retry_wait' || c.state === 'succeeded' || c.state === 'dead') started += c.count;
  }
  const settled = active === 0;
  if (cancelRequested) return { status: 'cancelled', settled };
  if (dead > 0) return { status: 'failed', settled };
  if (total > 0 && succeeded === total) return { status: 'succeeded', settled };
  return { status: started > 0 ? 'running' : 'queued', settled };
}

/** Checks a DAG: unique keys, known dependencies, no cycles. Throws `invalid_dag`. */
export function validateDag(tasks: readonly TaskSpec[], existingKeys: ReadonlySet<string> = new Set()): void {
  if (tasks.length === 0 && existingKeys.size === 0) throw new EarshotError('invalid_dag', 'a job needs at least one task');
  const keys = new Set<string>();
  for (const t of tasks) {
    if (!t.key || !t.type) throw new EarshotError('invalid_dag', 'every task needs a key and a type');
    if (keys.has(t.key) || existingKeys.has(t.key)) throw new EarshotError('invalid_dag', `duplicate task key "${t.key}"`);
    keys.add(t.key);
  }
  for (const t of tasks) {
    for (const d of t.dependsOn ?? []) {
      if (!keys.has(d) && !existingKeys.has(d)) throw new EarshotError('invalid_dag', `task "${t.key}" depends on unknown task "${d}"`);
    }
  }
  // Kahn's algorithm over the new tasks; existing tasks cannot depend on new ones, so no cycle passes through them.
  const indegree = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const t of tasks) {
    const deps = (t.dependsOn ?? []).filter((d) => keys.has(d));
    indegree.set(t.key, deps.length);
    for (const d of deps) dependents.set(d, [...(dependents.get(d) ?? []), t.key]);
  }
  const queue = [...indegree].filter(([, n]) => n === 0).map(([k]) => k);
  let seen = 0;
  while (queue.length > 0) {
    const k = queue.pop()!;
    seen++;
    for (const next of dependents.get(k) ?? []) {
      const n = indegree.get(next)! - 1;
      indegree.set(next, n);
      if (n === 0) queue.push(next);
    }
  }
  if (seen !== tasks.length) throw new EarshotError('invalid_dag', 'the task graph has a cycle');
}

/** A task as the store holds it. */
export interface TaskRecord {
  id: string;
  jobId: string;
  key: string;
  type: string;
  pool: string;
  priority: number;
  state: TaskState;
  alwaysRun: boolean;
  spawnedBy: string | null;
  attempts: number;
  maxAttempts: number;
  runAt: number;
  leaseOwner: string | null;
  leaseExpiresAt: number | null;
  input: Json;
  output: Json | null;
  progress: Json | null;
  errors: TaskErrorEntry[];
  dependsOn: string[];
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

export interface TaskErrorEntry extends ErrorInfo {
  attempt: number;
  at: number;
}

export interface JobRecord {
  id: string;
  tenantId: string;
  kind: string;
  status: JobStatus;
  priority: number;
  idempotencyKey: string | null;
  input: Json;
  error: ErrorInfo | null;
  cancelRequested: boolean;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** Per step (task type): how many tasks are in each state. */
export interface StepProgress {
  step: string;
  total: number;
  done: number;
  state: 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  counts: Partial<Record<TaskState, number>>;
}

export function summariseStep(step: string, counts: Partial<Record<TaskState, number>>): StepProgress {
  const n = (s: TaskState) => counts[s] ?? 0;
  const total = Object.values(counts).reduce((a, b) => a + (b ?? 0), 0);
  const done = n('succeeded');
  let state: StepProgress['state'] = 'pending';
  if (n('dead') > 0) state = 'failed';
  else if (done === total && total > 0) state = 'succeeded';
  else if (n('running') + n('retry_wait') > 0 || done > 0) state = 'running';
  else if (n('cancelled') > 0 && n('cancelled') + done === total) state = 'cancelled';
  return { step, total, done, state, counts };
}

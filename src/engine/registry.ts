import type { Clock } from '../core/clock.js';
import { defaultRetryPolicy, retryPolicy, type RetryPolicy } from '../core/retry.js';
import type { Json, SpawnSpec, TaskSpec } from '../core/job.js';
import type { Logger } from '../ports/logger.js';
import type { ClaimedTask, Store } from '../ports/store.js';

/** What a handler gets: its task, an abort signal, progress reporting, fan-out, and its inputs. */
export interface TaskContext {
  readonly task: ClaimedTask;
  /** Aborted when the job is cancelled, the lease is lost, or the worker shuts down. Pass it to ffmpeg and ASR calls. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  readonly clock: Clock;
  /** Records progress (sent with the next lease renewal). */
  progress(progress: Json): void;
  /** Adds tasks to this job when this task succeeds (fan-out). */
  spawn(tasks: SpawnSpec | readonly SpawnSpec[]): void;
  /** Outputs of the tasks this one depends on, in creation order (fan-in). */
  dependencyOutputs(): Promise<{ key: string; type: string; output: Json | null }[]>;
}

export type TaskHandler = (ctx: TaskContext) => Promise<Json | void>;

export interface TaskDefinition {
  type: string;
  /** Which workers run it: `cpu` (default), `gpu`, `io`, `asr` or any named pool. */
  pool?: string;
  retry?: Partial<RetryPolicy>;
  handler: TaskHandler;
}

export interface JobKindDefinition<I = Json> {
  kind: string;
  /**
   * Whether clients may submit it (POST /v1/jobs). Internal kinds (notifications, sweeps, anything a
   * pipeline submits for itself) are refused there as if they did not exist.
   */
  public: boolean;
  /** Validates the input (throwing an EarshotError) and returns the DAG. */
  plan(input: I): TaskSpec[];
  /**
   * Checks that every object the input names (an upload, a delivery, a job) belongs to the submitting
   * tenant, throwing `not_found` otherwise. Runs at every submission, after `plan`. Omit it only for
   * kinds whose input names nothing.
   */
  checkReferences?(input: I, scope: { tenantId: string; store: Store }): Promise<void>;
}

/**
 * A step added to the end of every job it applies to: it runs after all other tasks, also when the
 * job fails or is cancelled, and never changes the job's outcome (notifications are one).
 */
export interface FinaliserDefinition {
  /** The task's key in the job. */
  key: string;
  /** A task type defined with defineTask. */
  type: string;
  /** Whether this job gets the step; decided once, at submission. It may refuse the job by throwing an EarshotError. */
  appliesTo(job: { tenantId: string; kind: string; input: Json }): boolean | Promise<boolean>;
}

export interface ResolvedTaskDefinition extends TaskDefinition {
  pool: string;
  retry: RetryPolicy;
}

export const DEFAULT_POOL = 'cpu';

/** Task types and job kinds known to this process. */
export class Registry {
  private readonly tasks = new Map<string, ResolvedTaskDefinition>();
  private readonly jobs = new Map<string, JobKindDefinition<never>>();
  private readonly finaliserList: FinaliserDefinition[] = [];

  defineTask(def: TaskDefinition): this {
    this.tasks.set(def.type, { ...def, pool: def.pool ?? DEFAULT_POOL, retry: retryPolicy(def.retry) });
    return this;
  }

  defineJob<I>(def: JobKindDefinition<I>): this {
    this.jobs.set(def.kind, def as JobKindDefinition<never>);
    return this;
  }

  defineFinaliser(def: FinaliserDefinition): this {
    this.finaliserList.push(def);
    return this;
  }

  finalisers(): readonly FinaliserDefinition[] {
    return this.finaliserList;
  }

  task(type: string): ResolvedTaskDefinition | undefined {
    return this.tasks.get(type);
  }

  job(kind: string): JobKindDefinition<never> | undefined {
    return this.jobs.get(kind);
  }

  taskTypes(): string[] {
    return [...this.tasks.keys()];
  }

  jobKinds(): string[] {
    return [...this.jobs.keys()];
  }

  /** The kinds clients may submit. */
  publicJobKinds(): string[] {
    return [...this.jobs.values()].filter((j) => j.public).map((j) => j.kind);
  }

  /** Pool and attempts for a task spec: the spec's own, else its type's, else the defaults. */
  resolve(spec: TaskSpec): { pool: string; maxAttempts: number; alwaysRun: boolean } {
    const def = this.tasks.get(spec.type);
    return {
      pool: spec.pool ?? def?.pool ?? DEFAULT_POOL,
      maxAttempts: spec.maxAttempts ?? def?.retry.maxAttempts ?? defaultRetryPolicy.maxAttempts,
      alwaysRun: spec.alwaysRun ?? false,
    };
  }
}

import { systemClock, type Clock } from '../core/clock.js';
import { EarshotError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { requestFingerprint } from '../core/request-fingerprint.js';
import { priorityValue, terminalJobStatuses, type Json, type JobRecord, type JobStatus, type Priority, type TaskSpec } from '../core/job.js';
import type { DeadTask, JobDetail, JobSummary, NewTask, Store } from '../ports/store.js';
import type { Registry } from './registry.js';
import { isOutage } from './store-outage.js';

export interface SubmitRequest {
  tenantId: string;
  kind: string;
  input?: Json;
  priority?: Priority;
  /**
   * The same key from the same tenant with the same request returns the same job; with another kind
   * or other parameters it is refused with `conflict` (details.job_id names the first job).
   */
  idempotencyKey?: string;
  /**
   * What makes two submissions under one idempotency key the same request. Default: the input and
   * the priority. A caller whose input holds something fresh per request (a new upload's id) names
   * the parts that count instead.
   */
  fingerprint?: Json;
  /**
   * Set when this process submits work for itself (a pipeline, an operator's command): internal job
   * kinds are allowed. Without it only public kinds are, as for a client.
   */
  internal?: boolean;
  /** The DAG; by default the job kind's plan builds it from the input. */
  tasks?: TaskSpec[];
}

/** The engine's client side: submit jobs and act on them. Workers are in worker.ts. */
export class Engine {
  readonly store: Store;
  readonly registry: Registry;
  readonly clock: Clock;

  constructor(options: { store: Store; registry: Registry; clock?: Clock }) {
    this.store = options.store;
    this.registry = options.registry;
    this.clock = options.clock ?? systemClock;
  }

  async submit(req: SubmitRequest): Promise<{ job: JobRecord; created: boolean }> {
    const input = req.input ?? {};
    let specs = req.tasks;
    if (!specs) {
      const kind = this.registry.job(req.kind);
      // An internal kind is no more visible to a client than one that does not exist.
      if (!kind || (!kind.public && !req.internal)) {
        const kinds = req.internal ? this.registry.jobKinds() : this.registry.publicJobKinds();
        throw new EarshotError('unknown_job_kind', `unknown job kind "${req.kind}"`, { details: { kinds } });
      }
      specs = kind.plan(input as never);
      await kind.checkReferences?.(input as never, { tenantId: req.tenantId, store: this.store });
    }
    specs = await this.withFinalisers(req, input, specs);
    const now = this.clock.now();
    const tasks: NewTask[] = specs.map((s) => ({
      id: newId('task', now),
      key: s.key,
      type: s.type,
      input: s.input ?? null,
      dependsOn: s.dependsOn ?? [],
      ...this.registry.resolve(s),
    }));
    const priority = req.priority ?? 'normal';
    const fingerprint = req.idempotencyKey ? requestFingerprint(req.kind, req.fingerprint ?? { input, priority }) : null;
    const { job, created, requestFingerprint: stored } = await this.store.submitJob(
      {
        id: newId('job', now),
        tenantId: req.tenantId,
        kind: req.kind,
        priority: priorityValue(priority),
        idempotencyKey: req.idempotencyKey ?? null,
        requestFingerprint: fingerprint,
        input,
        tasks,
      },
      now,
    );
    // Jobs stored before fingerprints existed can only be told apart by kind.
    if (!created && (stored === null ? job.kind !== req.kind : stored !== fingerprint)) {
      throw new EarshotError('conflict', 'the idempotency key was already used for a different request', { details: { job_id: job.id, kind: job.kind } });
    }
    return { job, created };
  }

  /** The DAG with the registry's finalisers that apply to this job, each waiting for every other task. */
  private async withFinalisers(req: SubmitRequest, input: Json, specs: TaskSpec[]): Promise<TaskSpec[]> {
    const finalisers = this.registry.finalisers();
    if (finalisers.length === 0) return specs;
    const upstream = new Set(specs.flatMap((s) => s.dependsOn ?? []));
    const sinks = specs.filter((s) => !upstream.has(s.key)).map((s) => s.key);
    const added: TaskSpec[] = [];
    for (const f of finalisers) {
      if (specs.some((s) => s.key === f.key)) continue;
      if (await f.appliesTo({ tenantId: req.tenantId, kind: req.kind, input })) added.push({ key: f.key, type: f.type, dependsOn: sinks, alwaysRun: true });
    }
    return added.length === 0 ? specs : [...specs, ...added];
  }

  /** A job of `tenantId`; without a tenant, of any (operator tools, tests). */
  async getJob(jobId: string, tenantId?: string): Promise<JobDetail> {
    const job = await this.store.getJob(jobId, tenantId ?? null);
    if (!job) throw new EarshotError('not_found', 'no such job', { details: { job_id: jobId } });
    return job;
  }

  listJobs(query: { tenantId?: string; status?: JobStatus; kind?: string; limit?: number; before?: string }): Promise<JobSummary[]> {
    return this.store.listJobs({ ...query, limit: Math.min(Math.max(query.limit ?? 50, 1), 500) });
  }

  /** Cancels a job that has not finished; running handlers get an abort signal. */
  async cancel(jobId: string, tenantId?: string): Promise<JobRecord> {
    const current = await this.getJob(jobId, tenantId);
    if (terminalJobStatuses.has(current.status)) {
      throw new EarshotError('conflict', `the job has already ${current.status}`, { details: { status: current.status } });
    }
    const job = await this.store.cancelJob(jobId, this.clock.now(), tenantId);
    if (!job) throw new EarshotError('not_found', 'no such job', { details: { job_id: jobId } });
    return job;
  }

  /** Runs a finished job again from `fromStep` (or from whatever did not succeed). */
  async retry(jobId: string, fromStep?: string, tenantId?: string): Promise<JobRecord> {
    const job = await this.store.retryJob(jobId, fromStep, this.clock.now(), tenantId);
    if (!job) throw new EarshotError('not_found', 'no such job', { details: { job_id: jobId } });
    return job;
  }

  listDead(query: { tenantId?: string; limit?: number }): Promise<DeadTask[]> {
    return this.store.listDeadTasks({ ...query, limit: Math.min(Math.max(query.limit ?? 50, 1), 500) });
  }

  /** Resolves when the job reaches `status` (or any finished status), for tests and the CLI. */
  async waitFor(jobId: string, options: { timeoutMs?: number; settled?: boolean } = {}): Promise<JobDetail> {
    const done = (j: JobDetail) => (options.settled ? j.finishedAt !== null : ['succeeded', 'failed', 'cancelled'].includes(j.status));
    return new Promise<JobDetail>((resolve, reject) => {
      let finished = false;
      const check = async () => {
        if (finished) return;
        try {
          const job = await this.getJob(jobId);
          if (done(job) && !finished) {
            finish();
            resolve(job);
          }
        } catch (err) {
          // A store outage does not end the wait: the next poll looks again.
          if (isOutage(err)) return;
          finish();
          reject(err);
        }
      };
      const unsubscribe = this.store.subscribe((e) => {
        if (e.type === 'job' && e.jobId === jobId) void check();
      });
      const poll = setInterval(() => void check(), 100);
      const timer = setTimeout(() => {
        finish();
        reject(new EarshotError('unavailable', `job ${jobId} did not finish in time`, { retryable: true }));
      }, options.timeoutMs ?? 60_000);
      const finish = () => {
        finished = true;
        unsubscribe();
        clearInterval(poll);
        clearTimeout(timer);
      };
      void check();
    });
  }
}

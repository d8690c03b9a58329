/**
 * Live events of one job, derived by diffing snapshots of `Engine.getJob`: there is no event log, so
 * the engine's hot path pays nothing for watchers. A watcher wakes on the store's `job` events (status
 * changes, published across processes on PostgreSQL) and polls for what is not published (heartbeat
 * progress, steps moving on without a status change).
 *
 * Event ids are versions of the job: the newest `updatedAt` of the job and its tasks, in ms, as a
 * decimal string. When a stream must send a new state whose version is not newer than the last id it
 * sent (two changes in one millisecond, clocks of different workers), it appends an in-stream counter:
 * `1700000000000-2` comes after `1700000000000` and `1700000000000-1`. The events of one state are
 * sent together, so an id stands for that whole state.
 *
 * Resuming (`lastEventId`) sends nothing until something changes when the id is as new as the job,
 * and otherwise one `status` + `progress` snapshot of the current state: whatever happened in
 * between collapses into it. A settled job always ends with `end`. A store outage after the first
 * snapshot does not end the watch: it polls until the store answers again.
 */
import type { ErrorInfo } from '../core/errors.js';
import type { Json, JobStatus, StepProgress } from '../core/job.js';
import type { JobDetail } from '../ports/store.js';
import type { Engine } from './engine.js';
import { isOutage } from './store-outage.js';

export interface JobEventError {
  code: string;
  message: string;
  details: Record<string, unknown> | null;
}

/** `status`: the job's status changed (or its error did). */
export interface JobStatusData {
  job_id: string;
  status: JobStatus;
  error: JobEventError | null;
  finished_at: string | null;
}

/** What one running task last reported through its heartbeat (null until it reports). */
export interface TaskProgressData {
  task_id: string;
  key: string;
  step: string;
  progress: Json | null;
}

/** `progress`: steps moved on, or a running task reported progress. done/total sum the steps. */
export interface JobProgressData {
  job_id: string;
  steps: StepProgress[];
  progress: TaskProgressData[];
  done: number;
  total: number;
}

/** `end`: the job is settled (nothing of it runs any more); the stream ends after it. */
export interface JobEndData {
  job_id: string;
  status: JobStatus;
  error: JobEventError | null;
  finished_at: string;
}

/** One event; `data` is what goes on the wire (snake_case JSON, ISO 8601 times). */
export type JobEvent =
  | { id: string; type: 'status'; data: JobStatusData }
  | { id: string; type: 'progress'; data: JobProgressData }
  | { id: string; type: 'end'; data: JobEndData };

export interface WatchJobOptions {
  /** Only this tenant's job; another tenant's job is not found. */
  tenantId?: string;
  /** Resume after this event id (SSE `Last-Event-ID`). */
  lastEventId?: string;
  /** Ends the iterable quietly (no error) when aborted. */
  signal: AbortSignal;
  /** How often to look for unpublished changes (progress). Default 1000. */
  pollMs?: number;
}

/** An event id: a job version in ms and the in-stream counter (0 when the id has no suffix). */
export interface EventVersion {
  ms: number;
  seq: number;
}

export function parseEventId(id: string): EventVersion | undefined {
  const m = /^(\d{1,16})(?:-(\d{1,9}))?$/.exec(id.trim());
  if (!m) return undefined;
  return { ms: Number(m[1]), seq: m[2] === undefined ? 0 : Number(m[2]) };
}

export function formatEventId(v: EventVersion): string {
  return v.seq === 0 ? String(v.ms) : `${v.ms}-${v.seq}`;
}

/** Negative, zero or positive as `a` is older than, the same as, or newer than `b`. */
export function compareEventIds(a: EventVersion, b: EventVersion): number {
  return a.ms !== b.ms ? a.ms - b.ms : a.seq - b.seq;
}

/** The job's version: the newest updatedAt of the job and its tasks. */
export function jobVersion(job: JobDetail): number {
  let v = job.updatedAt;
  for (const t of job.tasks) if (t.updatedAt > v) v = t.updatedAt;
  return v;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const errorData = (e: ErrorInfo | null): JobEventError | null => (e ? { code: e.code, message: e.message, details: e.details ?? null } : null);

function statusData(job: JobDetail): JobStatusData {
  return { job_id: job.id, status: job.status, error: errorData(job.error), finished_at: iso(job.finishedAt) };
}

function progressData(job: JobDetail): JobProgressData {
  const steps = job.steps.map((s) => ({ step: s.step, state: s.state, done: s.done, total: s.total, counts: s.counts }));
  return {
    job_id: job.id,
    steps,
    progress: job.tasks.filter((t) => t.state === 'running').map((t) => ({ task_id: t.id, key: t.key, step: t.type, progress: t.progress })),
    done: steps.reduce((a, s) => a + s.done, 0),
    total: steps.reduce((a, s) => a + s.total, 0),
  };
}

/** What a watcher compares between snapshots: an event goes out when its part changes. */
function keysOf(job: JobDetail, progress: JobProgressData): { status: string; progress: string } {
  return {
    status: JSON.stringify([job.status, job.error?.code ?? null, job.error?.message ?? null]),
    progress: JSON.stringify([progress.steps, progress.progress]),
  };
}

/**
 * Follows a job: `status` and `progress` as they change, then `end` once the job is settled. A fresh
 * watch starts with a `status` then a `progress` snapshot. Throws `not_found` (before any event) for
 * an unknown job or another tenant's. Subscriptions and timers end with the iteration (break, return,
 * or the signal).
 */
export async function* watchJob(engine: Engine, jobId: string, options: WatchJobOptions): AsyncGenerator<JobEvent, void, undefined> {
  const { signal, pollMs = 1000 } = options;
  let poked = false;
  let wake: (() => void) | undefined;
  const poke = () => {
    poked = true;
    wake?.();
  };
  const unsubscribe = engine.store.subscribe((e) => {
    if ((e.type === 'job' || e.type === 'cancelled') && e.jobId === jobId) poke();
  });
  signal.addEventListener('abort', poke);
  /** Until a store event for this job, the next poll, or the abort. */
  const nextChange = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        wake = undefined;
        poked = false;
        resolve();
      };
      const timer = setTimeout(done, pollMs);
      wake = done;
      if (poked || signal.aborted) done();
    });

  try {
    if (signal.aborted) return;
    let job = await engine.getJob(jobId, options.tenantId);
    let last = options.lastEventId === undefined ? undefined : parseEventId(options.lastEventId);
    let seen: { status: string; progress: string } | undefined;
    // The client already has this state (or a newer one): only what changes from here on is news.
    if (last && last.ms >= jobVersion(job)) seen = keysOf(job, progressData(job));

    for (;;) {
      const progress = progressData(job);
      const keys = keysOf(job, progress);
      const batch: Omit<JobEvent, 'id'>[] = [];
      if (keys.status !== seen?.status) batch.push({ type: 'status', data: statusData(job) });
      if (keys.progress !== seen?.progress) batch.push({ type: 'progress', data: progress });
      if (job.finishedAt !== null) {
        batch.push({ type: 'end', data: { job_id: job.id, status: job.status, error: errorData(job.error), finished_at: iso(job.finishedAt)! } });
      }
      seen = keys;
      const version = jobVersion(job);
      let next: EventVersion = last && version <= last.ms ? { ms: last.ms, seq: last.seq + 1 } : { ms: version, seq: 0 };
      for (const event of batch) {
        last = next;
        next = { ms: next.ms, seq: next.seq + 1 };
        yield { ...event, id: formatEventId(last) } as JobEvent;
        if (signal.aborted) return;
      }
      if (job.finishedAt !== null) return;
      await nextChange();
      if (signal.aborted) return;
      // While the store is down the stream stays open and looks again at the next poll.
      job = (await engine.getJob(jobId, options.tenantId).catch((err: unknown) => (isOutage(err) ? undefined : Promise.reject(err)))) ?? job;
    }
  } finally {
    wake?.();
    unsubscribe();
    signal.removeEventListener('abort', poke);
  }
}

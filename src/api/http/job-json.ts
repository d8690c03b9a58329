/**
 * How jobs and tasks look on the wire: the JSON other clients (CLI, dashboard, later pipelines) rely
 * on, and the JSON schemas that serialize and document it. Times are ISO 8601 strings or null, names
 * are snake_case, priorities are names.
 */
import { priorityName, taskStates, jobStatuses, type Json, type Priority, type StepProgress, type TaskRecord } from '../../core/job.js';
import type { ErrorInfo } from '../../core/errors.js';
import { jobWarnings, type Warning } from '../../core/warnings.js';
import type { DeadTask, JobDetail, JobSummary } from '../../ports/store.js';
import { describers } from '../../pipelines/index.js';

export interface ErrorJson {
  code: string;
  message: string;
  details: Record<string, unknown> | null;
}

export interface JobJson {
  id: string;
  kind: string;
  status: JobSummary['status'];
  priority: Priority;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
  steps: StepProgress[];
  error: ErrorJson | null;
  timings: { queued_ms: number; run_ms: number | null };
  input: Json;
  links: { self: string; cancel: string; retry: string; results: Record<string, string> };
}

export interface TaskJson {
  id: string;
  key: string;
  step: string;
  pool: string;
  state: TaskRecord['state'];
  attempts: number;
  max_attempts: number;
  progress: Json | null;
  depends_on: string[];
  errors: (ErrorJson & { attempt: number; at: string; retryable: boolean; retry_after_ms?: number })[];
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
}

export interface JobDetailJson extends JobJson {
  tasks: TaskJson[];
  /** What the user should know although the job went ahead (damaged media), from its tasks' outputs. */
  warnings: Warning[];
}

export interface DeadTaskJson extends TaskJson {
  job_id: string;
  job_kind: string;
  links: { job: string; retry: string };
}

export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function errorJson(e: ErrorInfo): ErrorJson {
  return { code: e.code, message: e.message, details: e.details ?? null };
}

const jobPath = (id: string) => `/v1/jobs/${encodeURIComponent(id)}`;

/** Where a succeeded job's results are served, by name, for job kinds that produce files. */
function resultLinks(job: JobSummary): Record<string, string> {
  const describe = job.status === 'succeeded' ? describers[job.kind] : undefined;
  return describe ? Object.fromEntries(describe(job).results.map((r) => [r.name, r.apiPath])) : {};
}

/** A job as lists show it. `nowMs` measures jobs still waiting or running. */
export function jobJson(job: JobSummary, nowMs: number): JobJson {
  const queuedUntil = job.startedAt ?? job.finishedAt ?? nowMs;
  const self = jobPath(job.id);
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    priority: priorityName(job.priority),
    created_at: iso(job.createdAt),
    updated_at: iso(job.updatedAt),
    started_at: iso(job.startedAt),
    finished_at: iso(job.finishedAt),
    steps: job.steps.map((s) => ({ step: s.step, state: s.state, done: s.done, total: s.total, counts: s.counts })),
    error: job.error ? errorJson(job.error) : null,
    timings: {
      queued_ms: Math.max(0, queuedUntil - job.createdAt),
      run_ms: job.startedAt === null ? null : Math.max(0, (job.finishedAt ?? nowMs) - job.startedAt),
    },
    input: job.input,
    links: { self, cancel: `${self}/cancel`, retry: `${self}/retry`, results: resultLinks(job) },
  };
}

export function taskJson(task: TaskRecord, nowMs: number): TaskJson {
  return {
    id: task.id,
    key: task.key,
    step: task.type,
    pool: task.pool,
    state: task.state,
    attempts: task.attempts,
    max_attempts: task.maxAttempts,
    progress: task.progress,
    depends_on: task.dependsOn,
    errors: task.errors.map((e) => ({
      ...errorJson(e),
      retryable: e.retryable,
      ...(e.retryAfterMs !== undefined ? { retry_after_ms: e.retryAfterMs } : {}),
      attempt: e.attempt,
      at: iso(e.at),
    })),
    started_at: iso(task.startedAt),
    finished_at: iso(task.finishedAt),
    duration_ms: task.startedAt === null ? null : Math.max(0, (task.finishedAt ?? nowMs) - task.startedAt),
  };
}

/** A job with its tasks, as `GET /v1/jobs/{id}` and the actions on one job answer. */
export function jobDetailJson(job: JobDetail, nowMs: number): JobDetailJson {
  return { ...jobJson(job, nowMs), tasks: job.tasks.map((t) => taskJson(t, nowMs)), warnings: jobWarnings(job.tasks) };
}

export function deadTaskJson(task: DeadTask, nowMs: number): DeadTaskJson {
  const job = jobPath(task.jobId);
  return { ...taskJson(task, nowMs), job_id: task.jobId, job_kind: task.jobKind, links: { job, retry: `${job}/retry` } };
}

// ---- JSON schemas (registered with addSchema; OpenAPI components take their $id) ----

const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;
const errorInfo = {
  type: 'object',
  required: ['code', 'message', 'details'],
  properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: ['object', 'null'], additionalProperties: true } },
} as const;
const anyJson = { description: 'Any JSON value.' } as const;

export const stepSchema = {
  $id: 'Step',
  type: 'object',
  required: ['step', 'state', 'done', 'total', 'counts'],
  properties: {
    step: { type: 'string', description: 'The task type, e.g. diagnostics.sleep.' },
    state: { type: 'string', enum: ['pending', 'running', 'succeeded', 'failed', 'cancelled'] },
    done: { type: 'integer', description: 'Tasks of this step that succeeded.' },
    total: { type: 'integer' },
    counts: { type: 'object', properties: Object.fromEntries(taskStates.map((s) => [s, { type: 'integer' }])), description: 'Tasks by state.' },
  },
} as const;

const jobProperties = {
  id: { type: 'string' },
  kind: { type: 'string' },
  status: { type: 'string', enum: jobStatuses },
  priority: { type: 'string', enum: ['urgent', 'high', 'normal', 'low'] },
  created_at: time,
  updated_at: time,
  started_at: nullableTime,
  finished_at: nullableTime,
  steps: { type: 'array', items: { $ref: 'Step#' } },
  error: { ...errorInfo, type: ['object', 'null'] },
  timings: {
    type: 'object',
    properties: {
      queued_ms: { type: 'integer', description: 'From creation to the first task starting (or to now).' },
      run_ms: { type: ['integer', 'null'], description: 'From the first task starting to the end (or to now).' },
    },
  },
  input: anyJson,
  links: {
    type: 'object',
    properties: {
      self: { type: 'string' },
      cancel: { type: 'string' },
      retry: { type: 'string' },
      results: { type: 'object', additionalProperties: { type: 'string' }, description: 'Where a succeeded job\'s results are served (API routes), by name: txt, srt, notes ...' },
    },
  },
} as const;

export const jobSchema = {
  $id: 'Job',
  type: 'object',
  required: Object.keys(jobProperties),
  properties: jobProperties,
} as const;

const taskProperties = {
  id: { type: 'string' },
  key: { type: 'string' },
  step: { type: 'string' },
  pool: { type: 'string' },
  state: { type: 'string', enum: taskStates },
  attempts: { type: 'integer' },
  max_attempts: { type: 'integer' },
  progress: anyJson,
  depends_on: { type: 'array', items: { type: 'string' } },
  errors: {
    type: 'array',
    items: {
      type: 'object',
      properties: {
        ...errorInfo.properties,
        retryable: { type: 'boolean' },
        retry_after_ms: { type: 'integer', description: 'The wait the failing service asked for (Retry-After); the next attempt came no earlier.' },
        attempt: { type: 'integer' },
        at: time,
      },
    },
  },
  started_at: nullableTime,
  finished_at: nullableTime,
  duration_ms: { type: ['integer', 'null'] },
} as const;

export const taskSchema = { $id: 'Task', type: 'object', required: Object.keys(taskProperties), properties: taskProperties } as const;

export const jobDetailSchema = {
  $id: 'JobDetail',
  type: 'object',
  required: [...Object.keys(jobProperties), 'tasks', 'warnings'],
  properties: {
    ...jobProperties,
    tasks: { type: 'array', items: { $ref: 'Task#' } },
    warnings: {
      type: 'array',
      description: 'What the user should know although the job went ahead, e.g. damaged media transcribed as far as it could be read (codes decode_errors, truncated).',
      items: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } }, additionalProperties: true },
    },
  },
} as const;

export const deadTaskSchema = {
  $id: 'DeadTask',
  type: 'object',
  properties: {
    ...taskProperties,
    job_id: { type: 'string' },
    job_kind: { type: 'string' },
    links: { type: 'object', properties: { job: { type: 'string' }, retry: { type: 'string' } } },
  },
} as const;

export const jobSchemas = [stepSchema, jobSchema, taskSchema, jobDetailSchema, deadTaskSchema];

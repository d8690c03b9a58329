/**
 * Notification events: what happened to a job, as one JSON document sent to every target (the
 * webhook body; the e-mail is written from it). Ids are derived from the job's outcome, so a
 * finaliser that runs twice names the same events and deliveries, while a job retried to a new
 * outcome gets new ones.
 */
import { createHash } from 'node:crypto';
import type { ErrorInfo } from '../../core/errors.js';
import { jobWarnings, type Warning } from '../../core/warnings.js';
import type { Json, JobRecord, JobStatus } from '../../core/job.js';
import type { JobDetail } from '../../ports/store.js';

export const webhookEvents = ['job.succeeded', 'job.failed', 'job.cancelled', 'job.progress'] as const;
export type WebhookEvent = (typeof webhookEvents)[number];
/** What a webhook receives when it names no events: every outcome, no progress. */
export const defaultWebhookEvents: readonly WebhookEvent[] = ['job.succeeded', 'job.failed', 'job.cancelled'];

/** Something that looks like an address a mail server can take. */
export const isEmailAddress = (s: string) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s);

export const isWebhookEvent = (e: string): e is WebhookEvent => (webhookEvents as readonly string[]).includes(e);

/** A result file of a job, as its pipeline describes it. */
export interface ResultFile {
  /** The format's name (txt, srt, notes.md). */
  name: string;
  key: string;
  /** The file name a download suggests. */
  downloadName: string;
  /** The API route that serves it to a client with a key. */
  apiPath: string;
}

/** How a pipeline presents its jobs in notifications. */
export interface JobDescription {
  /** What the job worked on, e.g. the uploaded file's name. */
  title: string;
  /** Result files; only read for a succeeded job. */
  results: ResultFile[];
}

export type JobDescriber = (job: JobRecord) => JobDescription;

export interface EventLink {
  url: string;
  download_url?: string;
  expires_at?: string;
}

export interface JobEvent {
  id: string;
  type: WebhookEvent;
  created_at: string;
  data: {
    job: {
      id: string;
      kind: string;
      status: JobStatus;
      title: string;
      error: ErrorInfo | null;
      /** What the user should know although the job went ahead (damaged media); see core/warnings.ts. */
      warnings: Warning[];
      created_at: string;
      finished_at: string | null;
      url: string;
    };
    results?: Record<string, EventLink>;
    step?: string;
    steps?: Json;
  };
}

export const hashId = (prefix: string, ...parts: string[]) => `${prefix}_${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 26)}`;

/** When the job reached its outcome: the last finish of a task that is not a finaliser. */
export function outcomeAt(job: JobDetail): number {
  return Math.max(job.updatedAt, ...job.tasks.filter((t) => !t.alwaysRun && t.finishedAt !== null).map((t) => t.finishedAt!));
}

export function outcomeEvent(status: JobStatus): WebhookEvent | undefined {
  if (status === 'succeeded') return 'job.succeeded';
  if (status === 'failed') return 'job.failed';
  if (status === 'cancelled') return 'job.cancelled';
  return undefined;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function jobEvent(
  type: WebhookEvent,
  job: JobDetail,
  description: JobDescription,
  options: { id: string; now: number; publicUrl: string; results?: Record<string, EventLink>; step?: string },
): JobEvent {
  return {
    id: options.id,
    type,
    created_at: new Date(options.now).toISOString(),
    data: {
      job: {
        id: job.id,
        kind: job.kind,
        status: job.status,
        title: description.title,
        error: job.error,
        warnings: jobWarnings(job.tasks),
        created_at: new Date(job.createdAt).toISOString(),
        finished_at: iso(job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled' ? outcomeAt(job) : null),
        url: `${options.publicUrl}/v1/jobs/${job.id}`,
      },
      ...(options.results ? { results: options.results } : {}),
      ...(options.step ? { step: options.step, steps: job.steps.map((s) => ({ step: s.step, state: s.state, done: s.done, total: s.total })) as unknown as Json } : {}),
    },
  };
}

/** Where a job asked to be told: options of its input (camelCase as pipelines store them, or snake_case as clients send them). */
export function jobTargets(input: Json): { email?: string; webhookUrl?: string; webhookEvents?: string[] } {
  if (!input || typeof input !== 'object' || Array.isArray(input)) return {};
  const o = input as Record<string, Json>;
  const s = (a: Json | undefined, b: Json | undefined) => (typeof a === 'string' && a ? a : typeof b === 'string' && b ? b : undefined);
  const email = s(o.notifyEmail, o.notify_email);
  const webhookUrl = s(o.webhookUrl, o.webhook_url);
  const rawEvents = o.webhookEvents ?? o.webhook_events;
  const webhookEvents = Array.isArray(rawEvents) ? rawEvents.filter((e): e is string => typeof e === 'string') : typeof rawEvents === 'string' ? rawEvents.split(',').map((e) => e.trim()) : undefined;
  return { ...(email ? { email } : {}), ...(webhookUrl ? { webhookUrl } : {}), ...(webhookEvents ? { webhookEvents } : {}) };
}

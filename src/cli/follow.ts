/**
 * Following a job for a progress bar, the same way whether its events come from `watchJob` in this
 * process or from a server's `GET /v1/jobs/{id}/events`.
 */
import { EarshotError } from '../core/errors.js';
import type { JobStatus, StepProgress } from '../core/job.js';
import type { JobEvent, JobEventError } from '../engine/job-events.js';
import type { EarshotClient } from './client.js';

/** What a bar shows: the job as its events so far describe it. */
export interface JobView {
  status: JobStatus;
  /** True once the job is settled (after `end`). */
  finished: boolean;
  error: JobEventError | null;
  steps: StepProgress[];
  /** Tasks done and tasks known, over all steps. */
  done: number;
  total: number;
}

const eventTypes: ReadonlySet<string> = new Set(['status', 'progress', 'end']);

/** A job's events from a server, shaped as `watchJob` yields them. */
export async function* remoteJobEvents(client: EarshotClient, jobId: string, options: { signal?: AbortSignal; lastEventId?: string } = {}): AsyncGenerator<JobEvent> {
  for await (const m of client.streamEvents(`/v1/jobs/${encodeURIComponent(jobId)}/events`, options)) {
    if (!eventTypes.has(m.event)) continue;
    yield { id: m.id ?? '', type: m.event, data: JSON.parse(m.data) as unknown } as JobEvent;
  }
}

/**
 * Calls `draw` after every event until `end` (from the first `progress` on: a status alone has no
 * steps to show), and resolves with the settled job's view.
 */
export async function followJob(events: AsyncIterable<JobEvent>, draw: (view: JobView) => void): Promise<JobView> {
  const view: JobView = { status: 'queued', finished: false, error: null, steps: [], done: 0, total: 0 };
  let drawable = false;
  for await (const e of events) {
    if (e.type === 'status') {
      view.status = e.data.status;
      view.error = e.data.error;
    } else if (e.type === 'progress') {
      view.steps = e.data.steps;
      view.done = e.data.done;
      view.total = e.data.total;
      drawable = true;
    } else {
      view.status = e.data.status;
      view.error = e.data.error;
      view.finished = true;
    }
    if (drawable || view.finished) draw(view);
    if (view.finished) return view;
  }
  throw new EarshotError('unavailable', 'the job event stream ended before the job did', { retryable: true });
}

/** `failed: unsupported_media: no audio stream`, or just the status. */
export function outcomeText(view: JobView): string {
  return view.status + (view.error ? `: ${view.error.code}: ${view.error.message}` : '');
}

/** The step a bar names: the first one running, else the first one waiting. */
export function currentStep(view: JobView): string | undefined {
  return (view.steps.find((s) => s.state === 'running') ?? view.steps.find((s) => s.state === 'pending'))?.step;
}

/** How a transcription presents itself in notifications and job views: the file's name and its result files. */
import type { JobRecord } from '../../core/job.js';
import type { JobDescription, ResultFile } from '../notify/events.js';
import type { TranscriptionInput } from './options.js';
import { notesKey, resultKey } from './keys.js';

export function describeTranscription(job: JobRecord): JobDescription {
  const input = job.input as unknown as TranscriptionInput;
  const title = input.source?.filename ?? job.id;
  const base = title.replace(/\.[^./\\]+$/, '') || job.id;
  const api = (format: string) => `/v1/transcriptions/${job.id}?format=${encodeURIComponent(format)}`;
  const results: ResultFile[] = (input.formats ?? []).map((f) => ({ name: f, key: resultKey(job.tenantId, job.id, f), downloadName: `${base}.${f}`, apiPath: api(f) }));
  if (input.notes) {
    results.push({ name: 'notes', key: notesKey(job.tenantId, job.id, 'notes'), downloadName: `${base}.notes.json`, apiPath: api('notes') });
    results.push({ name: 'notes.md', key: notesKey(job.tenantId, job.id, 'notes.md'), downloadName: `${base}.notes.md`, apiPath: api('notes.md') });
  }
  return { title, results };
}

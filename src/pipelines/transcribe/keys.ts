/** Where a transcription's files live in the blob store. */
import type { TranscriptFormat } from './render.js';

export const jobBlobKey = (tenantId: string, jobId: string, name: string) => `tenants/${tenantId}/jobs/${jobId}/${name}`;
export const resultKey = (tenantId: string, jobId: string, format: TranscriptFormat) => jobBlobKey(tenantId, jobId, `transcript.${format}`);

/** The notes' files, when the job asked for notes: `notes` is the JSON document. */
export const notesFormats = { notes: 'notes.json', 'notes.md': 'notes.md' } as const;
export type NotesFormat = keyof typeof notesFormats;
export const notesKey = (tenantId: string, jobId: string, format: NotesFormat) => jobBlobKey(tenantId, jobId, notesFormats[format]);
export const notesContentTypes: Record<NotesFormat, string> = { notes: 'application/json', 'notes.md': 'text/markdown; charset=utf-8' };

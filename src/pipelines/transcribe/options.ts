/**
 * A transcription job's input: where the media is and how to transcribe it. Validated when the job
 * is submitted, so a bad option is a 400/422 at once rather than a failed job later.
 */
import { EarshotError, permanent } from '../../core/errors.js';
import { isPriority, type Json, type Priority } from '../../core/job.js';
import { transcriptFormats, type TranscriptFormat } from './render.js';
import { isNoteTemplate, noteTemplates } from '../notes/templates.js';
import { isEmailAddress } from '../notify/events.js';

/** ISO 639-1 codes Whisper knows, plus 'auto'. */
export const whisperLanguages = new Set(
  (
    'af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo yue zh'
  ).split(' '),
);

export interface TranscriptionSource {
  /** The upload holding the media; its blob lives under the job's tenant (see uploadBlobKey). */
  uploadId: string;
  filename?: string;
  contentType?: string;
  sizeBytes?: number;
}

export interface TranscriptionOptions {
  language: string;
  engine: string;
  model?: string;
  formats: TranscriptFormat[];
  prompt?: string;
  temperature?: number;
  translate?: boolean;
  /** Preferred chunk length for long recordings. */
  chunkSeconds?: number;
  notifyEmail?: string;
  webhookUrl?: string;
  /** Events the job's webhook receives; default every outcome (job.progress is opt-in). */
  webhookEvents?: string[];
  notes?: boolean | string;
  /** A damaged file (decode errors, audio missing): transcribe what is readable, with warnings (default), or fail. */
  onDamage?: OnDamage;
}

export const onDamageChoices = ['transcribe', 'reject'] as const;
export type OnDamage = (typeof onDamageChoices)[number];

export interface TranscriptionInput extends TranscriptionOptions {
  source: TranscriptionSource;
}

/** What the API reads from a form or JSON body, before validation. */
export type RawOptions = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

function bool(v: unknown, name: string): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw permanent('bad_request', `${name} must be true or false`);
}

function num(v: unknown, name: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw permanent('bad_request', `${name} must be a number from ${min} to ${max}`);
  return n;
}

/** `notes`: true/false, or the name of a template (true is the default template). */
function parseNotesOption(v: unknown): boolean | string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string' && !['true', 'false', '1', '0'].includes(v)) {
    const name = v.trim().toLowerCase();
    if (!isNoteTemplate(name)) throw new EarshotError('unknown_note_template', `no notes template "${name}"`, { details: { templates: [...noteTemplates] } });
    return name;
  }
  return bool(v, 'notes') || undefined;
}

/**
 * `given` as the parser sees it, noting each key it reads: an option is known by being read, so a new
 * option needs no list of names kept beside the parser (read every option, whatever the others say).
 */
function noteReads(given: RawOptions): { raw: RawOptions; unread(): string[]; read(): string[] } {
  const read = new Set<string>();
  const raw = new Proxy(given, {
    get(target, key, receiver) {
      if (typeof key === 'string') read.add(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { raw, unread: () => Object.keys(given).filter((k) => !read.has(k)), read: () => [...read].sort() };
}

/** Options from a request, checked; `defaults` come from configuration. An option we do not have is refused by name. */
export function parseTranscriptionOptions(given: RawOptions, defaults: { engine: string }): TranscriptionOptions & { priority: Priority } {
  const reads = noteReads(given);
  const options = parseKnownOptions(reads.raw, defaults);
  const unknown = reads.unread();
  if (unknown.length > 0) {
    const names = unknown.map((k) => `"${k}"`).join(', ');
    throw permanent('bad_request', `unknown option${unknown.length > 1 ? 's' : ''} ${names}`, { unknown, options: reads.read() });
  }
  return options;
}

function parseKnownOptions(raw: RawOptions, defaults: { engine: string }): TranscriptionOptions & { priority: Priority } {
  const language = (str(raw.language) ?? 'auto').toLowerCase();
  if (language !== 'auto' && !whisperLanguages.has(language)) {
    throw new EarshotError('unsupported_language', `unknown language "${language}"; use an ISO 639-1 code or auto`, { details: { language } });
  }
  let formats: TranscriptFormat[] = [...transcriptFormats];
  const rawFormats = Array.isArray(raw.formats) ? raw.formats.join(',') : str(raw.formats);
  if (rawFormats) {
    const list = rawFormats.split(',').map((f) => f.trim().toLowerCase()).filter(Boolean);
    const bad = list.filter((f) => !(transcriptFormats as readonly string[]).includes(f));
    if (bad.length > 0 || list.length === 0) throw permanent('bad_request', `formats must be among ${transcriptFormats.join(', ')}`, { formats: bad });
    formats = [...new Set(list)] as TranscriptFormat[];
  }
  const priority = str(raw.priority) ?? 'normal';
  if (!isPriority(priority)) throw permanent('bad_request', 'priority must be urgent, high, normal or low');
  const notifyEmail = str(raw.notify_email);
  if (notifyEmail && !isEmailAddress(notifyEmail)) throw permanent('bad_request', 'notify_email is not an e-mail address');
  const webhookUrl = str(raw.webhook_url);
  if (webhookUrl && !/^https?:\/\//.test(webhookUrl)) throw permanent('bad_request', 'webhook_url must be an http(s) URL');
  const rawEvents = Array.isArray(raw.webhook_events) ? raw.webhook_events.join(',') : str(raw.webhook_events);
  const webhookEvents = rawEvents ? [...new Set(rawEvents.split(',').map((e) => e.trim()).filter(Boolean))] : undefined;
  if (webhookEvents && !webhookUrl) throw permanent('bad_request', 'webhook_events needs a webhook_url');
  const model = str(raw.model);
  const prompt = str(raw.prompt);
  const temperature = num(raw.temperature, 'temperature', 0, 1);
  const chunkSeconds = num(raw.chunk_seconds, 'chunk_seconds', 30, 3600);
  const translate = bool(raw.translate, 'translate');
  const notes = parseNotesOption(raw.notes);
  const onDamage = str(raw.on_damage)?.toLowerCase();
  if (onDamage !== undefined && !(onDamageChoices as readonly string[]).includes(onDamage)) {
    throw permanent('bad_request', `on_damage must be ${onDamageChoices.join(' or ')}`, { on_damage: onDamage });
  }
  return {
    language,
    engine: (str(raw.engine) ?? defaults.engine).toLowerCase(),
    formats,
    priority,
    ...(model ? { model } : {}),
    ...(prompt ? { prompt } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(translate !== undefined ? { translate } : {}),
    ...(chunkSeconds !== undefined ? { chunkSeconds } : {}),
    ...(notifyEmail ? { notifyEmail } : {}),
    ...(webhookUrl ? { webhookUrl } : {}),
    ...(webhookEvents ? { webhookEvents } : {}),
    ...(notes !== undefined ? { notes } : {}),
    ...(onDamage ? { onDamage: onDamage as OnDamage } : {}),
  };
}

/** The job input as stored (JSON). */
export function transcriptionInputJson(input: TranscriptionInput): Json {
  return JSON.parse(JSON.stringify(input)) as Json;
}

/** Where an upload's bytes live: under its tenant, so a job can only ever read its own tenant's media. */
export const uploadBlobKey = (tenantId: string, uploadId: string) => `tenants/${tenantId}/uploads/${uploadId}/source`;

/**
 * Where a pre-signed upload URL puts the bytes. Completing the upload copies them to `uploadBlobKey`,
 * for which no URL is ever signed, so a PUT after completion cannot replace what a job reads.
 */
export const uploadStagingKey = (tenantId: string, uploadId: string) => `tenants/${tenantId}/uploads/${uploadId}/incoming`;

/** The tenant and upload of a `uploadStagingKey`, or undefined for any other key. */
export function parseUploadStagingKey(key: string): { tenantId: string; uploadId: string } | undefined {
  const m = /^tenants\/([^/]+)\/uploads\/(upl_[0-9a-z]+)\/incoming$/.exec(key);
  return m ? { tenantId: m[1]!, uploadId: m[2]! } : undefined;
}

/** Checks a stored job input (it may come from POST /v1/jobs as well as from the upload routes). */
export function checkTranscriptionInput(value: unknown): TranscriptionInput {
  const v = value as Partial<TranscriptionInput> | null;
  if (!v || typeof v !== 'object' || !v.source || typeof v.source.uploadId !== 'string' || !/^upl_[0-9a-z]+$/.test(v.source.uploadId)) {
    throw permanent('bad_request', 'a transcription needs source.uploadId (create one with POST /v1/uploads or POST /v1/transcriptions)');
  }
  if (typeof v.language !== 'string' || typeof v.engine !== 'string' || !Array.isArray(v.formats)) {
    throw permanent('bad_request', 'a transcription needs language, engine and formats');
  }
  return v as TranscriptionInput;
}

/**
 * Notes: the structured summary of one transcript, and the JSON Schema a model must fill. The
 * schema keeps to what OpenAI's strict structured outputs accept (every object closed, every
 * property required, null as a type), so the same schema serves OpenAI, vLLM, Ollama and llama.cpp;
 * bounds those servers may not enforce (lengths, counts, date shapes) are checked here afterwards.
 */
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';

export interface Notes {
  title: string;
  summary: string;
  key_points: string[];
  action_items: { text: string; owner: string | null; due: string | null }[];
  people: string[];
  places: string[];
  /** `date` is ISO 8601 (2024-03-05, 2024-03, 1811) when it could be resolved, else null. */
  dates: { text: string; date: string | null }[];
  tags: string[];
  mood: string | null;
  /** ISO 639-1 code of the language the notes are written in (`und` when unknown). */
  language: string;
}

/** Notes as stored: who wrote them (a model, or the extractive fallback) and with which template. */
export interface NotesDocument extends Notes {
  source: 'llm' | 'extractive';
  template: string;
  /** The model id that wrote them; null for extractive notes. */
  model: string | null;
}

export const MAX_TITLE_CHARS = 200;
export const MAX_ITEMS = 50;

const text = (description: string) => ({ type: 'string', description });
const texts = (description: string) => ({ type: 'array', items: { type: 'string' }, description });
const closed = (properties: Record<string, unknown>) => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});

/** The schema sent to the model as its response format. */
export const notesJsonSchema: Record<string, unknown> = closed({
  title: text('A short title for the recording, at most 80 characters.'),
  summary: text('A few sentences that summarise the recording.'),
  key_points: texts('The main points, one short sentence each, in the order they came up.'),
  action_items: {
    type: 'array',
    description: 'Things someone has to do, as said in the recording.',
    items: closed({
      text: text('What has to be done.'),
      owner: { type: ['string', 'null'], description: 'Who has to do it, if said; else null.' },
      due: { type: ['string', 'null'], description: 'When it is due: an ISO 8601 date if it can be resolved, else the words used, else null.' },
    }),
  },
  people: texts('Names of people mentioned.'),
  places: texts('Names of places mentioned.'),
  dates: {
    type: 'array',
    description: 'Dates and times mentioned.',
    items: closed({
      text: text('The date as said in the recording.'),
      date: { type: ['string', 'null'], description: 'The same date in ISO 8601 (YYYY-MM-DD, YYYY-MM or YYYY) if it can be resolved, else null.' },
    }),
  },
  tags: texts('A few lowercase topic keywords, without a leading #.'),
  mood: { type: ['string', 'null'], description: 'The overall mood in one or two words, or null if it is not clear.' },
  language: text('ISO 639-1 code of the language the notes are written in.'),
});

const storedFields = {
  source: { enum: ['llm', 'extractive'] },
  template: { type: 'string' },
  model: { type: ['string', 'null'] },
};

/** The stored document: the model's schema plus where the notes came from. */
export const notesDocumentJsonSchema: Record<string, unknown> = closed({
  ...(notesJsonSchema.properties as Record<string, unknown>),
  ...storedFields,
});

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
const checkNotes = ajv.compile<Notes>(notesJsonSchema);
const checkDocument = ajv.compile<NotesDocument>(notesDocumentJsonSchema);

export type NotesValidation<T = Notes> = { ok: true; notes: T } | { ok: false; errors: string[] };

/** Whether `value` is schema-valid notes within bounds; errors read like "/key_points/2: must be string". */
export function validateNotes(value: unknown): NotesValidation {
  return validate(checkNotes, value);
}

/** The same for a stored document (notes plus source, template and model). */
export function validateNotesDocument(value: unknown): NotesValidation<NotesDocument> {
  return validate(checkDocument, value);
}

function validate<T extends Notes>(check: ((v: unknown) => v is T) & { errors?: ErrorObject[] | null }, value: unknown): NotesValidation<T> {
  if (!check(value)) return { ok: false, errors: (check.errors ?? []).map(describe) };
  const errors = boundErrors(value);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, notes: value };
}

function describe(e: ErrorObject): string {
  const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})` : '';
  return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}`;
}

const ISO_DATE = /^\d{4}(-\d{2}(-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?)?)?$/;
const LANGUAGE = /^[a-z]{2,3}$/;

/** What the schema cannot say portably: sizes, the language code and ISO dates. */
function boundErrors(notes: Notes): string[] {
  const errors: string[] = [];
  if (notes.title.trim() === '') errors.push('/title: must not be empty');
  if (notes.title.length > MAX_TITLE_CHARS) errors.push(`/title: must NOT have more than ${MAX_TITLE_CHARS} characters`);
  for (const key of ['key_points', 'action_items', 'people', 'places', 'dates', 'tags'] as const) {
    if (notes[key].length > MAX_ITEMS) errors.push(`/${key}: must NOT have more than ${MAX_ITEMS} items`);
  }
  if (!LANGUAGE.test(notes.language)) errors.push('/language: must be an ISO 639-1 code such as "en"');
  notes.dates.forEach((d, i) => {
    if (d.date !== null && !ISO_DATE.test(d.date)) errors.push(`/dates/${i}/date: must be an ISO 8601 date (YYYY-MM-DD, YYYY-MM or YYYY) or null`);
  });
  return errors;
}

/** The language code notes carry: the primary subtag of `language` (`en-US` → `en`), or `und` when unknown. */
export function notesLanguage(language: string): string {
  const primary = language.trim().toLowerCase().split(/[-_]/)[0] ?? '';
  return LANGUAGE.test(primary) && primary !== 'auto' ? primary : 'und';
}

/** The notes of a recording with nothing said: valid, and written without a model. */
export function emptyNotesDocument(language: string, template: string): NotesDocument {
  return {
    title: 'Empty recording',
    summary: '',
    key_points: [],
    action_items: [],
    people: [],
    places: [],
    dates: [],
    tags: [],
    mood: null,
    language: notesLanguage(language),
    source: 'extractive',
    template,
    model: null,
  };
}

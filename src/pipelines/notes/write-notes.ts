/**
 * Notes written by a chat model: ask for JSON that follows the notes schema, check it, and ask once
 * more with the errors when it does not. A transcript longer than one part is summarised part by
 * part and the partial notes are merged, so a two-hour recording never has to fit one context.
 */
import { permanent } from '../../core/errors.js';
import type { ChatMessage, Llm } from '../../ports/llm.js';
import { emptyNotesDocument, notesJsonSchema, notesLanguage, validateNotes, type Notes, type NotesDocument } from './notes-schema.js';
import { isNoteTemplate, noteTemplates, notesSystemPrompt } from './templates.js';

export interface NotesTranscript {
  text: string;
  /** ISO 639-1 code of the transcript (`und` or `auto` when unknown). */
  language: string;
  durationMs?: number;
  /** When the recording was made (ISO 8601), so the model can resolve "tomorrow". */
  recordedAt?: string;
}

export interface WriteNotesOptions {
  /** One of `noteTemplates`. */
  template: string;
  signal?: AbortSignal;
  /** The longest piece of transcript (and of partial notes) sent in one call. Default 12_000. */
  maxCharsPerPart?: number;
}

const MIN_CHARS_PER_PART = 100;
// The previous answer goes back to the model with its errors; a runaway answer need not go back whole.
const MAX_ECHO_CHARS = 20_000;

/** The notes of `transcript`, written by `llm` with `options.template`. */
export async function writeNotes(llm: Llm, transcript: NotesTranscript, options: WriteNotesOptions): Promise<NotesDocument> {
  const { template } = options;
  if (!isNoteTemplate(template)) throw permanent('bad_request', `unknown notes template "${template}"`, { template, templates: [...noteTemplates] });
  const maxChars = options.maxCharsPerPart ?? 12_000;
  if (!Number.isInteger(maxChars) || maxChars < MIN_CHARS_PER_PART) throw permanent('bad_request', `maxCharsPerPart must be an integer of at least ${MIN_CHARS_PER_PART}`);
  const language = notesLanguage(transcript.language);
  if (transcript.text.trim() === '') return emptyNotesDocument(language, template);

  const system: ChatMessage = { role: 'system', content: notesSystemPrompt(template, language, transcript.recordedAt) };
  const ask = (user: string) => askForNotes(llm, [system, { role: 'user', content: user }], options.signal);
  const parts = splitTranscript(transcript.text, maxChars);
  const length = transcript.durationMs ? ` (about ${Math.max(1, Math.round(transcript.durationMs / 60_000))} min long)` : '';

  let answers: { notes: Notes; model: string }[] = [];
  // One part at a time: local servers often run one request at a time anyway, and order is kept.
  for (const [i, part] of parts.entries()) {
    const intro =
      parts.length === 1
        ? `Write the notes for this transcript of a recording${length}.`
        : `This is part ${i + 1} of ${parts.length} of the transcript of one recording${length}. Write notes for this part only; they will be merged with the notes of the other parts.`;
    answers.push(await ask(`${intro}\n\n<transcript>\n${part}\n</transcript>`));
  }
  // Merge in rounds, so that the partial notes of a very long recording also stay within one part's size.
  while (answers.length > 1) {
    const merged: typeof answers = [];
    for (const batch of batchBySize(answers, maxChars)) {
      if (batch.length === 1) merged.push(batch[0]!);
      else merged.push(await ask(mergePrompt(batch.map((a) => a.notes), length)));
    }
    answers = merged;
  }
  const final = answers[0]!;
  return { ...final.notes, source: 'llm', template, model: final.model };
}

function mergePrompt(partials: Notes[], length: string): string {
  return [
    `These are the notes of ${partials.length} consecutive parts of one recording${length}, in order.`,
    'Merge them into one set of notes for the whole recording: one title and one summary for the whole, the key points without repeats,',
    'every action item, person, place and date once, and 3 to 8 tags. Keep the language of the notes.',
    '',
    `<partial_notes>\n${JSON.stringify(partials)}\n</partial_notes>`,
  ].join('\n');
}

/** One call, checked; a bad answer gets one more call that carries it and its errors. */
async function askForNotes(llm: Llm, messages: ChatMessage[], signal: AbortSignal | undefined): Promise<{ notes: Notes; model: string }> {
  const call = (msgs: ChatMessage[]) => llm.chatJson({ messages: msgs, schema: { name: 'notes', schema: notesJsonSchema }, ...(signal ? { signal } : {}) });
  const first = await call(messages);
  const checked = parseNotes(first.content);
  if (checked.ok) return { notes: checked.notes, model: first.model };

  const again = await call([
    ...messages,
    { role: 'assistant', content: first.content.slice(0, MAX_ECHO_CHARS) },
    {
      role: 'user',
      content: `That answer is not valid:\n${checked.errors.map((e) => `- ${e}`).join('\n')}\nAnswer again with the corrected JSON object only, following the schema.`,
    },
  ]);
  const second = parseNotes(again.content);
  if (second.ok) return { notes: second.notes, model: again.model };
  throw permanent('notes_invalid', `the model answered twice with notes that do not follow the schema: ${second.errors.slice(0, 3).join('; ')}`, {
    errors: second.errors.slice(0, 50),
    first_errors: checked.errors.slice(0, 50),
    model: again.model,
  });
}

/** The notes in a model's answer; tolerates the wrapping small models add (code fences, `<think>` blocks, prose). */
export function parseNotes(content: string): { ok: true; notes: Notes } | { ok: false; errors: string[] } {
  const unwrapped = content.replace(/<think>[\s\S]*?<\/think>/g, '');
  const start = unwrapped.indexOf('{');
  const end = unwrapped.lastIndexOf('}');
  if (start === -1) return { ok: false, errors: ['/: the answer holds no JSON object'] };
  let value: unknown;
  try {
    value = JSON.parse(unwrapped.slice(start, end > start ? end + 1 : undefined));
  } catch (err) {
    return { ok: false, errors: [`/: the answer is not valid JSON (${(err as Error).message})`] };
  }
  return validateNotes(value);
}

/** `text` in pieces of at most `maxChars`, cut after a sentence when one ends in the second half, else at a space. */
export function splitTranscript(text: string, maxChars: number): string[] {
  const parts: string[] = [];
  let rest = text.trim();
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars + 1);
    let cut = 0;
    for (const m of window.matchAll(/[.!?…。！？]["'»”’)\]]*(?=\s)/g)) cut = m.index + m[0].length;
    if (cut < maxChars / 2) cut = Math.max(window.lastIndexOf(' '), window.lastIndexOf('\n'));
    if (cut <= 0) {
      cut = maxChars;
      // Do not split a surrogate pair (an emoji, a rare CJK character).
      if (/[\uD800-\uDBFF]/.test(rest[cut - 1] ?? '')) cut--;
    }
    parts.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut).trim();
  }
  if (rest !== '') parts.push(rest);
  return parts;
}

/** Consecutive groups whose JSON fits `maxChars`, each of at least two unless it is the only one left. */
function batchBySize<T extends { notes: Notes }>(items: T[], maxChars: number): T[][] {
  const batches: T[][] = [];
  let batch: T[] = [];
  let size = 0;
  for (const item of items) {
    const n = JSON.stringify(item.notes).length;
    if (batch.length >= 2 && size + n > maxChars) {
      batches.push(batch);
      batch = [];
      size = 0;
    }
    batch.push(item);
    size += n;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

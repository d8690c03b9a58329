/**
 * Note templates: the instructions a model gets for one kind of recording. Every template fills the
 * same schema (notes-schema.ts); they differ only in what to look for and what to leave out, so the
 * stored documents and their rendering stay the same whatever the template.
 */

export const noteTemplates = ['diary', 'meeting', 'lecture'] as const;
export type NoteTemplate = (typeof noteTemplates)[number];
export const defaultNoteTemplate: NoteTemplate = 'diary';

export function isNoteTemplate(name: string): name is NoteTemplate {
  return (noteTemplates as readonly string[]).includes(name);
}

const instructions: Record<NoteTemplate, string> = {
  diary: [
    'You turn voice memos into structured personal diary notes.',
    'The speaker talks about their own day, plans, thoughts and feelings. Write the summary in the first person, as the speaker would write in a diary.',
    'Key points: what happened, what was decided, what is on their mind. Action items: things the speaker says they need or want to do (owner null unless someone else is named).',
    'Mood: one or two words for how the speaker sounds (for example "calm", "stressed", "happy"), or null if it is not clear.',
  ].join('\n'),
  meeting: [
    'You write meeting notes from the transcript of a meeting or call.',
    'Summary: the purpose of the meeting and its outcome. Key points: the decisions taken and the important facts, each as one sentence; start a decision with "Decided:" (translated into the notes language).',
    'Action items: every task that someone agreed to do, with its owner as named in the meeting and its due date if one was said. Do not invent owners.',
    'People: the participants and people mentioned. Mood: the tone of the meeting in one or two words, or null.',
  ].join('\n'),
  lecture: [
    'You write study notes from the transcript of a lecture, talk or lesson.',
    'Summary: what the lecture is about and its main argument. Key points: the concepts, definitions and facts a student must remember, each explained in one sentence, in the order they were taught.',
    'Action items: only assignments, readings or exercises the speaker gives. People, places and dates: those the lecture mentions (historical dates as years are fine).',
    'Tags: the subject and its main concepts. Mood: null unless the tone is remarkable.',
  ].join('\n'),
};

const common = [
  'The transcript comes from speech recognition: it may lack punctuation and capital letters and may contain misheard words. Read it for its meaning.',
  'Use only what the transcript says. Do not invent names, dates, owners or facts; leave a list empty and a field null when the transcript does not say.',
  'Dates: keep the words used in "text"; fill "date" in ISO 8601 only when the transcript makes the date certain, else null.',
  'Tags: 3 to 8 short lowercase keywords, without "#".',
  'Answer with one JSON object that follows the given schema, and nothing else.',
];

const languageNames = new Intl.DisplayNames(['en'], { type: 'language' });

function languageLine(language: string): string {
  if (!/^[a-z]{2,3}$/.test(language) || language === 'und') {
    return 'Write the notes in the language of the transcript, and give its ISO 639-1 code in "language".';
  }
  let name = language;
  try {
    name = languageNames.of(language) ?? language;
  } catch {}
  return `Write every field of the notes in ${name} (ISO 639-1 code "${language}"), the language of the transcript, and set "language" to "${language}". Do not translate into English.`;
}

/** The system prompt for `template`, telling the model to write in `language` (an ISO 639-1 code, or `und`). */
export function notesSystemPrompt(template: NoteTemplate, language: string, recordedAt?: string): string {
  const when = recordedAt ? [`The recording was made on ${recordedAt}; resolve relative dates such as "tomorrow" from it.`] : [];
  return [instructions[template], '', ...common, ...when, languageLine(language)].join('\n');
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasSpeech, readManifest, readSegments } from '../../../test/support/speech.js';
import { extractiveNotes, sentencesOf, type ExtractiveTranscript } from './extractive.js';
import { findDates } from './find-dates.js';
import { validateNotesDocument, type NotesDocument } from './notes-schema.js';
import { stopWords } from './stop-words.js';

const skip = !hasSpeech && 'the shared speech set (../shared/speech) is missing';
const flat = (text: string) => text.replace(/\s+/g, ' ').trim();
const wordsOf = (text: string) => new Set(text.toLowerCase().match(/[\p{L}\p{N}]+/gu));

/** The notes of `transcript`, checked for what every extractive document must satisfy, whatever the language. */
function notesOf(transcript: ExtractiveTranscript & { language: 'en' | 'es' }, template = 'diary'): NotesDocument {
  const { text, language } = transcript;
  const doc = extractiveNotes(transcript, template);
  const result = validateNotesDocument(doc);
  assert.ok(result.ok, result.ok ? '' : result.errors.join('\n'));
  assert.equal(doc.source, 'extractive');
  assert.equal(doc.model, null);
  assert.equal(doc.language, language);
  assert.ok(doc.title.length > 0 && doc.title.length <= 80, doc.title);
  assert.ok(doc.key_points.length >= 1 && doc.key_points.length <= 5);
  for (const p of doc.key_points) assert.ok(flat(text).includes(p), `not from the transcript: ${p}`);
  for (const p of doc.key_points) assert.ok(p.split(' ').length <= 40, `too long: ${p}`);
  assert.ok(doc.summary.length > 0);
  const words = wordsOf(text);
  assert.ok(doc.tags.length >= 3 && doc.tags.length <= 8, doc.tags.join(' '));
  for (const t of doc.tags) {
    assert.ok(words.has(t), `tag not in the transcript: ${t}`);
    assert.ok(!stopWords[language]!.has(t), `stop word as a tag: ${t}`);
  }
  assert.deepEqual(extractiveNotes(transcript, template), doc, 'deterministic');
  return doc;
}

describe('extractiveNotes on real transcripts', { skip }, () => {
  it('English, punctuated (LJ Speech and FLEURS, 5.6 min)', () => {
    const en = readManifest('manifest-long.tsv').find((e) => e.language === 'en')!;
    const doc = notesOf({ text: en.reference, language: 'en', segments: readSegments('long/concat-en-human.segments.tsv') }, 'lecture');
    assert.ok(doc.key_points.length >= 3);
    assert.ok(doc.tags.includes('printing') || doc.tags.includes('letter'), doc.tags.join(' '));
    assert.deepEqual(doc.people, ['Peter Schoeffer'], '"by Peter Schoeffer" names a person');
    assert.deepEqual(doc.places, [], 'single capitalised words and "the Middle Ages" are not guessed');
    assert.deepEqual(doc.action_items, []);
    assert.equal(doc.mood, null);
  });

  it('Spanish, without punctuation (FLEURS, 2.2 min): no Spanish stop words as tags, its dates found', () => {
    const es = readManifest('manifest-long.tsv').find((e) => e.language === 'es')!;
    const doc = notesOf({ text: es.reference, language: 'es' }, 'diary');
    for (const stop of ['de', 'la', 'que', 'el', 'en', 'los', 'se', 'las', 'por', 'un', 'para', 'con', 'una', 'sus', 'del', 'más', 'como']) {
      assert.ok(!doc.tags.includes(stop), stop);
    }
    const dates = doc.dates.map((d) => d.text);
    assert.ok(dates.includes('2002'), dates.join(', '));
    assert.ok(dates.includes('miércoles'), dates.join(', '));
    assert.ok(!dates.some((d) => /^hoy/i.test(d)), '"hoy en día" means nowadays');
    assert.deepEqual(doc.dates.find((d) => d.text === '2002'), { text: '2002', date: '2002' });
  });

  it('lowercase words without punctuation, as pocketsphinx writes them', () => {
    const text = readManifest()
      .filter((e) => e.language === 'en' && /^(pocketsphinx\/sense|fleurs\/en)/.test(e.file))
      .map((e) => e.reference.toLowerCase().replace(/[^\p{L}\p{N}' ]/gu, ''))
      .join(' ');
    notesOf({ text, language: 'en' }, 'diary');
    assert.ok(sentencesOf(flat(text)).length >= 10, 'read as windows of about 20 words');
  });

  it('uses segments as sentences when the text has no punctuation', () => {
    const segments = readSegments('long/concat-es-human.segments.tsv').slice(0, 10);
    const text = segments.map((s) => s.text.toLowerCase().replace(/[^\p{L}\p{N} ]/gu, '')).join(' ');
    const doc = notesOf({ text, language: 'es', segments: segments.map((s) => ({ ...s, text: s.text.toLowerCase().replace(/[^\p{L}\p{N} ]/gu, '') })) }, 'diary');
    const texts = new Set(sentencesOf(text, segments.map((s) => ({ text: s.text.toLowerCase().replace(/[^\p{L}\p{N} ]/gu, '') }))));
    // A segment of more than 40 words is cut; the others are kept whole.
    assert.ok(doc.key_points.some((p) => segments.some((s) => s.text.toLowerCase().replace(/[^\p{L}\p{N} ]/gu, '') === p)));
    assert.ok(doc.key_points.every((p) => texts.has(p)));
  });
});

describe('extractiveNotes on a diary with known dates', () => {
  it('English: dates, action items, people, places and mood', () => {
    const text =
      'Today was a long day at work. I met with Ana Pérez in the morning and we talked about the conference in New York. ' +
      'I need to book the flights before March 3rd, 2025. Tomorrow I see the dentist at nine. ' +
      'I was tired but happy, really happy with how the project went. Remember to call mom on Sunday. ' +
      'The conference is on 2025-04-12, and next week I start the new project with the team.';
    const doc = notesOf({ text, language: 'en', recordedAt: '2025-02-20T18:00:00Z' }, 'diary');
    assert.deepEqual(doc.dates, [
      { text: 'Today', date: '2025-02-20' },
      { text: 'March 3rd, 2025', date: '2025-03-03' },
      { text: 'Tomorrow', date: '2025-02-21' },
      { text: 'on Sunday', date: null },
      { text: '2025-04-12', date: '2025-04-12' },
      { text: 'next week', date: null },
    ]);
    assert.deepEqual(doc.action_items, [
      { text: 'I need to book the flights before March 3rd, 2025.', owner: null, due: '2025-03-03' },
      { text: 'Remember to call mom on Sunday.', owner: null, due: 'on Sunday' },
    ]);
    assert.deepEqual(doc.people, ['Ana Pérez']);
    assert.deepEqual(doc.places, ['New York']);
    assert.equal(doc.mood, 'positive');
  });

  it('Spanish: hoy, mañana (not "por la mañana"), weekdays and dates with de', () => {
    const text =
      'Hoy fui al mercado con mi hermana. Tengo que llamar a la abuela mañana por la mañana. ' +
      'El viernes hay reunión en el trabajo y el 3 de marzo de 2025 es el cumpleaños de papá. La semana que viene empiezo el curso.';
    const doc = notesOf({ text, language: 'es', recordedAt: '2025-02-20' }, 'diary');
    assert.deepEqual(doc.dates, [
      { text: 'Hoy', date: '2025-02-20' },
      { text: 'mañana', date: '2025-02-21' },
      { text: 'El viernes', date: null },
      { text: '3 de marzo de 2025', date: '2025-03-03' },
      { text: 'La semana que viene', date: null },
    ]);
    assert.deepEqual(doc.action_items, [{ text: 'Tengo que llamar a la abuela mañana por la mañana.', owner: null, due: '2025-02-21' }]);
  });

  it('leaves relative dates unresolved without a recording date, and skips counts and times', () => {
    assert.deepEqual(
      findDates('tomorrow at 10:30 we meet 1500 people, then on 12 May 2024 and in June 2023 and 1811').map((d) => [d.text, d.date]),
      [
        ['tomorrow', null],
        ['12 May 2024', '2024-05-12'],
        ['June 2023', '2023-06'],
        ['1811', '1811'],
      ],
    );
  });

  it('splits sentences at their ends, not after abbreviations', () => {
    assert.deepEqual(sentencesOf('I met Dr. Ana Pérez, i.e. my doctor. Then we left! Did we? Yes. 2025 was good.'), [
      'I met Dr. Ana Pérez, i.e. my doctor.',
      'Then we left!',
      'Did we?',
      'Yes.',
      '2025 was good.',
    ]);
    assert.deepEqual(extractiveNotes({ text: 'Yesterday I met Dr. Ana Pérez at the clinic.', language: 'en' }, 'diary').people, ['Ana Pérez']);
  });

  it('gives valid empty notes for an empty transcript', () => {
    const doc = extractiveNotes({ text: ' ', language: 'en' }, 'meeting');
    assert.equal(doc.title, 'Empty recording');
    assert.ok(validateNotesDocument(doc).ok);
  });
});

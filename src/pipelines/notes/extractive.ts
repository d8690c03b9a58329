/**
 * Notes without a model: deterministic, offline, and honest about what they are. Sentences are
 * scored by how many of the transcript's frequent content words they hold; the best become the key
 * points and the summary, the most frequent words the tags. Dates, action items and names come from
 * patterns, and are left out rather than guessed. Transcripts without punctuation (pocketsphinx)
 * are read as segments or windows of about 20 words.
 */
import { emptyNotesDocument, MAX_ITEMS, notesLanguage, type NotesDocument } from './notes-schema.js';
import { findDates } from './find-dates.js';
import { stopWordsFor } from './stop-words.js';

export interface ExtractiveTranscript {
  text: string;
  language: string;
  segments?: { startMs: number; endMs: number; text: string }[];
  /** When the recording was made (ISO 8601), to resolve "tomorrow". */
  recordedAt?: string;
}

const WINDOW_WORDS = 20;
const MAX_SENTENCE_WORDS = 40;
// A sentence ends at . ! ? before a capital or a digit, except after an abbreviation ("i.e. the", "Mr. Smith").
const SENTENCE_END = /(?<!(?<![\p{L}])(?:[Mm]rs?|[Mm]s|[Dd]r|[Ss]t|[Ss]ra?|[Ss]rta|vs|etc|e\.g|i\.e|p\.ej)\.)(?<=[.!?…。！？]["'»”’)\]]*)\s+(?=["'«“¿¡(]*[\p{Lu}\p{N}])/u;
const WORD = /[\p{L}\p{N}]+(?:['’][\p{L}]+)*/gu;

const words = (text: string) => [...text.toLowerCase().replace(/’/g, "'").matchAll(WORD)].map((m) => m[0]);
const clean = (text: string) => text.replace(/\s+/g, ' ').trim();

/** Extractive notes of `transcript`, filled with `template`'s name but not its instructions. */
export function extractiveNotes(transcript: ExtractiveTranscript, template: string): NotesDocument {
  const language = notesLanguage(transcript.language);
  const text = clean(transcript.text);
  if (words(text).length === 0) return emptyNotesDocument(language, template);
  const stop = stopWordsFor(language);
  const sentences = sentencesOf(text, transcript.segments);
  const { weight, tags } = keywords(sentences, stop);

  const scored = sentences.map((s, i) => {
    const content = words(s).filter((w) => weight.has(w));
    const score = content.reduce((sum, w) => sum + weight.get(w)!, 0) / Math.sqrt(Math.max(1, content.length));
    // A sentence of three words rarely says what a recording is about.
    return { s, i, score: words(s).length < 5 ? score / 4 : score };
  });
  const best = [...scored].sort((a, b) => b.score - a.score || a.i - b.i);
  const keyCount = Math.min(sentences.length, Math.max(3, Math.min(5, Math.ceil(sentences.length / 6))));
  const inOrder = (n: number) => best.slice(0, n).sort((a, b) => a.i - b.i).map((x) => x.s);
  const dates = findDates(text, transcript.recordedAt).slice(0, MAX_ITEMS);

  return {
    title: titleOf(best[0]?.s ?? text, tags),
    summary: inOrder(2).join(' '),
    key_points: inOrder(keyCount),
    action_items: actionItems(sentences, transcript.recordedAt),
    ...names(sentences),
    dates: dates.map((d) => ({ text: d.text, date: d.date })),
    tags,
    mood: moodOf(words(text)),
    language,
    source: 'extractive',
    template,
    model: null,
  };
}

/** Sentences by punctuation; segments or word windows when the text has (almost) none. */
export function sentencesOf(text: string, segments?: { text: string }[]): string[] {
  let sentences = text.split(SENTENCE_END).map(clean).filter((s) => words(s).length > 0);
  const wordCount = words(text).length;
  if (wordCount / sentences.length > MAX_SENTENCE_WORDS && segments && segments.length > 1) {
    sentences = segments.map((s) => clean(s.text)).filter((s) => words(s).length > 0);
  }
  return sentences.flatMap((s) => (s.split(' ').length <= MAX_SENTENCE_WORDS ? [s] : clauses(s)));
}

/** A long sentence in pieces of at most MAX_SENTENCE_WORDS: whole clauses where it has commas, else windows. */
function clauses(sentence: string): string[] {
  const pieces: string[] = [];
  let current: string[] = [];
  for (const clause of sentence.split(/(?<=[,;:])\s+/)) {
    const ws = clause.split(' ');
    if (current.length + ws.length > MAX_SENTENCE_WORDS && current.length > 0) {
      pieces.push(current.join(' '));
      current = [];
    }
    if (ws.length <= MAX_SENTENCE_WORDS) current.push(...ws);
    else pieces.push(...windows(ws));
  }
  if (current.length > 0) pieces.push(current.join(' '));
  return pieces;
}

function windows(ws: string[]): string[] {
  const n = Math.ceil(ws.length / WINDOW_WORDS);
  const size = Math.ceil(ws.length / n);
  return Array.from({ length: n }, (_, i) => ws.slice(i * size, (i + 1) * size).join(' ')).filter((w) => w !== '');
}

/**
 * Content words with their weight (frequency over the top frequency) and the tags. A plural counts
 * for its singular only when the singular is said too, so a tag is always a word of the transcript.
 */
function keywords(sentences: string[], stop: ReadonlySet<string>): { weight: Map<string, number>; tags: string[] } {
  const counts = new Map<string, { n: number; first: number }>();
  let at = 0;
  for (const w of sentences.flatMap(words)) {
    at++;
    // Words of more than 30 letters are recognition garbage or joined tokens, not topics.
    if (stop.has(w) || w.length < 3 || w.length > 30 || /\d/.test(w) || w.includes("'")) continue;
    const c = counts.get(w);
    if (c) c.n++;
    else counts.set(w, { n: 1, first: at });
  }
  const base = new Map<string, string>();
  for (const w of counts.keys()) {
    if (w.length < 4 || !w.endsWith('s') || /(ss|us|is)$/.test(w)) continue;
    const singular = [w.slice(0, -1), ...(w.endsWith('es') ? [w.slice(0, -2)] : [])].find((s) => counts.has(s));
    if (singular) base.set(w, singular);
  }
  for (const [plural, singular] of base) {
    const p = counts.get(plural)!;
    const s = counts.get(singular)!;
    counts.set(singular, { n: s.n + p.n, first: Math.min(s.first, p.first) });
  }
  const ranked = [...counts].filter(([w]) => !base.has(w)).sort((a, b) => b[1].n - a[1].n || a[1].first - b[1].first);
  const top = ranked[0]?.[1].n ?? 1;
  const weight = new Map<string, number>();
  for (const [w, c] of counts) weight.set(w, (base.has(w) ? counts.get(base.get(w)!)!.n : c.n) / top);
  const repeated = ranked.filter(([, c]) => c.n >= 2).slice(0, 8);
  const tags = (repeated.length >= 5 ? repeated : ranked.slice(0, 5)).map(([w]) => w);
  return { weight, tags };
}

function titleOf(bestSentence: string, tags: string[]): string {
  const sentence = bestSentence.replace(/^[\s"'«“¿¡]+|[\s.,;:!?"'»”]+$/g, '');
  const short = sentence.length <= 80 ? sentence : sentence.slice(0, 79).replace(/\s+\S*$/, '') + '…';
  const title = sentence.length <= 80 && words(sentence).length >= 3 ? sentence : tags.slice(0, 3).join(', ') || short;
  return (title.charAt(0).toUpperCase() + title.slice(1)).slice(0, 80);
}

const ACTION_CUES = new RegExp(
  [
    "\\b(?:i|we)\\s+(?:really\\s+|still\\s+)?(?:need|have|ought|want|got)\\s+to\\b",
    "\\b(?:i|we)(?:'ll|\\s+will|\\s+must|\\s+should|'d\\s+better)\\b",
    "\\b(?:remember|don't\\s+forget|do\\s+not\\s+forget|make\\s+sure)\\s+to\\b",
    "\\blet's\\b",
    '\\bto-?do\\b',
    '(?<![\\p{L}])(?:tengo|tenemos|tienes|tiene|tendré|tendremos)\\s+que(?![\\p{L}])',
    '(?<![\\p{L}])(?:hay\\s+que|debo|debemos|debería|deberíamos|necesito|necesitamos)(?![\\p{L}])',
    '(?<![\\p{L}])(?:no\\s+(?:me\\s+|te\\s+)?olvid(?:ar|es|emos)|acuérdate|acordarme|recordar|recuerda)(?![\\p{L}])',
  ].join('|'),
  'iu',
);

function actionItems(sentences: string[], recordedAt: string | undefined): NotesDocument['action_items'] {
  return sentences
    .filter((s) => ACTION_CUES.test(s.replace(/’/g, "'")))
    .slice(0, 20)
    .map((s) => {
      const when = findDates(s, recordedAt)[0];
      // The speaker is the owner of "I need to", but the notes cannot name the speaker.
      return { text: s.slice(0, 300), owner: null, due: when ? (when.date ?? when.text) : null };
    });
}

const PLACE_CUES = new Set(['in', 'at', 'from', 'near', 'into', 'en', 'desde', 'hacia']);
const PERSON_CUES = new Set(['with', 'by', 'met', 'told', 'asked', 'called', 'mr', 'mrs', 'ms', 'dr', 'mister', 'con', 'según', 'llamé', 'señor', 'señora']);
const CONNECTORS = new Set(['de', 'del', 'van', 'von', 'da', 'di', 'la']);
const CAPITALISED = /^\p{Lu}[\p{Ll}'’-]+$/u;

/**
 * Names of two or more capitalised words in the middle of a sentence, kept only where the word
 * before says what they are ("in New York", "with Ana Pérez"): a capitalised word alone is as often
 * a device or a title as a name, so the rest are left out.
 */
function names(sentences: string[]): { people: string[]; places: string[] } {
  const people = new Set<string>();
  const places = new Set<string>();
  for (const s of sentences) {
    const raw = s.split(' ');
    const tokens = raw.map((t) => t.replace(/^["'«“(]+|["'»”),.;:!?]+$/g, ''));
    // Punctuation after a word ends the name: "Strasburg, Basle, Paris" are three names, not one.
    const ends = (k: number) => /[,.;:!?)"»”]$/.test(raw[k]!);
    for (let i = 1; i < tokens.length; i++) {
      if (!CAPITALISED.test(tokens[i]!)) continue;
      let j = i + 1;
      while (j < tokens.length && !ends(j - 1) && (CAPITALISED.test(tokens[j]!) || (CONNECTORS.has(tokens[j]!) && CAPITALISED.test(tokens[j + 1] ?? '')))) j++;
      const name = tokens.slice(i, j);
      const before = tokens[i - 1]!.toLowerCase().replace(/\.$/, '');
      if (name.filter((t) => CAPITALISED.test(t)).length >= 2) {
        if (PLACE_CUES.has(before)) places.add(name.join(' '));
        else if (PERSON_CUES.has(before)) people.add(name.join(' '));
      }
      i = j - 1; // the loop moves on to the word that ended this run
    }
  }
  return { people: [...people].slice(0, MAX_ITEMS), places: [...places].slice(0, MAX_ITEMS) };
}

const POSITIVE = new Set(
  'happy glad excited grateful thankful proud relaxed enjoyed love loved lovely wonderful fantastic delighted feliz contento contenta alegre emocionado emocionada agradecido agradecida orgulloso orgullosa tranquilo tranquila encantó genial maravilloso maravillosa'.split(' '),
);
const NEGATIVE = new Set(
  'sad angry upset tired exhausted stressed anxious worried frustrated annoyed afraid scared lonely depressed awful terrible miserable hate hated cried triste enfadado enfadada enojado enojada cansado cansada agotado agotada estresado estresada preocupado preocupada ansioso ansiosa frustrado frustrada harto harta horrible odio lloré'.split(' '),
);
const NEGATIONS = new Set(['not', 'never', 'no', "don't", "didn't", "isn't", "wasn't", "aren't", "weren't", 'nunca', 'ni']);

/** 'positive' or 'negative' only when feeling words clearly lean one way; a tiny lexicon cannot say more. */
function moodOf(tokens: string[]): string | null {
  let positive = 0;
  let negative = 0;
  tokens.forEach((w, i) => {
    const sign = POSITIVE.has(w) ? 1 : NEGATIVE.has(w) ? -1 : 0;
    if (sign === 0) return;
    const negated = NEGATIONS.has(tokens[i - 1] ?? '') || NEGATIONS.has(tokens[i - 2] ?? '');
    if ((sign > 0) !== negated) positive++;
    else negative++;
  });
  if (positive >= 2 && positive >= 2 * negative) return 'positive';
  if (negative >= 2 && negative >= 2 * positive) return 'negative';
  return null;
}

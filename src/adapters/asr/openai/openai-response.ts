/**
 * Reading an OpenAI-compatible transcription server's answers: `verbose_json` bodies (times in
 * seconds; words at the top level as OpenAI sends them, or inside segments as some servers do) and
 * error statuses, turned into the port's errors.
 */
import { EarshotError, parseRetryAfter } from '../../../core/errors.js';
import type { AsrSegment, AsrWord } from '../../../ports/asr-engine.js';
import { tidySegments, type RawSegment } from '../segments.js';

interface WireWord {
  word?: unknown;
  start?: unknown;
  end?: unknown;
  probability?: unknown;
}

interface WireSegment {
  start?: unknown;
  end?: unknown;
  text?: unknown;
  words?: unknown;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const badResponse = (why: string) =>
  // A 2xx with a body we cannot read is most often a proxy or a server cut short; another attempt may do.
  new EarshotError('asr_failed', `the transcription server sent an answer that is not verbose_json: ${why}`, { retryable: true, details: { reason: 'bad_response' } });

function toWords(raw: unknown): AsrWord[] {
  if (!Array.isArray(raw)) return [];
  const words: AsrWord[] = [];
  for (const w of raw as WireWord[]) {
    const start = num(w?.start);
    const end = num(w?.end);
    if (typeof w?.word !== 'string' || start === undefined || end === undefined) continue;
    const p = num(w.probability);
    words.push({ text: w.word, startMs: start * 1000, endMs: end * 1000, ...(p !== undefined && p >= 0 && p <= 1 ? { confidence: p } : {}) });
  }
  return words;
}

/** Segments (ms, tidied into the audio) and the reported language of a `verbose_json` body. */
export function parseVerboseJson(body: string, audioMs: number): { segments: AsrSegment[]; language: string | undefined } {
  let json: { text?: unknown; language?: unknown; segments?: unknown; words?: unknown };
  try {
    json = JSON.parse(body) as typeof json;
  } catch {
    throw badResponse('invalid JSON');
  }
  if (typeof json !== 'object' || json === null || typeof json.text !== 'string') throw badResponse('no text');
  const language = typeof json.language === 'string' ? json.language : undefined;
  const topWords = toWords(json.words);
  let raw: RawSegment[] = [];
  if (Array.isArray(json.segments) && json.segments.length > 0) {
    raw = (json.segments as WireSegment[]).flatMap((s) => {
      const start = num(s?.start);
      const end = num(s?.end);
      if (typeof s?.text !== 'string' || start === undefined || end === undefined) return [];
      const own = toWords(s.words);
      return [{ startMs: start * 1000, endMs: end * 1000, text: s.text, ...(own.length > 0 ? { words: own } : {}) }];
    });
  } else if (json.text.trim() !== '') {
    // Plain `json` answers (models without verbose_json): one segment over the whole audio.
    raw = [{ startMs: 0, endMs: audioMs, text: json.text }];
  }
  if (topWords.length > 0) assignWords(raw, topWords);
  return { segments: tidySegments(raw, audioMs), language };
}

/** Gives each top-level word to the last segment that starts at or before it. */
function assignWords(segments: RawSegment[], words: AsrWord[]): void {
  for (const s of segments) s.words ??= [];
  let i = 0;
  for (const w of [...words].sort((a, b) => a.startMs - b.startMs)) {
    while (i + 1 < segments.length && segments[i + 1]!.startMs <= w.startMs) i++;
    segments[i]?.words!.push(w);
  }
}

/** The error for a non-2xx answer: 408, 409, 429 and 5xx are worth another attempt; other 4xx are not. */
export function httpFailure(status: number, body: string, retryAfter: string | null, language: string): EarshotError {
  let message = body.trim().slice(0, 500);
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; detail?: unknown };
    const m = typeof parsed.error === 'string' ? parsed.error : (parsed.error?.message ?? parsed.detail);
    if (typeof m === 'string') message = m.slice(0, 500);
  } catch {}
  if (status === 400 && /language/i.test(message)) {
    return new EarshotError('unsupported_language', `the transcription server refused the language "${language}": ${message}`, { details: { status, language } });
  }
  const again = status === 408 || status === 409 || status === 429 || status >= 500;
  const wait = parseRetryAfter(retryAfter, Date.now());
  return new EarshotError('asr_failed', `the transcription server answered ${status}${message ? `: ${message}` : ''}`, {
    retryable: again,
    ...(again && wait !== undefined ? { retryAfterMs: wait } : {}),
    details: { status },
  });
}

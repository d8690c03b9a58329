/** Renders a transcript as plain text, JSON, SRT or WebVTT. */
import type { Transcript, TranscriptSegment } from './transcript.js';

export const transcriptFormats = ['txt', 'json', 'srt', 'vtt'] as const;
export type TranscriptFormat = (typeof transcriptFormats)[number];

export const contentTypes: Record<TranscriptFormat, string> = {
  txt: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
  srt: 'application/x-subrip; charset=utf-8',
  vtt: 'text/vtt; charset=utf-8',
};

export interface CueOptions {
  /** Longest cue on screen. Default 6000 ms. */
  maxCueMs?: number;
  /** Characters per line; two lines at most. Default 42. */
  lineChars?: number;
}

interface Cue {
  startMs: number;
  endMs: number;
  text: string;
}

const seconds = (ms: number) => Math.round(ms) / 1000;

/** The JSON shape follows OpenAI's verbose_json (times in seconds), with words where known, and our `warnings`. */
export function transcriptJson(t: Transcript): Record<string, unknown> {
  return {
    text: t.text,
    language: t.language,
    duration: seconds(t.durationMs),
    engine: t.engine,
    model: t.model,
    segments: t.segments.map((s) => ({
      id: s.id,
      start: seconds(s.startMs),
      end: seconds(s.endMs),
      text: s.text,
      ...(s.words ? { words: s.words.map((w) => ({ word: w.text, start: seconds(w.startMs), end: seconds(w.endMs), ...(w.confidence !== undefined ? { confidence: w.confidence } : {}) })) } : {}),
    })),
    warnings: t.warnings ?? [],
  };
}

/** Cues short enough to read: long segments with word timings split at word boundaries. */
export function cues(segments: readonly TranscriptSegment[], options: CueOptions = {}): Cue[] {
  const maxCueMs = options.maxCueMs ?? 6000;
  const maxChars = (options.lineChars ?? 42) * 2;
  const out: Cue[] = [];
  for (const s of segments) {
    if (!s.words || s.words.length === 0 || (s.endMs - s.startMs <= maxCueMs && s.text.length <= maxChars)) {
      if (s.text) out.push({ startMs: s.startMs, endMs: s.endMs, text: s.text });
      continue;
    }
    let current: typeof s.words = [];
    const flush = () => {
      if (current.length > 0) out.push({ startMs: current[0]!.startMs, endMs: current.at(-1)!.endMs, text: current.map((w) => w.text).join(' ') });
      current = [];
    };
    for (const w of s.words) {
      const text = [...current, w].map((x) => x.text).join(' ');
      if (current.length > 0 && (w.endMs - current[0]!.startMs > maxCueMs || text.length > maxChars)) flush();
      current.push(w);
    }
    flush();
  }
  return out;
}

/** Breaks a cue's text into at most two balanced lines. */
function wrap(text: string, lineChars: number): string {
  if (text.length <= lineChars) return text;
  const words = text.split(' ');
  let best = text;
  let bestScore = Infinity;
  for (let i = 1; i < words.length; i++) {
    const a = words.slice(0, i).join(' ');
    const b = words.slice(i).join(' ');
    const score = Math.max(a.length, b.length);
    if (score < bestScore) {
      bestScore = score;
      best = `${a}\n${b}`;
    }
  }
  return best;
}

function timestamp(ms: number, separator: ',' | '.'): string {
  const total = Math.max(0, Math.round(ms));
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const s = Math.floor((total % 60_000) / 1000);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(total % 1000, 3)}`;
}

export function renderTranscript(t: Transcript, format: TranscriptFormat, options: CueOptions = {}): string {
  const lineChars = options.lineChars ?? 42;
  switch (format) {
    case 'txt':
      return t.text ? `${t.text}\n` : '';
    case 'json':
      return `${JSON.stringify(transcriptJson(t), null, 2)}\n`;
    case 'srt':
      return cues(t.segments, options)
        .map((c, i) => `${i + 1}\n${timestamp(c.startMs, ',')} --> ${timestamp(c.endMs, ',')}\n${wrap(c.text, lineChars)}\n`)
        .join('\n');
    case 'vtt':
      return `WEBVTT\n\n${cues(t.segments, options)
        .map((c) => `${timestamp(c.startMs, '.')} --> ${timestamp(c.endMs, '.')}\n${wrap(c.text, lineChars)}\n`)
        .join('\n')}`;
  }
}

/**
 * Stitches per-chunk results into one transcript: timestamps move by the chunk's offset, and each
 * word (or, for engines without word timings, each segment) is kept only by the chunk whose
 * keep-range holds its middle, so a forced cut with overlap neither loses nor repeats words.
 */
import type { AsrResult } from '../../ports/asr-engine.js';
import type { Chunk } from './chunk-plan.js';
import type { Transcript, TranscriptSegment, TranscriptWord } from './transcript.js';

export interface ChunkResult {
  chunk: Chunk;
  result: AsrResult | null;
}

const mid = (a: { startMs: number; endMs: number }) => (a.startMs + a.endMs) / 2;
const joinWords = (words: readonly { text: string }[]) => words.map((w) => w.text).join(' ').replace(/\s+([,.!?;:])/g, '$1');

export function stitch(parts: readonly ChunkResult[], meta: { durationMs: number; engine: string; model: string; language: string }): Transcript {
  const segments: TranscriptSegment[] = [];
  const languages = new Map<string, number>();
  for (const { chunk, result } of [...parts].sort((a, b) => a.chunk.index - b.chunk.index)) {
    if (!result) continue;
    const keep = (t: { startMs: number; endMs: number }) => mid(t) >= chunk.keepFromMs && mid(t) < chunk.keepUntilMs;
    for (const s of result.segments) {
      const shifted = { startMs: s.startMs + chunk.startMs, endMs: s.endMs + chunk.startMs };
      let seg: Omit<TranscriptSegment, 'id'> | undefined;
      if (s.words && s.words.length > 0) {
        const words: TranscriptWord[] = s.words
          .map((w) => ({ ...w, startMs: w.startMs + chunk.startMs, endMs: w.endMs + chunk.startMs }))
          .filter(keep);
        if (words.length > 0) seg = { startMs: words[0]!.startMs, endMs: words.at(-1)!.endMs, text: joinWords(words), words };
      } else if (keep(shifted) && s.text.trim()) {
        seg = { ...shifted, text: s.text.trim() };
      }
      if (seg) segments.push({ id: segments.length, ...seg });
    }
    const words = result.text.split(/\s+/).filter(Boolean).length;
    if (words > 0) languages.set(result.language, (languages.get(result.language) ?? 0) + words);
  }
  // With 'auto', chunks may disagree; the language of most words wins.
  const language = [...languages].sort((a, b) => b[1] - a[1])[0]?.[0] ?? meta.language;
  return {
    text: segments.map((s) => s.text).join(' ').trim(),
    language: language === 'auto' ? 'und' : language,
    durationMs: meta.durationMs,
    engine: meta.engine,
    model: meta.model,
    segments,
  };
}

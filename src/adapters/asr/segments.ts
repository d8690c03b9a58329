/**
 * Tidies the segments an engine reports into what the port promises: in order, not overlapping,
 * inside the audio, with words inside their segment. Engines round and pad times (whisper's last
 * segment often ends after the audio), and callers stitch chunks on these times.
 */
import type { AsrSegment, AsrWord } from '../../ports/asr-engine.js';

/** A whole segment in brackets is a non-speech marker ("[BLANK_AUDIO]", "(music)"), not words. */
const NON_SPEECH = /^[[(][^\])]*[\])]$/;

export interface RawSegment {
  startMs: number;
  endMs: number;
  text: string;
  words?: AsrWord[];
}

/** Clamps times into [0, audioMs] and after the previous segment; drops empty and non-speech segments. */
export function tidySegments(raw: readonly RawSegment[], audioMs: number): AsrSegment[] {
  const segments: AsrSegment[] = [];
  let lastEndMs = 0;
  for (const s of raw) {
    const text = s.text.trim();
    if (text === '' || NON_SPEECH.test(text)) continue;
    const startMs = clamp(Math.round(s.startMs), lastEndMs, audioMs);
    const endMs = clamp(Math.round(s.endMs), startMs, audioMs);
    const segment: AsrSegment = { startMs, endMs, text };
    if (s.words) {
      let wordEndMs = startMs;
      segment.words = [];
      for (const w of s.words) {
        const wordText = w.text.trim();
        if (wordText === '') continue;
        const wordStartMs = clamp(Math.round(w.startMs), wordEndMs, endMs);
        wordEndMs = clamp(Math.round(w.endMs), wordStartMs, endMs);
        segment.words.push({ text: wordText, startMs: wordStartMs, endMs: wordEndMs, ...(w.confidence !== undefined ? { confidence: w.confidence } : {}) });
      }
    }
    segments.push(segment);
    lastEndMs = endMs;
  }
  return segments;
}

function clamp(v: number, min: number, max: number): number {
  return Math.min(Math.max(v, min), Math.max(min, max));
}

/**
 * Parses what `pocketsphinx_continuous -time yes` (Debian 0.8+5prealpha) prints on stdout. For every
 * utterance its VAD finds, a line with the hypothesis, then one line per segment of the best path:
 *
 *     go forward ten meters
 *     <s> 0.000 0.240 1.000000
 *     <sil> 0.250 0.450 0.706282
 *     go 0.460 0.630 0.997303
 *     forward(2) 0.640 1.160 0.996207
 *     </s> 2.120 2.600 1.000000
 *
 * Times are seconds from the start of the input (not of the utterance), start and end of the first
 * and last 10 ms frame; the last number is the posterior probability (can exceed 1 by rounding). An
 * utterance with no words prints an empty hypothesis line. `word(2)` names an alternate pronunciation;
 * `<s>`, `</s>`, `<sil>` and fillers such as `[NOISE]` and `[SPEECH]` are not words.
 */
import type { AsrSegment, AsrWord } from '../../../ports/asr-engine.js';

const WORD_LINE = /^(\S+) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\S+)$/;
const NOT_A_WORD = /^(?:<.*>|\[.*\]|\+\+.*\+\+)$/;
const PRONUNCIATION = /\(\d+\)$/;
/** pocketsphinx's default frame (-frate 100): a printed end time is the start of the last frame. */
const FRAME_MS = 10;

/** Segments (one per utterance that has words) with word timings, clamped to [0, durationMs]. */
export function parsePocketsphinxOutput(stdout: string, durationMs: number): AsrSegment[] {
  const segments: AsrSegment[] = [];
  let words: AsrWord[] = [];
  let lastEndMs = 0;
  const flush = () => {
    if (words.length > 0) segments.push({ startMs: words[0]!.startMs, endMs: words.at(-1)!.endMs, text: words.map((w) => w.text).join(' '), words });
    words = [];
  };
  for (const raw of stdout.split('\n')) {
    const line = raw.trim();
    const m = WORD_LINE.exec(line);
    if (!m) {
      flush(); // a hypothesis line opens the next utterance
      continue;
    }
    const [, token, start, end, probability] = m;
    if (token === '<s>') flush();
    if (NOT_A_WORD.test(token!)) continue;
    const text = token!.replace(PRONUNCIATION, '');
    const startMs = clamp(Math.round(Number(start) * 1000), lastEndMs, durationMs);
    const endMs = clamp(Math.round(Number(end) * 1000) + FRAME_MS, startMs, durationMs);
    lastEndMs = endMs;
    const confidence = Number(probability);
    words.push({ text, startMs, endMs, ...(Number.isFinite(confidence) ? { confidence: clamp(confidence, 0, 1) } : {}) });
  }
  flush();
  return segments;
}

function clamp(x: number, min: number, max: number): number {
  return Math.min(Math.max(x, min), max);
}

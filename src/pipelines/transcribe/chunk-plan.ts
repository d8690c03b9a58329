/**
 * Where to cut a long recording. Cuts go in the middle of silences, close to the target length, so no
 * word is split; where someone talks for longer than the maximum without a pause, the cut is forced
 * and both chunks overlap it, and stitching keeps each word from the chunk where it lies whole.
 */
import type { SpeechRegion } from '../../ports/vad.js';

export interface ChunkPlanOptions {
  /** Preferred chunk length. Default 180000 ms (3 min). */
  targetMs?: number;
  /** Never longer than this (plus overlap). Default 1.5 × target. */
  maxMs?: number;
  /** Never cut before this far into a chunk. Default 0.5 × target. */
  minMs?: number;
  /** Silences shorter than this are not cut at when a longer one is in reach. Default 300 ms. */
  minSilenceMs?: number;
  /** Audio both chunks share around a forced cut. Default 2000 ms. */
  overlapMs?: number;
  /**
   * Audio each chunk also hears beyond a silence cut, whose words it does not keep. Engines adapt to
   * the audio they hear first (pocketsphinx's cepstral mean, whisper's context): a chunk that starts
   * cold transcribes its first words worse. Default 3000 ms.
   */
  contextMs?: number;
}

export interface Chunk {
  index: number;
  /** The audio the engine hears. */
  startMs: number;
  endMs: number;
  /** The part of the timeline this chunk speaks for: words whose middle falls here are kept. */
  keepFromMs: number;
  keepUntilMs: number;
  /** Whether the VAD heard speech in it; silent chunks need no ASR. */
  hasSpeech: boolean;
}

interface Gap {
  startMs: number;
  endMs: number;
}

function silences(speech: readonly SpeechRegion[], durationMs: number): Gap[] {
  const gaps: Gap[] = [];
  let at = 0;
  for (const r of speech) {
    if (r.startMs > at) gaps.push({ startMs: at, endMs: r.startMs });
    at = Math.max(at, r.endMs);
  }
  if (at < durationMs) gaps.push({ startMs: at, endMs: durationMs });
  return gaps;
}

/** Splits [0, durationMs) into chunks cut at silences. */
export function planChunks(durationMs: number, speech: readonly SpeechRegion[], options: ChunkPlanOptions = {}): Chunk[] {
  const targetMs = options.targetMs ?? 180_000;
  const maxMs = options.maxMs ?? Math.round(targetMs * 1.5);
  const minMs = options.minMs ?? Math.round(targetMs * 0.5);
  const minSilenceMs = options.minSilenceMs ?? 300;
  const overlapMs = options.overlapMs ?? 2000;
  const contextMs = options.contextMs ?? 3000;
  const gaps = silences(speech, durationMs);

  const cuts: { atMs: number; forced: boolean }[] = [];
  let pos = 0;
  while (durationMs - pos > maxMs) {
    const lo = pos + minMs;
    const hi = pos + maxMs;
    const target = pos + targetMs;
    // Candidate cut points: the middle of each silence in reach (clamped into the window).
    const candidates = gaps
      .filter((g) => g.endMs > lo && g.startMs < hi)
      .map((g) => {
        const s = Math.max(g.startMs, lo);
        const e = Math.min(g.endMs, hi);
        return { atMs: Math.round((s + e) / 2), lengthMs: g.endMs - g.startMs };
      });
    const long = candidates.filter((c) => c.lengthMs >= minSilenceMs);
    const pool = long.length > 0 ? long : candidates;
    if (pool.length > 0) {
      // Closest to the target, longer silences preferred (a 2 s pause 10 s away beats a 0.3 s one at the target).
      const score = (c: { atMs: number; lengthMs: number }) => Math.abs(c.atMs - target) - Math.min(c.lengthMs, 2000) * 5;
      const best = pool.reduce((a, b) => (score(b) < score(a) ? b : a));
      cuts.push({ atMs: best.atMs, forced: false });
      pos = best.atMs;
    } else {
      cuts.push({ atMs: target, forced: true });
      pos = target;
    }
  }

  const bounds = [{ atMs: 0, forced: false }, ...cuts, { atMs: durationMs, forced: false }];
  const chunks: Chunk[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const from = bounds[i]!;
    const to = bounds[i + 1]!;
    const startMs = Math.max(0, from.atMs - (from.forced ? overlapMs / 2 : contextMs));
    const endMs = Math.min(durationMs, to.atMs + (to.forced ? overlapMs / 2 : contextMs));
    chunks.push({
      index: i,
      startMs,
      endMs,
      keepFromMs: from.atMs,
      keepUntilMs: to.atMs,
      hasSpeech: speech.some((r) => r.endMs > startMs && r.startMs < endMs),
    });
  }
  return chunks;
}

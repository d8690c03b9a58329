import type { SpeechRegion } from '../../ports/vad.js';

/**
 * Joins speech regions that touch or nearly touch: the VAD runs window by window, so a word that
 * spans a window edge comes back as two regions.
 */
export function smoothRegions(regions: readonly SpeechRegion[], joinGapMs = 300): SpeechRegion[] {
  const out: SpeechRegion[] = [];
  for (const r of [...regions].sort((a, b) => a.startMs - b.startMs)) {
    const last = out.at(-1);
    if (last && r.startMs - last.endMs < joinGapMs) last.endMs = Math.max(last.endMs, r.endMs);
    else out.push({ ...r });
  }
  return out;
}

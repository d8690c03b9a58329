import type { SpeechRegion, Vad } from '../../../ports/vad.js';

export interface EnergyVadOptions {
  /** Analysis frame. Default 30 ms. */
  frameMs?: number;
  /** A frame is speech when this many dB above the noise floor. Default 12. */
  marginDb?: number;
  /** And never below this level (digital silence, hum). Default -55 dBFS. */
  minSpeechDb?: number;
  /** Gaps shorter than this join their neighbours. Default 300 ms. */
  minSilenceMs?: number;
  /** Regions shorter than this are dropped (clicks). Default 120 ms. */
  minSpeechMs?: number;
  /** Kept around each region so soft word edges are not cut. Default 100 ms. */
  padMs?: number;
}

/**
 * A frame-energy voice detector with an adaptive noise floor (the 10th percentile of frame
 * levels). Cheap and model-free: good enough to find pauses to cut at, and conservative (it keeps
 * quiet speech rather than dropping it).
 */
export function createEnergyVad(options: EnergyVadOptions = {}): Vad {
  const frameMs = options.frameMs ?? 30;
  const marginDb = options.marginDb ?? 12;
  const minSpeechDb = options.minSpeechDb ?? -55;
  const minSilenceMs = options.minSilenceMs ?? 300;
  const minSpeechMs = options.minSpeechMs ?? 120;
  const padMs = options.padMs ?? 100;

  return {
    name: 'energy',
    async detect(pcm, sampleRate) {
      const frame = Math.max(1, Math.round((sampleRate * frameMs) / 1000));
      const levels: number[] = [];
      for (let i = 0; i + frame <= pcm.length; i += frame) {
        let sum = 0;
        for (let j = i; j < i + frame; j++) sum += pcm[j]! * pcm[j]!;
        const rms = Math.sqrt(sum / frame) / 32768;
        levels.push(rms > 0 ? 20 * Math.log10(rms) : -120);
      }
      if (levels.length === 0) return [];
      const floor = [...levels].sort((a, b) => a - b)[Math.floor(levels.length * 0.1)]!;
      const threshold = Math.max(floor + marginDb, minSpeechDb);
      const regions: SpeechRegion[] = [];
      let start = -1;
      levels.forEach((db, i) => {
        if (db >= threshold && start < 0) start = i;
        if (db < threshold && start >= 0) {
          regions.push({ startMs: start * frameMs, endMs: i * frameMs });
          start = -1;
        }
      });
      if (start >= 0) regions.push({ startMs: start * frameMs, endMs: levels.length * frameMs });
      const totalMs = Math.round((pcm.length / sampleRate) * 1000);
      return smooth(regions, { minSilenceMs, minSpeechMs, padMs, totalMs });
    },
  };
}

/** Joins regions separated by short gaps, drops blips, pads the rest. */
export function smooth(regions: readonly SpeechRegion[], o: { minSilenceMs: number; minSpeechMs: number; padMs: number; totalMs: number }): SpeechRegion[] {
  const joined: SpeechRegion[] = [];
  for (const r of regions) {
    const last = joined.at(-1);
    if (last && r.startMs - last.endMs < o.minSilenceMs) last.endMs = r.endMs;
    else joined.push({ ...r });
  }
  return joined
    .filter((r) => r.endMs - r.startMs >= o.minSpeechMs)
    .map((r) => ({ startMs: Math.max(0, r.startMs - o.padMs), endMs: Math.min(o.totalMs, r.endMs + o.padMs) }))
    .reduce<SpeechRegion[]>((out, r) => {
      const last = out.at(-1);
      if (last && r.startMs <= last.endMs) last.endMs = Math.max(last.endMs, r.endMs);
      else out.push(r);
      return out;
    }, []);
}

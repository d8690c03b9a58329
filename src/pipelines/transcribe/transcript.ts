/** The stitched transcript of a job, as the merge step stores it and the renderers read it. */
import type { Warning } from '../../core/warnings.js';

export interface TranscriptWord {
  text: string;
  startMs: number;
  endMs: number;
  confidence?: number;
}

export interface TranscriptSegment {
  id: number;
  startMs: number;
  endMs: number;
  text: string;
  words?: TranscriptWord[];
}

export interface Transcript {
  text: string;
  language: string;
  durationMs: number;
  engine: string;
  model: string;
  segments: TranscriptSegment[];
  /** Damage read past while decoding the media (see core/warnings.ts); absent when there was none. */
  warnings?: Warning[];
}

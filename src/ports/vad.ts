/**
 * Vad: where in a stretch of 16-bit mono PCM someone speaks. The batch pipeline cuts long
 * recordings at the silences between these regions; streaming sessions use it to end utterances.
 * It leaves out what is said (AsrEngine) and how audio is decoded (MediaTool).
 */
export interface SpeechRegion {
  startMs: number;
  endMs: number;
}

export interface Vad {
  /** `energy`, `silero`. */
  readonly name: string;
  /** Speech regions, in order, not overlapping. */
  detect(pcm: Int16Array, sampleRate: number, options?: { signal?: AbortSignal }): Promise<SpeechRegion[]>;
}

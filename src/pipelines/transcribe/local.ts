/**
 * The chunk-and-stitch part of the pipeline, in one process and without the job engine: for
 * evaluation (`earshot eval wer --chunked`) and benchmarks, so they measure exactly the cutting and
 * stitching the jobs use.
 */
import { ASR_SAMPLE_RATE } from '../../core/asr.js';
import type { AsrEngine } from '../../ports/asr-engine.js';
import type { Vad } from '../../ports/vad.js';
import { planChunks } from './chunk-plan.js';
import { smoothRegions } from './speech.js';
import { stitch, type ChunkResult } from './stitch.js';
import type { Transcript } from './transcript.js';

export async function transcribeLocally(o: {
  pcm: Int16Array;
  engine: AsrEngine;
  vad: Vad;
  language: string;
  /** Chunk length; null transcribes the audio whole. */
  chunkSeconds: number | null;
  signal?: AbortSignal;
}): Promise<Transcript & { chunks: number }> {
  const durationMs = Math.round((o.pcm.length / ASR_SAMPLE_RATE) * 1000);
  const meta = { durationMs, engine: o.engine.name, model: o.engine.model, language: o.language };
  if (o.chunkSeconds === null) {
    const result = await o.engine.transcribe({ pcm: o.pcm, language: o.language, ...(o.signal ? { signal: o.signal } : {}) });
    const whole = { index: 0, startMs: 0, endMs: durationMs, keepFromMs: 0, keepUntilMs: durationMs, hasSpeech: true };
    return { ...stitch([{ chunk: whole, result }], meta), chunks: 1 };
  }
  const regions = smoothRegions(await o.vad.detect(o.pcm, ASR_SAMPLE_RATE));
  const chunks = planChunks(durationMs, regions, { targetMs: o.chunkSeconds * 1000 });
  const parts: ChunkResult[] = await Promise.all(
    chunks.map(async (chunk) => {
      if (!chunk.hasSpeech) return { chunk, result: null };
      const pcm = o.pcm.subarray(Math.floor((chunk.startMs * ASR_SAMPLE_RATE) / 1000), Math.floor((chunk.endMs * ASR_SAMPLE_RATE) / 1000));
      return { chunk, result: await o.engine.transcribe({ pcm, language: o.language, ...(o.signal ? { signal: o.signal } : {}) }) };
    }),
  );
  return { ...stitch(parts, meta), chunks: chunks.length };
}

/**
 * A fake AsrEngine for load tests and pipeline tests: no model, made-up words with plausible timing,
 * simulated latency and injected failures, all reproducible under a seed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ASR_SAMPLE_RATE } from '../../../core/asr.js';
import { abortError, EarshotError, retryable } from '../../../core/errors.js';
import { hashSeed, mulberry32 } from '../../../core/prng.js';
import type { AsrCapabilities, AsrEngine, AsrResult, AsrSegment, AsrWord } from '../../../ports/asr-engine.js';

export interface MockEngineOptions {
  /** Simulated processing time of every call. Default 0. */
  latencyMs?: number;
  /** Words per second of audio that is not silent (a shorter last second gets its share). Default 2. */
  wordsPerChunk?: number;
  /** Probability, 0..1, that a call fails after its latency with a retryable `asr_failed`. Default 0. */
  errorRate?: number;
  /** Seeds the words and the failures. Default 1. */
  seed?: number;
  /** A second of audio whose RMS is below this level is silence and gets no words. Default -50 dBFS. */
  silenceDbfs?: number;
}

export const MOCK_CAPABILITIES: AsrCapabilities = { languages: 'any', languageDetection: true, wordTimestamps: true, streaming: false, translation: true };

const CHUNK_MS = 1000;
const VOCABULARY = (
  'the a of and to in is it that was for on with as at by from this have not but what all were when we ' +
  'there can an your which their said if do will each about how up out them then she many some so these ' +
  'would other into has more her two like him see time could no make than first been its who now people'
).split(' ');

/**
 * The mock engine. The words of a call depend only on the seed and the audio (so a retried chunk
 * gets the same words); the k-th call's injected failure comes from a stream seeded by the seed.
 */
export function createMockEngine(options: MockEngineOptions = {}): AsrEngine {
  const latencyMs = options.latencyMs ?? 0;
  const wordsPerChunk = options.wordsPerChunk ?? 2;
  const errorRate = options.errorRate ?? 0;
  const seed = (options.seed ?? 1) >>> 0;
  const silenceDbfs = options.silenceDbfs ?? -50;
  if (!(latencyMs >= 0)) throw new EarshotError('invalid_config', 'latencyMs must be >= 0');
  if (!Number.isInteger(wordsPerChunk) || wordsPerChunk < 0 || wordsPerChunk > 100) throw new EarshotError('invalid_config', 'wordsPerChunk must be an integer in 0..100');
  if (!(errorRate >= 0 && errorRate <= 1)) throw new EarshotError('invalid_config', 'errorRate must be in 0..1');

  const failures = mulberry32(seed ^ 0x9e3779b9);
  const closing = new AbortController();

  return {
    name: 'mock',
    model: `mock-${seed}`,
    capabilities: MOCK_CAPABILITIES,

    async transcribe({ pcm, language, translate, signal }) {
      if (closing.signal.aborted) throw retryable('asr_failed', 'the ASR engine is closed');
      if (signal?.aborted) throw abortError('the ASR call was aborted');
      const fails = failures() < errorRate;
      try {
        if (latencyMs > 0) await sleep(latencyMs, undefined, { signal: AbortSignal.any(signal ? [signal, closing.signal] : [closing.signal]) });
      } catch {
        if (signal?.aborted) throw abortError('the ASR call was aborted');
        throw retryable('asr_failed', 'the ASR engine was closed during the call');
      }
      if (fails) throw retryable('asr_failed', 'injected failure (mock errorRate)', { errorRate });
      const result = fakeTranscript(pcm, mulberry32(hashSeed(pcm, seed)), wordsPerChunk, silenceDbfs);
      return { ...result, language: translate || language === 'auto' ? 'en' : language };
    },

    async close() {
      closing.abort();
    },
  };
}

/** Words spread evenly over each non-silent second; consecutive speaking seconds make one segment. */
function fakeTranscript(pcm: Int16Array, random: () => number, wordsPerChunk: number, silenceDbfs: number): Omit<AsrResult, 'language'> {
  const chunkSamples = (ASR_SAMPLE_RATE * CHUNK_MS) / 1000;
  const segments: AsrSegment[] = [];
  let current: AsrWord[] = [];
  const flush = () => {
    if (current.length > 0) segments.push({ startMs: current[0]!.startMs, endMs: current.at(-1)!.endMs, text: current.map((w) => w.text).join(' '), words: current });
    current = [];
  };
  for (let from = 0; from < pcm.length; from += chunkSamples) {
    const chunk = pcm.subarray(from, from + chunkSamples);
    const count = Math.floor((wordsPerChunk * chunk.length) / chunkSamples);
    if (count === 0 || dbfs(chunk) < silenceDbfs) {
      flush();
      continue;
    }
    const startMs = (from / ASR_SAMPLE_RATE) * 1000;
    const slotMs = ((chunk.length / ASR_SAMPLE_RATE) * 1000) / count;
    for (let k = 0; k < count; k++) {
      const text = VOCABULARY[Math.floor(random() * VOCABULARY.length)]!;
      const confidence = Math.round((0.6 + 0.4 * random()) * 1000) / 1000;
      current.push({ text, startMs: Math.round(startMs + k * slotMs), endMs: Math.round(startMs + (k + 0.8) * slotMs), confidence });
    }
  }
  flush();
  return { text: segments.map((s) => s.text).join(' '), segments };
}

function dbfs(samples: Int16Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  const rms = Math.sqrt(sum / samples.length) / 32768;
  return rms > 0 ? 20 * Math.log10(rms) : -Infinity;
}

/**
 * AsrEngine on any OpenAI-compatible transcription server (OpenAI, a whisper.cpp or faster-whisper
 * server, a hosted gateway): each call POSTs the samples as a WAV file to `{baseUrl}/audio/transcriptions`
 * (or `/audio/translations`) and maps the `verbose_json` answer. Whether a failure is worth another
 * attempt is decided here, from the status: a bad key will not get better, a busy server may.
 */
import { ASR_SAMPLE_RATE, type AsrCapabilities } from '../../../core/asr.js';
import { EarshotError, retryable } from '../../../core/errors.js';
import { encodeWav } from '../../../core/wav.js';
import type { AsrEngine, AsrRequest, AsrResult } from '../../../ports/asr-engine.js';
import { createConcurrencyLimit } from '../concurrency-limit.js';
import { createEngineCalls } from '../engine-calls.js';
import { whisperLanguageCode } from '../whisper-languages.js';
import { httpFailure, parseVerboseJson } from './openai-response.js';

export interface OpenAiEngineOptions {
  /** The API root, with its version: `https://api.openai.com/v1`, `http://localhost:8000/v1`. */
  baseUrl: string;
  /** Sent as a bearer token; local servers often need none. */
  apiKey?: string;
  /** The server's model id. Default `whisper-1`. */
  model?: string;
  /** Ask for word timings (`timestamp_granularities[]`); turn off for servers that refuse it. Default true. */
  wordTimestamps?: boolean;
  /** Whether the server has `/audio/translations`. Default true. */
  translation?: boolean;
  /** One request, body included. Default 300_000. */
  timeoutMs?: number;
  /** Requests at once; more calls wait their turn. Default 4. */
  maxConcurrent?: number;
}

/** A remote engine; nothing is contacted until the first call. */
export function createOpenAiEngine(options: OpenAiEngineOptions): AsrEngine {
  let base: URL;
  try {
    base = new URL(options.baseUrl.replace(/\/+$/, '') + '/');
  } catch {
    throw new EarshotError('invalid_config', `the OpenAI ASR base URL is not a URL: ${options.baseUrl}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new EarshotError('invalid_config', 'the OpenAI ASR base URL must be http(s)');
  const model = options.model ?? 'whisper-1';
  const timeoutMs = options.timeoutMs ?? 300_000;
  const wordTimestamps = options.wordTimestamps ?? true;
  const capabilities: AsrCapabilities = { languages: 'any', languageDetection: true, wordTimestamps, streaming: false, translation: options.translation ?? true };
  const limit = createConcurrencyLimit(options.maxConcurrent ?? 4);
  const calls = createEngineCalls();

  const form = (request: AsrRequest): FormData => {
    const f = new FormData();
    f.append('file', new Blob([encodeWav(request.pcm, ASR_SAMPLE_RATE)], { type: 'audio/wav' }), 'audio.wav');
    f.append('model', model);
    f.append('response_format', 'verbose_json');
    // Translations take neither a source language nor word timings.
    if (!request.translate) {
      if (request.language !== 'auto') f.append('language', request.language);
      if (wordTimestamps) for (const g of ['word', 'segment']) f.append('timestamp_granularities[]', g);
    }
    if (request.prompt) f.append('prompt', request.prompt);
    if (request.temperature !== undefined) f.append('temperature', String(request.temperature));
    return f;
  };

  const call = async (request: AsrRequest, signal: AbortSignal): Promise<AsrResult> => {
    const timeout = new AbortController();
    const both = AbortSignal.any([signal, timeout.signal]);
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    const url = new URL(request.translate ? 'audio/translations' : 'audio/transcriptions', base);
    let release: (() => void) | undefined;
    try {
      release = await limit.acquire(both);
      const response = await fetch(url, {
        method: 'POST',
        body: form(request),
        headers: { accept: 'application/json', ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) },
        signal: both,
      });
      const body = await response.text();
      if (!response.ok) throw httpFailure(response.status, body, response.headers.get('retry-after'), request.language);
      const audioMs = Math.floor((request.pcm.length * 1000) / ASR_SAMPLE_RATE);
      const parsed = parseVerboseJson(body, audioMs);
      const language = request.translate ? 'en' : request.language !== 'auto' ? request.language : (whisperLanguageCode(parsed.language ?? '') ?? 'und');
      return { text: parsed.segments.map((s) => s.text).join(' '), language, segments: parsed.segments };
    } catch (err) {
      // Aborts by the caller or by close() are named by createEngineCalls.
      if (signal.aborted) throw err;
      if (timeout.signal.aborted) throw retryable('asr_failed', `the transcription server did not answer within ${timeoutMs} ms`, { reason: 'timeout', timeoutMs });
      if (err instanceof EarshotError) throw err;
      // fetch rejects with a TypeError whose cause is the socket error (ECONNREFUSED, ECONNRESET, ...).
      const cause = (err as Error & { cause?: { code?: string } }).cause;
      throw new EarshotError('asr_failed', `the transcription server could not be reached: ${cause?.code ?? (err as Error).message}`, {
        retryable: true,
        cause: err,
        details: { reason: 'network', ...(cause?.code ? { error: cause.code } : {}) },
      });
    } finally {
      clearTimeout(timer);
      release?.();
    }
  };

  return {
    name: 'openai',
    model,
    capabilities,

    transcribe(request) {
      return calls.run(request.signal, async (signal) => {
        if (request.translate && !capabilities.translation) throw new EarshotError('unsupported_language', 'this transcription server cannot translate');
        if (request.pcm.length === 0) return { text: '', language: request.translate ? 'en' : request.language === 'auto' ? 'und' : request.language, segments: [] };
        return call(request, signal);
      });
    },

    close: () => calls.close(),
  };
}

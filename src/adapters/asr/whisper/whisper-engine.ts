/**
 * AsrEngine on whisper.cpp through its Node addon (see whisper-native.ts). The model loads once, when
 * the engine is created; calls run on the addon's own thread, one at a time per engine (the addon
 * locks the model per call, and a second call would block a libuv pool thread while it waits).
 *
 * whisper.cpp cannot be interrupted mid-call through this addon. An aborted call therefore rejects at
 * once, and the computation finishes in the background before the next call starts.
 */
import { availableParallelism } from 'node:os';
import { basename } from 'node:path';
import { ASR_SAMPLE_RATE, type AsrCapabilities } from '../../../core/asr.js';
import { abortError, EarshotError, permanent, retryable } from '../../../core/errors.js';
import type { AsrEngine, AsrRequest, AsrResult } from '../../../ports/asr-engine.js';
import { createConcurrencyLimit } from '../concurrency-limit.js';
import { tidySegments } from '../segments.js';
import { whisperLanguageCode } from '../whisper-languages.js';
import { readWhisperModelInfo, whisperCapabilities, type WhisperModelInfo } from './whisper-model-file.js';
import { loadWhisperBinding, type NativeTranscribeResult, type NativeWhisperBinding, type NativeWhisperContext, type WhisperGpu } from './whisper-native.js';

export interface WhisperEngineOptions {
  /** A whisper.cpp ggml model file (`ggml-base.bin`, ...). */
  modelPath: string;
  /** The native build: 'off' (CPU, default), 'cuda' or 'vulkan'; GPU builds are installed separately. */
  gpu?: WhisperGpu;
  /** CPU threads of one call. Default: the CPU count, at most 8. */
  threads?: number;
  /** Sampling temperature when a request gives none. Default 0 (whisper.cpp raises it on a failed decode). */
  temperature?: number;
  /**
   * Longest a call may wait for the addon before failing with a retryable `asr_failed`: the addon can
   * leave a call unsettled on its error paths. Default 10 minutes plus ten times the audio's length.
   */
  timeoutMs?: number;
  /** The addon; tests pass a fake. Default: loaded for `gpu`. */
  binding?: NativeWhisperBinding;
}

/** Loads the model and returns the engine; `model_not_found` / `invalid_config` when the model or the addon is unusable. */
export function createWhisperEngine(options: WhisperEngineOptions): AsrEngine {
  const info = readWhisperModelInfo(options.modelPath);
  const gpu = options.gpu ?? 'off';
  const threads = options.threads ?? Math.min(8, availableParallelism());
  if (!Number.isInteger(threads) || threads < 1) throw new EarshotError('invalid_config', 'whisper threads must be a positive integer');
  const binding = options.binding ?? loadWhisperBinding(gpu);
  let context: NativeWhisperContext;
  try {
    context = new binding.WhisperContext({ filePath: info.path, useGpu: gpu !== 'off' });
  } catch (err) {
    throw new EarshotError('invalid_config', `whisper.cpp could not load ${info.path}: ${(err as Error).message}`, { cause: err, details: { path: info.path } });
  }

  const capabilities = whisperCapabilities(info);
  const limit = createConcurrencyLimit(1);
  const closing = new AbortController();

  const call = async (request: AsrRequest): Promise<AsrResult> => {
    const { pcm, signal } = request;
    const both = AbortSignal.any(signal ? [signal, closing.signal] : [closing.signal]);
    let release: () => void;
    try {
      release = await limit.acquire(both);
    } catch (err) {
      throw interrupted(signal, closing.signal, err);
    }
    const audioMs = Math.floor((pcm.length * 1000) / ASR_SAMPLE_RATE);
    let job: Promise<NativeTranscribeResult>;
    try {
      job = context.transcribeData(ownBuffer(pcm), {
        language: request.language,
        translate: Boolean(request.translate) && info.multilingual,
        maxThreads: threads,
        temperature: request.temperature ?? options.temperature ?? 0,
        ...(request.prompt ? { prompt: request.prompt } : {}),
      }).promise;
    } catch (err) {
      release();
      throw failed(err);
    }
    // The model is free for the next call only when whisper.cpp is done with it, whatever the caller
    // saw; but not later than the timeout, since the addon can leave a job unsettled.
    const timeoutMs = options.timeoutMs ?? 600_000 + 10 * audioMs;
    const giveUp = setTimeout(release, timeoutMs).unref();
    const done = () => {
      clearTimeout(giveUp);
      release();
    };
    void job.then(done, done);
    return new Promise<AsrResult>((resolve, reject) => {
      const timer = setTimeout(() => settle(() => reject(retryable('asr_failed', 'whisper.cpp did not answer in time', { timeoutMs }))), timeoutMs);
      const onAbort = () => settle(() => reject(interrupted(signal, closing.signal)));
      const settle = (fn: () => void) => {
        clearTimeout(timer);
        both.removeEventListener('abort', onAbort);
        fn();
      };
      both.addEventListener('abort', onAbort, { once: true });
      job.then(
        (result) => settle(() => resolve(toResult(result, request, info, audioMs))),
        (err: unknown) => settle(() => reject(failed(err))),
      );
    });
  };

  return {
    name: 'whisper',
    model: basename(info.path),
    capabilities,

    async transcribe(request) {
      if (closing.signal.aborted) throw retryable('asr_failed', 'the ASR engine is closed');
      if (request.signal?.aborted) throw abortError('the ASR call was aborted');
      checkRequest(request, info, capabilities);
      if (request.pcm.length === 0) return { text: '', language: resultLanguage(request, undefined), segments: [] };
      return call(request);
    },

    /** Fails calls in flight and waiting; the addon frees the model once a running computation ends. */
    async close() {
      if (closing.signal.aborted) return;
      closing.abort();
      await context.release();
    },
  };
}

function checkRequest(request: AsrRequest, info: WhisperModelInfo, capabilities: AsrCapabilities): void {
  const { language } = request;
  const refuse = (message: string) => permanent('unsupported_language', message, { language, model: basename(info.path) });
  if (language === 'auto') {
    if (!capabilities.languageDetection) throw refuse('this English-only whisper model cannot detect the language');
  } else if (!info.languages.includes(language)) {
    throw refuse(info.multilingual ? `whisper does not know the language "${language}"` : `this English-only whisper model does not transcribe "${language}"`);
  }
  // An English-only model writes English anyway: `translate` is a no-op there, not an error.
  if (request.temperature !== undefined && !(request.temperature >= 0 && request.temperature <= 1)) {
    throw permanent('bad_request', 'temperature must be between 0 and 1');
  }
}

function resultLanguage(request: AsrRequest, detected: string | undefined): string {
  if (request.translate) return 'en';
  if (request.language !== 'auto') return request.language;
  return (detected && whisperLanguageCode(detected)) || 'und';
}

function toResult(native: NativeTranscribeResult, request: AsrRequest, info: WhisperModelInfo, audioMs: number): AsrResult {
  const segments = tidySegments(
    native.segments.map((s) => ({ startMs: s.t0, endMs: s.t1, text: s.text })),
    audioMs,
  );
  const language = info.multilingual ? resultLanguage(request, native.language) : 'en';
  return { text: segments.map((s) => s.text).join(' '), language, segments };
}

/** The samples as an ArrayBuffer of their own (the addon takes an ArrayBuffer, not a view). */
function ownBuffer(pcm: Int16Array): ArrayBuffer {
  const whole = pcm.byteOffset === 0 && pcm.byteLength === pcm.buffer.byteLength && pcm.buffer instanceof ArrayBuffer;
  return whole ? (pcm.buffer as ArrayBuffer) : pcm.slice().buffer;
}

function interrupted(signal: AbortSignal | undefined, closing: AbortSignal, cause?: unknown): Error {
  if (signal?.aborted) return abortError('the ASR call was aborted');
  if (closing.aborted) return retryable('asr_failed', 'the ASR engine was closed during the call');
  return failed(cause);
}

function failed(err: unknown): EarshotError {
  if (err instanceof EarshotError) return err;
  return new EarshotError('asr_failed', `whisper.cpp failed: ${(err as Error)?.message ?? String(err)}`, { retryable: true, cause: err });
}

/**
 * AsrEngine: speech to text on 16 kHz mono 16-bit PCM. An engine loads its model once and is reused
 * for many calls; heavy work runs off the event loop (native threads or a child process). Engines
 * say what they can do as data (capabilities), so callers branch on data, not on class names. It
 * leaves out chunking, stitching and formats: the transcribe pipeline owns those.
 */
import type { AsrCapabilities } from '../core/asr.js';

export type { AsrCapabilities } from '../core/asr.js';

export interface AsrWord {
  text: string;
  startMs: number;
  endMs: number;
  /** 0..1 when the engine reports it. */
  confidence?: number;
}

export interface AsrSegment {
  startMs: number;
  endMs: number;
  text: string;
  words?: AsrWord[];
}

export interface AsrResult {
  text: string;
  /** The language transcribed (detected when 'auto' was asked). */
  language: string;
  segments: AsrSegment[];
}

export interface AsrRequest {
  /** 16 kHz mono signed 16-bit samples. */
  pcm: Int16Array;
  /** ISO 639-1 code, or 'auto'. */
  language: string;
  /** Text that precedes the audio (names, spelling hints). */
  prompt?: string;
  temperature?: number;
  /** Translate into English instead of transcribing. */
  translate?: boolean;
  signal?: AbortSignal;
}

export interface AsrEngine {
  /** `whisper`, `pocketsphinx`, `mock`, `openai`. */
  readonly name: string;
  /** The model in use (file name, remote model id). */
  readonly model: string;
  readonly capabilities: AsrCapabilities;
  /**
   * Throws `unsupported_language` (not retryable) for a language it lacks, `asr_failed` otherwise.
   * When `signal` aborts, the call stops its work (a child process is killed) and rejects promptly
   * with an error named `AbortError` (core/errors.ts `abortError`), whatever the signal's reason;
   * the caller knows why it aborted. The engine stays usable for other calls.
   */
  transcribe(request: AsrRequest): Promise<AsrResult>;
  /** Releases the model and processes; calls in flight and later calls reject with `asr_failed` (retryable). Idempotent. */
  close(): Promise<void>;
}

/** The engines a process has, by name, each loaded once on first use and then reused. */
export interface AsrEngines {
  /** The engine used when a job names none. */
  readonly defaultEngine: string;
  names(): string[];
  /** Capabilities without loading the model (submission checks). */
  capabilities(name: string): AsrCapabilities | undefined;
  /** Throws `unsupported_engine` for a name this process does not have. */
  get(name: string): Promise<AsrEngine>;
  close(): Promise<void>;
}

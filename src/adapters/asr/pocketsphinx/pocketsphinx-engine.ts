/**
 * AsrEngine on CMU pocketsphinx through its command-line decoder (`pocketsphinx_continuous`, Debian's
 * `pocketsphinx` + `pocketsphinx-en-us`): English only, weak but real, and installable offline. Each
 * call writes the samples to a raw temp file and runs one decoder process on it, so decoding never
 * touches the event loop; the CLI loads the model on every call (about 0.35 s). The decoder runs
 * under the limits every external tool gets (adapters/process/limited-process.ts): in the work
 * folder, with its own environment, a wall-time and an address-space limit.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, endianness, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ASR_SAMPLE_RATE, supportsLanguage, type AsrCapabilities } from '../../../core/asr.js';
import { EarshotError, permanent, retryable } from '../../../core/errors.js';
import type { AsrEngine, AsrResult } from '../../../ports/asr-engine.js';
import { createConcurrencyLimit } from '../concurrency-limit.js';
import { createEngineCalls } from '../engine-calls.js';
import { ranOutOfMemory, runLimitedProcess, type LimitReason } from '../../process/limited-process.js';
import { parsePocketsphinxOutput } from './pocketsphinx-output.js';

export interface PocketsphinxEngineOptions {
  /** The decoder binary. Default `pocketsphinx_continuous` (found on PATH). */
  binary?: string;
  /** Holds `en-us/` (acoustic model), `en-us.lm.bin` and `cmudict-en-us.dict`. Default `/usr/share/pocketsphinx/model/en-us`. */
  modelDir?: string;
  /**
   * Wall-time limit of one decoder process, at least: it grows to twice the audio's length, since
   * the decoder runs at roughly 0.5× real time and a job may ask for hour-long chunks. Default 300_000.
   */
  timeoutMs?: number;
  /** Decoder processes at once (each uses one CPU core); further calls wait. Default: the CPU count. */
  maxConcurrent?: number;
  /** Where the audio is written and the decoder runs (its cwd and TMPDIR): the configured work folder. Default the OS temp folder. */
  tmpDir?: string;
  /** Address-space limit of each decoder process (`prlimit --as`); null for none. Default 2 GiB. */
  maxMemoryBytes?: number | null;
}

export const POCKETSPHINX_CAPABILITIES: AsrCapabilities = { languages: ['en'], languageDetection: false, wordTimestamps: true, streaming: false, translation: false };
/** stdout is a few lines per utterance; anything near this is not the decoder we know. */
const MAX_STDOUT_BYTES = 16 * 1024 * 1024;
const STDERR_TAIL_BYTES = 8192;
/** Not the parent's environment (it holds our secrets). Few malloc arenas: each reserves address space the limit counts. */
const DECODER_ENV: Readonly<Record<string, string>> = { LC_ALL: 'C', MALLOC_ARENA_MAX: '2' };

/** The pocketsphinx engine; throws `invalid_config` at once if the model files are missing. */
export function createPocketsphinxEngine(options: PocketsphinxEngineOptions = {}): AsrEngine {
  const binary = options.binary ?? 'pocketsphinx_continuous';
  const modelDir = options.modelDir ?? '/usr/share/pocketsphinx/model/en-us';
  const timeoutMs = options.timeoutMs ?? 300_000;
  const tmpDir = options.tmpDir ?? tmpdir();
  const maxMemoryBytes = options.maxMemoryBytes === null ? undefined : (options.maxMemoryBytes ?? 2 * 1024 ** 3);
  const limit = createConcurrencyLimit(options.maxConcurrent ?? availableParallelism());
  const model = { hmm: join(modelDir, 'en-us'), lm: join(modelDir, 'en-us.lm.bin'), dict: join(modelDir, 'cmudict-en-us.dict') };
  const missing = Object.values(model).filter((p) => !existsSync(p));
  if (missing.length > 0) throw new EarshotError('invalid_config', 'pocketsphinx model files are missing', { details: { missing } });

  const calls = createEngineCalls();

  const decode = async (pcm: Int16Array, signal: AbortSignal): Promise<AsrResult> => {
    const file = join(tmpDir, `earshot-pocketsphinx-${randomUUID()}.raw`);
    await mkdir(tmpDir, { recursive: true });
    await writeFile(file, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), { mode: 0o600, flag: 'wx' });
    try {
      // Raw input: given a `.wav` name, this CLI skips 44 bytes without reading the header.
      const args = ['-infile', file, '-time', 'yes', '-hmm', model.hmm, '-lm', model.lm, '-dict', model.dict];
      args.push('-samprate', String(ASR_SAMPLE_RATE), '-input_endian', endianness() === 'LE' ? 'little' : 'big');
      const audioMs = (pcm.length * 1000) / ASR_SAMPLE_RATE;
      const stdout = await runDecoder({ binary, args, signal, timeoutMs: Math.max(timeoutMs, Math.ceil(2 * audioMs)), workDir: tmpDir, maxMemoryBytes });
      const segments = parsePocketsphinxOutput(stdout, Math.floor(audioMs));
      return { text: segments.map((s) => s.text).join(' '), language: 'en', segments };
    } finally {
      await rm(file, { force: true });
    }
  };

  const call = async (pcm: Int16Array, signal: AbortSignal): Promise<AsrResult> => {
    try {
      const release = await limit.acquire(signal);
      try {
        return await decode(pcm, signal);
      } finally {
        release();
      }
    } catch (err) {
      // Aborts by the caller or by close() are named by createEngineCalls.
      if (signal.aborted || err instanceof EarshotError) throw err;
      throw new EarshotError('asr_failed', 'pocketsphinx could not run', { retryable: true, cause: err, details: { error: String(err) } });
    }
  };

  return {
    name: 'pocketsphinx',
    model: basename(modelDir),
    capabilities: POCKETSPHINX_CAPABILITIES,

    transcribe({ pcm, language, signal }) {
      return calls.run(signal, async (callSignal) => {
        if (!supportsLanguage(POCKETSPHINX_CAPABILITIES, language)) throw permanent('unsupported_language', 'pocketsphinx transcribes English only', { language, supported: ['en'] });
        // English in, English out: `translate` changes nothing here.
        if (pcm.length === 0) return { text: '', language: 'en', segments: [] };
        return call(pcm, callSignal);
      });
    },

    /** Kills running decoders, fails waiting calls, and returns once their temp files are gone. */
    close: () => calls.close(),
  };
}

interface DecoderRun {
  binary: string;
  args: string[];
  signal: AbortSignal;
  timeoutMs: number;
  workDir: string;
  maxMemoryBytes: number | undefined;
}

/** Runs one decoder process and resolves with its stdout; `signal` and the limits kill it. */
async function runDecoder(run: DecoderRun): Promise<string> {
  const result = await runLimitedProcess({
    command: run.binary,
    args: run.args,
    env: DECODER_ENV,
    workDir: run.workDir,
    timeoutMs: run.timeoutMs,
    ...(run.maxMemoryBytes !== undefined ? { maxMemoryBytes: run.maxMemoryBytes } : {}),
    signal: run.signal,
    maxStdoutBytes: MAX_STDOUT_BYTES,
    stderrTailBytes: STDERR_TAIL_BYTES,
    fail: decoderFailure,
  });
  if (result.code === 0) return result.stdout;
  // Out of its memory limit it fails the same way every time: not worth another attempt.
  if (ranOutOfMemory(result.stderr)) {
    throw new EarshotError('asr_failed', 'pocketsphinx ran out of its memory limit', { details: { reason: 'memory', maxMemoryBytes: run.maxMemoryBytes, log: logErrors(result.stderr) } });
  }
  throw retryable('asr_failed', `pocketsphinx exited with ${result.code ?? result.signal}`, { log: logErrors(result.stderr) });
}

function decoderFailure(reason: LimitReason, details: Record<string, unknown>): EarshotError {
  const message = { timeout: 'pocketsphinx timed out', output_too_large: 'pocketsphinx printed more than expected', not_started: 'pocketsphinx could not start' }[reason];
  return retryable('asr_failed', message, { reason, ...details });
}

/** The ERROR/FATAL lines of the decoder's log, or its last lines. */
function logErrors(log: string): string[] {
  const lines = log.split('\n').filter((l) => l.trim() !== '');
  const errors = lines.filter((l) => /^(?:ERROR|FATAL)/.test(l));
  return (errors.length > 0 ? errors : lines).slice(-5);
}

/**
 * The part of whisper.cpp's Node addon (`@fugood/whisper.node`'s prebuilt packages) that the whisper
 * engine uses, typed here, and the loader that picks the package.
 *
 * We require the prebuilt package (`@fugood/node-whisper-<platform>-<arch>[-cuda|-vulkan]`, a single
 * `index.node`) ourselves instead of going through the `@fugood/whisper.node` JS wrapper: the wrapper
 * lists every accelerator build as an optional dependency, so a plain install on linux-x64 downloads
 * the CUDA (189 MB) and Vulkan (54 MB) builds too, and it silently falls back to the CPU build when
 * the requested one is missing. package.json has only the linux-x64 CPU package (an optional
 * dependency, so installs elsewhere still work); a GPU machine adds its package, see OPERATIONS.md.
 */
import { createRequire } from 'node:module';
import { EarshotError } from '../../../core/errors.js';

/** Keep equal to the version of `@fugood/node-whisper-linux-x64` in package.json. */
export const WHISPER_NATIVE_VERSION = '1.1.3';

/** Which build of whisper.cpp: CPU only, or with a GPU backend. */
export type WhisperGpu = 'off' | 'cuda' | 'vulkan';

export interface NativeTranscribeOptions {
  /** A code, or 'auto' (whisper.cpp then detects it); unset means 'en'. */
  language?: string;
  translate?: boolean;
  maxThreads?: number;
  temperature?: number;
  prompt?: string;
}

export interface NativeTranscribeResult {
  result: string;
  /** whisper's code for the language it used (detected or given). */
  language?: string;
  /** Times in milliseconds (the addon multiplies whisper's 10 ms ticks by 10). */
  segments: Array<{ text: string; t0: number; t1: number }>;
  isAborted: boolean;
}

export interface NativeTranscribeJob {
  /**
   * Never called: whisper.cpp is not interrupted by it (no abort callback is wired), and the job's
   * promise then never settles (its error path calls back with one argument, which the addon ignores).
   */
  stop(): Promise<void>;
  promise: Promise<NativeTranscribeResult>;
}

export interface NativeWhisperContext {
  /** Takes mono 16 kHz signed 16-bit samples (native byte order); copies them before returning. */
  transcribeData(pcm: ArrayBuffer, options: NativeTranscribeOptions): NativeTranscribeJob;
  /** Frees the model once a running job finishes; jobs in flight never settle afterwards. */
  release(): Promise<void>;
}

export interface NativeWhisperBinding {
  /** Loads the model synchronously; throws "Failed to initialize whisper context" on a bad file. */
  WhisperContext: new (options: { filePath: string; useGpu: boolean }) => NativeWhisperContext;
}

/** The npm package holding the addon for this platform and build. */
export function whisperPackageName(gpu: WhisperGpu, platform: string = process.platform, arch: string = process.arch): string {
  return `@fugood/node-whisper-${platform}-${arch}${gpu === 'off' ? '' : `-${gpu}`}`;
}

const require = createRequire(import.meta.url);

/** Loads the addon; a missing or unloadable package is `invalid_config` with the command that installs it. */
export function loadWhisperBinding(gpu: WhisperGpu): NativeWhisperBinding {
  const name = whisperPackageName(gpu);
  const install = `npm install --no-save ${name}@${WHISPER_NATIVE_VERSION}`;
  try {
    return require(name) as NativeWhisperBinding;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND';
    const message = missing
      ? `the whisper engine needs the npm package ${name}, which is not installed (run: ${install})`
      : `the whisper engine could not load ${name}: ${(err as Error).message}`;
    throw new EarshotError('invalid_config', message, { cause: err, details: { package: name, install } });
  }
}

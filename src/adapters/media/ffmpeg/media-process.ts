/**
 * Runs ffmpeg or ffprobe under the limits of adapters/process/limited-process.ts (the ones every
 * external tool gets), with the arguments this wrapper always puts first and the media errors for
 * the runner's failures. It knows nothing about media; the tool above it builds the arguments and
 * reads the failures.
 */
import { type EarshotError, permanent, retryable } from '../../../core/errors.js';
import { runLimitedProcess, type LimitReason, type LimitedProcessOptions, type LimitedProcessResult } from '../../process/limited-process.js';

/** The runner's options (time, memory, work folder, output bounds, signal); its failures are media errors. */
export interface MediaProcessOptions extends Omit<LimitedProcessOptions, 'env' | 'fail'> {
  /** `ffprobe` has no `-nostdin` (it never reads stdin, which is /dev/null anyway); default 'ffmpeg'. */
  kind?: 'ffmpeg' | 'ffprobe';
  /** Arguments after the `-nostdin -hide_banner` this wrapper always puts first. */
  args: readonly string[];
  /** The child's whole environment; default MEDIA_PROCESS_ENV. */
  env?: Readonly<Record<string, string>>;
}

export type MediaProcessResult = LimitedProcessResult;

/**
 * Not the parent's environment: FFREPORT would make ffmpeg write log files (with our paths in them)
 * to its working directory, and AV_LOG_FORCE_* change what we parse. Without PATH, the child is found
 * in /bin:/usr/bin; configure an absolute path otherwise. Few malloc arenas, because each reserves
 * 64 MiB of address space, which the memory limit counts.
 */
export const MEDIA_PROCESS_ENV: Readonly<Record<string, string>> = { LC_ALL: 'C', MALLOC_ARENA_MAX: '2' };

/** Runs the program to its end; resolves whatever its exit code (the caller reads the failure). */
export function runMediaProcess(options: MediaProcessOptions): Promise<MediaProcessResult> {
  const { kind, args, env, ...rest } = options;
  const lead = kind === 'ffprobe' ? ['-hide_banner'] : ['-nostdin', '-hide_banner'];
  return runLimitedProcess({ ...rest, args: [...lead, ...args], env: env ?? MEDIA_PROCESS_ENV, fail: mediaLimitFailure });
}

function mediaLimitFailure(reason: LimitReason, details: Record<string, unknown>): EarshotError {
  switch (reason) {
    case 'timeout':
      return permanent('media_limit_exceeded', 'the media tool ran past its time limit', { reason, ...details });
    case 'output_too_large':
      return permanent('media_limit_exceeded', 'the media tool printed too much', { reason, ...details });
    case 'not_started':
      // Missing ffmpeg on this worker: another worker may have it, so it is worth a retry.
      return retryable('unavailable', 'the media tool could not be started', details);
  }
}
